"""Update hooks: commands from container labels, run with ``sh -c`` through the engine's exec API.

``patchwarden.pre-update`` runs in the old container just before it is stopped;
``patchwarden.post-update`` runs in the new container once the gate passed, and a failing one
fails the gate. ``patchwarden.hook-timeout`` (seconds) overrides the default timeout.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass

from patchwarden.app.live.gate import GateResult
from patchwarden.app.live.model import HookResult
from patchwarden.engine.api import EngineApi
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo

LABEL_PRE_UPDATE = "patchwarden.pre-update"
LABEL_POST_UPDATE = "patchwarden.post-update"
LABEL_HOOK_TIMEOUT = "patchwarden.hook-timeout"


@dataclass(frozen=True, slots=True)
class Hooks:
    """Runs a container's hooks; ``timeout`` applies unless the container's label sets one."""

    engine: EngineApi
    timeout: float

    def pre_update(
        self, info: ContainerInfo, hooks: list[HookResult], steps: list[str]
    ) -> HookResult | None:
        """Run the old container's pre-update hook; None when it has none."""
        command = info.labels.get(LABEL_PRE_UPDATE, "").strip()
        if not command:
            return None
        hook = self.run("pre-update", info.id, command, info.labels)
        hooks.append(hook)
        steps.append(f"pre-update hook {hook.summary}")
        return hook

    def post_update(
        self, new_id: str, gate: GateResult, hooks: list[HookResult], steps: list[str]
    ) -> GateResult:
        """Run the new container's post-update hook; a failing hook fails the gate."""
        labels = self.engine.info(new_id).labels
        command = labels.get(LABEL_POST_UPDATE, "").strip()
        if not command:
            return gate
        hook = self.run("post-update", new_id, command, labels)
        hooks.append(hook)
        steps.append(f"post-update hook {hook.summary}")
        checks = {**gate.checks, "post-update hook": hook.summary}
        if hook.ok:
            return GateResult(True, f"{gate.reason}; post-update hook ok", checks)
        return GateResult(False, f"post-update hook {hook.summary}", checks)

    def run(self, phase: str, container: str, command: str, labels: dict[str, str]) -> HookResult:
        timeout = self.timeout
        with contextlib.suppress(ValueError):
            timeout = float(labels.get(LABEL_HOOK_TIMEOUT, "") or timeout)
        t0 = time.monotonic()
        try:
            code, output = self.engine.exec_run(container, ["sh", "-c", command], timeout)
        except EngineError as exc:
            return HookResult(phase, command, None, "", timeout, 0.0, exc.message)
        return HookResult(
            phase, command, code, last_lines(output), timeout, round(time.monotonic() - t0, 3)
        )


def last_lines(text: str, lines: int = 5, chars: int = 400) -> str:
    kept = [ln.strip() for ln in text.strip().splitlines() if ln.strip()][-lines:]
    joined = " | ".join(kept)
    return joined if len(joined) <= chars else "..." + joined[-chars:]
