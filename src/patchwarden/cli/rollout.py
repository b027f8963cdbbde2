"""``patchwarden rollout``: carry one digest through the configured environments."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from patchwarden.cli.common import (
    ConfigOpt,
    DebugOpt,
    FormatOpt,
    OutputFormat,
    StateOpt,
    emit_json,
    err,
    escape,
    load_settings,
    out,
    user_errors,
)
from patchwarden.cli.report import reporting

if TYPE_CHECKING:
    from patchwarden.app.rollout import Report, Rollouts

rollout_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

IdArg = Annotated[int, typer.Argument(metavar="ID", help="The rollout (see `rollout list`).")]
_STYLE = {
    "succeeded": "green",
    "passed": "green",
    "new": "green",
    "failed": "red",
    "stopping": "red",
    "rolled-back": "yellow",
    "aborted": "yellow",
    "waiting-approval": "cyan",
}
EXIT_DOC = (
    "Exit 0 when every environment took the digest, 3 when a gate stopped the rollout "
    "(the environment, wave and gate are shown), 6 when the trust gate of a registry "
    "environment refused the digest (or the candidate of `start IMAGE:TAG`), 5 when "
    "`start IMAGE:TAG` finds no candidate (nothing started), 7 when it waits for "
    "`rollout approve`, "
    "2 for bad usage or configuration."
)


def _service(config: Path | None, state: str | None) -> Rollouts:
    from patchwarden.app.wiring import build_rollouts
    from patchwarden.core.timing import span

    with span("config"):
        cfg, path = load_settings(config, [Path.cwd()])
    workdir = path.parent if path else Path.cwd()
    return build_rollouts(cfg, state=state, workdir=workdir, actor=_login())


def _login() -> str:
    """Who runs the command (recorded with promotions and approvals)."""
    try:
        return os.environ.get("PATCHWARDEN_ACTOR") or os.environ.get("USER") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def _style(word: str) -> str:
    style = _STYLE.get(word, "")
    return f"[{style}]{word}[/]" if style else word


def _render(report: Report, fmt: OutputFormat) -> None:
    doc = report.doc
    if fmt == OutputFormat.json:
        emit_json(doc)
    else:
        _table(doc)
    stopped = doc["stopped"]
    if stopped:
        wave = f", wave {stopped['wave']}" if stopped["wave"] is not None else ""
        err.print(
            f"stopped in {stopped['environment']}{wave} by the {stopped['gate']} gate: "
            f"{escape(stopped['reason'])}"
        )
    if doc["status"] == "waiting-approval":
        err.print(f"waiting for approval: patchwarden rollout approve {doc['id']}")


def _table(doc: dict[str, Any]) -> None:
    out.print(
        f"rollout {doc['id']}  {escape(doc['image'])}@{doc['digest']}  {_style(doc['status'])}"
    )
    for env in doc["environments"]:
        approval = env["approval"]
        by = f"  approved by {escape(approval['by'])}" if approval else ""
        out.print(f"  {env['name']} ({env['kind']}): {_style(env['status'])}{by}")
        for w in env["waves"]:
            gates = ", ".join(
                f"{g['gate']} {'ok' if g['ok'] else 'FAILED'} {g['duration_s']:g}s"
                for g in w["gates"]
            )
            names = escape(f"[{', '.join(w['containers'])}]")
            out.print(f"    wave {w['index']} {w['kind']} {names}: {_style(w['status'])}  {gates}")
        for c in env["containers"]:
            digest = c["digest"] or "unknown"
            out.print(f"      {escape(c['name'])}: {_style(c['where'])} ({digest})")
        reg = env.get("registry")
        if reg:
            before = reg["before"] or "no such tag"
            out.print(
                f"      {escape(reg['destination'])}: {_style(reg['state'])} "
                f"(from {escape(reg['source'])}; before: {before})"
            )


def _finish(report: Report, fmt: OutputFormat, *, undoing: bool = False) -> None:
    _render(report, fmt)
    raise typer.Exit(int(report.exit_code(undoing)))


@rollout_app.command("start", epilog=EXIT_DOC)
@reporting()
def start(
    image: Annotated[
        str,
        typer.Argument(
            metavar="IMAGE[:TAG][@DIGEST]",
            help="The exact image to roll out (IMAGE@DIGEST), or IMAGE:TAG as it runs now: "
            "then the candidate `check` chooses for it under its policy is rolled out.",
        ),
    ],
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Carry IMAGE@DIGEST through the environments of patchwarden.yaml, in order: in each,
    deploy in waves (canary first), run the gates (health, tests, soak, metrics), wait for a
    manual approval where configured, and roll the environment back when a gate fails.

    Given IMAGE:TAG without a digest, the rollout takes the candidate `check` chooses for it
    (same policy rules and trust gate), resolved to a digest once and recorded with the reason;
    with no candidate (up to date, or skipped by policy) nothing starts and it exits 5."""
    with user_errors(debug):
        report = _service(config, state).start(image, on_chosen=_announce)
        _finish(report, format)


