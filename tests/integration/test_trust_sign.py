"""`patchwarden sign` against a real distribution registry: images pushed by skopeo are signed
with a cosign key file and with a PEM key; `patchwarden verify` (the CLI, as a process) accepts
them, a second signature is added next to the first, and bad keys are refused with exit 2
before anything is written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher, list_tags
from patchwarden.trust.signing import encrypt_cosign_key
from patchwarden.trust.simple_signing import cosign_tag
from testkit.cli_process import cli

pytestmark = pytest.mark.integration
PASSWORD = "pw-for-the-test-only"


def _pub(key: ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def test_sign_then_verify_with_two_keys(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    image = f"{plain_registry.host}/signme/app:1.0"
    digest = pusher.image(plain_registry, "signme/app", "1.0", files={"hello": b"world"})
    cosign_key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "cosign.key").write_bytes(encrypt_cosign_key(cosign_key, PASSWORD.encode()))
    pub1 = _pub(cosign_key, tmp_path / "cosign.pub")
    pem_key = ed25519.Ed25519PrivateKey.generate()
    (tmp_path / "ed.pem").write_bytes(
        pem_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    pub2 = _pub(pem_key, tmp_path / "ed.pub")

    unsigned = cli("verify", image, "--key", str(pub1), cwd=tmp_path)
    assert unsigned.returncode == 6, unsigned.stdout + unsigned.stderr

    env = {"COSIGN_PASSWORD": PASSWORD}
    first = cli("sign", image, "--key", "cosign.key", "--format", "json", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stdout + first.stderr
    signed = json.loads(first.stdout)["signed"][0]
    assert signed["image"] == f"{plain_registry.host}/signme/app@{digest}"
    assert signed["signature_tag"] == cosign_tag(digest)
    assert PASSWORD not in first.stdout + first.stderr
    second = cli(
        "sign", f"{plain_registry.host}/signme/app@{digest}", "--key", "ed.pem", cwd=tmp_path
    )
    assert second.returncode == 0, second.stdout + second.stderr
    assert cosign_tag(digest) in list_tags(f"{plain_registry.host}/signme/app")

    both = cli(
        "verify", image, "--key", str(pub1), "--key", str(pub2), "--require", "all",
        "--format", "json", cwd=tmp_path,
    )  # fmt: skip
    assert both.returncode == 0, both.stdout + both.stderr
    assert len(json.loads(both.stdout)["results"][0]["signatures"]) == 2


def test_bad_keys_exit_2_and_write_nothing(
    plain_registry: RegistryServer, pusher: Pusher, tmp_path: Path
) -> None:
    image = f"{plain_registry.host}/signme/bad:1.0"
    digest = pusher.image(plain_registry, "signme/bad", "1.0", files={"a": b"b"})
    key = ec.generate_private_key(ec.SECP256R1())
    (tmp_path / "cosign.key").write_bytes(encrypt_cosign_key(key, PASSWORD.encode()))
    _pub(key, tmp_path / "cosign.pub")
    cases = [
        ({"COSIGN_PASSWORD": "nope-nope"}, "cosign.key", "wrong password"),
        ({}, "cosign.key", "no password is set"),
        ({}, "cosign.pub", "not a private key"),
        ({}, "missing.key", "cannot read signing key"),
    ]
    for env, keyfile, words in cases:
        run = cli("sign", image, "--key", keyfile, cwd=tmp_path, env=env)
        assert run.returncode == 2, (keyfile, run.stdout + run.stderr)
        assert words in run.stderr, run.stderr
        assert "nope-nope" not in run.stdout + run.stderr
    assert cosign_tag(digest) not in list_tags(f"{plain_registry.host}/signme/bad")
