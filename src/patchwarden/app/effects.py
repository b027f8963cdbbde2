"""The side-effect guard use cases take (``store.effects.EffectLedger`` bound to an owner
implements it): an effect keyed by what it is (``pull-request:<repo>:<branch>@<commit>``) is
carried out at most once, however often a job is retried or re-delivered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class EffectGuard(Protocol):
    def once(
        self, key: str, kind: str, do: Callable[[], str], already: Callable[[], bool]
    ) -> tuple[bool, str]:
        """Run ``do`` unless ``key`` is recorded done; (True, its result) when it ran now.
        A claim an interrupted attempt left is settled by ``already()`` (asks the real
        system whether the effect happened), never by repeating blindly."""
        ...
