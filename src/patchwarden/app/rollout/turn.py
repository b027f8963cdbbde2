"""What the gitops flow and the undo steps ask of the rollout in progress (``runner.Run``).

A Protocol here, below the runner: the runner imports those helpers, so they cannot import it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from patchwarden.app.rollout.engine_target import EngineTarget
from patchwarden.app.rollout.gates import Outcome
from patchwarden.app.rollout.model import (
    EnvState,
    GateName,
    RolloutState,
    RolloutStatus,
    WaveState,
)
from patchwarden.config.rollout import Environment


class RolloutTurn(Protocol):
    """One process's turn at one rollout: its state, saved before each side effect."""

    id: int
    state: RolloutState
    envs: list[Environment]
    clock: Callable[[], datetime]

    @property
    def lock(self) -> threading.RLock:
        """Held while a container's state changes and is saved (waves run in threads)."""
        ...

    def save(self, status: RolloutStatus | None = None) -> None: ...

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
    ) -> None: ...

    def target(self, env: Environment) -> EngineTarget: ...

    def gate(
        self, es: EnvState, wave: WaveState, name: GateName, out: Outcome, t0: datetime
    ) -> bool: ...

    def gates_after(
        self, env: Environment, es: EnvState, wave: WaveState, check: Callable[[], str | None]
    ) -> bool: ...

    def stop(
        self,
        es: EnvState,
        wave: int | None,
        gate: GateName,
        reason: str,
        detail: dict[str, Any] | None = None,
    ) -> None: ...