def _announce(chosen: dict[str, Any]) -> None:
    update = f" ({chosen['update']} update)" if chosen["update"] else ""
    err.print(
        f"rolling out {escape(chosen['image'])}@{chosen['digest']}, the candidate "
        f"`check` chose for {escape(chosen['given'])}{update}: {escape(chosen['reason'])}"
    )


@rollout_app.command("resume", epilog=EXIT_DOC)
@reporting()
def resume(
    rollout_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Default: the newest unfinished one.")
    ] = None,
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Continue an interrupted rollout from its record: half-done container replacements are
    completed or undone, then it goes on from the wave it was in (or finishes the rollback it
    was doing). Uses the environments as they were configured when the rollout started."""
    with user_errors(debug):
        report = _service(config, state).resume(rollout_id)
        status = report.status
        _finish(report, format, undoing=status in ("aborted", "rolled-back"))


@rollout_app.command("approve", epilog=EXIT_DOC)
@reporting()
def approve(
    rollout_id: IdArg,
    by: Annotated[
        str | None,
        typer.Option(
            "--by",
            metavar="NAME",
            envvar="PATCHWARDEN_APPROVER",
            show_envvar=True,
            help="Who approves (recorded; default: the login name).",
        ),
    ] = None,
    proceed: bool = typer.Option(
        True, "--continue/--no-continue", help="Continue the rollout now (default) or later."
    ),
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Approve the environment a rollout waits for (approval: manual), and continue it."""
    with user_errors(debug):
        who = by or os.environ.get("USER") or getpass.getuser()
        report = _service(config, state).approve(rollout_id, who, proceed=proceed)
        _finish(report, format)


@rollout_app.command("abort")
@reporting()
def abort(
    rollout_id: IdArg,
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Stop an unfinished rollout and roll back every container it changed. Exit 0 when all
    of them run their old digest again, 3 otherwise."""
    with user_errors(debug):
        _finish(_service(config, state).abort(rollout_id), format, undoing=True)


@rollout_app.command("rollback")
@reporting()
def rollback(
    rollout_id: IdArg,
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Put every container a rollout (finished or not) moved back on its old digest, the
    last environment first. Exit 0 when all of them run it again, 3 otherwise."""
    with user_errors(debug):
        _finish(_service(config, state).rollback(rollout_id), format, undoing=True)


@rollout_app.command("status")
@reporting()
def status(
    rollout_id: Annotated[
        int | None, typer.Argument(metavar="[ID]", help="Default: the newest rollout.")
    ] = None,
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Every environment, wave, gate (with durations) and container of a rollout, and its
    audit trail (--format json)."""
    with user_errors(debug):
        _render(_service(config, state).status(rollout_id), format)


@rollout_app.command("list")
@reporting()
def list_(
    limit: int = typer.Option(20, "--limit", min=1, help="At most this many, newest first."),
    config: ConfigOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Rollouts, newest first."""
    with user_errors(debug):
        records = _service(config, state).recent(limit)
        from patchwarden.app.serialize.rollout import rollout_rows

        rows = rollout_rows(records)
        if format == OutputFormat.json:
            emit_json({"rollouts": rows})
            return
        if not rows:
            err.print("no rollouts")
            return
        from rich.text import Text

        from patchwarden.cli.rows import print_rows

        cells: list[list[str | Text]] = [
            [
                str(row["id"]),
                str(row["created_at"])[:19],
                str(row["image"]),
                str(row["digest"])[:19],
                Text.from_markup(_style(str(row["status"]))),
            ]
            for row in rows
        ]
        print_rows(("ID", "CREATED", "IMAGE", "DIGEST", "STATUS"), cells)


def register(app: typer.Typer) -> None:
    app.add_typer(
        rollout_app,
        name="rollout",
        help="Staged rollouts: one digest through environments, canary waves, gates, rollback.",
    )
