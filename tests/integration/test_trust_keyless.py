"""Keyless (sigstore bundle) signatures on images in a real distribution registry.

Where the bundles come from, and why:
- A bundle whose subject IS a test image can only be made at run time: no real Fulcio/Rekor
  can run here. These tests therefore make a throwaway *test* Sigstore instance
  (``devtools.sigstore_bundle.TestInstance``: a test CA, a test CT log key, a test Rekor log
  key, and the trusted_root.json that trusts exactly them). The bundle formats are the real
  ones and sigstore-python verifies them unchanged.
- A REAL bundle from Sigstore's public-good instance (pypi-attestations' test assets; see
  testkit/sigstore_bundles.py) is attached to an image too: it is valid, but about another
  artifact, and must be refused as such. The real bundles' full verification (chain, SCT,
  inclusion proof, checkpoint, promise, identity) is tested in tests/unit/trust/test_bundle.py.

Referrers: distribution 2.8 lacks the OCI referrers API, so bundles are found through the
referrers tag schema (the fallback) on the real registry. The API path is tested through
``ReferrersProxy``, a loopback front of the same real registry that implements the endpoint
(indexing manifests with a ``subject`` as they are pushed), because no registry with the API
is packaged here.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.app.trust.bundles import BundleChecker
from patchwarden.app.trust.model import Expected
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.referrers_proxy import ReferrersProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.sigstore_bundle import TestInstance, attach_bundle
from patchwarden.devtools.skopeo import Pusher
from patchwarden.registry import ClientOptions, RegistryClient
from patchwarden.registry.model import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from patchwarden.registry.referrers import ReferrersVia, list_referrers
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.bundle import PUBLIC_GOOD, Identity
from testkit.cli_process import cli
from testkit.sigstore_bundles import PROD_ISSUER, PROD_SUBJECT, sigstore_assets

pytestmark = pytest.mark.integration
ISSUER = "https://token.actions.githubusercontent.com"
SUBJECT = "https://github.com/acme/app/.github/workflows/release.yml@refs/heads/main"
ACME = Identity(issuer=ISSUER, subject_regex=r"https://github\.com/acme/app/.*")


@pytest.fixture(scope="module")
def instance() -> TestInstance:
    return TestInstance()


@pytest.fixture(scope="module")
def root(instance: TestInstance, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sigstore") / "trusted_root.json"
    path.write_text(json.dumps(instance.trusted_root()))
    return path


@pytest.fixture(scope="module")
def client() -> Iterator[RegistryClient]:
    opts = ClientOptions(base_backoff=0.01, max_backoff=0.02, max_attempts=2)
    with RegistryClient(options=opts) as c:
        yield c


def verifier(client: RegistryClient) -> Verifier:
    return Verifier(client, bundles=BundleChecker(client))


def expect(root: Path | str, *idents: Identity) -> Expected:
    return Expected(identities=idents or (ACME,), trusted_root=str(root))


def push(pusher: Pusher, reg: RegistryServer, repo: str, tag: str = "1.0") -> tuple[ImageRef, str]:
    digest = pusher.image(reg, repo, tag, salt=f"{repo}:{tag}")
    return parse_reference(f"{reg.host}/{repo}:{tag}"), digest


def sign(
    instance: TestInstance,
    client: RegistryClient,
    image: ImageRef,
    digest: str,
    *,
    about: str | None = None,
    subject: str = SUBJECT,
    media_type: str = MEDIA_OCI_MANIFEST,
) -> str:
    bundle = instance.sign_digest(about or digest, subject=subject, issuer=ISSUER)
    return attach_bundle(RegistryWriter(client), image, digest, media_type, bundle)


def test_bundle_found_through_the_tag_schema_on_the_real_registry_verifies(
    plain_registry: RegistryServer,
    pusher: Pusher,
    client: RegistryClient,
    instance: TestInstance,
    root: Path,
) -> None:
    image, digest = push(pusher, plain_registry, "keyless/app")
    sign(instance, client, image, digest)
    refs, via = list_referrers(client, image, digest)
    assert via == ReferrersVia.tag_schema and len(refs) == 1
    v = verifier(client).verify(image, expect(root))
    assert v.verified, v.reason
    assert v.digest == digest and v.signed_by == (ACME.describe(),)
    (found,) = v.found
    assert found.kind == "sigstore-bundle" and "referrers tag schema" in found.where


def test_signature_on_an_index_covers_its_platforms(
    plain_registry: RegistryServer,
    pusher: Pusher,
    client: RegistryClient,
    instance: TestInstance,
    root: Path,
) -> None:
    digest = pusher.index(plain_registry, "keyless/multi", "2.0", salt="multi")
    image = parse_reference(f"{plain_registry.host}/keyless/multi:2.0")
    sign(instance, client, image, digest, media_type=MEDIA_OCI_INDEX)
    v = verifier(client).verify(image, expect(root))
    assert v.verified, v.reason
    assert v.coverage is not None and "covers every platform" in v.coverage


def test_tamper_matrix_at_image_level(
    plain_registry: RegistryServer,
    pusher: Pusher,
    client: RegistryClient,
    instance: TestInstance,
    root: Path,
) -> None:
    ver = verifier(client)

    # no bundle at all
    image, digest = push(pusher, plain_registry, "keyless/unsigned")
    v = ver.verify(image, expect(root))
    assert not v.verified and "found no signature" in v.reason

    # a valid bundle about ANOTHER digest, attached to this image
    image, digest = push(pusher, plain_registry, "keyless/other-digest")
    sign(instance, client, image, digest, about="sha256:" + "ab" * 32)
    v = ver.verify(image, expect(root))
    assert not v.verified and "for another artifact" in v.reason

    # signed by someone else (identity mismatch)
    image, digest = push(pusher, plain_registry, "keyless/wrong-identity")
    sign(instance, client, image, digest, subject="https://github.com/evil/app/w.yml@main")
    v = ver.verify(image, expect(root))
    assert not v.verified and "is not one of the expected" in v.reason
    assert "github.com/evil" in v.reason

    # a bundle from another (untrusted) CA and logs
    image, digest = push(pusher, plain_registry, "keyless/untrusted-ca")
    sign(TestInstance(), client, image, digest)
    v = ver.verify(image, expect(root))
    assert not v.verified and "certificate chain" in v.reason

    # a referrer listed for this image whose manifest names another subject (edited index)
    image, digest = push(pusher, plain_registry, "keyless/edited-index")
    bundle = instance.sign_digest(digest, subject=SUBJECT, issuer=ISSUER)
    attach_bundle(
        RegistryWriter(client),
        image,
        digest,
        MEDIA_OCI_MANIFEST,
        bundle,
        subject="sha256:" + "cd" * 32,
    )
    v = ver.verify(image, expect(root))
    assert not v.verified and "its subject is sha256:cdcd" in v.reason


def test_real_public_good_bundle_on_an_image_is_refused_as_another_artifact(
    plain_registry: RegistryServer, pusher: Pusher, client: RegistryClient
) -> None:
    """Real data end to end: listed, fetched and verified through the registry against the
    real trusted root, identity accepted - and refused because it signs a PyPI file."""
    assets = sigstore_assets()
    image, digest = push(pusher, plain_registry, "keyless/real-bundle")
    attach_bundle(RegistryWriter(client), image, digest, MEDIA_OCI_MANIFEST, assets.bundle())
    ident = Identity(issuer=PROD_ISSUER, subject=PROD_SUBJECT)
    v = verifier(client).verify(image, expect(PUBLIC_GOOD, ident))
    assert not v.verified
    assert "https://docs.pypi.org/attestations/publish/v1" in v.reason


def test_registry_failing_on_the_referrers_fails_closed(
    plain_registry: RegistryServer,
    pusher: Pusher,
    instance: TestInstance,
    root: Path,
    client: RegistryClient,
) -> None:
    image, digest = push(pusher, plain_registry, "keyless/flaky")
    sign(instance, client, image, digest)
    with RegistryProxy(plain_registry.host) as proxy:
        proxy.throttle(r"/referrers/|/manifests/sha256-", 1000, retry_after="0")
        via = parse_reference(f"{proxy.host}/keyless/flaky:1.0")
        opts = ClientOptions(base_backoff=0.01, max_backoff=0.02, max_attempts=2)
        with RegistryClient(options=opts) as c:
            v = verifier(c).verify(via, expect(root))
    assert not v.verified and "failing closed" in v.reason


def test_referrers_api_is_used_when_the_registry_has_it(
    plain_registry: RegistryServer,
    pusher: Pusher,
    instance: TestInstance,
    root: Path,
    client: RegistryClient,
) -> None:
    """Through ReferrersProxy (implements the API; see the module docstring): the bundle is
    pushed without a tag-schema index, as clients do on registries with the API. Found via the
    API through the proxy; the same registry read directly (no API, no index) has none."""
    image, digest = push(pusher, plain_registry, "keyless/api")
    with ReferrersProxy(plain_registry.host) as proxy:
        opts = ClientOptions(base_backoff=0.01, max_backoff=0.02, max_attempts=2)
        with RegistryClient(options=opts) as c:
            via = parse_reference(f"{proxy.host}/keyless/api:1.0")
            bundle = instance.sign_digest(digest, subject=SUBJECT, issuer=ISSUER)
            attach_bundle(
                RegistryWriter(c), via, digest, MEDIA_OCI_MANIFEST, bundle, tag_schema=False
            )
            refs, how = list_referrers(c, via, digest)
            assert how == ReferrersVia.api and len(refs) == 1
            v = verifier(c).verify(via, expect(root))
        assert proxy.api_calls >= 2
    assert v.verified, v.reason
    assert "referrers API" in v.found[0].where
    direct = verifier(client).verify(image, expect(root))
    assert not direct.verified and "found no signature" in direct.reason


def test_cli_verify_keyless_flags_and_exit_codes(
    plain_registry: RegistryServer,
    pusher: Pusher,
    client: RegistryClient,
    instance: TestInstance,
    root: Path,
    tmp_path: Path,
) -> None:
    image, digest = push(pusher, plain_registry, "keyless/cli")
    sign(instance, client, image, digest)
    base = ["verify", str(image), "--trusted-root", str(root), "--format", "json"]
    ok = cli(
        *base,
        "--certificate-oidc-issuer",
        ISSUER,
        "--certificate-identity-regexp",
        r"https://github\.com/acme/.*",
        cwd=tmp_path,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    doc = json.loads(ok.stdout)
    assert doc["verified"] and doc["results"][0]["digest"] == digest
    assert doc["results"][0]["signatures"][0]["kind"] == "sigstore-bundle"

    bad = cli(
        *base,
        "--certificate-oidc-issuer",
        ISSUER,
        "--certificate-identity",
        "https://github.com/acme/app/other.yml@refs/heads/main",
        cwd=tmp_path,
    )
    assert bad.returncode == 6
    assert "is not one of the expected" in json.loads(bad.stdout)["results"][0]["reason"]

    half = cli(*base, "--certificate-identity", SUBJECT, cwd=tmp_path)
    assert half.returncode == 2 and "needs both a subject and an issuer" in half.stderr


def test_trust_rule_with_identities_gates_check(
    plain_registry: RegistryServer,
    pusher: Pusher,
    client: RegistryClient,
    instance: TestInstance,
    root: Path,
    tmp_path: Path,
) -> None:
    """A keyless trust: rule blocks check's unsigned candidate and lets the signed one through."""
    repo = "keyless/gated"
    push(pusher, plain_registry, repo, "1.0.0")
    newer, newer_digest = push(pusher, plain_registry, repo, "1.0.1")
    (tmp_path / "Dockerfile").write_text(f"FROM {plain_registry.host}/{repo}:1.0.0\n")
    (tmp_path / "patchwarden.yaml").write_text(
        f"registries:\n  {plain_registry.host}:\n    insecure: true\n"
        f"trust:\n  - match: '{plain_registry.host}/keyless/*'\n"
        f"    trusted_root: {root}\n"
        f"    identities:\n      - issuer: {ISSUER}\n"
        f"        subject_regex: 'https://github\\.com/acme/app/.*'\n"
    )
    blocked = cli("check", ".", "--format", "json", "--no-cache", cwd=tmp_path)
    doc = json.loads(blocked.stdout)
    (res,) = doc["results"]
    assert res["status"] == "blocked", blocked.stdout
    assert "found no signature" in res["reason"]
    sign(instance, client, newer, newer_digest)
    passed = cli("check", ".", "--format", "json", "--no-cache", cwd=tmp_path)
    (res,) = json.loads(passed.stdout)["results"]
    assert res["status"] == "outdated", passed.stdout
    assert res["verification"]["allowed"] is True
    assert res["verification"]["verifications"][0]["verified"] is True
