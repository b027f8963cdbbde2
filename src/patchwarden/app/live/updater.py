"""Live updates of running containers: which ones, in what order, under which lock; the
replacement itself (pull, candidate, swap, gate, keep or roll back) is
:mod:`patchwarden.app.live.replace`.

A crash between the steps leaves containers whose names and labels say what happened;
:meth:`LiveUpdater.recover` finds them on the next run and completes or undoes the update
(:mod:`patchwarden.app.live.recover`).

Several containers can be updated at once (``concurrency``); a container waits for the ones
it depends on, and is skipped when one of them rolled back or failed. With ``keep_images``
set, a successful update removes the repository's unused images beyond the container's
``keep_images`` most recent earlier digests (the previous digest is always kept;
:mod:`patchwarden.app.live.images`). Every outcome is recorded
(:mod:`patchwarden.app.live.history`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime

from patchwarden.app.live.gate import GateResult, Probes, run_gate
from patchwarden.app.live.history import History
from patchwarden.app.live.images import LocalImages
from patchwarden.app.live.model import (
    CandidateFn,
    ContainerLocks,
    LiveResult,
    LocalLocks,
    RecordStore,
    StepFn,
    busy_reason,
    untouched,
)
from patchwarden.app.live.order import run_in_order
from patchwarden.app.live.recover import Recovery
from patchwarden.app.live.replace import Replacement, image_text
from patchwarden.app.live.select import Selection, dependencies, selected
from patchwarden.core.digest import Digest
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
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
                image_text(cand.image),
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
            return self._replacement().run(
                info, target, action=action, why=why, pulled=pulled, prepared=prepared
            )

    def create_candidate(self, info: ContainerInfo, target: ImageRef) -> str:
        """Create (never start) the container that is to replace ``info``: its configuration
        on ``target``'s image (pulled already), named ``NAME-pw-new-SHORTID`` and labelled as a
        candidate; its id. Raises :class:`EngineError`."""
        return self._replacement().create_candidate(info, target)

    def _replacement(self) -> Replacement:
        return Replacement(
            self.engine,
            self._history,
            self._images,
            self._gate,
            stop_timeout=self.stop_timeout,
            hook_timeout=self.hook_timeout,
            grace=self.probes.grace,
            clock=self.clock,
            on_step=self.on_step,
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

