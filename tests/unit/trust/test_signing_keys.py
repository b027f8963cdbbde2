"""Signing keys: cosign's encrypted key files (scrypt + NaCl secretbox around PKCS#8) and PEM
keys, each signing so that the verifying half accepts it; every refusal says what to do and
never shows the password."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from patchwarden.errors import UsageError
from patchwarden.trust.signing import (
    PrivateKey,
    encrypt_cosign_key,
    load_signing_key,
    parse_signing_key,
    password_from_env,
)

PW = b"hunter2-but-longer"


def _pem(key: PrivateKey, fmt: serialization.PrivateFormat, password: bytes | None) -> bytes:
    enc: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, fmt, enc)


@pytest.mark.parametrize(
    "key",
    [
        ec.generate_private_key(ec.SECP256R1()),
        ec.generate_private_key(ec.SECP384R1()),
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        ed25519.Ed25519PrivateKey.generate(),
    ],
    ids=["p256", "p384", "rsa", "ed25519"],
)
def test_cosign_key_file_round_trip_signs_verifiably(key: PrivateKey) -> None:
    data = encrypt_cosign_key(key, PW, n=1 << 12)
    assert data.startswith(b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    signing = parse_signing_key(data, "cosign.key", PW)
    sig = signing.sign(b"payload")
    assert signing.public.verifies(sig, b"payload")
    assert not signing.public.verifies(sig, b"payload, edited")


def test_cosign_key_with_empty_password_and_the_older_header() -> None:
    data = encrypt_cosign_key(ec.generate_private_key(ec.SECP256R1()), b"", n=1 << 12)
    older = data.replace(b"SIGSTORE PRIVATE", b"COSIGN PRIVATE")
    assert parse_signing_key(older, "old.key", b"").public.kind == "ecdsa-secp256r1"


def test_wrong_or_missing_password_is_refused_without_showing_it() -> None:
    data = encrypt_cosign_key(ec.generate_private_key(ec.SECP256R1()), PW, n=1 << 12)
    with pytest.raises(UsageError) as wrong:
        parse_signing_key(data, "cosign.key", b"guess-123")
    assert "wrong password" in wrong.value.message and "guess-123" not in str(wrong.value)
    assert "PATCHWARDEN_SIGNING_PASSWORD" in (wrong.value.hint or "")
    with pytest.raises(UsageError, match="no password is set"):
        parse_signing_key(data, "cosign.key", None)


def test_hostile_scrypt_parameters_are_refused_before_deriving() -> None:
    data = encrypt_cosign_key(ec.generate_private_key(ec.SECP256R1()), PW, n=1 << 12)
    body = b"".join(data.splitlines()[1:-1])
    doc = json.loads(base64.b64decode(body))
    doc["kdf"]["params"]["N"] = 1 << 30
    evil = base64.b64encode(json.dumps(doc).encode())
    pem = b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n" + evil
    pem += b"\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"
    with pytest.raises(UsageError, match="beyond what patchwarden accepts"):
        parse_signing_key(pem, "evil.key", PW)


@pytest.mark.parametrize(
    ("fmt", "password"),
    [
        (serialization.PrivateFormat.PKCS8, None),
        (serialization.PrivateFormat.PKCS8, PW),
        (serialization.PrivateFormat.TraditionalOpenSSL, None),
    ],
    ids=["pkcs8", "pkcs8-encrypted", "sec1"],
)
def test_pem_private_keys(fmt: serialization.PrivateFormat, password: bytes | None) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    signing = parse_signing_key(_pem(key, fmt, password), "key.pem", password)
    assert signing.public.verifies(signing.sign(b"x"), b"x")
    if password:
        with pytest.raises(UsageError, match="no password is set"):
            parse_signing_key(_pem(key, fmt, password), "key.pem", None)


def test_not_a_private_key(tmp_path: Path) -> None:
    pub = ec.generate_private_key(ec.SECP256R1()).public_key()
    pem = pub.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    with pytest.raises(UsageError, match="holds a PUBLIC KEY, not a private key"):
        parse_signing_key(pem, "cosign.pub", None)
    with pytest.raises(UsageError, match="not a PEM private key"):
        parse_signing_key(b"hello", "x", None)
    with pytest.raises(UsageError, match="cannot read signing key"):
        load_signing_key(tmp_path / "missing.key", None)


def test_password_from_the_environment() -> None:
    assert password_from_env({}) is None
    assert password_from_env({"COSIGN_PASSWORD": ""}) == b""
    both = {"COSIGN_PASSWORD": "b", "PATCHWARDEN_SIGNING_PASSWORD": "a"}
    assert password_from_env(both) == b"a"
