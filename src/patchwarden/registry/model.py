"""Wire-independent registry facts and the client seam the application depends on."""

from __future__ import annotations

import platform as _platform
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Protocol

from patchwarden.core.ref import ImageRef

MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = frozenset({MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST})
MANIFEST_TYPES = frozenset({MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST})

_ARCH_ALIASES = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


@dataclass(frozen=True, slots=True)
class Platform:
    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        """``linux/amd64``, ``linux/arm64/v8``, ``linux/arm/v7``."""
        parts = text.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    @classmethod
    def host(cls) -> Platform:
        machine = _platform.machine().lower()
        return cls("linux", _ARCH_ALIASES.get(machine, machine))

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: str
    size: int
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ManifestHead:
    """What a HEAD on a manifest tells: its digest, media type and size."""

    digest: str
    media_type: str
    size: int


@dataclass(frozen=True, slots=True)
class Manifest:
    """A fetched, digest-verified manifest or index."""

    digest: str
    media_type: str
    raw: bytes
    config: Descriptor | None = None
    layers: tuple[Descriptor, ...] = ()
    manifests: tuple[Descriptor, ...] = ()  # non-empty for an index
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """The parts of an image config blob patchwarden uses."""

    digest: str
    created: datetime | None
    os: str | None
    architecture: str | None
    labels: dict[str, str] = field(default_factory=dict)


class Registry(Protocol):
    """What the application needs from a registry. ``ImageRef.tag`` or ``.digest`` selects."""

    def list_tags(self, image: ImageRef) -> list[str]: ...

    def head_manifest(self, image: ImageRef) -> ManifestHead: ...

    def get_manifest(self, image: ImageRef) -> Manifest: ...

    def image_config(self, image: ImageRef, platform: Platform) -> ImageConfig: ...

    def platforms(self, image: ImageRef) -> list[Platform] | None: ...

    def request_counts(self) -> dict[str, int]:
        """Requests sent so far, by kind (``tags``, ``manifest_head``, ..., ``retries``)."""
        ...


class BlobRegistry(Registry, Protocol):
    """A registry that also serves blobs: what the scanner's registry source reads images with."""

    def resolve_platform(self, image: ImageRef, platform: Platform) -> Manifest: ...

    def get_blob(self, image: ImageRef, digest: str, limit: int) -> bytes: ...

    def open_blob(self, image: ImageRef, digest: str) -> AbstractContextManager[IO[bytes]]: ...

    def close(self) -> None: ...
