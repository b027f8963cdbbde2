"""``registry tags``: the tags of a repository with their digests and creation dates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime

from patchwarden.core.ref import ImageRef
from patchwarden.errors import RegistryError
from patchwarden.registry.client import RegistryClient
from patchwarden.registry.model import Platform

COSIGN_SUFFIXES = (".sig", ".att", ".sbom")


def is_artifact_tag(tag: str) -> bool:
    """cosign's ``sha256-<hex>.sig/.att/.sbom`` and the referrers tag schema ``sha256-<hex>``:
    they follow the image they are about, never retained or listed on their own."""
    head, _, _ = tag.partition(".")
    if not head.startswith("sha256-") or len(head) != 7 + 64:
        return False
    return tag == head or tag[len(head) :] in COSIGN_SUFFIXES


@dataclass(frozen=True)
class TagInfo:
    tag: str
    digest: str | None
    created: datetime | None = None
    error: str | None = None


def list_tags(
    client: RegistryClient,
    repo: ImageRef,
    *,
    digests: bool = False,
    created: bool = False,
    platform: Platform | None = None,
    artifacts: bool = False,
    workers: int = 8,
) -> list[TagInfo]:
    tags = [t for t in client.list_tags(repo) if artifacts or not is_artifact_tag(t)]
    if not (digests or created):
        return [TagInfo(t, None) for t in tags]
    plat = platform or client.options.default_platform

    def one(tag: str) -> TagInfo:
        image = repo.with_tag(tag)
        try:
            digest = client.head_manifest(image).digest
            when = client.image_config(image.with_digest(digest), plat).created if created else None
        except RegistryError as exc:
            return TagInfo(tag, None, None, exc.message)
        return TagInfo(tag, digest, when)

    with ThreadPoolExecutor(max(1, workers), "tags") as pool:
        return list(pool.map(one, tags))
