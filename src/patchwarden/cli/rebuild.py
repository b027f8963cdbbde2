"""``patchwarden rebuild``: rebuild the team's own images when their base moved or fixes are
available: build, test, scan gate, push, record."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from patchwarden.cli.report import reporting
from patchwarden.errors import ExitCode, UsageError

if TYPE_CHECKING:
    from patchwarden.app.rebuild import BuildResult, DueDecision
    from patchwarden.app.rebuild.handover import HandOff, Then
    from patchwarden.app.update.updater import Updater
    from patchwarden.config.schema import Config
    from patchwarden.core.ref import ImageRef

HELP = """Rebuild your own images when a rebuild is due: build, test, scan, push.

Builds are declared under `builds:` in patchwarden.yaml (Dockerfile, context, target, build
args, destination repository, tag scheme, tests, gates), or given on the command line as
`rebuild DIR --to REGISTRY/REPO` for one Dockerfile directory with default settings.

A build is due when its base image moved (the base digest recorded in the last image's
org.opencontainers.image.base.digest label differs from a HEAD of the base tag now), when
policy allows a newer base tag (edit the FROM with `patchwarden update`), when the last
build's scan found vulnerabilities the distribution has fixed, or when it was never built.
`--check` only decides, from HEAD requests. Without it, each due build is built with buildah
(--pull, OCI base/revision/created labels and annotations), tested in containers (podman),
scanned and compared with the previous build (gate: no new vulnerabilities at or above
high by default), then pushed under an immutable tag ({version}-{date}.{n}) and the moving
tag, and recorded in the state store. A failing test or gate leaves the registry unchanged.

With a signing_key, each build is pushed by digest, signed in cosign's format (the
signature verified back), and only then tagged.

--then hands each pushed digest on: `update` pins it where the image is referenced under
PATH (a PR by default; --update-mode write|commit|push|pull-request), `rollout` runs
`rollout start REPO@DIGEST` through the configured environments. Both may be given.

Exit codes: 0 every due build pushed (or nothing due; --check: decided) and handed over;
1 a test or gate stopped a build; 2 bad usage or configuration; 3 a build, a check or a
hand-over failed; 5 --then update skipped some references; 7 a --then rollout waits for
approval. When several apply: 3, then 1, then 7, then 5.

Examples:

\b
  patchwarden rebuild --check                     # which builds are due, and why
  patchwarden rebuild --check --format json | jq '.builds[] | select(.due)'
  patchwarden rebuild                             # rebuild what is due
  patchwarden rebuild ./app --to registry.example.com/team/app
  patchwarden rebuild --then update               # and open PRs pinning the new digests
  patchwarden rebuild --then rollout              # and roll the new digests out
