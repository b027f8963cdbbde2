"""Copy an image by digest between repositories or registries.

Order: blobs (mounted across repositories on one registry, else streamed and digest-checked),
then child manifests of an index, then the manifest, each by digest; signatures and other
referrers; the destination tag last, so a reader never sees a tag on a half-copied image.
Everything already present is skipped, so a copy is idempotent and an interrupted one resumes.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError, RegistryError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.model import Descriptor, Manifest
from patchwarden.registry.writer import RegistryWriter
from patchwarden.trust.simple_signing import cosign_tag

COSIGN_SUFFIXES = ("sig", "att", "sbom")
MAX_REFERRERS = 64


@dataclass
class CopyStats:
    manifests: int = 0
    manifests_present: int = 0
    blobs_uploaded: int = 0
    blobs_mounted: int = 0
    blobs_present: int = 0
    bytes_uploaded: int = 0
    referrers: list[str] = field(default_factory=list)


def _repo(image: ImageRef) -> ImageRef:
    return ImageRef(image.registry, image.repository, None, None, image.original)


class Copier:
    def __init__(
        self,
        client: RegistryClient,
        *,
        workers: int = 6,
        on_blob: Callable[[str, str], None] | None = None,
    ) -> None:
        self.client = client
        self.writer = RegistryWriter(client)
        self.workers = max(1, workers)
        self.on_blob = on_blob or (lambda digest, how: None)
        self.stats = CopyStats()

    # -- manifests -------------------------------------------------------------------------

    def copy_manifest(self, src: ImageRef, dst: ImageRef, manifest: Manifest) -> None:
        """``manifest`` (fetched from ``src``) and everything it references, by digest."""
        if self.writer.has_manifest(dst, manifest.digest) == manifest.digest:
            self.stats.manifests_present += 1
            return
        if manifest.is_index:
            for child in manifest.manifests:
                cm = self.client.get_manifest(_repo(src).with_digest(child.digest))
                self.copy_manifest(src, dst, cm)
        else:
            blobs = ([manifest.config] if manifest.config else []) + list(manifest.layers)
            self._copy_blobs(src, dst, blobs)
        self.writer.put_manifest(_repo(dst), manifest.digest, manifest.raw, manifest.media_type)
        self.stats.manifests += 1

    def tag(self, dst: ImageRef, tag: str, manifest: Manifest) -> None:
        self.writer.put_manifest(_repo(dst), tag, manifest.raw, manifest.media_type)

    # -- blobs -----------------------------------------------------------------------------

    def _copy_blobs(self, src: ImageRef, dst: ImageRef, blobs: list[Descriptor]) -> None:
        unique = list({b.digest: b for b in blobs}.values())
        if len(unique) <= 1 or self.workers == 1:
            for b in unique:
                self._copy_blob(src, dst, b)
            return
        with ThreadPoolExecutor(min(self.workers, len(unique)), "promote") as pool:
            for fut in [pool.submit(self._copy_blob, src, dst, b) for b in unique]:
                fut.result()

    def _copy_blob(self, src: ImageRef, dst: ImageRef, desc: Descriptor) -> None:
        w = self.writer
        if w.has_blob(dst, desc.digest):
            self.stats.blobs_present += 1
            self.on_blob(desc.digest, "present")
            return
        same_host = src.registry == dst.registry
        if (
            same_host
            and src.repository != dst.repository
            and w.mount(dst, desc.digest, src.repository)
        ):
            self.stats.blobs_mounted += 1
            self.on_blob(desc.digest, "mounted")
            return
        with self.client.open_blob(src, desc.digest) as stream:
            w.upload(dst, desc, stream, f"blob {desc.digest} of {src.name}")
        self.stats.blobs_uploaded += 1
        self.stats.bytes_uploaded += max(0, desc.size)
        self.on_blob(desc.digest, "uploaded")

    # -- signatures and other referrers ----------------------------------------------------

    def copy_referrers(self, src: ImageRef, dst: ImageRef, digest: str) -> None:
        """cosign's tags (``sha256-<hex>.sig/.att/.sbom``) and OCI referrers of ``digest``
        (the referrers API, or its ``sha256-<hex>`` tag-schema index)."""
        for suffix in COSIGN_SUFFIXES:
            tag = cosign_tag(digest, suffix)
            try:
                m = self.client.get_manifest(_repo(src).with_tag(tag))
            except NotFoundError:
                continue
            self.copy_manifest(src, dst, m)
            self.tag(dst, tag, m)
            self.stats.referrers.append(tag)
        try:
            refs = self.writer.referrers(_repo(src), digest)
        except RegistryError:
            refs = []
        for desc in refs[:MAX_REFERRERS]:
            m = self.client.get_manifest(_repo(src).with_digest(desc.digest))
            self.copy_manifest(src, dst, m)
            self.stats.referrers.append(desc.digest)
        if refs:
            alg, _, hx = digest.partition(":")
            schema_tag = f"{alg}-{hx}"
            try:
                idx = self.client.get_manifest(_repo(src).with_tag(schema_tag))
            except NotFoundError:
                return
            self.copy_manifest(src, dst, idx)
            self.tag(dst, schema_tag, idx)
