"""Attach cosign-shaped signatures to images in a registry, for tests, demos and benchmarks.

``attach_signature`` writes what ``cosign sign --key`` writes: an OCI manifest tagged
``sha256-<hex>.sig`` whose layers are simple-signing payloads, each carrying its signature in
the ``dev.cosignproject.cosign/signature`` annotation. ``Signer`` makes fresh keys with
``cryptography``; real cosign output comes from containers/image's fixtures (see tests).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError
from patchwarden.registry.model import MEDIA_OCI_MANIFEST
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.simple_signing import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA,
    cosign_tag,
    make_payload,
)

KeyKind = Literal["ecdsa", "rsa", "ed25519"]
_CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"


@dataclass
class Signer:
    kind: KeyKind = "ecdsa"

    def __post_init__(self) -> None:
        if self.kind == "ecdsa":
            self._key: Any = ec.generate_private_key(ec.SECP256R1())
        elif self.kind == "rsa":
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        else:
            self._key = ed25519.Ed25519PrivateKey.generate()

    def public_pem(self) -> bytes:
        pem: bytes = self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return pem

    def sign(self, payload: bytes) -> bytes:
        if self.kind == "ecdsa":
            sig: bytes = self._key.sign(payload, ec.ECDSA(hashes.SHA256()))
        elif self.kind == "rsa":
            sig = self._key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        else:
            sig = self._key.sign(payload)
        return sig

    def sign_image(
        self, writer: RegistryWriter, image: ImageRef, digest: str, *, reference: str | None = None
    ) -> str:
        payload = make_payload(digest, reference or image.name)
        return attach_signature(writer, image, digest, payload, self.sign(payload))


def attach_signature(
    writer: RegistryWriter,
    image: ImageRef,
    digest: str,
    payload: bytes,
    signature: bytes,
    *,
    tag: str | None = None,
) -> str:
    """Add one signature layer to the ``.sig`` manifest of ``digest`` (created if absent);
    return the signature manifest's digest. ``tag`` overrides the tag (attacker tests)."""
    repo = image.with_digest(None)
    sig_tag = tag or cosign_tag(digest)
    layers: list[dict[str, Any]] = []
    try:
        old = writer.client.get_manifest(repo.with_tag(sig_tag))
        layers = list(json.loads(old.raw).get("layers") or [])
    except NotFoundError:
        pass
    desc = writer.put_blob(repo, payload, SIMPLESIGNING_MEDIA)
    layers.append(
        {
            "mediaType": SIMPLESIGNING_MEDIA,
            "size": desc.size,
            "digest": desc.digest,
            "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
        }
    )
    diff_ids = [entry["digest"] for entry in layers]
    config = json.dumps(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        },
        separators=(",", ":"),
    ).encode()
    cdesc = writer.put_blob(repo, config, _CONFIG_MEDIA)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": _CONFIG_MEDIA, "size": cdesc.size, "digest": cdesc.digest},
        "layers": layers,
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return writer.put_manifest(repo, sig_tag, raw, MEDIA_OCI_MANIFEST)
