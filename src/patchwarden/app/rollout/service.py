"""The rollout use case: start, resume, approve, abort, roll back, and read rollouts.

One process at a time runs a rollout: it writes ``host:pid`` into the record (a
compare-and-set) and clears it when it stops. A record whose runner is a process that no longer
exists on this host (killed) is taken over by ``resume``; one run from another host is taken
over when it has not written for :data:`STALE_AFTER`.
"""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from patchwarden.app.live.model import RecordStore
from patchwarden.app.rollout.candidate import ChooseCandidate
from patchwarden.app.rollout.model import (
    EnvState,
    EnvStatus,
    RolloutState,
    RolloutStatus,
    Where,
)
from patchwarden.app.rollout.prometheus import MetricsSource
from patchwarden.app.rollout.report import Report, build_report
from patchwarden.app.rollout.runner import (
    EngineFactory,
    LocksFactory,
    PromotionsFactory,
    Run,
    runner_id,
)
from patchwarden.config.rollout import Environment
from patchwarden.core.ref import parse_reference
from patchwarden.errors import UsageError
from patchwarden.store.rollouts import RolloutRecord, RolloutStore

STALE_AFTER = timedelta(minutes=10)
UNFINISHED = {
    RolloutStatus.PENDING,
    RolloutStatus.RUNNING,
    RolloutStatus.STOPPING,
    RolloutStatus.ABORTING,
    RolloutStatus.ROLLING_BACK,
}


