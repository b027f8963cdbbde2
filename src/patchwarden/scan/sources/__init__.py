"""Image sources: where layers come from (registry, archive, OCI layout, rootfs, the local
container engine)."""

from __future__ import annotations

from patchwarden.registry.model import BlobRegistry, Platform
from patchwarden.scan.errors import ScanError
from patchwarden.scan.model import ImageSource

KINDS = ("registry", "archive", "oci-layout", "rootfs", "engine")


def open_source(
    kind: str,
    target: str,
    *,
    registry: BlobRegistry | None = None,
    platform: Platform | None = None,
    engine_url: str | None = None,
) -> ImageSource:
    """An :class:`ImageSource` for ``target``; ``platform`` picks from multi-arch indexes
    (default: the host's). Registry sources made without ``registry`` own a client: close
    them with ``source.close()``."""
    plat = platform or Platform.host()
    if kind == "registry":
        from patchwarden.scan.sources.registry import RegistrySource

        return RegistrySource(target, plat, registry)
    if kind == "engine":
        from patchwarden.scan.sources.engine_image import EngineImageSource

        return EngineImageSource(target, plat, engine_url)
    if kind == "archive":
        from patchwarden.scan.sources.archive import ArchiveSource

        return ArchiveSource(target, plat)
    if kind == "oci-layout":
        from patchwarden.scan.sources.layout import OCILayoutSource

        return OCILayoutSource(target, plat)
    if kind == "rootfs":
        from patchwarden.scan.sources.rootfs import RootfsSource

        return RootfsSource(target)
    raise ScanError(f"unknown image source kind {kind!r}", f"use one of: {', '.join(KINDS)}")


__all__ = ["KINDS", "open_source"]
