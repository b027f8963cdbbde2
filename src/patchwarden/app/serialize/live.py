"""JSON shapes of live updates (stable; docs/json-output.md): ``engine update`` and ``engine
rollback`` results, hook runs (kept in a record's ``gates``), ``engine history``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.app.live.model import HookResult, LiveResult
    from patchwarden.store.model import UpdateRecord


def _move(r: LiveResult | UpdateRecord) -> dict[str, Any]:
    """From where to where, how it ended and why: in a result and in its record alike."""
    return {
        "from_image": r.from_image,
        "from_digest": r.from_digest,
        "to_image": r.to_image,
        "to_digest": r.to_digest,
        "outcome": r.outcome,
        "reason": r.reason,
    }


def live_result_dict(r: LiveResult) -> dict[str, Any]:
    return {"container": r.container, **_move(r)}


def live_results_dict(results: Sequence[LiveResult]) -> dict[str, Any]:
    """``engine update`` and ``engine rollback``."""
    return {"results": [live_result_dict(r) for r in results]}


def hook_dict(h: HookResult) -> dict[str, Any]:
    return {
        "phase": h.phase,
        "command": h.command,
        "exit_code": h.exit_code,
        "ok": h.ok,
        "output": h.output,
        "timeout_s": h.timeout,
        "duration_s": h.duration_s,
        **({"error": h.error} if h.error else {}),
    }


def record_dict(r: UpdateRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "started_at": r.started_at.isoformat(),
        "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        "container": r.container,
        "action": r.action,
        **_move(r),
        "gates": r.gates,
        "duration_s": r.duration_s,
    }


def history_dict(records: Sequence[UpdateRecord]) -> dict[str, Any]:
    """``engine history``."""
    return {"records": [record_dict(r) for r in records]}
