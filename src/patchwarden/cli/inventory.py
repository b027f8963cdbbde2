"""``patchwarden inventory``: every image reference in files."""

from __future__ import annotations

from pathlib import Path

import typer

from patchwarden.app.inventory import run_inventory
from patchwarden.app.serialize.check import inventory_dict
from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    ExcludeOpt,
    FormatOpt,
    OutputFormat,
    PathsArg,
    emit_json,
    load_settings,
    out,
    resolve_paths,
    user_errors,
)
from patchwarden.cli.report import reporting
from patchwarden.core.words import plural
from patchwarden.refs.model import Inventory

HELP = """List every container image reference in Dockerfiles, compose files, Kubernetes
manifests, Helm values and kustomizations.

Each reference shows the file and line, the kind of file, the image exactly as written and its
normalized form (docker.io/library/... for Docker Hub). Places that look like references but
cannot be resolved statically (templated values, unset variables) are listed as skipped, with
the reason.

Examples:

\b
  patchwarden inventory                      # the current directory
  patchwarden inventory deploy/ Dockerfile   # some paths
  patchwarden inventory --format json | jq '.references[].image'
"""


@reporting()
def inventory(
    paths: PathsArg = None,
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    exclude: ExcludeOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        roots = resolve_paths(paths)
        cfg, _ = load_settings(config, roots)
        inv = run_inventory(roots, cfg, extra_excludes=exclude or [])
        if format == OutputFormat.json:
            emit_json(inventory_dict(inv))
        else:
            render_inventory(inv)


def render_inventory(inv: Inventory) -> None:
    from patchwarden.cli.rows import print_rows

    print_rows(
        ("file:line", "kind", "image as written", "normalized"),
        [[f"{r.file}:{r.line}", r.kind.value, r.image, str(r.ref)] for r in inv.references],
        title=plural(len(inv.references), "image reference"),
    )
    if inv.skipped:
        out.print()
        print_rows(
            ("file:line", "text"),
            [[f"{s.file}:{s.line}", s.text] for s in inv.skipped],
            [s.reason for s in inv.skipped],
            title=f"{len(inv.skipped)} skipped",
        )


__all__ = ["HELP", "Path", "inventory"]


def register(app: typer.Typer) -> None:
    app.command(name="inventory", help=HELP)(inventory)
