"""Carrying one digest through the environments: deploy in waves, gate, approve, roll back.

Every state change is written to the store *before* the side effect it announces (see
:mod:`patchwarden.app.rollout.model`), so a run killed at any moment is continued by
``resume``: half-done container replacements are completed or undone by the live-update
recovery, each container is then looked up on the engine (old or new digest), and the
rollout goes on from the wave it was in, or finishes the rollback it was doing.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from patchwarden.app.live.model import LiveResult, RecordStore
from patchwarden.app.rollout.engine_target import EngineTarget, target_ref
from patchwarden.app.rollout.gates import Outcome, check_metrics, run_tests, soak
from patchwarden.app.rollout.model import (
    ContainerState,
    EnvState,
    EnvStatus,
    GateName,
    GateResult,
    RolloutState,
    RolloutStatus,
    Stopped,
    WaveState,
    WaveStatus,
    Where,
)
from patchwarden.app.rollout.prepare import Preparer
from patchwarden.app.rollout.prometheus import MetricsSource
from patchwarden.app.rollout.undo import Undo
from patchwarden.app.rollout.waves import plan_waves
from patchwarden.config.rollout import Environment
from patchwarden.core.ref import parse_reference
from patchwarden.core.timing import span
from patchwarden.engine.client import EngineClient
from patchwarden.errors import PatchwardenError
from patchwarden.store.rollouts import RolloutStore

if TYPE_CHECKING:
    from patchwarden.app.live.model import ContainerLocks
    from patchwarden.app.rollout.registry_target import Promotions

EngineFactory = Callable[[str | None], EngineClient]
# the state store's per-container locks of one engine (None: this process's own locks)
LocksFactory = Callable[[EngineClient], "ContainerLocks | None"]
PromotionsFactory = Callable[[], "Promotions"]


def _iso(t: datetime) -> str:
    return t.isoformat()


def runner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Run:
    """One process's turn at one rollout: its state, saved before each side effect."""

    def __init__(
        self,
        store: RolloutStore,
        history: RecordStore,
        rollout_id: int,
        status: RolloutStatus,
        state: RolloutState,
        *,
        engines: EngineFactory,
        metrics: MetricsSource,
        clock: Callable[[], datetime],
        workdir: str | None,
        promotions: PromotionsFactory | None = None,
        locks: LocksFactory | None = None,
    ) -> None:
        self.store = store
        self.history = history
        self.id = rollout_id
        self.status = status
        self.state = state
        self.engines = engines
        self.metrics = metrics
        self.clock = clock
        self.workdir = workdir
        self.envs = [Environment.model_validate(doc) for doc in state.config]
        self._lock = threading.RLock()
        self._targets: dict[str, EngineTarget] = {}
        self._promotions_factory = promotions
        self._locks = locks
        self._promotions: Promotions | None = None
        self.preparer = Preparer(self)

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # -- persistence --------------------------------------------------------------------
    def save(self, status: RolloutStatus | None = None) -> None:
        with self._lock:
            if status is not None:
                self.status = status
            self.store.save(
                self.id,
                status=self.status,
                state=self.state.to_dict(),
                now=self.clock(),
                finished=self.status.finished,
            )

    def step(
        self,
        kind: str,
        name: str,
        outcome: str,
        started: datetime,
        *,
        env: str | None = None,
        wave: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        with self._lock:
            self.store.add_step(
                self.id,
                kind=kind,
                name=name,
                outcome=outcome,
                started_at=started,
                finished_at=self.clock(),
                environment=env,
                wave=wave,
                detail=detail,
            )

    def target(self, env: Environment) -> EngineTarget:
        if env.name not in self._targets:
            engine = self.engines(env.engine)
            locks = self._locks(engine) if self._locks is not None else None
            self._targets[env.name] = EngineTarget(engine, env, self.history, locks)
        return self._targets[env.name]

    def promotions(self) -> Promotions:
        """The central registry (built on first use: only registry environments need it)."""
        if self._promotions is None:
            if self._promotions_factory is None:
                raise PatchwardenError("registry environments are not available here")
            self._promotions = self._promotions_factory()
        return self._promotions

    def undo(self) -> Undo:
        return Undo(self)

    def close(self) -> None:
        self.preparer.close()
        for target in self._targets.values():
            target.close()
        self._targets.clear()

    # -- forward ------------------------------------------------------------------------
    def forward(self) -> None:
        """Go through the environments from where the record stands."""
        self.save(RolloutStatus.RUNNING)
        for env, es in zip(self.envs, self.state.environments, strict=True):
            if es.status == EnvStatus.SUCCEEDED:
                continue
            if env.approval == "manual" and es.approval is None:
                es.status = EnvStatus.WAITING_APPROVAL
                self.save(RolloutStatus.WAITING_APPROVAL)
                now = self.clock()
                self.step("approval", "manual", "waiting", now, env=env.name)
                return
            # git and registry code is imported only for the environments that need it
            # (start-up is part of every rollout's cost)
            if env.kind == "gitops":
                from patchwarden.app.rollout.gitops_flow import gitops_env

                ok = gitops_env(self, env, es)
            elif env.kind == "registry":
                from patchwarden.app.rollout.registry_flow import registry_env

                ok = registry_env(self, env, es)
            else:
                ok = self.engine_env(env, es)
            if not ok:
                return
            es.status, es.finished_at = EnvStatus.SUCCEEDED, _iso(self.clock())
            self.save()
            self.step("stage", env.name, "succeeded", _parse(es.started_at), env=env.name)
        self.save(RolloutStatus.SUCCEEDED)

    def engine_env(self, env: Environment, es: EnvState) -> bool:
        target = self.target(env)
        if not es.waves:
            if not self.plan(env, es, target):
                return False
        else:
            self.undo().reconcile(env, es)
        for wave in es.waves:
            if wave.status == WaveStatus.PASSED:
                continue
            if not self.wave(env, es, wave, target):
                return False
        return True

    def plan(self, env: Environment, es: EnvState, target: EngineTarget) -> bool:
        started = self.clock()
        es.started_at = es.started_at or _iso(started)
        image = parse_reference(self.state.image)
        with span("plan.select"):
            sel = target.select(image)
        if not sel.containers:
            reason = f"no running container selected by {target.describe()} runs {image.name}"
            self.stop(es, None, GateName.DEPLOY, reason, detail={"ignored": sel.ignored})
            return False
        for info in sel.containers:
            on_new = info.digest == self.state.digest
            es.containers[info.name] = ContainerState(
                name=info.name,
                from_image=_without_digest(info.image),
                from_digest=str(info.digest),
                to_image=self.state.image,
                to_digest=self.state.digest,
                where=Where.NEW if on_new else Where.OLD,
                digest=info.digest,
                reason="already on the digest" if on_new else "",
            )
        names = [i.name for i in sel.containers]
        es.waves = [
            WaveState(index=i, kind=kind, containers=members)
            for i, (kind, members) in enumerate(plan_waves(names, env.waves))
        ]
        es.status = EnvStatus.DEPLOYING
        self.save()
        detail = {"waves": [w.containers for w in es.waves], "ignored": sel.ignored}
        self.step("stage", "plan", "planned", started, env=env.name, detail=detail)
        return True

    def wave(self, env: Environment, es: EnvState, wave: WaveState, target: EngineTarget) -> bool:
        self.preparer.wait()
        wave.started_at = wave.started_at or _iso(self.clock())
        wave.status = WaveStatus.DEPLOYING
        t0 = self.clock()
        todo = [es.containers[n] for n in wave.containers if es.containers[n].where != Where.NEW]
        with self._lock:  # one write for the wave: every move is announced before it begins
            for c in todo:
                c.where = Where.DEPLOYING
            self.save()
        with ThreadPoolExecutor(max(1, len(todo)), thread_name_prefix="pw-rollout") as pool:
            list(pool.map(lambda c: self.deploy(env, c, target), todo))
        bad = [es.containers[n] for n in wave.containers if es.containers[n].where != Where.NEW]
        deploy = Outcome(
            not bad,
            f"{bad[0].name}: {bad[0].reason}" if bad else f"{len(todo)} container(s) healthy",
            {"containers": [c.name for c in todo]},
        )
        if not self.gate(es, wave, GateName.DEPLOY, deploy, t0):  # saves the moves' results
            return False
        self.preparer.start(env, es, wave, target)
        new = [c.name for c in es.containers.values() if c.where == Where.NEW]
        restarts: dict[str, int] = {}

        def check() -> str | None:
            return target.check_all(new, restarts)

        return self.gates_after(env, es, wave, check)

    def gates_after(
        self, env: Environment, es: EnvState, wave: WaveState, check: Callable[[], str | None]
    ) -> bool:
        """Tests, then the soak (``check`` every soak interval) with the metrics gate."""
        wave.status = WaveStatus.GATING
        self.save()
        if env.gates.tests:
            t0 = self.clock()
            tests = run_tests(env.gates.tests, self.test_env(env, es, wave), self.workdir)
            if not self.gate(es, wave, GateName.TESTS, tests, t0):
                return False
        g = env.gates
        if g.soak.total_seconds() > 0 or g.metrics is not None:
            t0 = self.clock()
            metrics = None
            if g.metrics is not None:
                gate_cfg = g.metrics

                def metrics() -> tuple[str | None, list[float]]:
                    return check_metrics(self.metrics, gate_cfg)

            with span("soak"):
                soaked, measured = soak(
                    g.soak.total_seconds(),
                    g.soak_interval.total_seconds(),
                    check,
                    metrics,
                    g.metrics.interval.total_seconds() if g.metrics else 0.0,
                )
            if measured is not None and not self.gate(es, wave, GateName.METRICS, measured, t0):
                return False
            if not self.gate(es, wave, GateName.SOAK, soaked, t0):
                return False
        wave.status, wave.finished_at = WaveStatus.PASSED, _iso(self.clock())
        self.save()
        self.step(
            "wave", wave.kind, "passed", _parse(wave.started_at), env=es.name, wave=wave.index
        )
        return True

    def deploy(self, env: Environment, c: ContainerState, target: EngineTarget) -> None:
        """Move one container (announced DEPLOYING by the caller; its result is written by
        the caller's next save: a run killed before then finds it on the engine)."""
        res: LiveResult | None = None
        try:
            res = target.move(
                c.name,
                target_ref(c.to_image, c.to_digest),
                action="update",
                why=f"rollout {self.id} to {env.name}",
            )
            reason = res.reason
        except PatchwardenError as exc:
            reason = exc.message
        digest = target.digest_after(c.name, res)
        with self._lock:
            c.digest = digest
            c.where = c.locate(digest)
            c.reason = reason
            c.prepared = False

    def gate(
        self, es: EnvState, wave: WaveState, name: GateName, out: Outcome, t0: datetime
    ) -> bool:
        now = self.clock()
        duration = round((now - t0).total_seconds(), 3)
        result = GateResult(str(name), out.ok, out.reason, _iso(t0), duration, out.detail)
        wave.gates.append(result)
        self.save()
        detail = {"reason": out.reason, **out.detail}
        outcome = "passed" if out.ok else "failed"
        self.step("gate", str(name), outcome, t0, env=es.name, wave=wave.index, detail=detail)
        if not out.ok:
            wave.status = WaveStatus.FAILED
            self.stop(es, wave.index, name, out.reason)
        return out.ok

    def stop(
        self,
        es: EnvState,
        wave: int | None,
        gate: GateName,
        reason: str,
        detail: dict[str, Any] | None = None,
    ) -> None:
        """A gate failed: record where and why, roll back this environment, stop."""
        self.preparer.wait(errors=False)  # its candidates are removed by the rollback
        self.state.stopped = Stopped(es.name, wave, str(gate), reason)
        es.status = EnvStatus.FAILED
        self.save(RolloutStatus.STOPPING)
        if detail:
            self.step("stage", "stopped", "failed", self.clock(), env=es.name, detail=detail)
        self.undo().environments([es.name])
        self.save(RolloutStatus.FAILED)

    def test_env(self, env: Environment, es: EnvState, wave: WaveState) -> dict[str, str]:
        new = [c.name for c in es.containers.values() if c.where == Where.NEW]
        return {
            "PATCHWARDEN_ROLLOUT_ID": str(self.id),
            "PATCHWARDEN_ROLLOUT_ENV": env.name,
            "PATCHWARDEN_ROLLOUT_WAVE": str(wave.index),
            "PATCHWARDEN_ROLLOUT_IMAGE": f"{self.state.image}@{self.state.digest}",
            "PATCHWARDEN_ROLLOUT_DIGEST": self.state.digest,
            "PATCHWARDEN_ROLLOUT_CONTAINERS": ",".join(wave.containers),
            "PATCHWARDEN_ROLLOUT_UPDATED": ",".join(new),
        }


def _without_digest(image: str) -> str:
    return image.partition("@")[0] if "@" in image else image


def _parse(text: str | None) -> datetime:
    return datetime.fromisoformat(text) if text else datetime.now(UTC)
