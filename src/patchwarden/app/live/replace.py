"""The replacement of one container by a new one on another image, gated.

The procedure (``update`` and ``rollback`` alike):

1. pull the target image by digest (credentials as the registry client finds them);
2. create the new container with the old one's configuration under a temporary name
   ``NAME-pw-new-SHORTID``, labelled ``patchwarden.update-of=<old id>`` and
   ``patchwarden.state=candidate``;
3. stop the old container and rename it ``NAME-pw-old-SHORTID``; rename the new one ``NAME``;
4. start the new one and run the health gate (:mod:`patchwarden.app.live.gate`);
5. healthy: remove the old container (its image stays); not healthy, or any step failed:
   stop and remove the new one, rename the old one back, start it and verify it runs.

Hooks (labels on the container, run with ``sh -c`` through the engine's exec API):
``patchwarden.pre-update`` runs in the old container just before it is stopped (failure or
timeout: the candidate is removed and the update ``skipped``); ``patchwarden.post-update`` runs
in the new container once the gate passed (failure: the gate failed, roll back).
``patchwarden.hook-timeout`` (seconds) overrides the updater's hook timeout
(:mod:`patchwarden.app.live.hooks`).

Which containers are replaced, in what order and under which lock is
:class:`~patchwarden.app.live.updater.LiveUpdater`'s business; it makes a
:class:`Replacement` for each move.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from patchwarden.app.live.gate import GateResult
from patchwarden.app.live.history import History
from patchwarden.app.live.hooks import Hooks
from patchwarden.app.live.images import LocalImages
from patchwarden.app.live.model import HookResult, LiveResult, StepFn, StepLog
from patchwarden.app.live.recover import restore
from patchwarden.app.live.select import LABEL_STATE, LABEL_UPDATE_OF, NEW_MARK, OLD_MARK
from patchwarden.app.serialize.live import hook_dict
from patchwarden.core.digest import short_hex
from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.engine.spec import create_config


@dataclass(frozen=True, slots=True)
class Replacement:
    """The procedure above on one engine, with the updater's settings (made per move, so
    it always sees them as they are). ``gate(container id)`` is the health gate."""

    engine: EngineApi
    history: History
    images: LocalImages
    gate: Callable[[str], GateResult]
    stop_timeout: int
    hook_timeout: float
    grace: float
    clock: Callable[[], datetime]
    on_step: StepFn | None

    def create_candidate(self, info: ContainerInfo, target: ImageRef) -> str:
        """Create (never start) the container that is to replace ``info``: its configuration
        on ``target``'s image (pulled already), named ``NAME-pw-new-SHORTID`` and labelled as a
        candidate; its id. Raises :class:`EngineError`."""
        old_doc = self.engine.inspect(info.id)
        old_image = self.engine.inspect_image(info.image_id) if info.image_id else {}
        body = create_config(
            old_doc,
            self.images.local_name(target),
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

    def run(
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
        to_image = image_text(target)

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
            self.history.record(result, started, time.monotonic() - t0)
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
            gate = self.gate(new_id)
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
            removed_images += self.images.retain(name, target, info.digest, steps)
            return done(
                LiveOutcome.REVERTED if action == LiveAction.ROLLBACK else LiveOutcome.UPDATED,
                gate.reason,
                gate,
            )
        restored = restore(self.engine, new_id, info.id, name, steps, self.grace)
        if restored:
            return done(
                LiveOutcome.ROLLED_BACK, f"{gate.reason}; the old container runs again", gate
            )
        return done(
            LiveOutcome.FAILED,
            f"{gate.reason}; and the old container could not be restored (see {old_name})",
            gate,
        )


def candidate_name(info: ContainerInfo) -> str:
    """The name a candidate for ``info`` is created under."""
    return f"{info.name}{NEW_MARK}{info.short_id}"


def image_text(ref: ImageRef) -> str:
    """``repository[:tag]`` of ``ref``, without its digest (what results show)."""
    return f"{ref.name}:{ref.tag}" if ref.tag else ref.name
