"""Key loading, cosign-style signature checks and simple-signing payload parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from patchwarden.devtools.cosign import KeyKind, Signer
from patchwarden.errors import UsageError
from patchwarden.trust.keys import load_public_key, parse_public_key
from patchwarden.trust.simple_signing import PayloadError, make_payload, parse_payload

DIGEST = "sha256:" + "c" * 64


@pytest.mark.parametrize("kind", ["ecdsa", "rsa", "ed25519"])
def test_signature_round_trip_and_tamper(kind: KeyKind) -> None:
    s = Signer(kind)
    key = parse_public_key(s.public_pem(), "k.pub")
    payload = make_payload(DIGEST, "reg.example.com/app")
    sig = s.sign(payload)
    assert key.verifies(sig, payload)
    assert not key.verifies(sig, payload.replace(b"app", b"apq"))
    assert not key.verifies(sig[:-1] + bytes([sig[-1] ^ 1]), payload)
    other = parse_public_key(Signer(kind).public_pem(), "o.pub")
    assert not other.verifies(sig, payload)
    assert len(key.key_id) == 16 and key.kind.startswith(kind[:3])


def test_payload_parsing() -> None:
    p = parse_payload(make_payload(DIGEST, "reg.example.com/app"))
    assert (p.manifest_digest, p.docker_reference) == (DIGEST, "reg.example.com/app")
    with pytest.raises(PayloadError, match="not JSON"):
        parse_payload(b"\xff")
    with pytest.raises(PayloadError, match="type is 'atomic container signature'"):
        parse_payload(
            make_payload(DIGEST, "x").replace(b"cosign container image", b"atomic container")
        )
    with pytest.raises(PayloadError, match="no docker-manifest-digest"):
        parse_payload(b'{"critical":{"type":"cosign container image signature","image":{}}}')


def test_bad_keys_are_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read public key"):
        load_public_key(tmp_path / "missing.pub")
    (tmp_path / "bad.pub").write_text("not a key")
    with pytest.raises(UsageError, match="is not a PEM public key"):
        load_public_key(tmp_path / "bad.pub")
