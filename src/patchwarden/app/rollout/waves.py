"""Cutting an environment's containers into waves: a canary, then batches of ``max_parallel``."""

from __future__ import annotations

import math
from collections.abc import Sequence

from patchwarden.config.rollout import Waves


def canary_size(canary: int | str, total: int) -> int:
    """Containers in the canary wave: N, or P% of ``total`` rounded up (at least one)."""
    if total == 0:
        return 0
    if isinstance(canary, int):
        return min(canary, total)
    pct = float(canary.strip().rstrip("%").strip())
    return min(total, max(1, math.ceil(total * pct / 100)))


def plan_waves(names: Sequence[str], waves: Waves) -> list[tuple[str, list[str]]]:
    """(kind, container names) per wave, in order; kinds: canary, batch, all (one wave)."""
    rest = list(names)
    out: list[tuple[str, list[str]]] = []
    n = canary_size(waves.canary, len(rest))
    if n:
        out.append(("canary", rest[:n]))
        rest = rest[n:]
    if not rest:
        return out
    size = waves.max_parallel or len(rest)
    kind = "all" if not out and size >= len(rest) else "batch"
    out += [(kind, rest[i : i + size]) for i in range(0, len(rest), size)]
    return out
