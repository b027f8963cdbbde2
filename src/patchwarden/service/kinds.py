"""Every job kind ``serve`` runs, in one table: ``KINDS[JobName] -> fn(ctx, params) ->
JobResult``.

A kind is a plain function of the shared :class:`~patchwarden.service.jobs.Context` and
JSON-able parameters, so any executor can run it: the in-process
:class:`~patchwarden.service.runner.JobRunner` (through :func:`handler`, under the job's lease)
or a task queue's worker. Parameters every kind understands: ``trigger`` and ``detail`` (why it
runs); ``check`` also ``repositories`` (a list narrowing it to what an event named).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.config.serve import Event, JobName
from patchwarden.service.result import JobResult, Params
from patchwarden.service.runner import Trigger
from patchwarden.service.sbomjobs import run_advisory_refresh, run_scan
from patchwarden.service.workjobs import (
    run_engine_update,
    run_rebuild,
    run_retention,
    run_rollout,
    run_update,
)

if TYPE_CHECKING:
    from patchwarden.service.jobs import Context

JobFn = Callable[["Context", Params], JobResult]


def params_of(trigger: Trigger, extra: Params | None = None) -> dict[str, Any]:
    """A runner's trigger as JSON-able parameters (``extra`` adds kind-specific ones)."""
    out: dict[str, Any] = {"trigger": trigger.kind, "detail": trigger.detail}
    if trigger.repositories is not None:
        out["repositories"] = sorted(trigger.repositories)
    if trigger.pull:
        out["pull"] = [list(p) for p in sorted(trigger.pull)]
    return out | dict(extra or {})


def trigger_of(params: Params) -> Trigger:
    repos = params.get("repositories")
    return Trigger(
        str(params.get("trigger", "api")),
        str(params.get("detail", "")),
        frozenset(str(r) for r in repos) if repos is not None else None,
    )


def run_check(ctx: Context, params: Params) -> JobResult:
    """``check``; ``pull`` ([path, branch] pairs, from a git push) fast-forwards those
    checkouts first; ``vulns`` (a configured parameter) checks as ``check --vulns``."""
    from patchwarden.service.forgehooks import fast_forward
    from patchwarden.service.jobs import CheckJob

    pulled = [fast_forward(Path(path), branch) for path, branch in params.get("pull", ())]
    summary = CheckJob(ctx, vulns=bool(params.get("vulns", False)))(trigger_of(params))
    return JobResult("; ".join([*pulled, summary]), data={"pulled": pulled})


def run_apply(ctx: Context, params: Params) -> JobResult:
    from patchwarden.service.jobs import ApplyJob

    if ctx.live_updater is None:  # nothing can have been proposed for an engine
        return JobResult("no engine configured (serve.engine): nothing to apply")
    return JobResult(ApplyJob(ctx, ctx.live_updater)(trigger_of(params)))


KINDS: dict[JobName, JobFn] = {
    JobName.CHECK: run_check,
    JobName.APPLY: run_apply,
    JobName.SCAN: run_scan,
    JobName.ADVISORY_REFRESH: run_advisory_refresh,
    JobName.UPDATE: run_update,
    JobName.ENGINE_UPDATE: run_engine_update,
    JobName.REBUILD: run_rebuild,
    JobName.ROLLOUT: run_rollout,
    JobName.RETENTION: run_retention,
}


def run_kind(kind: JobName, ctx: Context, params: Params) -> JobResult:
    """Run one job of ``kind``; a kind that made changes is announced (``job-changed``)."""
    result = KINDS[kind](ctx, params)
    quiet = (JobName.CHECK, JobName.APPLY, JobName.ADVISORY_REFRESH, JobName.SCAN)  # own alerts
    if result.changes and kind not in quiet:
        ctx.notifier.notify(
            Event.JOB_CHANGED,
            f"{kind.value}:{datetime.now(UTC).isoformat()}",
            f"job {kind.value}: {result.changes} change(s)",
            result.summary,
            {"job": kind.value, "changes": result.changes, "summary": result.summary},
        )
    return result


def handler(kind: JobName, ctx: Context, params: Params | None = None) -> Callable[[Trigger], str]:
    """``kind`` as a :class:`JobRunner` handler: trigger in, the result's summary out."""

    def run(trigger: Trigger) -> str:
        return run_kind(kind, ctx, params_of(trigger, params)).summary

    return run
