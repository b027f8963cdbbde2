"""Live updates of running containers (``engine update / rollback / history``): select
(:mod:`.select`), run in dependency order (:mod:`.order`), replace, gate (:mod:`.gate`), hooks
(:mod:`.hooks`), keep or roll back (:mod:`.recover`), prune images (:mod:`.images`), record
(:mod:`.history`). The procedure is described in :mod:`.updater`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from patchwarden.app.exports import lazy_exports

if TYPE_CHECKING:
    from patchwarden.app.live.gate import GateResult, Probes
    from patchwarden.app.live.hooks import LABEL_HOOK_TIMEOUT, LABEL_POST_UPDATE, LABEL_PRE_UPDATE
    from patchwarden.app.live.model import (
        Candidate,
        CandidateFn,
        HookResult,
        LiveResult,
        RecordStore,
    )
    from patchwarden.app.live.select import (
        LABEL_DEPENDS_ON,
        LABEL_STATE,
        LABEL_UPDATE_OF,
        NEW_MARK,
        OLD_MARK,
        Selection,
        dependencies,
        dependency_order,
        is_leftover,
        policy_candidates,
    )
    from patchwarden.app.live.updater import LiveUpdater

EXPORTS = {
    "gate": ("GateResult", "Probes"),
    "hooks": ("LABEL_HOOK_TIMEOUT", "LABEL_POST_UPDATE", "LABEL_PRE_UPDATE"),
    "model": ("Candidate", "CandidateFn", "HookResult", "LiveResult", "RecordStore"),
    "select": (
        "LABEL_DEPENDS_ON",
        "LABEL_STATE",
        "LABEL_UPDATE_OF",
        "NEW_MARK",
        "OLD_MARK",
        "Selection",
        "dependencies",
        "dependency_order",
        "is_leftover",
        "policy_candidates",
    ),
    "updater": ("LiveUpdater",),
}
__all__ = [
    "LABEL_DEPENDS_ON",
    "LABEL_HOOK_TIMEOUT",
    "LABEL_POST_UPDATE",
    "LABEL_PRE_UPDATE",
    "LABEL_STATE",
    "LABEL_UPDATE_OF",
    "NEW_MARK",
    "OLD_MARK",
    "Candidate",
    "CandidateFn",
    "GateResult",
    "HookResult",
    "LiveResult",
    "LiveUpdater",
    "Probes",
    "RecordStore",
    "Selection",
    "dependencies",
    "dependency_order",
    "is_leftover",
    "policy_candidates",
]
__getattr__ = lazy_exports(__name__, EXPORTS)
