"""Sign images as ``cosign sign --key`` does, and check what was written.

A signature is a layer of the OCI manifest tagged ``sha256-<hex>.sig`` in the image's own
repository: the layer is the simple-signing payload (media type
``application/vnd.dev.cosign.simplesigning.v1+json``, naming the manifest digest and the
repository), its signature is base64 in the layer's ``dev.cosignproject.cosign/signature``
annotation. Signing again adds a layer; earlier signatures stay. No transparency-log entry
is made (as ``cosign sign --tlog-upload=false``): verifiers must not require one.

After writing, :class:`ImageSigner` reads the signature back through :class:`Verifier`
(fail closed): a registry that dropped or changed the signature is a signing failure.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from patchwarden.app.trust.model import Expected
from patchwarden.app.trust.verifier import Verifier
from patchwarden.core.digest import short_digest
from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, PatchwardenError, RegistryError
from patchwarden.registry.model import MEDIA_OCI_MANIFEST, Descriptor, Manifest, ManifestHead
from patchwarden.trust.signing import SigningKey, load_signing_key
from patchwarden.trust.simple_signing import (
    SIGNATURE_ANNOTATION,
    SIMPLESIGNING_MEDIA,
    cosign_tag,
    make_payload,
)

CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"
MAX_LAYERS = 32  # a .sig manifest is not allowed to grow without bound


class _ManifestReader(Protocol):
    def get_manifest(self, image: ImageRef) -> Manifest: ...


class SignatureWriter(Protocol):
    """The registry calls a signer needs (:class:`RegistryWriter` has them)."""

    @property
    def client(self) -> _ManifestReader: ...

    def put_blob(self, image: ImageRef, data: bytes, media_type: str) -> Descriptor: ...

    def put_manifest(self, image: ImageRef, reference: str, raw: bytes, media_type: str) -> str: ...


class SigningError(PatchwardenError):
    """A signature could not be written or did not verify after writing."""


@dataclass(frozen=True, slots=True)
class Signed:
    image: str  # repository@digest
    signature_tag: str
    signature_manifest: str
    key: str  # name, kind and key id
    verified: str  # the verifier's words


def attach_signature(
    writer: SignatureWriter,
    image: ImageRef,
    digest: str,
    payload: bytes,
    signature: bytes,
    *,
    tag: str | None = None,
) -> str:
    """Add one signature layer to the ``.sig`` manifest of ``digest`` (created if absent);
    return the signature manifest's digest. ``tag`` overrides the tag (tests of attacks)."""
    repo = image.with_digest(None).with_tag(None)
    sig_tag = tag or cosign_tag(digest)
    layers: list[dict[str, Any]] = []
    try:
        old = writer.client.get_manifest(repo.with_tag(sig_tag))
        layers = [x for x in json.loads(old.raw).get("layers") or [] if isinstance(x, dict)]
    except NotFoundError:
        pass
    if len(layers) >= MAX_LAYERS:
        raise SigningError(
            f"{repo}:{sig_tag} already holds {len(layers)} signatures",
            "remove old signatures of this digest before signing it again",
        )
    desc = writer.put_blob(repo, payload, SIMPLESIGNING_MEDIA)
    layers.append(
        {
            "mediaType": SIMPLESIGNING_MEDIA,
            "size": desc.size,
            "digest": desc.digest,
            "annotations": {SIGNATURE_ANNOTATION: base64.b64encode(signature).decode()},
        }
    )
    config = json.dumps(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [x.get("digest") for x in layers]},
        },
        separators=(",", ":"),
    ).encode()
    cdesc = writer.put_blob(repo, config, CONFIG_MEDIA)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": CONFIG_MEDIA, "size": cdesc.size, "digest": cdesc.digest},
        "layers": layers,
    }
    raw = json.dumps(manifest, separators=(",", ":")).encode()
    return writer.put_manifest(repo, sig_tag, raw, MEDIA_OCI_MANIFEST)


class ImageSigner:
    """Signs a digest with one key, then verifies the result from the registry."""

    def __init__(self, writer: SignatureWriter, verifier: Verifier, key: SigningKey) -> None:
        self.writer = writer
        self.verifier = verifier
        self.key = key

    @property
    def key_text(self) -> str:
        pub = self.key.public
        return f"{self.key.name} ({pub.kind}, id {pub.key_id})"

    def sign(self, image: ImageRef, digest: str) -> Signed:
        repo = image.with_digest(None).with_tag(None)
        payload = make_payload(digest, repo.name)
        try:
            sig_manifest = attach_signature(
                self.writer, repo, digest, payload, self.key.sign(payload)
            )
        except RegistryError as exc:
            raise SigningError(
                f"writing the signature of {repo}@{short_digest(digest)} failed: {exc.message}",
                exc.hint,
                transient=exc.transient,
            ) from exc
        expected = Expected(keys=(self.key.public,), source="the signing key")
        check = self.verifier.verify(repo.with_digest(digest), expected)
        if not check.verified:
            raise SigningError(
                f"the signature written for {repo}@{short_digest(digest)} does not verify: "
                f"{check.reason}",
                "check that the registry keeps OCI manifests with custom layer media types",
            )
        return Signed(
            image=f"{repo}@{digest}",
            signature_tag=cosign_tag(digest),
            signature_manifest=sig_manifest,
            key=self.key_text,
            verified=check.reason,
        )


class KeySigners:
    """One :class:`ImageSigner` per key file; each key is read (and decrypted) once."""

    def __init__(self, writer: SignatureWriter, verifier: Verifier, password: bytes | None):
        self.writer = writer
        self.verifier = verifier
        self._password = password
        self._signers: dict[str, ImageSigner] = {}

    def for_key(self, path: str) -> ImageSigner:
        if path not in self._signers:
            key = load_signing_key(path, self._password)
            self._signers[path] = ImageSigner(self.writer, self.verifier, key)
        return self._signers[path]


class DigestSource(Protocol):
    def head_manifest(self, image: ImageRef) -> ManifestHead: ...


def sign_images(
    images: Sequence[str], key_path: str, signers: KeySigners, registry: DigestSource
) -> list[Signed]:
    """``patchwarden sign``: each image resolved to its digest (a HEAD, unless given), signed.
    The key is read before any registry call; the first failure stops the run."""
    from patchwarden.core.ref import parse_reference

    refs = [parse_reference(i) for i in images]
    signer = signers.for_key(key_path)
    out: list[Signed] = []
    for ref in refs:
        digest = ref.digest or registry.head_manifest(ref).digest
        out.append(signer.sign(ref, digest))
    return out


__all__ = [
    "ImageSigner",
    "KeySigners",
    "Signed",
    "SigningError",
    "attach_signature",
    "sign_images",
]
