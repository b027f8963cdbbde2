"""JSON shapes of ``rebuild --check``, ``rebuild`` and ``patch`` (stable; docs/json-output.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from patchwarden.app.rebuild.model import BuildResult, DueDecision, Handover

if TYPE_CHECKING:
    from patchwarden.app.patch import PatchResult


def due_json(d: DueDecision) -> dict[str, Any]:
    return {
        "name": d.name,
        "destination": d.destination,
        "base": d.base,
        "due": d.due,
        "reasons": [{"kind": r.kind.value, "detail": r.detail} for r in d.reasons],
        "last_digest": d.last_digest,
        "base_digest_built": d.base_digest_built,
        "base_digest_now": d.base_digest_now,
        "error": d.error,
    }


def result_json(r: BuildResult) -> dict[str, Any]:
    return {
        "name": r.name,
        "destination": r.destination,
        "outcome": r.outcome.value,
        "reason": r.reason,
        "due": due_json(r.due) if r.due else None,
        "digest": r.digest,
        "tags": list(r.tags),
        "signature": r.signature,
        "base_digest": r.base_digest,
        "steps": [
            {
                "name": s.name,
                "ok": s.ok,
                "detail": s.detail,
                "duration_s": round(s.duration_s, 3),
                "output": s.output,
            }
            for s in r.steps
        ],
        "fixed": list(r.fixed),
        "introduced": list(r.introduced),
        "duration_s": round(r.duration_s, 3),
        "record_id": r.record_id,
        "then": [handover_json(h) for h in r.then],
    }


def handover_json(h: Handover) -> dict[str, Any]:
    return {
        "kind": h.kind.value,
        "duration_s": round(h.duration_s, 3),
        "ok": h.ok,
        "detail": h.detail,
        "exit_code": int(h.exit_code),
        **({"update": h.data} if h.kind.value == "update" else {"rollout": h.data}),
    }


def patch_dict(r: PatchResult) -> dict[str, Any]:
    return {
        "image": r.image,
        "outcome": r.outcome,
        "reason": r.reason,
        "digest_before": r.digest_before,
        "digest_after": r.digest_after,
        "pushed": r.pushed,
        "upgrades": [
            {
                "package": u.package,
                "installed": u.installed,
                "fixed": u.fixed,
                "now": r.installed_now.get(u.package),
                "vulnerabilities": list(u.vulnerabilities),
            }
            for u in r.upgrades
        ],
        "fixed": list(r.fixed),
        "remaining": list(r.remaining),
        "layer_bytes": r.layer_bytes,
        "vex": r.vex,  # the OpenVEX document itself
        "output": r.output,
        "duration_s": round(r.duration_s, 3),
    }
