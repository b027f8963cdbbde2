"""``patchwarden registry retain``: delete old versions, never deployed ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    emit_json,
    err,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.errors import ExitCode

RETAIN_HELP = """Delete old tags and manifests of each REPO, never what is deployed.

Kept, each with its reason: the newest --keep-last versions (a version is a manifest digest
with all its tags), versions created within --keep-days, tags matching --keep-tags, and every
digest that is deployed: referenced in files under --paths (by digest, or by a tag that points
to it now), used by a container on --engine, or one of the last --keep-rollback versions of a
container in the state store (what engine rollback goes back to). cosign signatures follow
their image. Everything else is deleted through the distribution API (the registry must allow
deletes). Then run the registry's garbage collection to reclaim storage (the command says how).

Exit codes: 0 done (or --dry-run); 2 bad usage; 3 some tag or delete failed (the rest is done).

Examples:

\b
  patchwarden registry retain reg.example.com/team/app --keep-last 10 --keep-days 30 --dry-run
  patchwarden registry retain reg.example.com/team/app --keep-last 5 --paths deploy/ \\
      --engine unix:///run/podman/podman.sock --keep-tags '^v?[0-9]+$'
"""


def retain(
    repos: list[str] = typer.Argument(..., metavar="REPO..."),
    keep_last: int = typer.Option(..., "--keep-last", metavar="N", help="Newest versions kept."),
    keep_days: float | None = typer.Option(
        None, "--keep-days", metavar="D", help="Keep versions created within D days."
    ),
    keep_tags: str | None = typer.Option(
        None, "--keep-tags", metavar="REGEX", help="Keep versions with a tag matching REGEX."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Say what would be deleted; delete nothing."
    ),
    paths: Annotated[
        list[Path] | None,
        typer.Option(
            "--paths",
            metavar="PATH",
            help="Files/directories whose references are deployed (repeatable).",
        ),
    ] = None,
    engine: str | None = typer.Option(
        None,
        "--engine",
        metavar="URL",
        envvar="PATCHWARDEN_ENGINE",
        help="Docker-API engine whose containers' images are deployed.",
    ),
    state: str | None = typer.Option(
        None,
        "--state",
        metavar="URL|PATH",
        envvar="PATCHWARDEN_STATE",
        help="State store whose rollback versions are kept (default: see docs/state-store.md).",
    ),
    keep_rollback: int = typer.Option(
        3, "--keep-rollback", metavar="K", help="Rollback versions kept per container."
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.retain.plan import GC_HINT
        from patchwarden.app.retain.run import retain_repos
        from patchwarden.app.serialize.registry import retain_dict

        cfg, _ = load_settings(config, [Path.cwd()])
        plans = retain_repos(
            cfg,
            repos,
            keep_last=keep_last,
            keep_days=keep_days,
            keep_tags=keep_tags,
            dry_run=dry_run,
            paths=paths or [],
            engine=engine,
            state=state,
            keep_rollback=keep_rollback,
        )
        if format == OutputFormat.json:
            emit_json(retain_dict(plans, GC_HINT))
        else:
            for p in plans:
                verb = "would delete" if p.dry_run else "deleted"
                out.print(
                    f"[bold]{escape(p.repository)}[/]: {verb} {len(p.deleted)}, kept {len(p.kept)}"
                )
                for v in p.deleted:
                    out.print(
                        f"  [red]{verb}[/] {v.digest[:19]} {escape(', '.join(sorted(v.tags)))}"
                    )
                for v in p.kept:
                    why = escape("; ".join(v.keep))
                    names = escape(", ".join(sorted(v.tags)))
                    out.print(f"  [green]kept[/] {v.digest[:19]} {names}: {why}")
                for e in p.errors:
                    err.print(f"[red]error:[/] {escape(e)}")
            if any(p.deleted for p in plans) and not dry_run:
                err.print(escape(GC_HINT))
        bad = any(p.errors for p in plans)
        raise typer.Exit(int(ExitCode.ERRORS if bad else ExitCode.OK))


def register_retain(app: typer.Typer) -> None:
    app.command("retain", help=RETAIN_HELP)(retain)
