"""`verify` against a real distribution registry: real cosign signatures (containers/image's
fixtures, made by cosign), signatures from our own signer, and the tamper matrix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.app.trust.model import Expected, Require
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.devtools.cosign import KeyKind, Signer, attach_signature
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry import ClientOptions, RegistryClient
from patchwarden.registry.model import MEDIA_DOCKER_MANIFEST
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.keys import load_public_key, parse_public_key
from patchwarden.trust.simple_signing import cosign_tag
from testkit.cli_process import cli
from testkit.signing import CosignSignature, attach_fixture, fixtures_dir, seed_manifest

pytestmark = pytest.mark.integration
FIXTURE_DIGEST = "sha256:634a8f35b5f16dcf4aaa0822adc0b1964bb786fca12f6831de8ddc45e5986a00"


@pytest.fixture(scope="module")
def fx() -> Path:
    return fixtures_dir()


@pytest.fixture(scope="module")
def client() -> Iterator[RegistryClient]:
    with RegistryClient(options=ClientOptions(base_backoff=0.01, max_backoff=0.02)) as c:
        yield c


@pytest.fixture(scope="module")
def cosign_image(plain_registry: RegistryServer, client: RegistryClient, fx: Path) -> ImageRef:
    """The fixture image (digest 634a8f35...) with cosign's real signature attached."""
    image = parse_reference(f"{plain_registry.host}/cosign/sample:v1")
    writer = RegistryWriter(client)
    raw = (fx / "dir-img-cosign-valid" / "manifest.json").read_bytes()
    digest = seed_manifest(plain_registry, writer, image, raw, MEDIA_DOCKER_MANIFEST)
    assert digest == FIXTURE_DIGEST
    attach_fixture(
        writer, image, digest, CosignSignature.read(fx / "dir-img-cosign-valid" / "signature-1")
    )
    return image


def expect(*keys: Path, require: Require = Require.any) -> Expected:
    return Expected(keys=tuple(load_public_key(k) for k in keys), require=require)


def test_real_cosign_signature_verifies(
    cosign_image: ImageRef, client: RegistryClient, fx: Path
) -> None:
    v = Verifier(client).verify(cosign_image, expect(fx / "cosign.pub"))
    assert v.verified, v.reason
    assert v.digest == FIXTURE_DIGEST
    assert "cosign.pub (ecdsa-secp256r1" in v.signed_by[0]
    assert v.coverage is not None and "single manifest" in v.coverage


