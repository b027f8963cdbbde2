"""The ``scan`` use case: pick the image source, read its packages, match advisories, filter.

The engine (sources, scanner, advisory index, matcher) sits behind :class:`Engine` so this
logic is tested without images; :class:`DefaultEngine` wires the real parts from config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from patchwarden import __version__
from patchwarden.app.scan.ignore import IgnoreFile, apply_ignores, expired_message
from patchwarden.errors import ExitCode, PatchwardenError, UsageError
from patchwarden.registry.model import Platform
from patchwarden.sbom.model import Filters, ScanReport
from patchwarden.scan.model import (
    Finding,
    FindingStatus,
    ImageSource,
    ScanInventory,
    Severity,
    UnknownSeverity,
    at_least,
)

if TYPE_CHECKING:
    from patchwarden.config.schema import Config
    from patchwarden.registry.client import RegistryClient

LayerProgress = Callable[[str, int, int], None]
NO_INDEX_HINT = (
    "run `patchwarden db update` (or `patchwarden db import FILE` offline), pass --db PATH, "
    "or use --sbom-only for a package list without vulnerabilities"
)


@dataclass(frozen=True, slots=True)
class ScanTarget:
    kind: str  # "registry" | "archive" | "oci-layout" | "rootfs" | "engine"
    target: str
    engine_url: str | None = None  # kind "engine": the Docker/Podman API (default $DOCKER_HOST)


def choose_target(
    image: str | None, archive: Path | None, oci_layout: Path | None, rootfs: Path | None
) -> ScanTarget:
    """Exactly one of IMAGE, --archive, --oci-layout, --rootfs; local paths must exist."""
    given = [
        (kind, value)
        for kind, value in (
            ("registry", image),
            ("archive", archive),
            ("oci-layout", oci_layout),
            ("rootfs", rootfs),
        )
        if value is not None
    ]
    if len(given) != 1:
        raise UsageError(
            "give exactly one image to scan" + (" (got several)" if given else ""),
            "pass IMAGE (a registry reference), --archive FILE, --oci-layout DIR or --rootfs DIR",
        )
    kind, value = given[0]
    if isinstance(value, Path):
        _check_path(kind, value)
    return ScanTarget(kind, str(value))


def _check_path(kind: str, value: Path) -> None:
    """The path must exist as a file (--archive) or directory; archives and layouts may name
    one of their images as ``PATH:TAG`` (the path part must exist)."""
    path = value
    if kind in ("archive", "oci-layout"):
        from patchwarden.scan.sources.layout import split_target

        path = split_target(str(value))[0]
    want_dir = kind != "archive"
    if not (path.is_dir() if want_dir else path.is_file()):
        what = "a directory" if want_dir else "a file"
        tag = "[:TAG]" if kind != "rootfs" else ""
        raise UsageError(f"{path} is not {what}", f"--{kind} takes an existing {what}{tag}")


def parse_severities(text: str | None) -> tuple[Severity, ...]:
    if not text:
        return ()
    out: list[Severity] = []
    for word in (w.strip().lower() for w in text.split(",")):
        try:
            sev = Severity(word)
        except ValueError:
            allowed = ", ".join(s.value for s in Severity)
            raise UsageError(f"unknown severity {word!r} in --severity", f"use {allowed}") from None
        if sev not in out:
            out.append(sev)
    return tuple(out)


def parse_platform(text: str | None) -> Platform | None:
    if text is None:
        return None
    try:
        return Platform.parse(text)
    except ValueError as exc:
        raise UsageError(str(exc), "e.g. --platform linux/arm64 or linux/arm/v7") from None


def apply_filters(
    findings: Iterable[Finding], severities: Sequence[Severity], ignore_unfixed: bool
) -> tuple[tuple[Finding, ...], int]:
    """The findings to show, and how many the filters hid. not-affected is never shown."""
    shown, hidden = [], 0
    for f in findings:
        if f.status == FindingStatus.NOT_AFFECTED:
            continue
        if (severities and f.severity not in severities) or (
            ignore_unfixed and f.status != FindingStatus.FIXED
        ):
            hidden += 1
        else:
            shown.append(f)
    return tuple(shown), hidden


def exit_code(
    report: ScanReport,
    fail_on: Severity | None,
    unknown: UnknownSeverity = UnknownSeverity.BLOCK,
) -> ExitCode:
    """1 when a shown finding is at or above ``fail_on`` (an unrated one per ``unknown``);
    ignored and hidden ones never count."""
    if fail_on is not None and any(at_least(f.severity, fail_on, unknown) for f in report.findings):
        return ExitCode.FINDINGS
    return ExitCode.OK


class Engine(Protocol):
    def open_source(self, target: ScanTarget, platform: Platform | None) -> ImageSource: ...

    def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory: ...

    def index_path(self, db: Path | None) -> Path:
        """Where the index is: ``db`` (--db), else the environment, config or default."""
        ...

    def open_index(self, path: Path) -> Any | None:
        """The advisory index at ``path``, or None when there is none."""
        ...

    def match(self, index: Any, inventory: ScanInventory) -> list[Finding]: ...

    def freshness(self, index: Any) -> str | None:
        """A warning when the index is older than ``advisories.max_age`` (refreshed first
        with ``advisories.auto_update``), else None."""
        ...


@dataclass(frozen=True, slots=True)
class ScanOptions:
    target: ScanTarget
    platform: Platform | None = None
    sbom_only: bool = False
    severities: tuple[Severity, ...] = ()
    ignore_unfixed: bool = False
    ignore_file: IgnoreFile | None = None
    db: Path | None = None


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    report: ScanReport
    warnings: tuple[str, ...]  # expired ignore entries, ...


def run_scan(
    engine: Engine,
    options: ScanOptions,
    *,
    progress: LayerProgress | None = None,
    now: datetime | None = None,
) -> ScanOutcome:
    now = now or datetime.now(UTC)
    index = None
    if not options.sbom_only:
        path = engine.index_path(options.db)
        index = engine.open_index(path)
        if index is None:
            raise UsageError(f"no advisory index found at {path}", NO_INDEX_HINT)
    stale = engine.freshness(index) if index is not None else None
    source = engine.open_source(options.target, options.platform)
    try:
        inventory = _guard(lambda: engine.inventory(source, progress), options.target)
    finally:
        close = getattr(source, "close", None)  # temporary copies, owned clients
        if close is not None:
            close()
    filters = Filters(
        sbom_only=options.sbom_only,
        severities=options.severities,
        ignore_unfixed=options.ignore_unfixed,
        ignore_file=str(options.ignore_file.path) if options.ignore_file else None,
    )
    report = ScanReport(inventory, (), now, __version__, filters=filters)
    if index is None:
        return ScanOutcome(report, ())
    found = engine.match(index, inventory)
    rules = options.ignore_file.rules if options.ignore_file else ()
    outcome = apply_ignores(found, rules, _today(now))
    shown, hidden = apply_filters(outcome.kept, options.severities, options.ignore_unfixed)
    report = replace(
        report, findings=shown, ignored=outcome.ignored, filters=replace(filters, hidden=hidden)
    )
    warnings = ([stale] if stale else []) + [expired_message(r) for r in outcome.expired]
    return ScanOutcome(report, tuple(warnings))


def _today(now: datetime) -> date:
    return now.astimezone().date() if now.tzinfo else now.date()


def _guard(work: Callable[[], ScanInventory], target: ScanTarget) -> ScanInventory:
    """OS errors while reading an image are scan failures (exit 3), not internal errors."""
    try:
        return work()
    except OSError as exc:
        raise PatchwardenError(
            f"cannot read {target.kind} {target.target}: {exc}",
            "check that the image is complete and readable; re-run with --debug for details",
            exit_code=ExitCode.ERRORS,
        ) from None


class DefaultEngine:
    """The real engine, built from config. Imports the scanner and advisories lazily.

    ``config`` None means there is no config file: the built-in defaults apply (cache on, in
    the user cache dir; the default advisory index), without loading pydantic for them.
    """

    def __init__(
        self, config: Config | None, *, cache_dir: Path | None = None, use_cache: bool = True
    ) -> None:
        self.config = config
        self.cache_dir = cache_dir
        self.use_cache = use_cache and (config is None or config.cache.enabled)

    def open_source(self, target: ScanTarget, platform: Platform | None) -> ImageSource:
        from patchwarden.scan.sources import open_source

        registry = None
        if target.kind == "registry":  # httpx and the client load only when needed
            registry = self._client()
        return open_source(
            target.kind,
            target.target,
            registry=registry,
            platform=platform,
            engine_url=target.engine_url,
        )

    def _client(self) -> RegistryClient:
        if self.config is None:  # no config file: no per-registry settings, and no pydantic
            from patchwarden.registry.client import RegistryClient

            return RegistryClient()  # credentials from the usual places (docker config, ...)
        from patchwarden.app.wiring import build_client

        return build_client(self.config)

    def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory:
        from patchwarden.cache.store import default_cache_dir
        from patchwarden.scan.catalogers import CATALOGERS
        from patchwarden.scan.layer_cache import LayerCache
        from patchwarden.scan.scanner import Scanner

        cache = None
        if self.use_cache:
            configured = self.config.cache.dir if self.config else None
            root = self.cache_dir or (
                Path(configured).expanduser() if configured else default_cache_dir()
            )
            cache = LayerCache(root / "layers")
        result: ScanInventory = Scanner(CATALOGERS, cache=cache).scan(source, progress)
        return result

    def index_path(self, db: Path | None) -> Path:
        from patchwarden.advisories.index import resolve_db_path

        return resolve_db_path(db, self.config.advisories.db_path if self.config else None)

    def open_index(self, path: Path) -> Any | None:
        from patchwarden.advisories.index import AdvisoryIndex

        return AdvisoryIndex(path) if path.is_file() else None

    def match(self, index: Any, inventory: ScanInventory) -> list[Finding]:
        from patchwarden.advisories.match import match

        try:
            found: list[Finding] = match(index, inventory.packages, inventory.os)
        finally:
            index.close()
        return found

    def freshness(self, index: Any) -> str | None:
        from patchwarden.advisories.freshness import refresh_if_stale

        adv = self.config.advisories if self.config else None
        return refresh_if_stale(index, adv)
