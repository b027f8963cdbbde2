"""The ``environments:`` section of ``patchwarden.yaml``: where ``rollout`` carries a digest.

Environments are taken in the order written. Each has one target: a container engine
(``engine`` + ``containers``), a git repository (``gitops``) or a tag in the central registry
(``registry``). Every key is documented in
docs/configuration.md (section ``environments``).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    PlainSerializer,
    field_validator,
    model_validator,
)

from patchwarden.config.fields import Strict
from patchwarden.core.durations import parse_duration
from patchwarden.core.ref import parse_reference
from patchwarden.errors import ReferenceFormatError

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,62}")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
_PORT = re.compile(r"\{port:(\d{1,5})(?:/(tcp|udp))?\}")


def _duration(v: object) -> object:
    if isinstance(v, str):
        return parse_duration(v)
    if isinstance(v, int | float) and not isinstance(v, bool):
        if v < 0:
            raise ValueError(f"a duration must not be negative, got {v}")
        return timedelta(seconds=v)
    return v


# stored in a rollout's record as seconds (the record is re-read with the same schema)
Duration = Annotated[
    timedelta,
    BeforeValidator(_duration),
    PlainSerializer(lambda td: td.total_seconds(), return_type=float, when_used="json"),
]


class ContainerSelector(Strict):
    """Which containers of the engine belong to the environment (all given keys must match)."""

    label: str | list[str] | None = Field(
        None, description="KEY=VALUE or KEY (label present); a list: every one must match"
    )
    project: str | None = Field(None, description="compose project name")
    names: list[str] | None = Field(None, description="container names")

    @model_validator(mode="after")
    def _some(self) -> ContainerSelector:
        if not (self.label or self.project or self.names):
            raise ValueError("name at least one of label, project, names")
        return self

    @property
    def labels(self) -> list[str]:
        if self.label is None:
            return []
        return [self.label] if isinstance(self.label, str) else list(self.label)


class Waves(Strict):
    canary: int | str = Field(0, description="first wave: N containers or 'P%' of them (0: none)")
    max_parallel: int | None = Field(
        None, ge=1, description="containers per later wave (default: all the rest at once)"
    )
    prepare: bool = Field(
        True,
        description="create (not start) the next wave's containers while this wave is gated "
        "(removed if the rollout stops)",
    )

    @field_validator("canary")
    @classmethod
    def _canary(cls, v: int | str) -> int | str:
        if isinstance(v, bool):
            raise ValueError("canary must be a number of containers or a percentage like '25%'")
        if isinstance(v, int):
            if v < 0:
                raise ValueError(f"canary must be 0 or more, not {v}")
            return v
        m = re.fullmatch(r"\s*(\d{1,3}(?:\.\d+)?)\s*%\s*", v)
        if not m or not 0 < float(m.group(1)) <= 100:
            raise ValueError(f"invalid canary {v!r}: use a number of containers or e.g. '25%'")
        return v


class HealthGate(Strict):
    """Per container, after it starts: the engine HEALTHCHECK when the image has one, else
    these probes. ``{port:8080}`` in a URL or address is the host port published for the
    container's port 8080, ``{name}`` the container's name."""

    http: str | None = Field(None, description="GET URL that must answer `status`")
    status: int = Field(200, ge=100, le=599)
    tcp: str | None = Field(None, description="HOST:PORT that must accept a connection")
    grace: Duration = Field(timedelta(seconds=2), description="must keep running this long")
    timeout: Duration = Field(timedelta(seconds=60), description="time limit of the gate")


class TestCommand(Strict):
    __test__ = False  # not a pytest class

    run: str = Field(description="shell command (sh -c) run on the patchwarden host")
    name: str | None = None
    timeout: Duration = Field(timedelta(minutes=5), description="killed after this long")


class MetricsGate(Strict):
    prometheus: str = Field(description="base URL of the Prometheus server")
    query: str = Field(description="PromQL instant query; every sample must be within bounds")
    max: float | None = None
    min: float | None = None
    interval: Duration = Field(timedelta(seconds=10), description="evaluated this often")
    on_no_data: Literal["fail", "pass"] = "fail"

    @model_validator(mode="after")
    def _bound(self) -> MetricsGate:
        if self.max is None and self.min is None:
            raise ValueError("give max, min or both")
        if not self.prometheus.startswith(("http://", "https://")):
            raise ValueError(f"prometheus must be an http(s) URL, not {self.prometheus!r}")
        return self


class Gates(Strict):
    health: HealthGate = Field(default_factory=HealthGate)
    tests: list[TestCommand] = Field(default_factory=list)
    soak: Duration = Field(timedelta(0), description="no restarts / failed probes this long")
    soak_interval: Duration = Field(timedelta(seconds=1), description="soak checks this often")
    metrics: MetricsGate | None = None


class GitOpsTarget(Strict):
    repo: str = Field(description="path of a local git repository (a clone)")
    files: list[str] = Field(min_length=1, description="files whose reference is pinned")
    branch: str | None = Field(None, description="branch to commit on (default: current)")
    push: bool = Field(False, description="push the branch to its upstream after the commit")


class RegistryTarget(Strict):
    """A tag in the central registry, moved by ``registry promote`` (copy by digest,
    signatures along, the tag last, the trust gate first)."""

    repository: str = Field(description="destination repository (registry/path, no tag)")
    tag: str | None = Field(None, description="destination tag (default: the rollout image's)")
    immutable: bool = Field(False, description="never move an existing tag to another digest")

    @field_validator("repository")
    @classmethod
    def _repository(cls, v: str) -> str:
        try:
            ref = parse_reference(v)
        except ReferenceFormatError as exc:
            raise ValueError(f"invalid repository {v!r}: {exc.message}") from None
        if ref.tag or ref.digest:
            raise ValueError(f"{v!r}: give the repository only; the tag goes in registry.tag")
        return v

    @field_validator("tag")
    @classmethod
    def _tag(cls, v: str | None) -> str | None:
        if v is not None and not _TAG.fullmatch(v):
            raise ValueError(f"invalid tag {v!r}: letters, digits, '_', '.', '-' (128 at most)")
        return v


class Environment(Strict):
    name: str
    engine: str | None = Field(None, description="Docker API URL (unix://, tcp://)")
    containers: ContainerSelector | None = None
    gitops: GitOpsTarget | None = None
    registry: RegistryTarget | None = None
    waves: Waves = Field(default_factory=Waves)
    gates: Gates = Field(default_factory=Gates)
    approval: Literal["manual"] | None = None
    stop_timeout: int = Field(10, ge=0, le=3600, description="seconds before the engine kills")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError(
                f"invalid environment name {v!r}: lower-case letters, digits, '.', '_', '-'"
            )
        return v

    @model_validator(mode="after")
    def _target(self) -> Environment:
        engine = self.engine is not None or self.containers is not None
        targets = sum((engine, self.gitops is not None, self.registry is not None))
        if targets > 1:
            raise ValueError(
                "an environment has one target: engine + containers, gitops, or registry"
            )
        if targets == 0:
            raise ValueError("give a target: engine + containers, gitops, or registry")
        if engine and self.containers is None:
            raise ValueError("an engine environment needs containers: {label: ...}")
        return self

    @property
    def kind(self) -> str:
        if self.gitops is not None:
            return "gitops"
        return "registry" if self.registry is not None else "engine"


def unique_names(envs: list[Environment]) -> list[Environment]:
    seen: set[str] = set()
    for env in envs:
        if env.name in seen:
            raise ValueError(f"environment name {env.name!r} is used twice")
        seen.add(env.name)
    return envs


def port_placeholders(text: str) -> list[tuple[str, str]]:
    """The ``{port:N[/proto]}`` placeholders of ``text``: (placeholder, 'N/proto')."""
    return [(m.group(0), f"{m.group(1)}/{m.group(2) or 'tcp'}") for m in _PORT.finditer(text)]