def test_cli_verify_json_and_exit_codes(cosign_image: ImageRef, fx: Path, tmp_path: Path) -> None:
    ok = cli(
        "verify",
        str(cosign_image),
        "--key",
        str(fx / "cosign.pub"),
        "--format",
        "json",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["verified"] is True
    assert doc["results"][0]["digest"] == FIXTURE_DIGEST
    other = tmp_path / "other.pub"
    other.write_bytes(Signer("ecdsa").public_pem())
    bad = cli("verify", str(cosign_image), "--key", str(other), cwd=tmp_path)
    assert bad.returncode == 6
    assert "NOT VERIFIED" in bad.stdout and "not signed by any expected key" in bad.stdout
    missing = cli("verify", str(cosign_image), "--key", str(tmp_path / "nope.pub"), cwd=tmp_path)
    assert missing.returncode == 2 and "cannot read public key" in missing.stderr
    keyless = cli("verify", str(cosign_image), "--certificate-identity", "a@b", cwd=tmp_path)
    assert keyless.returncode == 2 and "not supported yet" in keyless.stderr


def test_real_signature_by_unknown_key_refused(
    plain_registry: RegistryServer, client: RegistryClient, fx: Path
) -> None:
    """cosign's signature made with another key (unknown-cosign-key.signature)."""
    image = parse_reference(f"{plain_registry.host}/cosign/unknown-key:v1")
    writer = RegistryWriter(client)
    raw = (fx / "dir-img-cosign-valid" / "manifest.json").read_bytes()
    digest = seed_manifest(plain_registry, writer, image, raw, MEDIA_DOCKER_MANIFEST)
    attach_fixture(writer, image, digest, CosignSignature.read(fx / "unknown-cosign-key.signature"))
    v = Verifier(client).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified
    assert "not signed by any expected key" in v.reason and "sha256:634a8f35b5f1" in v.reason


def test_signature_for_another_digest_refused(
    plain_registry: RegistryServer, client: RegistryClient, fx: Path
) -> None:
    """containers/image's modified manifest: cosign's valid signature, but of 634a8f35..."""
    image = parse_reference(f"{plain_registry.host}/cosign/modified:v1")
    writer = RegistryWriter(client)
    raw = (fx / "dir-img-cosign-modified-manifest" / "manifest.json").read_bytes()
    digest = seed_manifest(plain_registry, writer, image, raw, MEDIA_DOCKER_MANIFEST)
    assert digest != FIXTURE_DIGEST
    attach_fixture(
        writer, image, digest, CosignSignature.read(fx / "dir-img-cosign-valid" / "signature-1")
    )
    v = Verifier(client).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified
    assert "for another image: sha256:634a8f35b5f1" in v.reason


def test_edited_payload_refused(
    plain_registry: RegistryServer, client: RegistryClient, fx: Path
) -> None:
    image = parse_reference(f"{plain_registry.host}/cosign/edited:v1")
    writer = RegistryWriter(client)
    raw = (fx / "dir-img-cosign-valid" / "manifest.json").read_bytes()
    digest = seed_manifest(plain_registry, writer, image, raw, MEDIA_DOCKER_MANIFEST)
    real = CosignSignature.read(fx / "dir-img-cosign-valid" / "signature-1")
    edited = real.payload.replace(b"cosign-signed-single-sample", b"cosign-signed-single-evil!!")
    attach_signature(writer, image, digest, edited, real.signature)
    v = Verifier(client).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified and "not signed by any expected key" in v.reason


def test_other_attachment_is_not_a_signature(
    plain_registry: RegistryServer, client: RegistryClient, fx: Path
) -> None:
    image = parse_reference(f"{plain_registry.host}/cosign/attachment:v1")
    writer = RegistryWriter(client)
    raw = (fx / "dir-img-cosign-valid" / "manifest.json").read_bytes()
    digest = seed_manifest(plain_registry, writer, image, raw, MEDIA_DOCKER_MANIFEST)
    doc = json.loads((fx / "dir-img-cosign-other-attachment" / "signature-1").read_bytes()[15:])
    import base64

    payload = base64.b64decode(doc["payload"])
    sig = base64.b64decode(doc["annotations"]["dev.cosignproject.cosign/signature"])
    attach_signature(writer, image, digest, payload, sig)
    v = Verifier(client).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified and "none acceptable" in v.reason


def test_missing_signature_refused(
    plain_registry: RegistryServer, pusher: Pusher, client: RegistryClient, fx: Path
) -> None:
    digest = pusher.image(plain_registry, "cosign/unsigned", "1.0", salt="unsigned")
    v = Verifier(client).verify(
        parse_reference(f"{plain_registry.host}/cosign/unsigned:1.0"), expect(fx / "cosign.pub")
    )
    assert not v.verified and v.digest == digest
    assert "found no signature" in v.reason and "expected a signature by" in v.reason


def test_attacker_sig_tag_on_unsigned_image(
    plain_registry: RegistryServer, pusher: Pusher, client: RegistryClient, fx: Path
) -> None:
    """Someone with push access writes sha256-<hex>.sig: signed by their own key, or a copy of
    a genuine signature of another image. Neither makes the image trusted."""
    digest = pusher.image(plain_registry, "cosign/attacked", "1.0", salt="attacked")
    image = parse_reference(f"{plain_registry.host}/cosign/attacked:1.0")
    writer = RegistryWriter(client)
    Signer("ecdsa").sign_image(writer, image, digest)
    attach_fixture(
        writer, image, digest, CosignSignature.read(fx / "dir-img-cosign-valid" / "signature-1")
    )
    v = Verifier(client).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified
    assert "2 signature(s)" in v.reason and "for another image" in v.reason


def test_registry_failure_on_signature_fetch_fails_closed(
    cosign_image: ImageRef, plain_registry: RegistryServer, fx: Path
) -> None:
    with (
        RegistryProxy(plain_registry.host) as proxy,
        RegistryClient(
            options=ClientOptions(base_backoff=0.01, max_backoff=0.02, max_attempts=2)
        ) as c,
    ):
        proxy.throttle(r"/manifests/sha256-[0-9a-f]+\.sig$", 1000)
        image = parse_reference(f"{proxy.host}/cosign/sample:v1")
        v = Verifier(c).verify(image, expect(fx / "cosign.pub"))
    assert not v.verified
    assert "failing closed" in v.reason and cosign_tag(FIXTURE_DIGEST) in v.reason


@pytest.mark.parametrize("kind", ["ecdsa", "rsa", "ed25519"])
def test_own_signer_key_kinds(
    kind: KeyKind, plain_registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    digest = pusher.image(plain_registry, f"own/{kind}", "1.0", salt=kind)
    image = parse_reference(f"{plain_registry.host}/own/{kind}:1.0")
    signer = Signer(kind)
    signer.sign_image(RegistryWriter(client), image, digest)
    key = parse_public_key(signer.public_pem(), f"{kind}.pub")
    assert Verifier(client).verify(image, Expected(keys=(key,))).verified


def test_require_all_and_multiarch_coverage(
    plain_registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    digest = pusher.index(plain_registry, "own/multi", "2.0", salt="multi")
    image = parse_reference(f"{plain_registry.host}/own/multi:2.0")
    a, b = Signer("ecdsa"), Signer("ed25519")
    ka, kb = parse_public_key(a.public_pem(), "a.pub"), parse_public_key(b.public_pem(), "b.pub")
    a.sign_image(RegistryWriter(client), image, digest)
    both = Expected(keys=(ka, kb), require=Require.all)
    v = Verifier(client).verify(image, both)
    assert not v.verified and "but none by b.pub" in v.reason
    assert Verifier(client).verify(image, Expected(keys=(ka, kb))).verified
    b.sign_image(RegistryWriter(client), image, digest)
    v = Verifier(client).verify(image, both)
    assert v.verified and v.coverage is not None
    assert "covers every platform (linux/amd64, linux/arm64)" in v.coverage
