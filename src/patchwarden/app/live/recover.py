"""Back to a consistent state: restore the old container when a replacement failed, and recover
the updates a crashed run left half-done.

A crash between the steps of a replacement leaves containers whose names (``NAME-pw-old-ID``,
``NAME-pw-new-ID``) and labels (``patchwarden.update-of``) say how far it got: a candidate
that already runs under the original name and passes the gate completes the update; otherwise
the candidates are removed and the old container gets its name back and runs again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from patchwarden.app.live.gate import GateResult
from patchwarden.app.live.history import History
from patchwarden.app.live.model import (
    ContainerLocks,
    LiveResult,
    LocalLocks,
    StepFn,
    StepLog,
    busy_reason,
    untouched,
)
from patchwarden.app.live.select import LABEL_UPDATE_OF, NEW_MARK, OLD_MARK
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo


def _leftovers(
    containers: Sequence[ContainerInfo],
) -> list[tuple[ContainerInfo, str, list[ContainerInfo]]]:
    """(old container, original name, its candidates) of every half-done update."""
    found = []
    by_id = {c.id: c for c in containers}
    for old in containers:
        if OLD_MARK not in old.name:
            continue
        original = old.name.rpartition(OLD_MARK)[0]
        cands = [c for c in containers if c.labels.get(LABEL_UPDATE_OF) == old.id]
        found.append((old, original, cands))
    for new in containers:  # crashed before the old one was renamed
        of = new.labels.get(LABEL_UPDATE_OF)
        old_c = by_id.get(of) if of else None
        if NEW_MARK in new.name and old_c is not None and OLD_MARK not in old_c.name:
            found.append((old_c, old_c.name, [new]))
    return found


def restore(
    engine: EngineApi,
    new_id: str | None,
    old_id: str,
    name: str,
    steps: list[str],
    grace: float,
) -> bool:
    """Remove the candidate, give the old container its name back, start it; running?"""
    if new_id is not None:
        try:
            engine.remove(new_id, force=True)
            steps.append("removed new")
        except EngineError as exc:
            steps.append(f"could not remove new: {exc.message}")
    try:
        if engine.info(old_id).name != name:
            engine.rename(old_id, name)
            steps.append(f"renamed old back to {name}")
        if not engine.info(old_id).running:
            engine.start(old_id)
            steps.append("started old")
        time.sleep(min(1.0, grace))
        running = engine.info(old_id).running
    except EngineError as exc:
        steps.append(f"restore failed: {exc.message}")
        return False
    steps.append("old is running" if running else "old is NOT running")
    return running


@dataclass(frozen=True, slots=True)
class Recovery:
    """``gate(container id)`` is the health gate a candidate must pass to be kept."""

    engine: EngineApi
    history: History
    gate: Callable[[str], GateResult]
    stop_timeout: int
    grace: float
    on_step: StepFn | None = None
    locks: ContainerLocks = field(default_factory=LocalLocks)

    def run(self) -> list[LiveResult]:
        """Complete or undo every half-done update; an orphan candidate is left alone. A
        container whose lock another run holds is left alone too (its leftovers may be that
        run's update in progress): reported ``skipped`` with the holder."""
        results: list[LiveResult] = []
        for old, original, _ in _leftovers(self.engine.list_containers(all=True)):
            with self.locks.hold(original) as holder:
                if holder is not None:
                    results.append(
                        untouched(
                            original,
                            old.image,
                            old.digest,
                            LiveOutcome.SKIPPED,
                            busy_reason(holder),
                            LiveAction.RECOVER,
                        )
                    )
                    continue
                # looked at again under the lock: the run that held it may have finished
                now = _leftovers(self.engine.list_containers(all=True))
                group = next((g for g in now if g[0].id == old.id), None)
                if group is not None:
                    results.append(self._one(*group))
        return results

    def _one(self, old: ContainerInfo, original: str, cands: Sequence[ContainerInfo]) -> LiveResult:
        started, t0 = self.history.clock(), time.monotonic()
        steps = StepLog(original, self.on_step, f"found leftover {old.name}")
        cand = next((c for c in cands if c.name == original), None)
        gate: GateResult | None = None
        if cand is not None and cand.running:
            gate = self.gate(cand.id)
            steps.append(f"gate: {gate.reason}")
        if cand is not None and gate is not None and gate.ok:
            outcome, reason = self._complete(old, gate, steps)
            to = cand
        else:
            outcome, reason = self._undo(old, original, cands, gate, steps)
            to = cands[0] if cands else old
        result = LiveResult(
            original,
            old.image,
            old.digest,
            to.image,
            to.digest,
            outcome,
            reason,
            {"steps": steps, **({"checks": gate.checks} if gate else {})},
            LiveAction.RECOVER,
        )
        self.history.record(result, started, time.monotonic() - t0)
        return result

    def _complete(
        self, old: ContainerInfo, gate: GateResult, steps: list[str]
    ) -> tuple[LiveOutcome, str]:
        self.engine.remove(old.id, force=True)
        steps.append(f"removed {old.name}")
        return LiveOutcome.UPDATED, f"completed an interrupted update: {gate.reason}"

    def _undo(
        self,
        old: ContainerInfo,
        original: str,
        cands: Sequence[ContainerInfo],
        gate: GateResult | None,
        steps: list[str],
    ) -> tuple[LiveOutcome, str]:
        for c in cands:
            try:
                self.engine.remove(c.id, force=True)
                steps.append(f"removed candidate {c.name}")
            except EngineError as exc:
                steps.append(f"could not remove {c.name}: {exc.message}")
        # a crash during "stop old" leaves the engine still stopping it: finish that stop
        # first, or the container dies right after we saw it running
        try:
            self.engine.stop(old.id, timeout=self.stop_timeout)
            steps.append(f"stopped {old.name}")
        except EngineError as exc:
            steps.append(f"could not stop {old.name}: {exc.message}")
        ok = restore(self.engine, None, old.id, original, steps, self.grace)
        why = gate.reason if gate is not None else "the new container never started"
        reason = f"undid an interrupted update ({why})" + (
            "" if ok else "; the old container could not be restored"
        )
        return (LiveOutcome.ROLLED_BACK if ok else LiveOutcome.FAILED), reason