class Rollouts:
    def __init__(
        self,
        store: RolloutStore,
        history: RecordStore,
        environments: list[Environment],
        *,
        engines: EngineFactory,
        metrics: MetricsSource,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        workdir: str | None = None,
        promotions: PromotionsFactory | None = None,
        candidates: ChooseCandidate | None = None,
        locks: LocksFactory | None = None,
    ) -> None:
        self.store = store
        self.history = history
        self.environments = environments
        self.engines = engines
        self.metrics = metrics
        self.clock = clock
        self.workdir = workdir
        self.promotions = promotions
        self.candidates = candidates
        self.locks = locks

    # -- commands -----------------------------------------------------------------------
    def start(
        self, image: str, on_chosen: Callable[[dict[str, Any]], None] | None = None
    ) -> Report:
        """Roll out IMAGE@DIGEST, or for IMAGE:TAG the candidate ``check`` chooses (resolved
        to a digest here, once, recorded with why it was chosen, and told to ``on_chosen``
        before the rollout begins)."""
        ref = parse_reference(image)
        if not self.environments:
            raise UsageError(
                "no environments are configured",
                "add environments: to patchwarden.yaml (see docs/commands/rollout.md)",
            )
        chosen = None
        if ref.digest is None:
            if self.candidates is None:
                raise UsageError(
                    f"{image} names no digest: a rollout carries one exact digest",
                    "pass IMAGE@sha256:... (e.g. the digest `patchwarden check` chose)",
                )
            chosen = self.candidates(ref)
            ref = parse_reference(chosen.image).with_digest(chosen.digest)
            if on_chosen is not None:
                on_chosen(chosen.as_dict())
        assert ref.digest is not None  # noqa: S101 - given, or chosen just now
        untagged = [e.name for e in self.environments if e.registry and not e.registry.tag]
        if untagged and not ref.tag:
            raise UsageError(
                f"{image} names no tag, and registry environment {untagged[0]} sets none",
                f"start with IMAGE:TAG@DIGEST, or set registry.tag for {untagged[0]}",
            )
        text = f"{ref.name}:{ref.tag}" if ref.tag else ref.name
        state = RolloutState(
            image=text,
            digest=ref.digest,
            environments=[EnvState(e.name, e.kind) for e in self.environments],
            config=[e.model_dump(mode="json") for e in self.environments],
            chosen=chosen.as_dict() if chosen else None,
        )
        now = self.clock()
        rid = self.store.create(text, ref.digest, state.to_dict(), now)
        self.store.add_step(
            rid,
            kind="rollout",
            name="start",
            outcome="started",
            started_at=now,
            finished_at=now,
            detail={
                "image": f"{text}@{ref.digest}",
                "environments": [e.name for e in self.environments],
                **({"chosen": state.chosen} if state.chosen else {}),
            },
        )
        return self._go(self._get(rid), "forward")

    def resume(self, rollout_id: int | None = None) -> Report:
        rec = self._get(rollout_id) if rollout_id is not None else self._latest_unfinished()
        status = RolloutStatus(rec.status)
        if status == RolloutStatus.WAITING_APPROVAL:
            raise UsageError(
                f"rollout {rec.id} waits for approval of {_waiting(rec)}",
                f"run `patchwarden rollout approve {rec.id}`",
            )
        if status.finished:
            return self.status(rec.id)
        return self._go(rec, "forward")

    def approve(self, rollout_id: int, by: str, *, proceed: bool = True) -> Report:
        rec = self._get(rollout_id)
        if rec.status != RolloutStatus.WAITING_APPROVAL:
            raise UsageError(
                f"rollout {rec.id} is {rec.status}, not waiting for an approval",
                "see `patchwarden rollout status`",
            )
        state = RolloutState.from_dict(rec.state)
        es = next(e for e in state.environments if e.status == EnvStatus.WAITING_APPROVAL)
        now = self.clock()
        es.approval = {"by": by, "at": now.isoformat()}
        es.status = EnvStatus.PENDING
        self.store.save(rec.id, status=RolloutStatus.PENDING, state=state.to_dict(), now=now)
        self.store.add_step(
            rec.id,
            kind="approval",
            name="manual",
            outcome="approved",
            started_at=now,
            finished_at=now,
            environment=es.name,
            detail={"by": by},
        )
        if not proceed:
            return self.status(rec.id)
        return self._go(self._get(rec.id), "forward")

    def abort(self, rollout_id: int) -> Report:
        rec = self._get(rollout_id)
        if RolloutStatus(rec.status).finished:
            raise UsageError(
                f"rollout {rec.id} has already finished ({rec.status})",
                f"to undo it, run `patchwarden rollout rollback {rec.id}`",
            )
        return self._go(rec, "abort")

    def rollback(self, rollout_id: int) -> Report:
        return self._go(self._get(rollout_id), "rollback")

    def status(self, rollout_id: int | None = None) -> Report:
        rec = self._get(rollout_id) if rollout_id is not None else self._latest()
        return build_report(rec, self.store.steps(rec.id))

    def recent(self, limit: int = 20) -> list[RolloutRecord]:
        return self.store.recent(limit)

    # -- running ------------------------------------------------------------------------
    def _go(self, rec: RolloutRecord, what: str) -> Report:
        with self._hold(rec):
            run = Run(
                self.store,
                self.history,
                rec.id,
                RolloutStatus(rec.status),
                RolloutState.from_dict(rec.state),
                engines=self.engines,
                metrics=self.metrics,
                clock=self.clock,
                workdir=self.workdir,
                promotions=self.promotions,
                locks=self.locks,
            )
            if what == "forward" and run.status == RolloutStatus.STOPPING:
                what = "finish-stop"
            elif what == "forward" and run.status == RolloutStatus.ABORTING:
                what = "abort"
            elif what == "forward" and run.status == RolloutStatus.ROLLING_BACK:
                what = "rollback"
            try:
                self._run(run, rec, what)
            finally:
                run.close()
        return self.status(rec.id)

    def _run(self, run: Run, rec: RolloutRecord, what: str) -> None:
        started = self.clock()
        if rec.status != RolloutStatus.PENDING or what != "forward":
            run.step("rollout", what, "started", started, detail={"was": rec.status})
        if what == "forward":
            run.forward()
        elif what == "finish-stop":
            assert run.state.stopped is not None  # noqa: S101 - an invariant the caller establishes
            run.undo().environments([run.state.stopped.environment])
            run.save(RolloutStatus.FAILED)
        else:
            status = RolloutStatus.ABORTING if what == "abort" else RolloutStatus.ROLLING_BACK
            run.save(status)
            names = [
                e.name for e in run.state.environments if e.containers or e.gitops or e.registry
            ]
            back = run.undo().environments(names)
            done = RolloutStatus.ABORTED if what == "abort" else RolloutStatus.ROLLED_BACK
            run.state.note = "" if back else "some containers could not be rolled back"
            run.save(done)
        run.step("rollout", "finish", run.status, started, detail=_where_summary(run.state))

    @contextlib.contextmanager
    def _hold(self, rec: RolloutRecord) -> Iterator[None]:
        me = runner_id()
        if rec.runner and rec.runner != me and self._alive(rec):
            raise UsageError(
                f"rollout {rec.id} is being run by process {rec.runner}",
                "wait for it to finish, or stop that process (Ctrl-C) and run "
                f"`patchwarden rollout resume {rec.id}`",
            )
        if not self.store.claim(rec.id, rec.runner, me):
            raise UsageError(
                f"another process took over rollout {rec.id} just now",
                "see `patchwarden rollout status`",
            )
        try:
            yield
        finally:
            self.store.set_runner(rec.id, None)

    def _alive(self, rec: RolloutRecord) -> bool:
        host, _, pid = str(rec.runner).rpartition(":")
        if host != socket.gethostname():
            return self.clock() - rec.updated_at < STALE_AFTER
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError):
            return True
        return True

    def _get(self, rollout_id: int) -> RolloutRecord:
        rec = self.store.get(rollout_id)
        if rec is None:
            raise UsageError(f"there is no rollout {rollout_id}", "see `patchwarden rollout list`")
        return rec

    def _latest(self) -> RolloutRecord:
        rec = self.store.latest()
        if rec is None:
            raise UsageError("there are no rollouts yet", "start one: patchwarden rollout start")
        return rec

    def _latest_unfinished(self) -> RolloutRecord:
        rec = self.store.latest({str(s) for s in UNFINISHED})
        if rec is None:
            raise UsageError("no rollout is unfinished", "name one: patchwarden rollout resume ID")
        return rec


def _waiting(rec: RolloutRecord) -> str:
    envs = [e for e in rec.state.get("environments", []) if e.get("status") == "waiting-approval"]
    return envs[0]["name"] if envs else "an environment"


def _where_summary(state: RolloutState) -> dict[str, Any]:
    return {
        es.name: {c.name: str(c.where) for c in es.containers.values()}
        for es in state.environments
        if es.containers
    }


__all__ = ["Rollouts", "Where"]
