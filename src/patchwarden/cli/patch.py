"""``patchwarden patch IMAGE``: OS package fixes as one new layer, pushed as TAG-patched."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    emit_json,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from patchwarden.app.patch import PatchResult

HELP = """Patch an image's OS packages without its Dockerfile: one new layer, same config.

Scans IMAGE (a registry reference), upgrades exactly the dpkg packages whose known
vulnerabilities have a fixed version, using the image's own apt-get and apt sources in a
buildah working container, commits the change as one layer on top (the image configuration
is kept), rescans, and pushes the result as TAG-patched (--tag to choose) only when the
rescan shows findings fixed. --vex FILE writes an OpenVEX document of what was fixed.

Debian and Ubuntu images only: apk and rpm images, and images without apt-get (distroless),
are refused with the reason. Needs the advisory index (patchwarden db update), buildah and
skopeo.

Exit codes: 0 patched, or nothing to patch; 2 bad usage or an unsupported image; 3 the
upgrade failed or fixed nothing (nothing pushed), or a registry error.

Examples:

\b
  patchwarden patch registry.example.com/team/app:1.4 --vex app-1.4.vex.json
  patchwarden patch registry.example.com/team/app:1.4 --tag 1.4-p1 --format json
"""


def patch(
    image: str = typer.Argument(
        ..., metavar="IMAGE", help="Registry reference, e.g. host/repo:tag."
    ),
    tag: str | None = typer.Option(
        None, "--tag", "-t", metavar="TAG", help="Tag of the patched image (default TAG-patched)."
    ),
    vex: Path | None = typer.Option(
        None, "--vex", metavar="FILE", dir_okay=False, help="Write an OpenVEX document here."
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    db: Path | None = typer.Option(None, "--db", metavar="FILE", help="Advisory index."),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", metavar="DIR", help="Cache dir."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the on-disk cache."),
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.wiring import build_patcher
        from patchwarden.core.ref import parse_reference

        ref = parse_reference(image)
        if vex is not None and not (vex.parent if str(vex.parent) else Path(".")).is_dir():
            raise UsageError(
                f"the directory of --vex {vex} does not exist",
                "create it first: the OpenVEX document is written after the push",
            )
        cfg, _ = load_settings(config, [])
        with build_patcher(cfg, db=db, cache_dir=cache_dir, use_cache=not no_cache) as patcher:
            result = patcher.run(ref, tag, vex is not None)
        if vex is not None and result.vex is not None:
            from patchwarden.cli.scan import write_atomic
            from patchwarden.core.jsonfmt import pretty

            write_atomic(vex, pretty(result.vex))
        if format == OutputFormat.json:
            from patchwarden.app.serialize.rebuild import patch_dict

            emit_json(patch_dict(result))
        else:
            render(result)
        code = ExitCode.ERRORS if result.outcome == "failed" else ExitCode.OK
        raise typer.Exit(int(code))


def render(r: PatchResult) -> None:
    style = {"patched": "green", "nothing-to-patch": "dim", "failed": "red"}.get(r.outcome, "")
    out.print(f"[bold {style}]{r.outcome}[/]  {escape(r.image)}: {escape(r.reason)}")
    for u in r.upgrades:
        now = r.installed_now.get(u.package, "-")
        out.print(f"    {u.package}: {u.installed} -> {now} (needs >= {u.fixed})")
    if r.fixed:
        out.print(f"    fixed: {escape(', '.join(r.fixed))}")
    if r.remaining:
        out.print(f"    still present: {len(r.remaining)}")
    if r.layer_bytes is not None:
        out.print(f"    new layer: {r.layer_bytes} bytes (compressed)")
    if r.vex:
        out.print(f"    OpenVEX: {len(r.vex['statements'])} statements")
    if r.output:
        out.print(escape(r.output.rstrip()), style="dim")


def register(app: typer.Typer) -> None:
    app.command(name="patch", help=HELP)(patch)
