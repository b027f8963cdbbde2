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
    TimeoutOpt,
    emit_json,
    err,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.cli.report import reporting
from patchwarden.errors import ExitCode

RETAIN_HELP = """Delete old tags and manifests of each REPO, never what is deployed.

Kept, each with its reason: the newest --keep-last versions (a version is a manifest digest
with all its tags), versions created within --keep-days, tags matching --keep-tags, and every
digest that is deployed: referenced in files under --paths (by digest, or by a tag that points
to it now), used by a container on --engine, or one of the last --keep-rollback versions of a
container in the state store (what engine rollback goes back to). cosign signatures follow
their image. Everything else is deleted through the distribution API (the registry must allow
deletes). Then run the registry's garbage collection to reclaim storage (the command says how).

Rules can live in patchwarden.yaml (retention:, per repository pattern: keep_last, keep_days,
keep_tags, keep_rollback, paths, engine). Every rule matching REPO applies, and the flags add
one more: a version is kept when any of them keeps it. --dry-run lists what would be deleted
and why, and why each survivor stays.

Exit codes: 0 done (or --dry-run); 2 bad usage; 3 some tag or delete failed (the rest is done).

Examples:

\b
  patchwarden registry retain reg.example.com/team/app --keep-last 10 --keep-days 30 --dry-run
  patchwarden registry retain reg.example.com/team/app --dry-run     # rules from patchwarden.yaml
  patchwarden registry retain reg.example.com/team/app --keep-last 5 --paths deploy/ \\
      --engine unix:///run/podman/podman.sock --keep-tags '^v?[0-9]+$'
"""


@reporting()
def retain(
    repos: list[str] = typer.Argument(..., metavar="REPO..."),
    keep_last: int | None = typer.Option(
        None,
        "--keep-last",
        metavar="N",
        help="Newest versions kept (needed unless a retention: rule matches REPO).",
    ),
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
    keep_rollback: int | None = typer.Option(
        None,
        "--keep-rollback",
        metavar="K",
        help="Rollback versions kept per container (default 3, or the rules' largest).",
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    timeout: TimeoutOpt = None,
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.retain.plan import GC_HINT
        from patchwarden.app.retain.run import CliRetention, retain_repos
        from patchwarden.app.serialize.registry import retain_dict

        cfg, _ = load_settings(config, [Path.cwd()], timeout=timeout)
        flags = CliRetention(keep_last, keep_days, keep_tags, paths or [], engine, keep_rollback)
        plans = retain_repos(cfg, repos, flags, dry_run=dry_run, state=state)
        if format == OutputFormat.json:
            emit_json(retain_dict(plans, GC_HINT))
        else:
            for p in plans:
                verb = "would delete" if p.dry_run else "deleted"
                out.print(
                    f"[bold]{escape(p.repository)}[/]: {verb} {len(p.deleted)}, kept {len(p.kept)}"
                )
                for v in p.deleted:
                    names = escape(", ".join(sorted(v.tags)))
                    why = escape("; ".join(v.drop))
                    out.print(f"  [red]{verb}[/] {v.digest[:19]} {names}: {why}")
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