"""

StateOpt = Annotated[
    str | None,
    typer.Option(
        "--state",
        metavar="URL|PATH",
        help="State store: SQLite path or SQLAlchemy URL (default: $PATCHWARDEN_STATE, see "
        "docs/state-store.md).",
    ),
]


@reporting()
def rebuild(
    path: Path | None = typer.Argument(
        None,
        metavar="[PATH]",
        help="Directory of patchwarden.yaml (default: the current directory); with --to, the "
        "directory holding the Containerfile or Dockerfile.",
        show_default=False,
    ),
    check: bool = typer.Option(
        False, "--check", help="Only decide which builds are due and why; build nothing."
    ),
    to: str | None = typer.Option(
        None,
        "--to",
        metavar="REGISTRY/REPO",
        envvar="PATCHWARDEN_REBUILD_TO",
        help="Build PATH's Dockerfile without configuration and push it to this repository.",
    ),
    build: list[str] | None = typer.Option(
        None, "--build", "-b", metavar="NAME", help="Only this build (repeatable)."
    ),
    force: bool = typer.Option(False, "--force", help="Build even when nothing is due."),
    then: list[str] | None = typer.Option(
        None,
        "--then",
        metavar="update|rollout",
        help="Hand each pushed digest to update (pin it) or rollout (start one); repeatable.",
    ),
    engine: str | None = typer.Option(
        None,
        "--engine",
        metavar="URL",
        envvar="PATCHWARDEN_REBUILD_ENGINE",
        help="Build and test through this Docker Engine API (Docker, or Podman's service) "
        "instead of buildah and podman.",
    ),
    forge: str | None = typer.Option(
        None, "--forge", help="--then update: github, gitlab or gitea (default: from origin)."
    ),
    forge_url: str | None = typer.Option(
        None,
        "--forge-url",
        metavar="URL",
        help="--then update: the repository's web URL when origin's URL does not name it.",
    ),
    forge_api: str | None = typer.Option(
        None, "--forge-api", metavar="URL", help="--then update: API base URL (self-hosted)."
    ),
    update_mode: str = typer.Option(
        "pull-request",
        "--update-mode",
        metavar="write|commit|push|pull-request",
        help="How far --then update goes (as update's --commit/--push/--pull-request).",
    ),
    format: FormatOpt = OutputFormat.table,
    config: ConfigOpt = None,
    state: StateOpt = None,
    db: Path | None = typer.Option(
        None, "--db", metavar="FILE", help="Advisory index for the scan gate (see db status)."
    ),
    cache_dir: Path | None = typer.Option(None, "--cache-dir", metavar="DIR", help="Cache dir."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not use the on-disk cache."),
    show_requests: bool = typer.Option(
        False, "--show-requests", help="Print registry requests by kind on stderr."
    ),
    debug: DebugOpt = False,
) -> None:
    with user_errors(debug):
        from patchwarden.app.rebuild.due import forced
        from patchwarden.app.rebuild.spec import from_directory, specs
        from patchwarden.app.wiring import build_rebuild

        root = path or Path(".")
        if not root.is_dir():
            raise UsageError(f"{root} is not a directory", "pass a directory")
        cfg, cfg_path = load_settings(config, [root])
        if to is not None:
            todo = [from_directory(root, to)]
        else:
            if not cfg.builds:
                raise UsageError(
                    "no builds: patchwarden.yaml declares no `builds:`"
                    + (f" ({cfg_path})" if cfg_path else " (no patchwarden.yaml found)"),
                    "declare builds (docs/configuration.md#builds) or pass DIR --to REGISTRY/REPO",
                )
            todo = specs(cfg.builds, cfg_path.parent if cfg_path else root)
        if build:
            unknown = sorted(set(build) - {s.name for s in todo})
            if unknown:
                raise UsageError(
                    f"no build named {unknown[0]!r}",
                    f"builds: {', '.join(s.name for s in todo)}",
                )
            todo = [s for s in todo if s.name in build]
        steps = _then(then, update_mode, check, cfg) if then else []
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # kill tools, push nothing
        with build_rebuild(
            cfg,
            state=state,
            db=db,
            cache_dir=cache_dir,
            use_cache=not no_cache,
            check_only=check,
            scan_gate=any(s.gate != "off" for s in todo),
            engine=engine,
        ) as (due_checker, rebuilder):
            decisions = due_checker.decide_all(todo)
            requests = due_checker.requests()
            if check or rebuilder is None:
                _show_check(decisions, format, requests)
                _requests(show_requests, requests)
                code = ExitCode.ERRORS if any(d.error for d in decisions) else ExitCode.OK
                raise typer.Exit(int(code))
            from patchwarden.app.rebuild.handover import combined_exit

            forge_opts = (forge, forge_url, forge_api)
            then_step = _hand_off(
                steps, cfg, cfg_path, root, update_mode, forge_opts, state, cache_dir
            )
            results = []
            for spec, decision in zip(todo, decisions, strict=True):
                if decision.error or not (decision.due or force):
                    results.append(_not_built(decision))
                    continue
                if not decision.due:
                    decision = forced(decision)
                if format == OutputFormat.table:
                    err.print(f"building {spec.name} ...")
                results.append(rebuilder.run(spec, decision, then=then_step))
        _show_results(results, format)
        raise typer.Exit(int(combined_exit(results)))


def _then(names: list[str], update_mode: str, check: bool, cfg: Config) -> list[Then]:
    from patchwarden.app.rebuild.handover import Then, UpdateMode

    try:
        steps = [Then(n) for n in names]
        UpdateMode(update_mode)
    except ValueError as exc:
        raise UsageError(
            f"{exc}",
            "--then takes update or rollout; --update-mode write, commit, push or pull-request",
        ) from None
    if steps and check:
        raise UsageError("--then hands over pushed builds; --check builds nothing", "drop --then")
    if Then.rollout in steps and not cfg.environments:
        raise UsageError(
            "--then rollout: no environments are configured",
            "add environments: to patchwarden.yaml (docs/commands/rollout.md)",
        )
    return steps


def _hand_off(
    steps: list[Then],
    cfg: Config,
    cfg_path: Path | None,
    root: Path,
    update_mode: str,
    forge: tuple[str | None, str | None, str | None],
    state: str | None,
    cache_dir: Path | None,
) -> HandOff | None:
    """The ``--then`` steps, each made through wiring on first use."""
    if not steps:
        return None
    from patchwarden.app.inventory import run_inventory
    from patchwarden.app.rebuild.handover import HandOff
    from patchwarden.app.wiring import build_rebuild_updater, build_rollouts

    def updater() -> tuple[Updater, Callable[[ImageRef], object]]:
        return build_rebuild_updater(
            cfg, root.resolve(), update_mode, forge=forge, cache_dir=cache_dir, use_cache=True
        )

    def rollouts() -> Callable[[str], tuple[ExitCode, dict[str, Any]]]:
        service = build_rollouts(cfg, state=state, workdir=cfg_path.parent if cfg_path else root)

        def start(image: str) -> tuple[ExitCode, dict[str, Any]]:
            report = service.start(image)
            return report.exit_code(), report.doc

        return start

    return HandOff(
        steps, updater=updater, inventory=lambda: run_inventory([root], cfg), rollouts=rollouts
    )


def _requests(show: bool, stats: dict[str, int]) -> None:
    if show:
        err.print("registry requests: " + ", ".join(f"{k}={v}" for k, v in sorted(stats.items())))


def _not_built(decision: DueDecision) -> BuildResult:
    from patchwarden.app.rebuild import BuildResult, Outcome

    if decision.error:
        return BuildResult(
            decision.name, decision.destination, Outcome.FAILED, decision.error, due=decision
        )
    return BuildResult(
        decision.name, decision.destination, Outcome.NOT_DUE, "not due", due=decision
    )


def _show_check(
    decisions: list,  # type: ignore[type-arg]
    format: OutputFormat,
    requests: dict[str, int],
) -> None:
    from patchwarden.app.serialize.rebuild import due_json

    if format == OutputFormat.json:
        emit_json({"builds": [due_json(d) for d in decisions], "requests": requests})
        return
    for d in decisions:
        if d.error:
            out.print(f"[bold red]error[/]  {escape(d.name)}: {escape(d.error)}")
            continue
        head = "[bold yellow]due[/]    " if d.due else "[green]not due[/]"
        out.print(
            f"{head}  [bold]{escape(d.name)}[/]  {escape(d.destination)}  FROM {escape(d.base)}"
        )
        for r in d.reasons:
            out.print(f"    {r.kind.value}: {escape(r.detail)}", style="dim")
    due = sum(1 for d in decisions if d.due)
    out.print(f"{len(decisions)} builds: {due} due, {len(decisions) - due} not due")


_STYLE = {"pushed": "green", "stopped": "yellow", "failed": "red", "not-due": "dim"}


def _show_results(results: list[BuildResult], format: OutputFormat) -> None:
    from patchwarden.app.serialize.rebuild import result_json

    if format == OutputFormat.json:
        emit_json({"builds": [result_json(r) for r in results]})
        return
    for r in results:
        style = _STYLE.get(r.outcome.value, "")
        out.print(
            f"[bold {style}]{r.outcome.value}[/]  [bold]{escape(r.name)}[/]: {escape(r.reason)}"
        )
        if r.due is not None:
            for reason in r.due.reasons:
                out.print(f"    due: {reason.kind.value}: {escape(reason.detail)}", style="dim")
        for s in r.steps:
            mark = "[green]ok[/]  " if s.ok else "[red]FAIL[/]"
            out.print(f"    {mark} {escape(s.name)}: {escape(s.detail)} ({s.duration_s:.1f}s)")
            if not s.ok and s.output:
                out.print(escape(s.output.rstrip()), style="dim")
        if r.digest:
            out.print(f"    image: {escape(r.destination)}@{r.digest}  tags: {', '.join(r.tags)}")
        if r.signature:
            out.print(f"    signature: {escape(r.signature)}")
        if r.fixed or r.introduced:
            out.print(f"    fixed: {len(r.fixed)}, introduced: {len(r.introduced)}")


def register(app: typer.Typer) -> None:
    app.command(name="rebuild", help=HELP)(rebuild)
