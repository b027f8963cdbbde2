"""Private keys that sign as cosign signs (``cosign sign --key``), and cosign's key file format.

Accepted key files:

- cosign's own: ``-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----`` (or the older ``ENCRYPTED
  COSIGN PRIVATE KEY``): JSON holding an scrypt KDF (``N``, ``r``, ``p``, salt) and a NaCl
  secretbox (XSalsa20-Poly1305) around the PKCS#8 DER key. scrypt comes from ``cryptography``,
  the secretbox from PyNaCl (libsodium); nothing here is hand-written cryptography.
- PEM PKCS#8 (``PRIVATE KEY``, ``ENCRYPTED PRIVATE KEY``) and SEC1 (``EC PRIVATE KEY``).

Signatures are made the way :meth:`patchwarden.trust.keys.VerifyingKey.verifies` (and cosign,
and containers/image) check them: ECDSA and RSA PKCS#1 v1.5 over SHA-256, Ed25519 over the
payload itself. The password is passed in by the caller (from an environment variable); it is
never part of a message.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from patchwarden.errors import UsageError
from patchwarden.trust.keys import VerifyingKey

PrivateKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PASSWORD_VARIABLES = ("PATCHWARDEN_SIGNING_PASSWORD", "COSIGN_PASSWORD")
COSIGN_PEM_TYPES = ("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY")
MAX_KEY_FILE = 64 * 1024
# scrypt work factors a key file may ask for: cosign writes N=2^15 or 2^16, r=8, p=1; the
# bound keeps a hostile key file from asking for gigabytes of memory
MAX_SCRYPT_N, MAX_SCRYPT_R, MAX_SCRYPT_P = 1 << 20, 16, 16
_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s*(.*?)\s*-----END \1-----", re.DOTALL)
_HINT = "give a cosign key (cosign generate-key-pair) or a PEM private key (ECDSA, RSA, Ed25519)"


def password_from_env(env: dict[str, str] | None = None) -> bytes | None:
    """The key password from ``PATCHWARDEN_SIGNING_PASSWORD``, else cosign's ``COSIGN_PASSWORD``
    (an empty value is an empty password); None when neither is set."""
    source = os.environ if env is None else env
    for name in PASSWORD_VARIABLES:
        if name in source:
            return source[name].encode()
    return None


@dataclass(frozen=True)
class SigningKey:
    """A private key and the name it is reported by (its file)."""

    name: str
    key: PrivateKey

    @property
    def public(self) -> VerifyingKey:
        return VerifyingKey(self.name, self.key.public_key())

    def sign(self, payload: bytes) -> bytes:
        if isinstance(self.key, ec.EllipticCurvePrivateKey):
            return self.key.sign(payload, ec.ECDSA(hashes.SHA256()))
        if isinstance(self.key, rsa.RSAPrivateKey):
            return self.key.sign(payload, padding.PKCS1v15(), hashes.SHA256())
        return self.key.sign(payload)


def _pem_blocks(data: bytes) -> list[tuple[str, bytes]]:
    return [(m.group(1).decode(), m.group(2)) for m in _PEM_RE.finditer(data)]


def _b64(value: Any, what: str, name: str) -> bytes:
    if not isinstance(value, str):
        raise UsageError(f"{name}: cosign key has no {what}", _HINT)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise UsageError(f"{name}: cosign key's {what} is not base64", _HINT) from None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _scrypt_key(kdf: Any, password: bytes, name: str) -> bytes:
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt":
        raise UsageError(f"{name}: cosign key uses an unknown KDF (expected scrypt)", _HINT)
    params = _obj(kdf.get("params"))
    n, r, p = params.get("N"), params.get("r"), params.get("p")
    if not all(isinstance(v, int) and v > 0 for v in (n, r, p)):
        raise UsageError(f"{name}: cosign key's scrypt parameters are missing", _HINT)
    assert isinstance(n, int) and isinstance(r, int) and isinstance(p, int)  # noqa: S101 - narrowed above
    if n > MAX_SCRYPT_N or r > MAX_SCRYPT_R or p > MAX_SCRYPT_P or n & (n - 1):
        raise UsageError(
            f"{name}: cosign key asks for scrypt N={n} r={r} p={p}, beyond what patchwarden "
            f"accepts (N a power of two up to {MAX_SCRYPT_N}, r up to {MAX_SCRYPT_R}, p up to "
            f"{MAX_SCRYPT_P})",
            "re-encrypt it with cosign's defaults (cosign import-key-pair)",
        )
    salt = _b64(kdf.get("salt"), "salt", name)
    return Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)


def decrypt_cosign_key(body: bytes, password: bytes, name: str) -> bytes:
    """The PKCS#8 DER inside a cosign key file's PEM body."""
    from nacl.exceptions import CryptoError
    from nacl.secret import SecretBox

    try:
        doc = json.loads(base64.b64decode(b"".join(body.split()), validate=True))
    except (binascii.Error, ValueError):
        raise UsageError(f"{name}: cosign key is not base64 JSON", _HINT) from None
    if not isinstance(doc, dict):
        raise UsageError(f"{name}: cosign key is not a JSON object", _HINT)
    cipher = _obj(doc.get("cipher"))
    if cipher.get("name") != "nacl/secretbox":
        raise UsageError(f"{name}: cosign key uses an unknown cipher (expected nacl/secretbox)")
    nonce = _b64(cipher.get("nonce"), "nonce", name)
    sealed = _b64(doc.get("ciphertext"), "ciphertext", name)
    if len(nonce) != SecretBox.NONCE_SIZE:
        raise UsageError(f"{name}: cosign key's nonce is {len(nonce)} bytes, not 24", _HINT)
    key = _scrypt_key(doc.get("kdf"), password, name)
    try:
        return bytes(SecretBox(key).decrypt(sealed, nonce))
    except CryptoError:
        raise UsageError(
            f"{name}: cannot decrypt the cosign key: wrong password",
            "set PATCHWARDEN_SIGNING_PASSWORD (or COSIGN_PASSWORD) to the key's password",
        ) from None


