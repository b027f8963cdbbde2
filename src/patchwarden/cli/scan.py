"""``patchwarden scan``: the packages in an image and the vulnerabilities you can fix."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from patchwarden.app.scan import (
    IGNORE_FILE_NAME,
    IgnoreFile,
    ScanOptions,
    ScanTarget,
    choose_target,
    exit_code,
    find_ignore_file,
    parse_platform,
    parse_severities,
    run_scan,
)
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    ExitCodeOpt,
    ProgressOpt,
    TimeoutOpt,
    err,
    escape,
    find_settings,
    findings_code,
    is_quiet,
    out,
    real_console,
    user_errors,
    with_timeout,
)
from patchwarden.cli.report import reporting
from patchwarden.core import files
from patchwarden.errors import UsageError
from patchwarden.registry.model import Platform
from patchwarden.sbom import ReportFormat, render
from patchwarden.scan.model import Severity, UnknownSeverity

if TYPE_CHECKING:
    from rich.text import Text

    from patchwarden.config.schema import Config


class ImageSrc(StrEnum):
    registry = "registry"
    engine = "engine"


HELP = f"""List the packages in a container image and the known vulnerabilities in them.

The image comes from a registry (IMAGE, e.g. nginx:1.25), the local Docker or Podman engine
(IMAGE with --image-src engine: an image built or pulled there, nothing is pulled), a docker
save / OCI archive (--archive), an OCI image layout directory (--oci-layout) or an unpacked
root filesystem (--rootfs). Vulnerabilities are matched offline against the local advisory
index (see `patchwarden db update`); --sbom-only skips matching and needs no index.

The table answers "what can I actually fix?": packages with an upgrade first (installed ->
fixed version, their CVEs highest severity first), then vulnerabilities with no fix yet, then
those the distribution will not fix. Other formats: json (stable, docs/commands/scan.md),
cyclonedx (1.6; cyclonedx-1.5 for older consumers), spdx (2.3), sarif (2.1.0, for code
scanning).

Accepted risks go in {IGNORE_FILE_NAME} (read from the current directory, or --ignore-file):
each entry has an id, a reason and an expiry date; see docs/ignore-file.md.

Exit codes: 0 done; 1 --fail-on matched a shown vulnerability; 2 bad usage, no advisory
index, or a bad ignore file; 3 the image could not be read (registry, corrupt archive).

Examples:

\b
  patchwarden scan nginx:1.25
  patchwarden scan localhost/app:dev --image-src engine   # what `docker build` just made
  patchwarden scan --archive app.tar --fail-on high --ignore-unfixed   # CI gate
  patchwarden scan python:3.12-slim --format cyclonedx --output sbom.cdx.json
  patchwarden scan --rootfs ./rootfs --sbom-only --format json | jq '.packages | length'
