"""``verify``: resolve an image to a digest, fetch its signatures, check them against the
expected signers. Fails closed: anything that cannot be fetched or checked is "not verified".
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from typing import Protocol

from patchwarden.app.trust.model import Expected, Found, Require, Verification
from patchwarden.core.digest import short_digest as _short
from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, RegistryError
from patchwarden.registry.manifests import index_platforms
from patchwarden.registry.model import Manifest, ManifestHead
from patchwarden.trust.simple_signing import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA,
    PayloadError,
    cosign_tag,
    parse_payload,
)

MAX_SIGNATURES = 32
SignatureCheck = Callable[[ImageRef, str, Expected], list[Found]]
GpgCheck = SignatureCheck


class SignatureSource(Protocol):
    """The registry calls verification needs (:class:`RegistryClient` has them)."""

    def head_manifest(self, image: ImageRef) -> ManifestHead: ...

    def get_manifest(self, image: ImageRef) -> Manifest: ...

    def get_blob(self, image: ImageRef, digest: str, limit: int) -> bytes: ...


class SignatureFetchError(Exception):
    """The registry failed while signatures were fetched: the image counts as not verified."""


class Verifier:
    """Checks signatures through a registry client (``get_manifest``/``get_blob``/``head``)."""

    def __init__(
        self,
        client: SignatureSource,
        *,
        gpg: GpgCheck | None = None,
        bundles: SignatureCheck | None = None,
    ) -> None:
        self.client = client
        self.gpg = gpg
        self.bundles = bundles  # keyless: sigstore bundles among the referrers

    def verify(self, image: ImageRef, expected: Expected) -> Verification:
        c = self.client
        shown = str(image)
        try:
            digest = image.digest or c.head_manifest(image).digest
            manifest = c.get_manifest(image.with_digest(digest))
        except RegistryError as exc:
            return Verification(
                shown, image.digest, False, f"not verified: {exc.message}", expected.describe()
            )
        pinned = image.with_digest(digest)
        try:
            found = self._cosign(pinned, digest, expected)
            if expected.gpg_keys and self.gpg is not None:
                found += self.gpg(pinned, digest, expected)
            if expected.keyless and self.bundles is not None:
                found += self.bundles(pinned, digest, expected)
        except SignatureFetchError as exc:
            return Verification(
                shown,
                digest,
                False,
                f"not verified (failing closed): fetching signatures of {_short(digest)} "
                f"failed: {exc}",
                expected.describe(),
            )
        return _decide(shown, digest, manifest, expected, found)

    def _cosign(self, pinned: ImageRef, digest: str, expected: Expected) -> list[Found]:
        if not expected.keys:
            return []
        tag = cosign_tag(digest)
        sig_ref = pinned.with_digest(None).with_tag(tag)
        try:
            sig_manifest = self.client.get_manifest(sig_ref)
        except NotFoundError:
            return []
        except RegistryError as exc:
            raise SignatureFetchError(f"{tag}: {exc.message}") from exc
        out: list[Found] = []
        for i, layer in enumerate(sig_manifest.layers[:MAX_SIGNATURES]):
            where = f"{tag} layer {i + 1}"
            if layer.media_type != SIMPLESIGNING_MEDIA:
                out.append(
                    Found("cosign", where, None, False, f"not a signature ({layer.media_type})")
                )
                continue
            text = layer.annotations.get(SIGNATURE_ANNOTATION, "")
            try:
                sig = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                out.append(
                    Found("cosign", where, None, False, "signature annotation is not base64")
                )
                continue
            try:
                payload = self.client.get_blob(pinned, layer.digest, 64 * 1024)
            except RegistryError as exc:
                raise SignatureFetchError(f"{where}: {exc.message}") from exc
            out.append(_check_cosign(where, sig, payload, digest, expected))
        return out


def _check_cosign(where: str, sig: bytes, payload: bytes, digest: str, exp: Expected) -> Found:
    signer = next((k for k in exp.keys if k.verifies(sig, payload)), None)
    if signer is None:
        return Found("cosign", where, None, False, "not signed by any expected key")
    name = f"{signer.name} ({signer.kind}, id {signer.key_id})"
    try:
        p = parse_payload(payload)
    except PayloadError as exc:
        return Found("cosign", where, name, False, f"signed, but {exc}")
    if p.manifest_digest != digest:
        return Found(
            "cosign",
            where,
            name,
            False,
            f"a valid signature, but for another image: {_short(p.manifest_digest)}",
        )
    ref = f" as {p.docker_reference}" if p.docker_reference else ""
    return Found("cosign", where, name, True, f"valid signature for {_short(digest)}{ref}")


def _coverage(manifest: Manifest) -> str:
    if manifest.is_index:
        plats = ", ".join(str(p) for p in index_platforms(manifest)) or "no platforms"
        return f"index {_short(manifest.digest)}: the signature covers every platform ({plats})"
    return f"single manifest {_short(manifest.digest)}"


def _decide(
    shown: str, digest: str, manifest: Manifest, exp: Expected, found: list[Found]
) -> Verification:
    signers = exp.signers
    good = tuple(sorted({f.signer for f in found if f.valid and f.signer}))

    def result(verified: bool, reason: str, coverage: str | None = None) -> Verification:
        return Verification(
            shown, digest, verified, reason, exp.describe(), coverage, good, tuple(found)
        )

    if not signers:
        return result(False, "not verified: no signer was given")
    ok = bool(good) if exp.require == Require.any else set(good) >= set(signers)
    if ok:
        return result(
            True, f"verified: {_short(digest)} signed by {', '.join(good)}", _coverage(manifest)
        )
    if not found:
        what = "found no signature"
    elif good:
        missing = ", ".join(s for s in signers if s not in good)
        what = f"found signatures by {', '.join(good)} but none by {missing}"
    else:
        notes = "; ".join(f"{f.where}: {f.note}" for f in found[:5])
        what = f"found {len(found)} signature(s), none acceptable ({notes})"
    return result(False, f"not verified: expected {exp.describe()} on {_short(digest)}; {what}")
