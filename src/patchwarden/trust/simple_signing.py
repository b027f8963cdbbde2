"""The "simple signing" payload cosign, skopeo and podman sign: which manifest digest the
signature is for, and which repository it was signed as."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

COSIGN_TYPE = "cosign container image signature"
ATOMIC_TYPE = "atomic container signature"  # the GPG flavour (containers/image)
SIMPLESIGNING_MEDIA = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
MAX_PAYLOAD = 64 * 1024


class PayloadError(ValueError):
    """The payload is not a simple-signing document."""


@dataclass(frozen=True, slots=True)
class Payload:
    type: str
    manifest_digest: str
    docker_reference: str | None
    optional: dict[str, Any]


def parse_payload(data: bytes, *, allowed: frozenset[str] = frozenset({COSIGN_TYPE})) -> Payload:
    if len(data) > MAX_PAYLOAD:
        raise PayloadError(f"payload is larger than {MAX_PAYLOAD} bytes")
    try:
        doc = json.loads(data)
    except ValueError:
        raise PayloadError("payload is not JSON") from None
    critical = doc.get("critical") if isinstance(doc, dict) else None
    if not isinstance(critical, dict):
        raise PayloadError("payload has no `critical` section")
    typ = critical.get("type")
    if typ not in allowed:
        raise PayloadError(f"payload type is {typ!r}, expected {' or '.join(sorted(allowed))}")
    image = critical.get("image")
    digest = image.get("docker-manifest-digest") if isinstance(image, dict) else None
    if not isinstance(digest, str) or ":" not in digest:
        raise PayloadError("payload names no docker-manifest-digest")
    identity = critical.get("identity")
    ref = identity.get("docker-reference") if isinstance(identity, dict) else None
    optional = doc.get("optional")
    return Payload(
        type=str(typ),
        manifest_digest=digest,
        docker_reference=ref if isinstance(ref, str) else None,
        optional=optional if isinstance(optional, dict) else {},
    )


def cosign_tag(digest: str, suffix: str = "sig") -> str:
    """The tag cosign stores a digest's signatures (``sig``), attestations (``att``) or SBOM
    (``sbom``) under: ``sha256-<hex>.sig``."""
    alg, _, hx = digest.partition(":")
    return f"{alg}-{hx}.{suffix}"


def make_payload(manifest_digest: str, docker_reference: str) -> bytes:
    """A cosign payload (what ``cosign sign`` writes), for our own signer."""
    doc = {
        "critical": {
            "identity": {"docker-reference": docker_reference},
            "image": {"docker-manifest-digest": manifest_digest},
            "type": COSIGN_TYPE,
        },
        "optional": None,
    }
    return json.dumps(doc, separators=(",", ":")).encode()
