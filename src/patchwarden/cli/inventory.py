"""``patchwarden inventory``: every image reference in files."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

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
    escape,
    load_settings,
    out,
    resolve_paths,
    user_errors,
)
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
    table = Table(title=f"{plural(len(inv.references), 'image reference')}", title_justify="left")
    for col in ("file:line", "kind", "image as written", "normalized"):
        table.add_column(col, overflow="fold")
    for r in inv.references:
        table.add_row(
            escape(f"{r.file}:{r.line}"), r.kind.value, escape(r.image), escape(str(r.ref))
        )
    out.print(table)
    if inv.skipped:
        skipped = Table(title=f"{len(inv.skipped)} skipped", title_justify="left")
        for col in ("file:line", "text", "reason"):
            skipped.add_column(col, overflow="fold")
        for s in inv.skipped:
            skipped.add_row(escape(f"{s.file}:{s.line}"), escape(s.text), escape(s.reason))
        out.print(skipped)


__all__ = ["HELP", "Path", "inventory"]


def register(app: typer.Typer) -> None:
    app.command(name="inventory", help=HELP)(inventory)
