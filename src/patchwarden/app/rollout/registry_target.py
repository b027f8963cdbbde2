"""A registry environment: the rollout's digest promoted to a tag of the central registry.

The move is ``registry promote`` (:class:`patchwarden.app.promote.Promoter`): the trust gate
first (a refusal stops the rollout with exit code 6), then a copy by digest with signatures and
other referrers along, the tag last, recorded as a promotion. Undoing it points the tag back at
the digest it named before; a tag that did not exist before is removed with the manifest the
promotion wrote (the distribution API deletes manifests, not tags).
"""

from __future__ import annotations

from typing import Protocol

from patchwarden.app.promote import Promoter, PromoteResult
from patchwarden.core.ref import ImageRef
from patchwarden.errors import PatchwardenError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.writer import RegistryWriter


class Promotions(Protocol):
    """The central registry as a rollout sees it (the real one: :class:`RegistryPromotions`)."""

    def promote(self, src: ImageRef, dst: ImageRef, *, immutable: bool) -> PromoteResult:
        """Copy ``src`` (pinned by digest) to ``dst`` (repository:tag), tag last."""
        ...

    def tag_digest(self, dst: ImageRef) -> str | None:
        """The digest ``dst``'s tag points at now; None when there is no such tag."""
        ...

    def has_digest(self, dst: ImageRef, digest: str) -> bool:
        """Whether ``dst``'s repository holds the manifest ``digest``."""
        ...

    def retag(self, dst: ImageRef, digest: str) -> None:
        """Point ``dst``'s tag at ``digest`` (a manifest already in that repository)."""
        ...

    def untag(self, dst: ImageRef, digest: str) -> None:
        """Delete the manifest ``digest`` (and so every tag naming it) from ``dst``'s
        repository."""
        ...


class RegistryPromotions:
    def __init__(self, client: RegistryClient, promoter: Promoter) -> None:
        self.client = client
        self.promoter = promoter
        self.writer = RegistryWriter(client)

    def promote(self, src: ImageRef, dst: ImageRef, *, immutable: bool) -> PromoteResult:
        return self.promoter.promote(src, dst, immutable=immutable)

    def tag_digest(self, dst: ImageRef) -> str | None:
        return self.writer.has_manifest(dst, _tag(dst))

    def has_digest(self, dst: ImageRef, digest: str) -> bool:
        return self.writer.has_manifest(dst, digest) == digest

    def retag(self, dst: ImageRef, digest: str) -> None:
        manifest = self.client.get_manifest(dst.with_tag(None).with_digest(digest))
        self.writer.put_manifest(dst, _tag(dst), manifest.raw, manifest.media_type)

    def untag(self, dst: ImageRef, digest: str) -> None:
        self.writer.delete_manifest(dst, digest)


def _tag(dst: ImageRef) -> str:
    if dst.tag is None:
        raise PatchwardenError(f"{dst} names no tag", "set registry.tag for the environment")
    return dst.tag
