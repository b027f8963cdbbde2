"""Keyless signatures attached to an image as cosign 2.x/3.x attaches them: a sigstore bundle
in an OCI artifact manifest (``artifactType`` ``application/vnd.dev.sigstore.bundle...``) whose
``subject`` is the image, found through the referrers API or the referrers tag schema. Each
bundle is verified offline (trust/bundle.py) against the expected identities and trusted root.
Fails closed: a registry error while listing or reading bundles refuses the image."""

from __future__ import annotations

from patchwarden.app.trust.model import Expected, Found
from patchwarden.app.trust.verifier import SignatureFetchError
from patchwarden.core.digest import short_digest
from patchwarden.core.ref import ImageRef
from patchwarden.errors import PatchwardenError, RegistryError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.referrers import list_referrers
from patchwarden.trust.bundle import (
    BUNDLE_MEDIA_PREFIX,
    MAX_BUNDLE,
    load_trusted_root,
    verify_bundle,
)

MAX_BUNDLES = 16
KIND = "sigstore-bundle"


class BundleChecker:
    """``Verifier``'s keyless hook: ``check(image, digest, expected) -> [Found]``."""

    def __init__(self, client: RegistryClient) -> None:
        self.client = client

    def __call__(self, image: ImageRef, digest: str, expected: Expected) -> list[Found]:
        try:
            root = load_trusted_root(expected.trusted_root)
        except PatchwardenError as exc:
            return [Found(KIND, expected.trusted_root, None, False, exc.message)]
        try:
            refs, via = list_referrers(self.client, image, digest, BUNDLE_MEDIA_PREFIX)
        except RegistryError as exc:
            raise SignatureFetchError(
                f"referrers of {short_digest(digest)}: {exc.message}"
            ) from exc
        out: list[Found] = []
        for ref in refs[:MAX_BUNDLES]:
            where = f"{via.value} {short_digest(ref.digest)}"
            try:
                m = self.client.get_manifest(image.with_digest(ref.digest))
            except RegistryError as exc:
                raise SignatureFetchError(f"{where}: {exc.message}") from exc
            subject = _subject(m.raw)
            if subject != digest:
                # A referrer listed for our digest whose manifest names another subject: an
                # index someone edited. The bundle itself is still checked against our digest.
                out.append(Found(KIND, where, None, False, f"its subject is {subject or 'none'}"))
                continue
            layers = [x for x in m.layers if x.media_type.startswith(BUNDLE_MEDIA_PREFIX)]
            if not layers:
                out.append(Found(KIND, where, None, False, "no sigstore bundle layer"))
                continue
            try:
                raw = self.client.get_blob(image, layers[0].digest, MAX_BUNDLE)
            except RegistryError as exc:
                raise SignatureFetchError(f"{where}: {exc.message}") from exc
            res = verify_bundle(raw, digest, expected.identities, root)
            note = res.note
            if not res.valid and res.found_identity:
                note = f"{note} (certificate: {res.found_identity})"
            out.append(Found(KIND, where, res.signer, res.valid, note))
        return out


def _subject(raw: bytes) -> str | None:
    import json

    try:
        doc = json.loads(raw)
    except ValueError:
        return None
    subj = doc.get("subject") if isinstance(doc, dict) else None
    d = subj.get("digest") if isinstance(subj, dict) else None
    return d if isinstance(d, str) else None
