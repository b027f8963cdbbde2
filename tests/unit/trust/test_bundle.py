"""Keyless verification of REAL sigstore bundles, offline, against the real trusted roots that
sigstore-python ships (see testkit/sigstore_bundles.py for where the bundles come from): the
certificate chain, the SCT, the Rekor inclusion proof, checkpoint and inclusion promise, the
identity policy, the signed subject - and what happens when any of them is tampered with."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from patchwarden.errors import UsageError
from patchwarden.trust.bundle import (
    PUBLIC_GOOD,
    BundleResult,
    Identity,
    load_trusted_root,
    verify_bundle,
)
from testkit.sigstore_bundles import (
    PROD_ISSUER,
    PROD_SUBJECT,
    PYPI_PUBLISH,
    STAGING_ARTIFACT,
    STAGING_BUNDLE,
    STAGING_ISSUER,
    STAGING_SUBJECT,
    Assets,
    sigstore_assets,
    staging_root,
)

PUBLISH = frozenset({PYPI_PUBLISH})
EXACT = Identity(issuer=PROD_ISSUER, subject=PROD_SUBJECT)


@pytest.fixture(scope="module")
def assets() -> Assets:
    return sigstore_assets()


def check(
    assets: Assets,
    raw: bytes | None = None,
    *,
    ident: Identity = EXACT,
    digest: str | None = None,
    root: str = PUBLIC_GOOD,
    predicates: frozenset[str] = PUBLISH,
) -> BundleResult:
    return verify_bundle(
        assets.bundle() if raw is None else raw,
        digest or assets.digest(),
        (ident,),
        load_trusted_root(root),
        predicates,
    )


def edited(assets: Assets, change: Callable[[dict[str, Any]], None]) -> bytes:
    doc = json.loads(assets.bundle())
    change(doc)
    return json.dumps(doc).encode()


def _flip_b64(text: str, at: int = 10) -> str:
    raw = bytearray(base64.b64decode(text))
    raw[at] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


def test_real_bundle_verifies_offline_against_the_public_good_root(assets: Assets) -> None:
    r = check(assets)
    assert r.valid, r.note
    assert r.signer == EXACT.describe()
    assert PROD_SUBJECT in r.note and PROD_ISSUER in r.note


def test_identity_by_regex_full_match_only(assets: Assets) -> None:
    rx = Identity(
        issuer_regex=r"https://token\.actions\.githubusercontent\.com",
        subject_regex=r"https://github\.com/trailofbits/[^/]+/\.github/workflows/release\.yml@.*",
    )
    assert check(assets, ident=rx).valid
    prefix = Identity(issuer=PROD_ISSUER, subject_regex=r"https://github\.com/trailofbits")
    r = check(assets, ident=prefix)
    assert not r.valid and "is not one of the expected" in r.note


@pytest.mark.parametrize(
    ("ident", "why"),
    [
        (Identity(issuer=PROD_ISSUER, subject="https://github.com/evil/x/.github/w.yml@main"), "x"),
        (Identity(issuer="https://accounts.google.com", subject=PROD_SUBJECT), "issuer"),
        (Identity(issuer_regex=r"https://gitlab\.com", subject_regex=".*"), "issuer"),
    ],
)
def test_wrong_identity_is_refused_naming_what_was_found(
    assets: Assets, ident: Identity, why: str
) -> None:
    r = check(assets, ident=ident)
    assert not r.valid
    assert "is not one of the expected" in r.note and PROD_SUBJECT in r.note
    assert r.found_identity is not None and PROD_ISSUER in r.found_identity


def test_signature_for_another_digest_is_refused(assets: Assets) -> None:
    r = check(assets, digest="sha256:" + "ab" * 32)
    assert not r.valid and "for another artifact" in r.note


def test_statement_of_another_type_is_not_an_image_signature(assets: Assets) -> None:
    r = check(assets, predicates=frozenset({"https://sigstore.dev/cosign/sign/v1"}))
    assert not r.valid and PYPI_PUBLISH in r.note


def test_edited_payload_is_refused(assets: Assets) -> None:
    def change(doc: dict[str, Any]) -> None:
        st = json.loads(base64.b64decode(doc["dsseEnvelope"]["payload"]))
        st["subject"][0]["digest"]["sha256"] = "ab" * 32
        doc["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(st).encode()).decode()

    r = check(assets, edited(assets, change), digest="sha256:" + "ab" * 32)
    assert not r.valid and r.note.startswith("not valid")


def test_edited_signature_is_refused(assets: Assets) -> None:
    def change(doc: dict[str, Any]) -> None:
        sig = doc["dsseEnvelope"]["signatures"][0]
        sig["sig"] = _flip_b64(sig["sig"], at=20)

    assert not check(assets, edited(assets, change)).valid


def test_tampered_certificate_is_refused(assets: Assets) -> None:
    def change(doc: dict[str, Any]) -> None:
        cert = doc["verificationMaterial"]["certificate"]
        cert["rawBytes"] = _flip_b64(cert["rawBytes"], at=-40)

    r = check(assets, edited(assets, change))
    assert not r.valid and "certificate chain" in r.note


@pytest.mark.parametrize(
    "part",
    ["inclusion-proof-hash", "root-hash", "checkpoint", "set", "integrated-time", "log-index"],
)
def test_tampered_transparency_log_entry_is_refused(assets: Assets, part: str) -> None:
    def change(doc: dict[str, Any]) -> None:
        entry = doc["verificationMaterial"]["tlogEntries"][0]
        proof = entry["inclusionProof"]
        if part == "inclusion-proof-hash":
            proof["hashes"][0] = _flip_b64(proof["hashes"][0])
        elif part == "root-hash":
            proof["rootHash"] = _flip_b64(proof["rootHash"])
        elif part == "checkpoint":  # the log's signature on the checkpoint
            text, _, sig_line = proof["checkpoint"]["envelope"].rstrip("\n").rpartition("\n")
            name, _, sig = sig_line.rpartition(" ")
            proof["checkpoint"]["envelope"] = f"{text}\n{name} {_flip_b64(sig, at=12)}\n"
        elif part == "set":
            promise = entry["inclusionPromise"]
            promise["signedEntryTimestamp"] = _flip_b64(promise["signedEntryTimestamp"], at=30)
        elif part == "integrated-time":
            entry["integratedTime"] = str(int(entry["integratedTime"]) + 1)
        else:
            entry["logIndex"] = str(int(entry["logIndex"]) + 1)

    r = check(assets, edited(assets, change))
    assert not r.valid, part
    assert "invalid log entry" in r.note, r.note


def test_without_a_log_entry_nothing_verifies(assets: Assets) -> None:
    def change(doc: dict[str, Any]) -> None:
        doc["verificationMaterial"]["tlogEntries"] = []

    assert not check(assets, edited(assets, change)).valid


def _prod_root() -> Path:
    store = Path(staging_root()).parent.parent  # sigstore-python's embedded roots
    return store / "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev" / "trusted_root.json"


def _root_without(tmp_path: Path, key: str) -> str:
    doc = json.loads(_prod_root().read_text())
    doc[key] = []
    out = tmp_path / f"root-without-{key}.json"
    out.write_text(json.dumps(doc))
    return str(out)


@pytest.mark.parametrize("key", ["ctlogs", "tlogs", "certificateAuthorities"])
def test_a_root_missing_the_ct_log_rekor_or_fulcio_refuses(
    assets: Assets, tmp_path: Path, key: str
) -> None:
    """Without the CT log keys the SCT cannot be checked, without Rekor's the inclusion proof,
    without Fulcio's CA the chain: each refuses the same real bundle."""
    r = check(assets, root=_root_without(tmp_path, key))
    assert not r.valid, key


