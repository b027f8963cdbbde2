"""Sigstore bundles (keyless signatures): a Fulcio certificate, its SCT, a Rekor entry with an
inclusion proof, and a DSSE envelope or a message signature. Every cryptographic step is
sigstore-python's (chain to the trusted root at the log's time, SCT, Merkle inclusion proof,
signed checkpoint, inclusion promise, signature); this module adds the identity policy (issuer
and subject, exact or regex) and the question "is this a signature of THAT digest?". Offline:
the trusted root is a file, or the one shipped inside sigstore-python (``public-good``).
No registry I/O here.

sigstore-python is imported inside the functions that need it (command start-up time).
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from patchwarden.errors import UsageError

if TYPE_CHECKING:
    from cryptography.x509 import Certificate
    from sigstore.models import TrustedRoot

BUNDLE_MEDIA_PREFIX = "application/vnd.dev.sigstore.bundle"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"  # what `cosign sign` (v3 bundles) signs
IN_TOTO = "application/vnd.in-toto+json"
PUBLIC_GOOD = "public-good"
MAX_BUNDLE = 1 << 20

_ISSUER_V1 = "1.3.6.1.4.1.57264.1.1"  # raw UTF-8
_ISSUER_V2 = "1.3.6.1.4.1.57264.1.8"  # DER UTF8String
_OTHERNAME = "1.3.6.1.4.1.57264.1.7"
_PUBLIC_GOOD_DIR = "https%3A%2F%2Ftuf-repo-cdn.sigstore.dev"


@dataclass(frozen=True)
class Identity:
    """Who may have signed: the certificate's OIDC issuer and subject (a SAN: e-mail, URI),
    each exact or a regular expression (``re.fullmatch``)."""

    issuer: str | None = None
    issuer_regex: str | None = None
    subject: str | None = None
    subject_regex: str | None = None

    def __post_init__(self) -> None:
        if (self.issuer is None) == (self.issuer_regex is None):
            raise UsageError("a keyless identity needs exactly one of issuer or issuer_regex")
        if (self.subject is None) == (self.subject_regex is None):
            raise UsageError("a keyless identity needs exactly one of subject or subject_regex")
        for rx in (self.issuer_regex, self.subject_regex):
            if rx is not None:
                try:
                    re.compile(rx)
                except re.error as exc:
                    raise UsageError(f"invalid regular expression {rx!r}: {exc}") from None

    def describe(self) -> str:
        subj = self.subject if self.subject is not None else f"/{self.subject_regex}/"
        iss = self.issuer if self.issuer is not None else f"/{self.issuer_regex}/"
        return f"{subj} (issuer {iss})"

    def matches(self, issuer: str | None, subjects: list[str]) -> bool:
        if issuer is None:
            return False
        if self.issuer is not None and issuer != self.issuer:
            return False
        if self.issuer_regex is not None and not re.fullmatch(self.issuer_regex, issuer):
            return False
        if self.subject is not None:
            return self.subject in subjects
        rx = self.subject_regex or ""
        return any(re.fullmatch(rx, s) for s in subjects)


@dataclass(frozen=True)
class BundleResult:
    valid: bool
    signer: str | None  # the identity that verified ("subject (issuer X)"), None if none did
    note: str
    found_identity: str | None = None  # what the certificate says, valid or not


def cert_identity(cert: Certificate) -> tuple[str | None, list[str]]:
    """The OIDC issuer and the subjects (SANs) of a Fulcio certificate."""
    from cryptography import x509
    from cryptography.hazmat import asn1

    issuer: str | None = None
    for ext in cert.extensions:
        oid = ext.oid.dotted_string
        if oid == _ISSUER_V2 and isinstance(ext.value, x509.UnrecognizedExtension):
            try:
                issuer = asn1.decode_der(str, ext.value.value)
            except ValueError:
                issuer = None
            break
        if oid == _ISSUER_V1 and isinstance(ext.value, x509.UnrecognizedExtension):
            issuer = ext.value.value.decode("utf-8", "replace")
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return issuer, []
    subjects = [str(v) for v in san.get_values_for_type(x509.RFC822Name)]
    subjects += [str(v) for v in san.get_values_for_type(x509.UniformResourceIdentifier)]
    subjects += [
        o.value.decode("utf-8", "replace")
        for o in san.get_values_for_type(x509.OtherName)
        if o.type_id.dotted_string == _OTHERNAME
    ]
    return issuer, subjects


class _IdentityPolicy:
    """sigstore-python's ``VerificationPolicy``: any of ``identities`` must match."""

    def __init__(self, identities: tuple[Identity, ...]) -> None:
        self.identities = identities
        self.matched: Identity | None = None

    def verify(self, cert: Certificate) -> None:
        from sigstore.errors import VerificationError

        issuer, subjects = cert_identity(cert)
        for ident in self.identities:
            if ident.matches(issuer, subjects):
                self.matched = ident
                return
        raise VerificationError(
            f"certificate identity {', '.join(subjects) or 'none'} (issuer {issuer or 'none'}) "
            f"is not one of the expected: {'; '.join(i.describe() for i in self.identities)}"
        )


