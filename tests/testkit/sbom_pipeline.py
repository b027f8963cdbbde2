"""A counting stand-in for ``ImagePipeline`` in the tests of stored scan results
(``store_sboms``, ``serve``'s scan job): every image it reads holds curl 7.74.0-1.3+deb11u2
on Debian 11; it resolves tags from a dict and counts the images read and the tags asked."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from patchwarden.core.ref import ImageRef
from patchwarden.errors import NotFoundError
from patchwarden.scan.model import OSInfo, Package, PackageType

CURL = Package(
    "curl", "7.74.0-1.3+deb11u2", PackageType.DEB, purl="pkg:deb/debian/curl", layer="l", path="p"
)


class CountingPipeline:
    def __init__(self, tags: dict[str, str] | None = None) -> None:
        self.tags = tags or {}  # "name:tag" -> the digest the registry serves now
        self.reads: list[str] = []
        self.asked: list[str] = []

    def resolve(self, image: ImageRef) -> str:
        text = f"{image.name}:{image.tag}"
        self.asked.append(text)
        if text not in self.tags:
            raise NotFoundError(f"{text}: manifest unknown")
        return self.tags[text]

    def open_source(self, target: Any, platform: Any) -> Any:
        self.reads.append(target.target)
        return target

    def inventory(self, source: Any, progress: Any) -> Any:
        return SimpleNamespace(packages=[CURL], os=OSInfo("debian", "11"))
