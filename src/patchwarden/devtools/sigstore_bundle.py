"""Keyless signatures for tests and demos: attach a sigstore bundle to an image as cosign 2.x/3.x
does (an OCI artifact manifest whose ``subject`` is the image, listed through the referrers tag
schema), and :class:`TestInstance`, a throwaway *test* Sigstore instance made at run time: a
Fulcio-like CA, a CT log key and a Rekor log key, with the ``trusted_root.json`` that trusts
exactly them.

The test instance exists because no real Fulcio/Rekor can run here and a real bundle is always
about somebody else's artifact: tests that need an image-level bundle whose subject IS the image
make one with it. Its bundles have the real formats (X.509 certificate with an embedded SCT,
DSSE envelope with an in-toto statement, Rekor dsse 0.0.1 entry with a Merkle inclusion proof,
a signed checkpoint and an inclusion promise) so that sigstore-python verifies them unchanged.
Real bundles from Sigstore's public-good instance are tested separately
(tests/unit/trust/test_bundle.py). Never use this to sign anything real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError
from patchwarden.registry.model import MEDIA_OCI_INDEX, MEDIA_OCI_MANIFEST
from patchwarden.registry.referrers import schema_tag
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.bundle import IN_TOTO, SIGN_PREDICATE

BUNDLE_MEDIA = "application/vnd.dev.sigstore.bundle.v0.3+json"
EMPTY_MEDIA = "application/vnd.oci.empty.v1+json"
_SCT_OID = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.2")
_ISSUER_V1 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.1")
_ISSUER_V2 = x509.ObjectIdentifier("1.3.6.1.4.1.57264.1.8")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


def _spki(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _der_len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def _der_utf8(text: str) -> bytes:
    raw = text.encode()
    return b"\x0c" + _der_len(len(raw)) + raw


def _sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


@dataclass
class TestInstance:
    """A test CA, CT log and Rekor log (P-256 keys made now)."""

    __test__ = False  # not a pytest class

    ca_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    ct_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    log_key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    origin: str = "rekor.test.invalid - 1"

    def __post_init__(self) -> None:
        now = datetime.now(UTC)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "patchwarden test CA")])
        self.ca_cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(self.ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                critical=True,
            )
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .sign(self.ca_key, hashes.SHA256())
        )

    def trusted_root(self) -> dict[str, Any]:
        """``trusted_root.json`` (trustedroot v0.1) trusting exactly this instance."""
        start = {"start": "2000-01-01T00:00:00Z"}

        def log(key: ec.EllipticCurvePrivateKey, url: str) -> dict[str, Any]:
            spki = _spki(key.public_key())
            return {
                "baseUrl": url,
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": _b64(spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": start,
                },
                "logId": {"keyId": _b64(hashlib.sha256(spki).digest())},
            }

        ca_der = self.ca_cert.public_bytes(serialization.Encoding.DER)
        return {
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(self.log_key, "https://rekor.test.invalid")],
            "certificateAuthorities": [
                {
                    "subject": {"organization": "patchwarden", "commonName": "test"},
                    "uri": "https://fulcio.test.invalid",
                    "certChain": {"certificates": [{"rawBytes": _b64(ca_der)}]},
                    "validFor": start,
                }
            ],
            "ctlogs": [log(self.ct_key, "https://ctfe.test.invalid")],
            "timestampAuthorities": [],
        }

    # -- the "Fulcio" side -------------------------------------------------------------------

    def _leaf_builder(
        self, key: ec.EllipticCurvePrivateKey, subject: str, issuer: str, now: datetime
    ) -> x509.CertificateBuilder:
        san: x509.GeneralName
        if "@" in subject and "://" not in subject:
            san = x509.RFC822Name(subject)
        else:
            san = x509.UniformResourceIdentifier(subject)
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([]))
            .issuer_name(self.ca_cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=1))
            .not_valid_after(now + timedelta(minutes=10))
            .add_extension(
                x509.KeyUsage(True, False, False, False, False, False, False, False, False),
                critical=True,
            )
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.ca_key.public_key()),
                critical=False,
            )
            .add_extension(x509.SubjectAlternativeName([san]), critical=True)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V1, issuer.encode()), False)
            .add_extension(x509.UnrecognizedExtension(_ISSUER_V2, _der_utf8(issuer)), False)
        )

    def _sct_list(self, precert_tbs: bytes, when: datetime) -> bytes:
        """RFC 6962 SignedCertificateTimestampList with one precertificate SCT by the CT key."""
        ms = int(when.timestamp() * 1000)
        issuer_hash = hashlib.sha256(_spki(self.ca_key.public_key())).digest()
        tbs_len = len(precert_tbs).to_bytes(3, "big")
        signed = (
            struct.pack("!BBQH", 0, 0, ms, 1) + issuer_hash + tbs_len + precert_tbs + b"\0\0"
        )
        sig = _sign(self.ct_key, signed)
        log_id = hashlib.sha256(_spki(self.ct_key.public_key())).digest()
        sct = (
            struct.pack("!B", 0)
            + log_id
            + struct.pack("!QH", ms, 0)
            + struct.pack("!BBH", 4, 3, len(sig))
            + sig
        )
        body = struct.pack("!H", len(sct)) + sct
        lst = struct.pack("!H", len(body)) + body
        return b"\x04" + _der_len(len(lst)) + lst

    def certificate(
        self, key: ec.EllipticCurvePrivateKey, subject: str, issuer: str, now: datetime
    ) -> x509.Certificate:
        """A short-lived signing certificate for ``subject`` with an embedded SCT."""
        builder = self._leaf_builder(key, subject, issuer, now)
        placeholder = builder.add_extension(
            x509.UnrecognizedExtension(_SCT_OID, self._sct_list(b"", now)), critical=False
        ).sign(self.ca_key, hashes.SHA256())
        sct = self._sct_list(placeholder.tbs_precertificate_bytes, now)
        # Same builder (serial, validity, extensions): the final certificate's TBS without the
        # SCT extension is the precertificate TBS the SCT signs.
        return builder.add_extension(
            x509.UnrecognizedExtension(_SCT_OID, sct), critical=False
        ).sign(self.ca_key, hashes.SHA256())

    # -- the "Rekor" side --------------------------------------------------------------------

    def _log_entry(self, body: bytes, now: datetime) -> dict[str, Any]:
        import rfc8785

        spki = _spki(self.log_key.public_key())
        log_id = hashlib.sha256(spki).digest()
        integrated = int(now.timestamp())
        root = hashlib.sha256(b"\x00" + body).digest()  # a one-leaf tree: the leaf is the root
        note = f"{self.origin}\n1\n{_b64(root)}\n"
        note_sig = _sign(self.log_key, note.encode())
        name = self.origin.split(" ")[0]
        checkpoint = f"{note}\n\u2014 {name} {_b64(log_id[:4] + note_sig)}\n"
        promise = rfc8785.dumps(
            {
                "body": _b64(body),
                "integratedTime": integrated,
                "logID": log_id.hex(),
                "logIndex": 0,
            }
        )
        return {
            "logIndex": "0",
            "logId": {"keyId": _b64(log_id)},
            "kindVersion": {"kind": "dsse", "version": "0.0.1"},
            "integratedTime": str(integrated),
            "inclusionPromise": {"signedEntryTimestamp": _b64(_sign(self.log_key, promise))},
            "inclusionProof": {
                "logIndex": "0",
                "rootHash": _b64(root),
                "treeSize": "1",
                "hashes": [],
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": _b64(body),
        }

    # -- a signer using both -----------------------------------------------------------------

    def sign_digest(
        self,
        digest: str,
        *,
        subject: str,
        issuer: str,
        predicate_type: str = SIGN_PREDICATE,
        name: str = "image",
    ) -> bytes:
        """A bundle (v0.3, DSSE) signing an in-toto statement about ``digest``, as
        ``cosign sign`` 3.x makes for an image."""
        now = datetime.now(UTC)
        key = ec.generate_private_key(ec.SECP256R1())
        cert = self.certificate(key, subject, issuer, now)
        alg, _, hx = digest.partition(":")
        statement = json.dumps(
            {
                "_type": "https://in-toto.io/Statement/v1",
                "subject": [{"name": name, "digest": {alg: hx}}],
                "predicateType": predicate_type,
                "predicate": {},
            }
        ).encode()
        pae = b"DSSEv1 %d %s %d %s" % (len(IN_TOTO), IN_TOTO.encode(), len(statement), statement)
        sig = _sign(key, pae)
        pem = cert.public_bytes(serialization.Encoding.PEM)
        envelope = json.dumps({"payloadType": IN_TOTO, "payload": _b64(statement)}).encode()
        body = json.dumps(
            {
                "apiVersion": "0.0.1",
                "kind": "dsse",
                "spec": {
                    "envelopeHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(envelope).hexdigest(),
                    },
                    "payloadHash": {
                        "algorithm": "sha256",
                        "value": hashlib.sha256(statement).hexdigest(),
                    },
                    "signatures": [{"signature": _b64(sig), "verifier": _b64(pem)}],
                },
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
        bundle = {
            "mediaType": BUNDLE_MEDIA,
            "verificationMaterial": {
                "certificate": {"rawBytes": _b64(cert.public_bytes(serialization.Encoding.DER))},
                "tlogEntries": [self._log_entry(body, now)],
            },
            "dsseEnvelope": {
                "payload": _b64(statement),
                "payloadType": IN_TOTO,
                "signatures": [{"sig": _b64(sig), "keyid": ""}],
            },
        }
        return json.dumps(bundle).encode()


def attach_bundle(
    writer: RegistryWriter,
    image: ImageRef,
    digest: str,
    subject_media_type: str,
    bundle: bytes,
    *,
    tag_schema: bool = True,
    subject: str | None = None,
) -> str:
    """Store ``bundle`` as cosign 3.x does: blob, artifact manifest with ``subject`` = the
    image, and (registries without the referrers API) the ``sha256-<hex>`` index listing it.
    ``subject`` overrides the manifest's subject (tamper tests). Returns the artifact's
    manifest digest."""
    repo = image.with_digest(None)
    layer = writer.put_blob(repo, bundle, BUNDLE_MEDIA)
    empty = writer.put_blob(repo, b"{}", EMPTY_MEDIA)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "artifactType": BUNDLE_MEDIA,
        "config": {"mediaType": EMPTY_MEDIA, "digest": empty.digest, "size": empty.size},
        "layers": [{"mediaType": BUNDLE_MEDIA, "digest": layer.digest, "size": layer.size}],
        "subject": {"mediaType": subject_media_type, "digest": subject or digest},
        "annotations": {"dev.sigstore.bundle.content": "dsse-envelope"},
    }
    raw = json.dumps(manifest).encode()
    art = "sha256:" + hashlib.sha256(raw).hexdigest()
    writer.put_manifest(repo, art, raw, MEDIA_OCI_MANIFEST)
    if tag_schema:
        tag = schema_tag(digest)
        try:
            current = json.loads(writer.client.get_manifest(repo.with_tag(tag)).raw)
        except NotFoundError:
            current = {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": []}
        current["manifests"].append(
            {
                "mediaType": MEDIA_OCI_MANIFEST,
                "digest": art,
                "size": len(raw),
                "artifactType": BUNDLE_MEDIA,
            }
        )
        writer.put_manifest(repo, tag, json.dumps(current).encode(), MEDIA_OCI_INDEX)
    return art
