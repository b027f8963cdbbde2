"""Public keys that verify cosign signatures: ECDSA (P-256/P-384), RSA and Ed25519, PEM."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from patchwarden.errors import UsageError

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class VerifyingKey:
    """A public key and the name it is reported by (its file, or a configured name)."""

    name: str
    key: PublicKey

    @property
    def key_id(self) -> str:
        """sha256 of the DER SubjectPublicKeyInfo, first 16 hex characters."""
        der = self.key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return hashlib.sha256(der).hexdigest()[:16]

    @property
    def kind(self) -> str:
        if isinstance(self.key, ec.EllipticCurvePublicKey):
            return f"ecdsa-{self.key.curve.name}"
        if isinstance(self.key, rsa.RSAPublicKey):
            return f"rsa-{self.key.key_size}"
        return "ed25519"

    def verifies(self, signature: bytes, payload: bytes) -> bool:
        """True when ``signature`` is this key's signature over ``payload`` (as cosign signs:
        ECDSA/RSA-PKCS#1 v1.5 over SHA-256, Ed25519 over the payload itself)."""
        try:
            if isinstance(self.key, ec.EllipticCurvePublicKey):
                self.key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
            elif isinstance(self.key, rsa.RSAPublicKey):
                try:
                    self.key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
                except InvalidSignature:
                    pss = padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO)
                    self.key.verify(signature, payload, pss, hashes.SHA256())
            else:
                self.key.verify(signature, payload)
        except (InvalidSignature, ValueError):
            return False
        return True


def parse_public_key(data: bytes, name: str) -> VerifyingKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        raise UsageError(
            f"{name} is not a PEM public key",
            "give the public half (-----BEGIN PUBLIC KEY-----), e.g. cosign.pub",
        ) from None
    if not isinstance(key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        raise UsageError(
            f"{name} is a {type(key).__name__}, which cosign does not sign with",
            "use an ECDSA, RSA or Ed25519 key",
        )
    return VerifyingKey(name, key)


def load_public_key(path: Path | str) -> VerifyingKey:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read public key {p}: {exc.strerror}", "check the path given to --key"
        ) from None
    if len(data) > 64 * 1024:
        raise UsageError(f"{p} is larger than 64 KiB: not a public key")
    return parse_public_key(data, str(p))
