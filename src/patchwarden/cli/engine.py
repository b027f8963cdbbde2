"""``patchwarden engine``: live updates of running containers on a Docker-API engine."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from patchwarden.app.serialize.live import history_dict, live_results_dict
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
from patchwarden.core.digest import short_hex
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.errors import ExitCode

if TYPE_CHECKING:  # loaded by the command being run (start-up time)
    from patchwarden.app.live import LiveResult, Probes

engine_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None)

EngineOpt = Annotated[
    str | None,
    typer.Option(
        "--engine",
        metavar="URL",
        help="Engine API URL (default: $DOCKER_HOST, else unix:///var/run/docker.sock); "
        "Podman: unix:///run/podman/podman.sock. tcp:// with $DOCKER_TLS_VERIFY and "
        "$DOCKER_CERT_PATH uses TLS client certificates.",
    ),
]
_STYLE = {
    LiveOutcome.UPDATED: "green",
    LiveOutcome.REVERTED: "green",
    LiveOutcome.AVAILABLE: "cyan",
    LiveOutcome.ROLLED_BACK: "yellow",
    LiveOutcome.FAILED: "red",
    LiveOutcome.UP_TO_DATE: "green",
    LiveOutcome.SKIPPED: "dim",
}


def _short(digest: str | None) -> str:
    return short_hex(digest) if digest else "-"


def _render(results: Sequence[LiveResult]) -> None:
    if not results:
        out.print("no containers selected")
        return
    table = Table(box=None, pad_edge=False)
    for col in ("CONTAINER", "FROM", "TO", "OUTCOME", "REASON"):
        table.add_column(col, overflow="fold")
    for r in results:
        table.add_row(
            escape(r.container),
            escape(f"{r.from_image}@{_short(r.from_digest)}"),
            escape(f"{r.to_image}@{_short(r.to_digest)}"),
            f"[{_STYLE.get(r.outcome, '')}]{r.outcome}[/]",
            escape(r.reason),
        )
    out.print(table)


def _exit(results: Sequence[LiveResult]) -> None:
    """3 when an update or rollback failed or was rolled back (undoing an update that an
    earlier run left half done is recovery working, not a failure of this run); else 1 when
    ``--monitor-only`` found updates available; else 0."""
    bad = any(
        r.outcome == LiveOutcome.FAILED
        or (r.outcome == LiveOutcome.ROLLED_BACK and r.action != LiveAction.RECOVER)
        for r in results
    )
    if bad:
        raise typer.Exit(int(ExitCode.ERRORS))
    available = any(r.outcome == LiveOutcome.AVAILABLE for r in results)
    raise typer.Exit(int(ExitCode.FINDINGS if available else ExitCode.OK))


def _progress(format: OutputFormat) -> Callable[[str, str], None] | None:
    """Each step of each container, on stderr, as it happens (not with --format json to a
    pipe: a machine reading the JSON does not want it)."""
    if format == OutputFormat.json and not err.is_terminal:
        return None

    def step(container: str, text: str) -> None:
        err.print(f"{container}: {text}", markup=False, highlight=False)

    return step


def _probes(
    http: str | None, status: int, tcp: str | None, grace: float, timeout: float
) -> Probes:
    from patchwarden.app.live import Probes

    return Probes(http_url=http, http_status=status, tcp=tcp, grace=grace, timeout=timeout)


ProbeHttp = Annotated[
    str | None,
    typer.Option(
        "--probe-http",
        metavar="URL",
        help="Health probe: GET URL must answer "
        "--probe-status (used when the container has no HEALTHCHECK).",
    ),
]
ProbeStatus = Annotated[int, typer.Option("--probe-status", help="Expected HTTP status.")]
ProbeTcp = Annotated[
    str | None,
    typer.Option("--probe-tcp", metavar="HOST:PORT", help="Health probe: TCP connect."),
]
Grace = Annotated[
    float,
    typer.Option(
        "--grace", metavar="SECONDS", help="The new container must keep running this long."
    ),
]
StopTimeout = Annotated[
    int,
    typer.Option(
        "--stop-timeout",
        metavar="SECONDS",
        help="Grace period when stopping the old container before the engine kills it.",
    ),
]
HealthTimeout = Annotated[
    float,
    typer.Option("--health-timeout", metavar="SECONDS", help="Time limit of the health gate."),
]
HookTimeout = Annotated[
    float,
    typer.Option(
        "--hook-timeout",
        metavar="SECONDS",
        help="Time limit of the patchwarden.pre-update / patchwarden.post-update hooks "
        "(a container's patchwarden.hook-timeout label overrides it).",
    ),
]


@engine_app.command("update")
def update(
    names: Annotated[
        list[str] | None,
        typer.Argument(
            metavar="[NAME]...", help="Containers to update (default: all).", show_default=False
        ),
    ] = None,
    engine: EngineOpt = None,
    state: StateOpt = None,
    config: ConfigOpt = None,
    format: FormatOpt = OutputFormat.table,
    label_enable: bool = typer.Option(
        False,
        "--label-enable",
        help="Only containers labelled patchwarden.enable=true "
        "(containers labelled patchwarden.enable=false are always skipped).",
    ),
    project: str | None = typer.Option(
        None, "--project", metavar="NAME", help="Only containers of this compose project."
    ),
    monitor_only: bool = typer.Option(
        False, "--monitor-only", help="Report what would be updated; change nothing."
    ),
    probe_http: ProbeHttp = None,
    probe_status: ProbeStatus = 200,
    probe_tcp: ProbeTcp = None,
    grace: Grace = 3.0,
    health_timeout: HealthTimeout = 60.0,
    stop_timeout: StopTimeout = 10,
    hook_timeout: HookTimeout = 30.0,
    concurrency: int = typer.Option(
        1,
        "--concurrency",
        metavar="N",
        min=1,
        help="Update up to N containers at once (dependencies still go first).",
    ),
    keep_images: int | None = typer.Option(
        None,
        "--keep-images",
        metavar="N",
        min=0,
        help="After an update, remove the repository's unused images beyond the N most recent "
        "digests the container ran before (default: keep every image). The previous digest "
        "is always kept.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", envvar="PATCHWARDEN_NO_CACHE", help="Do not use the on-disk cache."
    ),
    debug: DebugOpt = False,
) -> None:
    """Update running containers to the image their policy allows, gated by health, with
    automatic rollback. Containers started from a digest or an image ID are reported, not
    touched. Exit 3 when any update rolled back or failed; with --monitor-only, exit 1 when
    an update is available (outcome `available`)."""
    with user_errors(debug):
        from patchwarden.app.live import Selection, policy_candidates
        from patchwarden.app.wiring import build_checker, build_live_updater

        cfg, _ = load_settings(config, [Path.cwd()])
        updater = build_live_updater(
            engine_url=engine,
            state=state,
            check_writable=not monitor_only,
            probes=_probes(probe_http, probe_status, probe_tcp, grace, health_timeout),
            stop_timeout=stop_timeout,
            hook_timeout=hook_timeout,
            concurrency=concurrency,
            keep_images=keep_images,
            on_step=_progress(format),
        )
        results = [] if monitor_only else updater.recover()
        checker = build_checker(
            cfg, use_cache=not no_cache, drift=False, fresh_tags=True, concurrency=1
        )
        results += updater.update(
            policy_candidates(checker),
            Selection(names=tuple(names or ()), opt_in=label_enable, project=project),
            monitor_only=monitor_only,
        )
        if format == OutputFormat.json:
            emit_json(live_results_dict(results))
        else:
            _render(results)
        _exit(results)


@engine_app.command("rollback")
def rollback(
    name: Annotated[str, typer.Argument(metavar="NAME", help="The container to roll back.")],
    to: str | None = typer.Option(
        None,
        "--to",
        metavar="DIGEST",
        help="Digest to go back to (default: the previous one from the history).",
    ),
    engine: EngineOpt = None,
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    probe_http: ProbeHttp = None,
    probe_status: ProbeStatus = 200,
    probe_tcp: ProbeTcp = None,
    grace: Grace = 3.0,
    health_timeout: HealthTimeout = 60.0,
    stop_timeout: StopTimeout = 10,
    hook_timeout: HookTimeout = 30.0,
    debug: DebugOpt = False,
) -> None:
    """Put a container back on its previous (or the given) digest, with the same procedure and
    health gate as an update."""
    with user_errors(debug):
        from patchwarden.app.wiring import build_live_updater

        updater = build_live_updater(
            engine_url=engine,
            state=state,
            probes=_probes(probe_http, probe_status, probe_tcp, grace, health_timeout),
            stop_timeout=stop_timeout,
            hook_timeout=hook_timeout,
            on_step=_progress(format),
        )
        results = [updater.rollback(name, to)]
        if format == OutputFormat.json:
            emit_json(live_results_dict(results))
        else:
            _render(results)
        _exit(results)


@engine_app.command("history")
def history(
    name: Annotated[
        str | None, typer.Argument(metavar="[NAME]", help="Only this container.")
    ] = None,
    limit: int = typer.Option(100, "--limit", help="At most this many records, newest first."),
    state: StateOpt = None,
    format: FormatOpt = OutputFormat.table,
    debug: DebugOpt = False,
) -> None:
    """Every recorded update, rollback and recovery, newest first."""
    with user_errors(debug):
        from patchwarden.app.wiring import existing_store

        store = existing_store(state)
        records = [] if store is None else store.history(name, limit=limit)
        if format == OutputFormat.json:
            emit_json(history_dict(records))
            return
        if not records:
            err.print("no records")
            return
        table = Table(box=None, pad_edge=False)
        for col in ("TIME", "CONTAINER", "ACTION", "FROM", "TO", "OUTCOME", "REASON"):
            table.add_column(col, overflow="fold")
        for r in records:
            table.add_row(
                r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                escape(r.container),
                escape(r.action),
                escape(f"{r.from_image}@{_short(r.from_digest)}"),
                escape(f"{r.to_image}@{_short(r.to_digest)}"),
                f"[{_STYLE[LiveOutcome(r.outcome)]}]{r.outcome}[/]",
                escape(r.reason),
            )
        out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(engine_app, name="engine", help="Live-update containers: health gate, rollback.")
