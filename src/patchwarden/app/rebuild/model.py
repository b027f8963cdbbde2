"""What ``rebuild`` decides and reports: build specs, due reasons, steps and results."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from patchwarden.core.ref import ImageRef
from patchwarden.errors import ExitCode

LABEL_BASE_NAME = "org.opencontainers.image.base.name"
LABEL_BASE_DIGEST = "org.opencontainers.image.base.digest"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_CREATED = "org.opencontainers.image.created"
LABEL_SOURCE_VERSION = "org.opencontainers.image.version"


class Reason(StrEnum):
    """Why a build is due (closed set; ``--format json`` emits the value)."""

    NEVER_BUILT = "never-built"
    BASE_MOVED = "base-moved"
    BASE_CHANGED = "base-changed"
    NEWER_BASE_TAG = "newer-base-tag"
    FIXABLE_PACKAGES = "fixable-packages"
    NO_BASE_RECORD = "no-base-record"
    FORCED = "forced"


class Outcome(StrEnum):
    PUSHED = "pushed"  # every step passed; the image is in the registry
    STOPPED = "stopped"  # a test or gate stopped it; the registry is unchanged
    FAILED = "failed"  # an error; the registry is unchanged
    NOT_DUE = "not-due"  # nothing to do


@dataclass(frozen=True, slots=True)
class TestSpec:
    name: str
    run: tuple[str, ...]
    timeout_s: float
    exit_code: int = 0
    stdout_contains: str | None = None


@dataclass(frozen=True, slots=True)
class FileCheck:
    path: str
    exists: bool = True
    contains: str | None = None


@dataclass(frozen=True, slots=True)
class Health:
    port: int
    path: str = "/"
    timeout_s: float = 30.0


@dataclass(frozen=True, slots=True)
class BuildSpec:
    """One declared build, resolved: paths are absolute, the base is parsed from the FROM."""

    name: str
    context: Path
    dockerfile: Path
    destination: ImageRef  # repository only
    base: ImageRef  # the FROM of the stage that is built
    target: str | None = None
    build_args: tuple[tuple[str, str], ...] = ()
    version: str | None = None
    tag_scheme: str = "{version}-{date}.{n}"
    moving_tag: str | None = "latest"
    tests: tuple[TestSpec, ...] = ()
    files: tuple[FileCheck, ...] = ()
    health: Health | None = None
    gate: str = "high"  # critical|high|medium|low|any|off
    signing_key: str | None = None


@dataclass(frozen=True, slots=True)
class DueReason:
    kind: Reason
    detail: str


@dataclass(frozen=True, slots=True)
class DueDecision:
    name: str
    destination: str
    base: str
    due: bool
    reasons: tuple[DueReason, ...] = ()
    last_digest: str | None = None
    base_digest_built: str | None = None
    base_digest_now: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One pipeline step as the report shows it."""

    name: str
    ok: bool
    detail: str
    duration_s: float = 0.0
    output: str = ""  # a failing test's output (bounded)


class Then(StrEnum):
    """What ``--then`` hands a pushed digest to (closed set)."""

    update = "update"
    rollout = "rollout"


@dataclass(frozen=True, slots=True)
class Handover:
    """One hand-over step of a pushed build, as the report and the state store show it."""

    kind: Then
    build: str
    ok: bool
    detail: str
    exit_code: ExitCode = ExitCode.OK
    data: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0


@dataclass(frozen=True, slots=True)
class BuildResult:
    name: str
    destination: str
    outcome: Outcome
    reason: str
    due: DueDecision | None = None
    digest: str | None = None
    tags: tuple[str, ...] = ()
    base_digest: str | None = None
    steps: tuple[Step, ...] = ()
    fixed: tuple[str, ...] = ()
    introduced: tuple[str, ...] = ()
    duration_s: float = 0.0
    record_id: int | None = None
    signature: str | None = None  # the cosign signature tag, when signed
    then: tuple[Handover, ...] = ()  # --then update/rollout, for a pushed build
    gaps: tuple[str, ...] = field(default=())