def encrypt_cosign_key(
    key: PrivateKey, password: bytes, *, n: int = 1 << 15, r: int = 8, p: int = 1
) -> bytes:
    """``key`` as a cosign key file (what ``cosign generate-key-pair`` writes)."""
    from nacl.secret import SecretBox
    from nacl.utils import random as nacl_random

    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    salt, nonce = os.urandom(32), nacl_random(SecretBox.NONCE_SIZE)
    box_key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(password)
    sealed = SecretBox(box_key).encrypt(der, nonce).ciphertext
    doc = {
        "kdf": {
            "name": "scrypt",
            "params": {"N": n, "r": r, "p": p},
            "salt": base64.b64encode(salt).decode(),
        },
        "cipher": {"name": "nacl/secretbox", "nonce": base64.b64encode(nonce).decode()},
        "ciphertext": base64.b64encode(sealed).decode(),
    }
    body = base64.b64encode(json.dumps(doc, separators=(",", ":")).encode()).decode()
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    kind = COSIGN_PEM_TYPES[0]
    return ("\n".join([f"-----BEGIN {kind}-----", *lines, f"-----END {kind}-----"]) + "\n").encode()


def _checked(key: object, name: str) -> PrivateKey:
    if isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey):
        return key
    raise UsageError(f"{name} is a {type(key).__name__}, which cosign does not sign with", _HINT)


def parse_signing_key(data: bytes, name: str, password: bytes | None) -> SigningKey:
    blocks = _pem_blocks(data)
    if not blocks:
        raise UsageError(f"{name} is not a PEM private key", _HINT)
    kind, body = blocks[0]
    if kind in COSIGN_PEM_TYPES:
        if password is None:
            raise UsageError(
                f"{name} is an encrypted cosign key and no password is set",
                "set PATCHWARDEN_SIGNING_PASSWORD (or COSIGN_PASSWORD; empty for a key made "
                "with an empty password)",
            )
        der = decrypt_cosign_key(body, password, name)
        try:
            key = serialization.load_der_private_key(der, None)
        except (ValueError, TypeError):
            raise UsageError(f"{name}: the decrypted cosign key is not PKCS#8", _HINT) from None
        return SigningKey(name, _checked(key, name))
    if "PRIVATE KEY" not in kind:
        raise UsageError(f"{name} holds a {kind}, not a private key", _HINT)
    encrypted = kind == "ENCRYPTED PRIVATE KEY" or b"ENCRYPTED" in body[:200]
    if encrypted and not password:
        raise UsageError(
            f"{name} is an encrypted private key and no password is set",
            "set PATCHWARDEN_SIGNING_PASSWORD (or COSIGN_PASSWORD) to the key's password",
        )
    try:
        key = serialization.load_pem_private_key(data, password if encrypted else None)
    except (ValueError, TypeError):
        why = "wrong password or not a private key" if encrypted else "not a readable key"
        raise UsageError(f"cannot load the private key {name}: {why}", _HINT) from None
    return SigningKey(name, _checked(key, name))


def load_signing_key(path: Path | str, password: bytes | None) -> SigningKey:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"cannot read signing key {p}: {exc.strerror}",
            "check the path given as signing_key (or --key)",
        ) from None
    if len(data) > MAX_KEY_FILE:
        raise UsageError(f"{p} is larger than 64 KiB: not a private key")
    return parse_signing_key(data, str(p), password)