_root_lock = threading.Lock()


@cache
def _load_root(source: str) -> TrustedRoot:
    from importlib.resources import files

    from sigstore.errors import Error
    from sigstore.models import TrustedRoot

    if source == PUBLIC_GOOD:
        path = str(files("sigstore") / "_store" / _PUBLIC_GOOD_DIR / "trusted_root.json")
    else:
        path = source
    try:
        return TrustedRoot.from_file(path)
    except OSError as exc:
        raise UsageError(
            f"cannot read the sigstore trusted root {path}: {exc.strerror or exc}",
            "give trusted_root a trusted_root.json file, or public-good",
        ) from None
    except (Error, ValueError) as exc:
        raise UsageError(
            f"{path} is not a sigstore trusted root: {exc}",
            "give trusted_root a trusted_root.json file (trustedroot+json;version=0.1)",
        ) from None


def load_trusted_root(source: str) -> TrustedRoot:
    """A trusted root (``trusted_root.json``) by path, or ``public-good`` for the Sigstore
    public-good instance's root as shipped inside the installed sigstore-python (no network)."""
    with _root_lock:
        return _load_root(str(Path(source)) if source != PUBLIC_GOOD else source)


def _statement_subject(payload: bytes, digest: str, predicates: frozenset[str]) -> str | None:
    """None when the in-toto statement is about ``digest`` with an accepted predicate type;
    otherwise why not."""
    try:
        st: Any = json.loads(payload)
    except ValueError:
        return "the signed statement is not JSON"
    if not isinstance(st, dict):
        return "the signed statement is not an in-toto statement"
    ptype = st.get("predicateType")
    if ptype not in predicates:
        return f"signed, but a statement of type {ptype!r}, not {' or '.join(sorted(predicates))}"
    alg, _, hx = digest.partition(":")
    seen = []
    for subj in st.get("subject") or []:
        d = subj.get("digest") if isinstance(subj, dict) else None
        if isinstance(d, dict):
            if d.get(alg) == hx:
                return None
            seen += [f"{a}:{str(v)[:12]}" for a, v in d.items()]
    return f"a valid signature, but for another artifact: {', '.join(seen[:3]) or 'no subject'}"


def verify_bundle(
    raw: bytes,
    digest: str,
    identities: tuple[Identity, ...],
    root: TrustedRoot,
    predicates: frozenset[str] = frozenset({SIGN_PREDICATE}),
) -> BundleResult:
    """Is ``raw`` a valid sigstore bundle, by one of ``identities``, signing ``digest``
    (``sha256:<hex>``)? DSSE bundles must carry an in-toto statement whose subject is
    ``digest``; message-signature bundles must sign the bytes whose digest is ``digest``."""
    from sigstore.errors import Error
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle
    from sigstore.verify import Verifier
    from sigstore_models.common.v1 import HashAlgorithm

    if len(raw) > MAX_BUNDLE:
        return BundleResult(False, None, f"bundle larger than {MAX_BUNDLE} bytes")
    try:
        bundle = Bundle.from_json(raw)
    except (Error, ValueError) as exc:
        return BundleResult(False, None, f"not a sigstore bundle: {str(exc)[:200]}")
    issuer, subjects = cert_identity(bundle.signing_certificate)
    found = f"{', '.join(subjects) or 'no subject'} (issuer {issuer or 'none'})"
    policy = _IdentityPolicy(identities)
    try:
        verifier = Verifier(trusted_root=root)
        if bundle._dsse_envelope is not None:  # sigstore has no public accessor
            ptype, payload = verifier.verify_dsse(bundle, policy)
            if ptype != IN_TOTO:
                return BundleResult(
                    False, None, f"signed, but the payload is {ptype}, not in-toto", found
                )
            why = _statement_subject(payload, digest, predicates)
            if why is not None:
                return BundleResult(False, None, why, found)
        else:
            alg, _, hx = digest.partition(":")
            if alg != "sha256":
                return BundleResult(False, None, f"cannot check a {alg} digest", found)
            try:
                hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=bytes.fromhex(hx))
            except ValueError:
                return BundleResult(False, None, f"invalid digest {digest}", found)
            verifier.verify_artifact(hashed, bundle, policy)
    except Error as exc:
        return BundleResult(False, None, f"not valid: {str(exc)[:300]}", found)
    who = policy.matched.describe() if policy.matched else found
    return BundleResult(True, who, f"valid keyless signature by {found}", found)
