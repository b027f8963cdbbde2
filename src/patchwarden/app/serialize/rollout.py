"""JSON shape of ``rollout list`` (stable; docs/json-output.md). ``rollout status``'s document
is the rollout's own report (:mod:`patchwarden.app.rollout.report`, schema in
docs/commands/rollout.md): the exit code and ``all_old`` are decided from it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.store.rollouts import RolloutRecord


def rollout_rows(records: Sequence[RolloutRecord]) -> list[dict[str, Any]]:
    """``rollout list``: one row per rollout, newest first."""
    return [
        {
            "id": r.id,
            "image": r.image,
            "digest": r.digest,
            "status": r.status,
            "created_at": r.created_at.isoformat(),
            "finished_at": r.finished_at.isoformat() if r.finished_at else None,
        }
        for r in records
    ]
