"""JSON shapes of ``registry promote``, ``registry tags`` and ``registry retain`` (stable;
docs/json-output.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from patchwarden.app.serialize.trust import decision_dict

if TYPE_CHECKING:
    from patchwarden.app.promote.copy import CopyStats
    from patchwarden.app.promote.run import PromoteResult
    from patchwarden.app.retain.plan import RetainPlan, Version
    from patchwarden.app.retain.tags import TagInfo


def copy_stats_dict(s: CopyStats) -> dict[str, Any]:
    return {
        "manifests_written": s.manifests,
        "manifests_present": s.manifests_present,
        "blobs_uploaded": s.blobs_uploaded,
        "blobs_mounted": s.blobs_mounted,
        "blobs_present": s.blobs_present,
        "bytes_uploaded": s.bytes_uploaded,
        "referrers": list(s.referrers),
    }


def promote_dict(r: PromoteResult) -> dict[str, Any]:
    """``registry promote``."""
    return {
        "source": r.source,
        "destination": r.destination,
        "digest": r.digest,
        "outcome": r.outcome,
        "reason": r.reason,
        "platforms": list(r.platforms),
        "copy": copy_stats_dict(r.stats),
        "verification": None if r.verification is None else decision_dict(r.verification),
    }


def tag_dict(t: TagInfo) -> dict[str, Any]:
    return {
        "tag": t.tag,
        "digest": t.digest,
        "created": t.created.isoformat() if t.created else None,
        "error": t.error,
    }


def tags_dict(repository: str, tags: Sequence[TagInfo]) -> dict[str, Any]:
    """``registry tags``."""
    return {"repository": repository, "tags": [tag_dict(t) for t in tags]}


def version_dict(v: Version) -> dict[str, Any]:
    return {
        "digest": v.digest,
        "tags": sorted(v.tags),
        "created": v.created.isoformat() if v.created else None,
        "kept_because": list(v.keep),
    }


def retain_plan_dict(p: RetainPlan, garbage_collect: str) -> dict[str, Any]:
    return {
        "repository": p.repository,
        "dry_run": p.dry_run,
        "deleted": [version_dict(v) for v in p.deleted],
        "kept": [version_dict(v) for v in p.kept],
        "errors": p.errors,
        "garbage_collect": garbage_collect,
    }


def retain_dict(plans: Sequence[RetainPlan], garbage_collect: str) -> dict[str, Any]:
    """``registry retain``; ``garbage_collect`` is the advice on reclaiming storage."""
    return {"repositories": [retain_plan_dict(p, garbage_collect) for p in plans]}
