"""The ``scan`` use case: pick the image source, read its packages, match advisories, filter.

The pipeline (sources, scanner, advisory index, matcher) sits behind :class:`ScanPipeline` so
this logic is tested without images; :mod:`.pipeline` holds the real one, which
:func:`patchwarden.app.wiring.build_scan_pipeline` builds from config.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from patchwarden import __version__
from patchwarden.advisories.errors import missing_index
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

LayerProgress = Callable[[str, int, int], None]
NO_INDEX_MORE = ", pass --db PATH, or use --sbom-only for a package list without vulnerabilities"


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
        what = "directory" if want_dir else "file"
        tag = "[:TAG]" if kind != "rootfs" else ""
        raise UsageError(f"{path} is not a {what}", f"--{kind} takes an existing {what}{tag}")


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


IndexT = TypeVar("IndexT")


class ScanPipeline(Protocol[IndexT]):
    """The parts of a scan. ``IndexT`` is the pipeline's advisory index, opaque to the use
    case: opened, then handed back to ``freshness`` and ``match``."""

    def open_source(self, target: ScanTarget, platform: Platform | None) -> ImageSource: ...

    def inventory(self, source: ImageSource, progress: LayerProgress | None) -> ScanInventory: ...

    def index_path(self, db: Path | None) -> Path:
        """Where the index is: ``db`` (--db), else the environment, config or default."""
        ...

    def open_index(self, path: Path) -> IndexT | None:
        """The advisory index at ``path``, or None when there is none."""
        ...

    def match(self, index: IndexT, inventory: ScanInventory) -> list[Finding]: ...

    def freshness(self, index: IndexT) -> str | None:
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
    warnings: tuple[str, ...]  # files the catalogers could not read, expired ignore entries


def run_scan(
    pipeline: ScanPipeline[IndexT],
    options: ScanOptions,
    *,
    progress: LayerProgress | None = None,
    now: datetime | None = None,
) -> ScanOutcome:
    now = now or datetime.now(UTC)
    index = None
    if not options.sbom_only:
        path = pipeline.index_path(options.db)
        index = pipeline.open_index(path)
        if index is None:
            raise missing_index(path, NO_INDEX_MORE)
    stale = pipeline.freshness(index) if index is not None else None
    source = pipeline.open_source(options.target, options.platform)
    try:
        inventory = _guard(lambda: pipeline.inventory(source, progress), options.target)
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
    unread = tuple(w for layer in inventory.layers for w in layer.warnings)
    if index is None:
        return ScanOutcome(report, unread)
    found = pipeline.match(index, inventory)
    rules = options.ignore_file.rules if options.ignore_file else ()
    outcome = apply_ignores(found, rules, _today(now))
    shown, hidden = apply_filters(outcome.kept, options.severities, options.ignore_unfixed)
    report = replace(
        report, findings=shown, ignored=outcome.ignored, filters=replace(filters, hidden=hidden)
    )
    expired = tuple(expired_message(r) for r in outcome.expired)
    return ScanOutcome(report, ((stale,) if stale else ()) + unread + expired)


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
