"""Job kinds that run a CLI use case on a schedule: ``update``, ``engine-update``,
``rebuild``, ``rollout``, ``retention``. Each builds its collaborators through
:mod:`patchwarden.app.wiring`, calls the use case of :mod:`patchwarden.app` and returns a
:class:`JobResult` (what changed, as JSON-able data). Parameters (all optional) are listed per
kind in docs/commands/serve.md.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.errors import PatchwardenError, UsageError
from patchwarden.service.result import JobResult, Params
from patchwarden.service.schedule import in_window, next_window, policy_open

if TYPE_CHECKING:
    from patchwarden.app.live.model import CandidateFn
    from patchwarden.config.serve import PolicySchedule
    from patchwarden.core.ref import ImageRef
    from patchwarden.engine.info import ContainerInfo
    from patchwarden.service.jobs import Context


def _path(ctx: Context, params: Params) -> Path:
    path = Path(str(params["path"])) if params.get("path") else Path(ctx.paths[0])
    if not path.is_dir():
        raise UsageError(f"{path} is not a directory", "set the job's path parameter")
    return path


def _effects(ctx: Context, who: str) -> Any:
    """The side-effect ledger of the state store as this job run's guard: a retried or
    re-delivered job repeats no push and no pull request (None: a store without it)."""
    engine = getattr(ctx.history, "engine", None)
    if engine is None:
        return None
    from patchwarden.store.effects import EffectLedger, OwnedLedger
    from patchwarden.store.locks import run_owner

    return OwnedLedger(EffectLedger(engine), run_owner(who))


def run_update(ctx: Context, params: Params) -> JobResult:
    """``update`` of a repository: commit, push and open (or refresh) one pull request per
    group. ``dry_run: true`` only plans."""
    from patchwarden.app.check import Status
    from patchwarden.app.inventory import run_inventory
    from patchwarden.app.update import (
        Grouping,
        UpdateAction,
        UpdateOptions,
        plan_groups,
        verify_pins,
    )
    from patchwarden.app.wiring import build_checker, build_forge, build_updater

    root = _path(ctx, params)
    dry_run = bool(params.get("dry_run", False))
    pr = bool(params.get("pull_request", True)) and not dry_run
    remote = str(params.get("remote", "origin"))
    inv = run_inventory([root], ctx.config)
    checker = build_checker(ctx.config, use_cache=False, state=ctx.state)
    report = checker.run(inv)
    now = datetime.now(UTC)
    closed = [
        r for r in report.results
        if r.status == Status.OUTDATED
        and not policy_open(ctx.config.serve.schedules, r.reference.ref.name, now)
    ]  # fmt: skip
    results = [r for r in report.results if r not in closed]
    grouping = Grouping(str(params.get("group", Grouping.image.value)))
    groups, notes = plan_groups(results, grouping, pin_digest=bool(params.get("pin")))
    notes += [
        f"{r.reference.file}:{r.reference.line} waits for its policy schedule" for r in closed
    ]
    groups, unverified = verify_pins(groups, checker.registry.get_manifest)
    forge = (
        build_forge(
            root,
            remote=remote,
            url=params.get("forge_url"),
            kind=params.get("forge"),
            api_url=params.get("forge_api"),
        )
        if pr
        else None
    )
    options = UpdateOptions(
        dry_run=dry_run, commit=pr, push=pr, remote=remote, pull_request=pr,
        author=ctx.config.git.author,
    )  # fmt: skip
    effects = _effects(ctx, "update job")
    outcomes = build_updater(checker, root, options, forge=forge, effects=effects).run(groups)
    actions = Counter(o.action.value for o in outcomes)
    prs = [o.pull_request for o in outcomes if o.pull_request]
    errors = [o.error for o in outcomes if o.error] + [r.reason for r in unverified]
    errors += [r.reason for r in report.results if r.status == Status.ERROR]
    made = sum(1 for o in outcomes if o.action in (UpdateAction.COMMITTED, UpdateAction.UPDATED))
    summary = f"{len(groups)} groups: " + (
        ", ".join(f"{n} {a}" for a, n in sorted(actions.items())) or "nothing to update"
    )
    data: dict[str, Any] = {"actions": dict(actions), "pull_requests": prs, "notes": notes}
    data["errors"] = errors
    if errors and not made:
        raise PatchwardenError(f"{summary}; {len(errors)} errors: {errors[0]}")
    return JobResult(summary, made, data)


def run_engine_update(ctx: Context, params: Params) -> JobResult:
    """With approvals (``serve.approvals``, the default) an engine update is proposed, not
    made: this runs the ``check`` of the engine's containers, whose outdated ones become
    pending updates. Without approvals it is ``engine update``: every container the policy
    allows is updated, health-gated, rolled back when it breaks - like ``apply``, only inside
    a maintenance window (``serve.maintenance_windows``) and, per container, while its image's
    policy schedule (``serve.schedules``) is open; the others are skipped, and say why."""
    from patchwarden.app.live import Selection, policy_candidates
    from patchwarden.app.live.gate import Probes
    from patchwarden.app.wiring import build_checker, build_live_updater
    from patchwarden.service.jobs import CheckJob
    from patchwarden.service.runner import Trigger

    if not ctx.config.serve.engine:
        raise UsageError("engine-update: no engine configured", "set serve.engine")
    if ctx.config.serve.approvals:
        summary = CheckJob(ctx)(Trigger("engine-update", "approvals on: propose only"))
        return JobResult(f"proposed (approvals on): {summary}")
    now = datetime.now(UTC)
    windows = ctx.config.serve.maintenance_windows
    if not in_window(windows, now):
        nxt = next_window(windows, now)
        return JobResult(
            "outside the maintenance windows: nothing updated"
            + (f" (next: {nxt.isoformat()})" if nxt else " (none ever opens again)")
        )
    updater = build_live_updater(
        engine_url=ctx.config.serve.engine,
        state=ctx.state,
        probes=Probes(),
        stop_timeout=int(params.get("stop_timeout", 10)),
        hook_timeout=float(params.get("hook_timeout", 60)),
    )
    checker = build_checker(
        ctx.config, use_cache=False, drift=False, fresh_tags=True, concurrency=1
    )
    names = tuple(str(n) for n in params.get("containers", ()))
    candidates = scheduled(policy_candidates(checker), ctx.config.serve.schedules, now)
    results = updater.recover() + updater.update(candidates, Selection(names=names))
    outcomes = Counter(r.outcome.value for r in results)
    made = outcomes.get("updated", 0) + outcomes.get("rolled-back", 0)
    summary = ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "no containers"
    from patchwarden.app.serialize.live import live_results_dict

    return JobResult(summary, made, live_results_dict(results))


def scheduled(
    candidates: CandidateFn, schedules: list[PolicySchedule], now: datetime
) -> CandidateFn:
    """``candidates``, except for images whose policy schedule is closed at ``now``: those
    are skipped (nothing pulled, nothing recreated) with the reason."""
    from patchwarden.app.live.model import Candidate
    from patchwarden.core.live import LiveOutcome

    def candidate_for(info: ContainerInfo, ref: ImageRef) -> Candidate:
        if not policy_open(schedules, ref.name, now):
            return Candidate(None, LiveOutcome.SKIPPED, "waits for its policy schedule")
        return candidates(info, ref)

    return candidate_for


def run_rebuild(ctx: Context, params: Params) -> JobResult:
    """``rebuild`` of the configured builds that are due (``builds`` limits them by name)."""
    from patchwarden.app.rebuild import specs
    from patchwarden.app.wiring import build_rebuild

    if not ctx.config.builds:
        raise UsageError("rebuild: patchwarden.yaml declares no builds", "declare builds:")
    root = _path(ctx, params)
    todo = specs(ctx.config.builds, root)
    wanted = params.get("builds")
    if wanted:
        todo = [s for s in todo if s.name in set(wanted)]
    built = []
    with build_rebuild(
        ctx.config, state=ctx.state, db=None, cache_dir=None, use_cache=True,
        check_only=False, scan_gate=any(s.gate != "off" for s in todo),
    ) as (due, rebuilder):  # fmt: skip
        decisions = due.decide_all(todo)
        if rebuilder is not None:  # a re-delivered job pushes no second image per base
            rebuilder.effects = _effects(ctx, "rebuild job")
        for spec, decision in zip(todo, decisions, strict=True):
            if decision.error or not decision.due or rebuilder is None:
                continue
            built.append(rebuilder.run(spec, decision))
    outcomes = Counter(r.outcome.value for r in built)
    summary = f"{len(todo)} builds, {len(built)} due: " + (
        ", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "nothing built"
    )
    return JobResult(summary, len(built), {"due": len(built), "outcomes": dict(outcomes)})


def run_rollout(ctx: Context, params: Params) -> JobResult:
    """Advance the newest unfinished rollout (or ``rollout_id``) as far as its gates allow."""
    from patchwarden.app.wiring import build_rollouts

    rollouts = build_rollouts(ctx.config, state=ctx.state, workdir=Path(ctx.paths[0]))
    rid = params.get("rollout_id")
    try:
        report = rollouts.resume(int(rid) if rid is not None else None)
    except UsageError as exc:
        return JobResult(f"no rollout to advance: {exc.message}")
    status = report.status.value
    return JobResult(f"rollout #{report.id}: {status}", 1, {"id": report.id, "status": status})


def run_retention(ctx: Context, params: Params) -> JobResult:
    """``registry retain`` of ``repositories`` (a parameter: which repositories, keep_last,
    keep_days, keep_tags), protecting what the paths, the engine and the history use."""
    from patchwarden.app.retain.run import CliRetention, retain_repos

    repos = [str(r) for r in params.get("repositories", ())]
    if not repos:
        raise UsageError("retention: no repositories given", "set the job's repositories parameter")
    keep_last = params.get("keep_last")
    if keep_last is None and not ctx.config.retention:
        keep_last = 10  # no retention: rules in patchwarden.yaml either
    flags = CliRetention(
        keep_last=None if keep_last is None else int(keep_last),
        keep_days=params.get("keep_days"),
        keep_tags=params.get("keep_tags"),
        paths=list(ctx.paths),
        engine=ctx.config.serve.engine,
        keep_rollback=int(params.get("keep_rollback", 2)),
    )
    plans = retain_repos(
        ctx.config, repos, flags, dry_run=bool(params.get("dry_run", False)), state=ctx.state
    )
    deleted = sum(len(p.deleted) for p in plans if not p.dry_run)
    errors = [e for p in plans for e in p.errors]
    summary = f"{len(plans)} repositories, {deleted} tags deleted"
    if errors:
        summary += f"; {len(errors)} errors: {errors[0]}"
    from patchwarden.app.serialize.registry import retain_plan_dict

    return JobResult(summary, deleted, {"plans": [retain_plan_dict(p, "") for p in plans]})