"""


@reporting(output=False)
def scan(
    image: str | None = typer.Argument(
        None, metavar="[IMAGE]", help="Registry reference, e.g. nginx:1.25 or ghcr.io/o/a@sha256:…"
    ),
    archive: Path | None = typer.Option(
        None,
        "--archive",
        metavar="FILE[:TAG]",
        help="docker save or OCI archive (.tar, .tar.gz, .tar.zst); :TAG picks one of several "
        "images.",
    ),
    oci_layout: Path | None = typer.Option(
        None,
        "--oci-layout",
        metavar="DIR[:TAG]",
        help="OCI image layout directory; :TAG picks one of several images.",
    ),
    rootfs: Path | None = typer.Option(
        None, "--rootfs", metavar="DIR", help="Unpacked root filesystem directory."
    ),
    image_src: ImageSrc = typer.Option(
        ImageSrc.registry,
        "--image-src",
        envvar="PATCHWARDEN_IMAGE_SRC",
        show_envvar=True,
        case_sensitive=False,
        help="Where IMAGE is read from: the registry, or the local container engine's store "
        "(Docker/Podman Engine API image export; see --engine).",
    ),
    engine_url: str | None = typer.Option(
        None,
        "--engine",
        metavar="URL",
        help="With --image-src engine: the Engine API URL (default: $DOCKER_HOST, else "
        "unix:///var/run/docker.sock; Podman: unix:///run/podman/podman.sock).",
    ),
    platform: str | None = typer.Option(
        None,
        "--platform",
        metavar="OS/ARCH[/VARIANT]",
        help="Image to pick from a multi-platform index (default: this host's, e.g. linux/amd64).",
    ),
    format: ReportFormat = typer.Option(
        ReportFormat.table,
        "--format",
        "-f",
        envvar="PATCHWARDEN_FORMAT",
        show_envvar=True,
        case_sensitive=False,
        help="Report format.",
    ),
    sbom_only: bool = typer.Option(
        False, "--sbom-only", help="Only list packages: no advisory matching, no index needed."
    ),
    severity: str | None = typer.Option(
        None,
        "--severity",
        metavar="LIST",
        envvar="PATCHWARDEN_SEVERITY",
        show_envvar=True,
        help="Show only these severities, comma-separated: critical,high,medium,low,unknown.",
    ),
    ignore_unfixed: bool = typer.Option(
        False,
        "--ignore-unfixed",
        help="Hide vulnerabilities with no fixed version (no-fix, will-not-fix).",
    ),
    exit_code_: ExitCodeOpt = None,
    fail_on: Severity | None = typer.Option(
        None,
        "--fail-on",
        envvar="PATCHWARDEN_FAIL_ON",
        show_envvar=True,
        case_sensitive=False,
        help="Exit 1 when a shown vulnerability is at least this severe (after --severity, "
        "--ignore-unfixed and the ignore file).",
    ),
    unknown_severity: UnknownSeverity | None = typer.Option(
        None,
        "--unknown-severity",
        envvar="PATCHWARDEN_UNKNOWN_SEVERITY",
        help="Whether --fail-on counts a vulnerability no source rates: block (it fails the "
        "run, the default) or allow. Default: advisories.unknown_severity.",
    ),
    ignore_file: Path | None = typer.Option(
        None,
        "--ignore-file",
        dir_okay=False,
        metavar="FILE",
        help=f"Accepted risks (default: {IGNORE_FILE_NAME} in the current directory, if any).",
    ),
    db: Path | None = typer.Option(
        None,
        "--db",
        metavar="FILE",
        help="Advisory index (default: $PATCHWARDEN_ADVISORY_DB, else the user data dir).",
    ),
    cache_dir: Path | None = typer.Option(
        None,
        "--cache-dir",
        envvar="PATCHWARDEN_CACHE_DIR",
        metavar="DIR",
        help="Cache directory (layer facts, registry data).",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", envvar="PATCHWARDEN_NO_CACHE", help="Do not read or write the cache."
    ),
    config: ConfigOpt = None,
    progress: ProgressOpt = True,
    output: Path | None = typer.Option(
        None,
        "--output",
        "-o",
        dir_okay=False,
        metavar="FILE",
        help="Write the report to FILE (atomically) instead of stdout.",
    ),
    timeout: TimeoutOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        target = choose_target(image, archive, oci_layout, rootfs)
        if image_src == ImageSrc.engine:
            if target.kind != "registry":
                raise UsageError(
                    "--image-src engine reads IMAGE from the engine; it does not apply to "
                    f"--{target.kind}",
                    "drop --image-src, or pass IMAGE",
                )
            target = ScanTarget("engine", target.target, engine_url)
        elif engine_url is not None:
            raise UsageError("--engine goes with --image-src engine", "add --image-src engine")
        if sbom_only and (fail_on or severity or ignore_unfixed):
            raise UsageError(
                "--sbom-only does no matching, so --fail-on, --severity and --ignore-unfixed "
                "have nothing to act on",
                "drop --sbom-only, or drop those options",
            )
        options = ScanOptions(
            target=target,
            platform=parse_platform(platform) or Platform.host(),
            sbom_only=sbom_only,
            severities=parse_severities(severity),
            ignore_unfixed=ignore_unfixed,
            ignore_file=_ignore_file(ignore_file, sbom_only),
            db=db,
        )
        from patchwarden.app.wiring import build_scan_pipeline

        settings = _config(config, timeout)
        pipeline = build_scan_pipeline(settings, cache_dir=cache_dir, use_cache=not no_cache)
        with _layer_progress(progress) as tick:
            outcome = run_scan(pipeline, options, progress=tick)
        for warning in outcome.warnings:
            err.print(f"[bold yellow]warning:[/] {escape(warning)}")
        text = render(outcome.report, format)
        if output is not None:
            write_atomic(output, text)
        elif format == ReportFormat.table and out.is_terminal:
            out.print(_colour(text), end="")
        else:
            sys.stdout.write(text)
            sys.stdout.flush()
        unknown = unknown_severity or UnknownSeverity(
            settings.advisories.unknown_severity if settings else "block"
        )
        code = exit_code(outcome.report, fail_on, unknown)
        raise typer.Exit(findings_code(code, exit_code_))


def _config(explicit: Path | None, timeout: str | None = None) -> Config | None:
    """The config file's settings; None when there is no file and no ``--timeout`` (built-in
    defaults, without loading pydantic and ruamel.yaml: a warm scan is ~0.1 s of work)."""
    path = find_settings(explicit, [])
    if path is None and timeout is None:
        return None
    from patchwarden.config.loader import load_config

    return with_timeout(load_config(path), timeout)


def _ignore_file(explicit: Path | None, sbom_only: bool) -> IgnoreFile | None:
    path = find_ignore_file(explicit, Path.cwd())
    if path is None or sbom_only:
        return None
    from patchwarden.app.scan.ignore_file import load_ignore_file

    return load_ignore_file(path)


_STYLES = {"critical": "bold red", "high": "red", "medium": "yellow", "low": "cyan"}


def _colour(text: str) -> Text:
    from rich.text import Text

    t = Text(text)
    for word, style in _STYLES.items():
        t.highlight_regex(rf"(?m)^    {word}\b", style)
    t.highlight_regex(r"(?m)^(Upgrade available|No fix exists|Will not fix|Ignored)\b.*$", "bold")
    return t


def write_atomic(path: Path, text: str) -> None:
    """Write next to ``path`` and rename over it: readers never see half a report."""
    try:
        files.write_atomic(path, text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc}", "check --output") from None


@contextmanager
def _layer_progress(enabled: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    if not (enabled and err.is_terminal) or is_quiet():
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    columns = (TextColumn("[bold]reading layers"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns,
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=real_console(err),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=None)

        def update(layer: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=layer)

        yield update


def register(app: typer.Typer) -> None:
    app.command(name="scan", help=HELP)(scan)