@pytest.mark.parametrize(("logs", "why"), [("ctlogs", "SCT"), ("tlogs", "log entry")])
def test_a_foreign_ct_or_rekor_key_refuses(
    assets: Assets, tmp_path: Path, logs: str, why: str
) -> None:
    """The right Fulcio CA but another CT log key: the certificate's SCT no longer verifies;
    another Rekor key: the checkpoint and inclusion promise no longer verify."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    doc = json.loads(_prod_root().read_text())
    for log in doc[logs]:
        fresh = ec.generate_private_key(ec.SECP256R1()).public_key()
        der = fresh.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        log["publicKey"]["rawBytes"] = base64.b64encode(der).decode()
        log["publicKey"]["keyDetails"] = "PKIX_ECDSA_P256_SHA_256"
    path = tmp_path / "root.json"
    path.write_text(json.dumps(doc))
    r = check(assets, root=str(path))
    assert not r.valid and why in r.note, r.note


def test_real_staging_bundle_fails_on_production_and_passes_on_staging(assets: Assets) -> None:
    raw = assets.bundle(STAGING_BUNDLE)
    digest = assets.digest(STAGING_ARTIFACT)
    ident = Identity(issuer=STAGING_ISSUER, subject=STAGING_SUBJECT)
    prod = check(assets, raw, ident=ident, digest=digest)
    assert not prod.valid and "chain" in prod.note
    staging = check(assets, raw, ident=ident, digest=digest, root=staging_root())
    assert staging.valid, staging.note


def test_garbage_is_not_a_bundle(assets: Assets) -> None:
    r = check(assets, b"not json")
    assert not r.valid and "not a sigstore bundle" in r.note


def test_bad_trusted_root_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read the sigstore trusted root"):
        load_trusted_root(str(tmp_path / "missing.json"))
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(UsageError, match="is not a sigstore trusted root"):
        load_trusted_root(str(tmp_path / "x.json"))


def test_identity_needs_one_issuer_and_one_subject() -> None:
    with pytest.raises(UsageError, match="issuer"):
        Identity(subject="a")
    with pytest.raises(UsageError, match="subject"):
        Identity(issuer="a", subject="b", subject_regex="c")
    with pytest.raises(UsageError, match="invalid regular expression"):
        Identity(issuer="a", subject_regex="(")
