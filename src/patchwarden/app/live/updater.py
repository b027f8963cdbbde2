"""Live updates of running containers: replace, gate, keep or roll back, record.

The procedure for one container (``update`` and ``rollback`` alike):

1. pull the target image by digest (credentials as the registry client finds them);
2. create the new container with the old one's configuration under a temporary name
   ``NAME-pw-new-SHORTID``, labelled ``patchwarden.update-of=<old id>`` and
   ``patchwarden.state=candidate``;
3. stop the old container and rename it ``NAME-pw-old-SHORTID``; rename the new one ``NAME``;
4. start the new one and run the health gate (:mod:`patchwarden.app.live.gate`);
5. healthy: remove the old container (its image stays); not healthy, or any step failed:
   stop and remove the new one, rename the old one back, start it and verify it runs.

A crash between the steps leaves containers whose names and labels say what happened;
:meth:`LiveUpdater.recover` finds them on the next run and completes or undoes the update
(:mod:`patchwarden.app.live.recover`).

Hooks (labels on the container, run with ``sh -c`` through the engine's exec API):
``patchwarden.pre-update`` runs in the old container just before it is stopped (failure or
timeout: the candidate is removed and the update ``skipped``); ``patchwarden.post-update`` runs
in the new container once the gate passed (failure: the gate failed, roll back).
``patchwarden.hook-timeout`` (seconds) overrides the updater's hook timeout
(:mod:`patchwarden.app.live.hooks`).

Several containers can be updated at once (``concurrency``); a container waits for the ones
it depends on, and is skipped when one of them rolled back or failed. With ``keep_images``
set, a successful update removes the repository's unused images beyond the container's
``keep_images`` most recent earlier digests (the previous digest is always kept;
:mod:`patchwarden.app.live.images`). Every outcome is recorded
(:mod:`patchwarden.app.live.history`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from patchwarden.app.live.gate import GateResult, Probes, run_gate
from patchwarden.app.live.history import History
from patchwarden.app.live.hooks import Hooks
from patchwarden.app.live.images import LocalImages
from patchwarden.app.live.model import (
    CandidateFn,
    ContainerLocks,
    HookResult,
    LiveResult,
    LocalLocks,
    RecordStore,
    StepFn,
    StepLog,
    busy_reason,
    untouched,
)
from patchwarden.app.live.order import run_in_order
from patchwarden.app.live.recover import Recovery, restore
from patchwarden.app.live.select import (
    LABEL_STATE,
    LABEL_UPDATE_OF,
    NEW_MARK,
    OLD_MARK,
    Selection,
    dependencies,
    selected,
)
from patchwarden.app.serialize.live import hook_dict
from patchwarden.core.digest import Digest, short_hex
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.engine.spec import create_config
from patchwarden.errors import PatchwardenError, UsageError

LABEL_ENABLE = "patchwarden.enable"


class LiveUpdater:
    def __init__(
        self,
        engine: EngineApi,
        store: RecordStore,
        *,
        probes: Probes | None = None,
        stop_timeout: int = 10,
        hook_timeout: float = 30.0,
        concurrency: int = 1,
        keep_images: int | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        on_step: StepFn | None = None,
        locks: ContainerLocks | None = None,
    ) -> None:
        if concurrency < 1:
            raise UsageError(f"concurrency must be at least 1, not {concurrency}")
        if keep_images is not None and keep_images < 0:
            raise UsageError(f"--keep-images must be 0 or more, not {keep_images}")
        self.engine = engine
        self.store = store
        self.probes = probes or Probes()
        self.stop_timeout = stop_timeout
        self.hook_timeout = hook_timeout
        self.concurrency = concurrency
        self.keep_images = keep_images
        self.clock = clock
        self.on_step = on_step
        self.locks: ContainerLocks = locks or LocalLocks()
        self._candidate_lock = threading.Lock()
        self._history = History(store, clock)
        self._images = LocalImages(engine, keep_images, self._history.records)

    @property
    def _inflight(self) -> dict[str, int]:
        """Digests updates are moving to: image retention keeps them."""
        return self._images.inflight

    def _gate(self, container: str) -> GateResult:
        return run_gate(self.engine, container, self.probes)

    # -- selection ----------------------------------------------------------------------
    def update(
        self, candidate_for: CandidateFn, selection: Selection, *, monitor_only: bool = False
    ) -> list[LiveResult]:
        containers = self.engine.list_containers(all=True)
        by_name = {c.name: c for c in containers}
        results = [
            untouched(missing, "", None, LiveOutcome.FAILED, "no such container")
            for missing in selection.names
            if missing not in by_name
        ]
        chosen = selected(containers, selection)
        finished = run_in_order(
            chosen,
            dependencies(containers),
            lambda info: self._one(info, candidate_for, selection, monitor_only),
            concurrency=self.concurrency,
            skip_blocked=not monitor_only,
        )
        results += [r for r in (finished[i.name] for i in chosen) if r is not None]
        return results

    def _one(
        self,
        info: ContainerInfo,
        candidate_for: CandidateFn,
        selection: Selection,
        monitor_only: bool,
    ) -> LiveResult | None:
        enable = info.labels.get(LABEL_ENABLE, "").lower()
        if enable == "false":
            return untouched(
                info.name, info.image, info.digest, LiveOutcome.SKIPPED, f"{LABEL_ENABLE}=false"
            )
        if selection.opt_in and enable != "true" and info.name not in selection.names:
            return None
        if monitor_only:  # changes nothing: no lock needed
            return self._decide(info, candidate_for, monitor_only)
        with self.locks.hold(info.name) as holder:
            if holder is not None:
                return untouched(
                    info.name, info.image, info.digest, LiveOutcome.SKIPPED, busy_reason(holder)
                )
            try:  # as it is now: the run that held the lock may have replaced it
                info = self.engine.info(info.name)
            except EngineError as exc:
                return untouched(info.name, info.image, info.digest, LiveOutcome.FAILED, str(exc))
            return self._decide(info, candidate_for, monitor_only)

    def _decide(
        self, info: ContainerInfo, candidate_for: CandidateFn, monitor_only: bool
    ) -> LiveResult:
        ref = info.image_ref()
        if ref is None:
            return untouched(
                info.name,
                info.image,
                info.digest,
                LiveOutcome.SKIPPED,
                "started from an image ID: there is no reference to update",
            )
        if ref.digest is not None:
            return untouched(
                info.name,
                info.image,
                info.digest,
                LiveOutcome.SKIPPED,
                "started from a digest: pinned, not touched",
            )
        if not info.running:
            return untouched(info.name, info.image, info.digest, LiveOutcome.SKIPPED, "not running")
        if info.is_local_build:
            return untouched(
                info.name,
                info.image,
                info.digest,
                LiveOutcome.SKIPPED,
                "built locally: its image has no registry digest (never pulled from a "
                "registry); rebuild it (`docker compose build`) instead",
            )
        try:
            with self._candidate_lock:
                cand = candidate_for(info, ref)
        except PatchwardenError as exc:
            return untouched(info.name, info.image, info.digest, LiveOutcome.FAILED, str(exc))
        if cand.image is None:
            outcome = cand.outcome or LiveOutcome.SKIPPED  # a candidate without image says why
            return untouched(info.name, info.image, info.digest, outcome, cand.reason)
        if monitor_only:
            return LiveResult(
                info.name,
                info.image,
                info.digest,
                _text(cand.image),
                cand.image.digest,
                LiveOutcome.AVAILABLE,
                f"monitor only: an update is available; {cand.reason}",
            )
        return self.replace(info, cand.image, action=LiveAction.UPDATE, why=cand.reason)

    # -- the procedure ------------------------------------------------------------------
    def replace(
        self,
        info: ContainerInfo,
        target: ImageRef,
        *,
        action: LiveAction,
        why: str = "",
        pulled: bool = False,
        prepared: str | None = None,
    ) -> LiveResult:
        """Move ``info`` to ``target`` (repository[:tag]@digest), gated; record the outcome.
        ``pulled``: the caller pulled ``target`` by digest in this run (no pull per container).
        ``prepared``: a candidate :meth:`create_candidate` made for ``info`` earlier; used when
        it still is one (created, never started, for this very container), else removed and
        a new one is created."""
        with self._images.moving_to(target.digest or ""):
            return self._replace(
                info, target, action=action, why=why, pulled=pulled, prepared=prepared
            )

    def create_candidate(self, info: ContainerInfo, target: ImageRef) -> str:
        """Create (never start) the container that is to replace ``info``: its configuration
        on ``target``'s image (pulled already), named ``NAME-pw-new-SHORTID`` and labelled as a
        candidate; its id. Raises :class:`EngineError`."""
        old_doc = self.engine.inspect(info.id)
        old_image = self.engine.inspect_image(info.image_id) if info.image_id else {}
        body = create_config(
            old_doc,
            self._images.local_name(target),
            old_image_config=old_image.get("Config") or {},
            labels={LABEL_UPDATE_OF: info.id, LABEL_STATE: "candidate"},
        )
        return self.engine.create(body, candidate_name(info))

    def _usable(self, prepared: str, info: ContainerInfo, steps: list[str]) -> bool:
        """The prepared candidate is still one for ``info``: else it is removed."""
        try:
            doc = self.engine.inspect(prepared)
        except EngineError:
            steps.append("the prepared candidate is gone")
            return False
        labels = (doc.get("Config") or {}).get("Labels") or {}
        status = (doc.get("State") or {}).get("Status")
        if labels.get(LABEL_UPDATE_OF) == info.id and status in ("created", "configured"):
            return True
        with contextlib.suppress(EngineError):
            self.engine.remove(prepared, force=True)
        steps.append(f"removed a stale prepared candidate ({status})")
        return False

    def _replace(
        self,
        info: ContainerInfo,
        target: ImageRef,
        *,
        action: LiveAction,
        why: str,
        pulled: bool,
        prepared: str | None = None,
    ) -> LiveResult:
        started, t0 = self.clock(), time.monotonic()
        steps = StepLog(info.name, self.on_step)
        hooks: list[HookResult] = []
        removed_images: list[str] = []
        name, short = info.name, info.short_id
        to_image = _text(target)

        def done(outcome: LiveOutcome, reason: str, gate: GateResult | None = None) -> LiveResult:
            gates: dict[str, Any] = {"steps": steps}
            if gate is not None:
                gates.update(ok=gate.ok, reason=gate.reason, checks=gate.checks)
            if hooks:
                gates["hooks"] = [hook_dict(h) for h in hooks]
            if removed_images:
                gates["images_removed"] = removed_images
            result = LiveResult(
                name,
                info.image,
                info.digest,
                to_image,
                target.digest,
                outcome,
                f"{reason}; {why}" if why and outcome == LiveOutcome.UPDATED else reason,
                gates,
                action,
            )
            self._history.record(result, started, time.monotonic() - t0)
            return result

        try:
            if prepared is not None and self._usable(prepared, info, steps):
                new_id = prepared
                steps.append(f"prepared {short_hex(new_id)} earlier")
            else:
                if not pulled:
                    self.engine.pull(target)
                    steps.append(f"pulled {target}")
                new_id = self.create_candidate(info, target)
                steps.append(f"created {short_hex(new_id)}")
        except EngineError as exc:
            steps.append(f"failed: {exc.message}")
            return done(LiveOutcome.FAILED, f"old container untouched: {exc.message}")

        runner = Hooks(self.engine, self.hook_timeout)
        pre = runner.pre_update(info, hooks, steps)
        if pre is not None and not pre.ok:
            try:
                self.engine.remove(new_id, force=True)
                steps.append("removed new")
            except EngineError as exc:
                steps.append(f"could not remove new: {exc.message}")
            return done(
                LiveOutcome.SKIPPED,
                f"pre-update hook {pre.summary}; update skipped, the container is unchanged",
            )

        old_name = f"{name}{OLD_MARK}{short}"
        gate: GateResult | None = None
        try:
            self.engine.stop(info.id, timeout=self.stop_timeout)
            steps.append("stopped old")
            self.engine.rename(info.id, old_name)
            steps.append(f"renamed old to {old_name}")
            self.engine.rename(new_id, name)
            steps.append(f"renamed new to {name}")
            self.engine.start(new_id)
            steps.append("started new")
            gate = self._gate(new_id)
            steps.append(f"gate: {gate.reason}")
            if gate.ok:
                gate = runner.post_update(new_id, gate, hooks, steps)
        except EngineError as exc:
            steps.append(f"failed: {exc.message}")
            gate = GateResult(False, exc.message)
        if gate.ok:
            try:
                self.engine.remove(info.id)
                steps.append("removed old (its image is kept)")
            except EngineError as exc:
                steps.append(f"could not remove old: {exc.message}")
            removed_images += self._images.retain(name, target, info.digest, steps)
            return done(
                LiveOutcome.REVERTED if action == LiveAction.ROLLBACK else LiveOutcome.UPDATED,
                gate.reason,
                gate,
            )
        restored = restore(self.engine, new_id, info.id, name, steps, self.probes.grace)
        if restored:
            return done(
                LiveOutcome.ROLLED_BACK, f"{gate.reason}; the old container runs again", gate
            )
        return done(
            LiveOutcome.FAILED,
            f"{gate.reason}; and the old container could not be restored (see {old_name})",
            gate,
        )

    # -- rollback -----------------------------------------------------------------------
    def rollback(self, name: str, to_digest: str | None = None) -> LiveResult:
        if to_digest is not None:
            to_digest = str(Digest.parse(to_digest))  # a malformed digest never reaches the engine
        info = self.engine.info(name)
        with self.locks.hold(name) as holder:
            if holder is not None:
                return untouched(
                    name,
                    info.image,
                    info.digest,
                    LiveOutcome.SKIPPED,
                    busy_reason(holder),
                    action=LiveAction.ROLLBACK,
                )
            return self._rollback(self.engine.info(name), to_digest)

    def _rollback(self, info: ContainerInfo, to_digest: str | None) -> LiveResult:
        name = info.name
        ref = info.image_ref()
        if ref is None:
            raise UsageError(f"container {name} runs an image ID: nothing to roll back to")
        target = (
            ref.with_digest(to_digest)
            if to_digest is not None
            else self._history.previous(name, info)
        )
        if target.digest in info.known_digests:
            return untouched(
                name,
                info.image,
                info.digest,
                LiveOutcome.SKIPPED,
                f"already on {target.digest}",
                action=LiveAction.ROLLBACK,
            )
        return self.replace(info, target, action=LiveAction.ROLLBACK, why="rollback")

    # -- crash recovery -----------------------------------------------------------------
    def recover(self) -> list[LiveResult]:
        """Complete or undo updates a crashed run left half-done (found by names and labels)."""
        recovery = Recovery(
            self.engine,
            self._history,
            self._gate,
            self.stop_timeout,
            self.probes.grace,
            self.on_step,
            self.locks,
        )
        return recovery.run()


def candidate_name(info: ContainerInfo) -> str:
    """The name a candidate for ``info`` is created under."""
    return f"{info.name}{NEW_MARK}{info.short_id}"


def _text(ref: ImageRef) -> str:
    return f"{ref.name}:{ref.tag}" if ref.tag else ref.name
