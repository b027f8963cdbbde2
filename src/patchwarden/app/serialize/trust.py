"""JSON shapes of ``verify`` and of the trust gate's decision (stable; docs/json-output.md).

A decision is also what ``check`` results carry as ``verification`` and what the promotion log
keeps, so :func:`decision_dict` is called by the use cases as well as by the commands.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from patchwarden.app.trust.model import Verification
    from patchwarden.app.trust.policy import Decision
    from patchwarden.app.trust.signer import Signed


def verification_dict(v: Verification) -> dict[str, Any]:
    return {
        "image": v.image,
        "digest": v.digest,
        "verified": v.verified,
        "reason": v.reason,
        "expected": v.expected,
        "coverage": v.coverage,
        "signed_by": list(v.signed_by),
        "signatures": [
            {"kind": f.kind, "where": f.where, "signer": f.signer, "valid": f.valid, "note": f.note}
            for f in v.found
        ],
    }


def verify_dict(results: Sequence[Verification]) -> dict[str, Any]:
    """``verify``: verified only when every image verified."""
    return {
        "verified": all(r.verified for r in results),
        "results": [verification_dict(r) for r in results],
    }


def decision_dict(d: Decision) -> dict[str, Any]:
    return {
        "allowed": d.allowed,
        "reason": d.reason,
        "verifications": [verification_dict(v) for v in d.verifications],
    }


def refusal_dict(reason: str) -> dict[str, Any]:
    """A decision made before any verification (the image is outside ``registries.allowed``)."""
    return {"allowed": False, "reason": reason, "verifications": []}


def signed_dict(signed: Sequence[Signed]) -> dict[str, Any]:
    """``sign``: each image signed, where its signature went and by which key."""
    return {
        "signed": [
            {
                "image": s.image,
                "signature_tag": s.signature_tag,
                "signature_manifest": s.signature_manifest,
                "key": s.key,
            }
            for s in signed
        ]
    }
