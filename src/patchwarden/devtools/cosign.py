"""Attach cosign-shaped signatures to images in a registry, for tests, demos and benchmarks.

``attach_signature`` (:mod:`patchwarden.app.trust.signer`) writes what ``cosign sign --key``
writes: an OCI manifest tagged ``sha256-<hex>.sig`` whose layers are simple-signing payloads,
each carrying its signature in the ``dev.cosignproject.cosign/signature`` annotation.
``Signer`` makes fresh keys with ``cryptography``; real cosign output comes from
containers/image's fixtures (see tests).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from patchwarden.app.trust.signer import attach_signature
from patchwarden.core.ref import ImageRef
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.signing import SigningKey
from patchwarden.trust.simple_signing import make_payload

KeyKind = Literal["ecdsa", "rsa", "ed25519"]


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

    def private_pem(self) -> bytes:
        pem: bytes = self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        return pem

    def sign(self, payload: bytes) -> bytes:
        return SigningKey(f"test {self.kind} key", self._key).sign(payload)

    def sign_image(
        self, writer: RegistryWriter, image: ImageRef, digest: str, *, reference: str | None = None
    ) -> str:
        payload = make_payload(digest, reference or image.name)
        return attach_signature(writer, image, digest, payload, self.sign(payload))


__all__ = ["KeyKind", "Signer", "attach_signature"]
