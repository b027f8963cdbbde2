"""Shared OCI image-layout logic: pick an image from index.json, build :class:`ImageInfo`."""

from __future__ import annotations

import json
from typing import Any, BinaryIO, Protocol

from patchwarden.core.digest import Digest
from patchwarden.errors import ReferenceFormatError, RegistryError
from patchwarden.registry.manifests import index_platforms, parse_manifest, select_platform
from patchwarden.registry.model import Descriptor, Manifest, Platform
from patchwarden.registry.settings import ClientOptions
from patchwarden.scan.errors import CorruptImageError, ImageSelectionError, short
from patchwarden.scan.model import ImageInfo, LayerRef

REF_NAME = "org.opencontainers.image.ref.name"
_OPTS = ClientOptions()
MAX_MANIFEST = _OPTS.max_manifest_bytes
MAX_CONFIG = _OPTS.max_config_bytes


class BlobStore(Protocol):
    """Content-addressed blobs of a layout (a directory or an OCI archive tar)."""

    where: str

    def read_index(self) -> bytes: ...

    def read_blob(self, digest: str, limit: int) -> bytes: ...

    def open_blob(self, digest: str) -> BinaryIO: ...


def blob_name(digest: str) -> str:
    """``blobs/sha256/<hex>``, refusing anything that is not a well-formed digest."""
    try:
        d = Digest.parse(digest)
    except ReferenceFormatError as exc:
        raise CorruptImageError(f"invalid blob digest {digest!r}") from exc
    return f"blobs/{d.algorithm}/{d.hex}"


def verified(data: bytes, digest: str, what: str) -> bytes:
    d = Digest.parse(digest)
    if Digest.of(data, d.algorithm) != d:
        raise CorruptImageError(
            f"{what} {short(digest)} does not match its digest",
            "the image files are damaged; copy the image again",
        )
    return data


def _manifest(store: BlobStore, desc: Descriptor) -> Manifest:
    raw = verified(store.read_blob(desc.digest, MAX_MANIFEST), desc.digest, "manifest")
    try:
        return parse_manifest(raw, desc.digest, desc.media_type or None, store.where)
    except RegistryError as exc:
        raise CorruptImageError(exc.message, exc.hint) from exc


def choose_platform(index: Manifest, platform: Platform, where: str) -> Descriptor:
    desc = select_platform(index, platform)
    if desc is None:
        avail = ", ".join(str(p) for p in index_platforms(index)) or "none"
        raise ImageSelectionError(
            f"{where} has no image for platform {platform}",
            f"available platforms: {avail}; choose one of them with --platform",  # scan only
        )
    return desc


def resolve_layout(store: BlobStore, tag: str | None, platform: Platform) -> ImageInfo:
    """index.json -> (tag) -> (platform) -> manifest -> config -> :class:`ImageInfo`."""
    try:
        top = parse_manifest(store.read_index(), "", None, store.where)
    except RegistryError as exc:
        raise CorruptImageError(f"{store.where}: bad index.json: {exc.message}") from exc
    entries = top.manifests
    if tag is not None:
        entries = tuple(d for d in entries if d.annotations.get(REF_NAME) == tag)
        if not entries:
            names = sorted({d.annotations.get(REF_NAME, "") for d in top.manifests} - {""})
            raise ImageSelectionError(
                f"{store.where} has no image tagged {tag!r}",
                f"available tags: {', '.join(names) or 'none'}",
            )
    if len(entries) == 1:
        desc = entries[0]
    elif entries and all(d.platform is not None for d in entries):
        desc = choose_platform(top, platform, store.where)  # index.json itself is multi-arch
    else:
        names = sorted({d.annotations.get(REF_NAME, "") for d in entries} - {""})
        raise ImageSelectionError(
            f"{store.where} holds {len(entries)} images; name one",
            f"append :TAG, one of: {', '.join(names) or 'none (untagged)'}",
        )
    m = _manifest(store, desc)
    if m.is_index:
        m = _manifest(store, choose_platform(m, platform, store.where))
        if m.is_index:
            raise CorruptImageError(f"{store.where}: nested image indexes are not supported")
    if m.config is None:
        raise CorruptImageError(f"{store.where}: manifest {short(m.digest)} names no config")
    raw = verified(store.read_blob(m.config.digest, MAX_CONFIG), m.config.digest, "config")
    config = load_config(raw, store.where)
    layers = [(d.digest, d.media_type, d.size) for d in m.layers]
    return image_info(store.where, m.digest, config, layers)


def load_config(raw: bytes, where: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise CorruptImageError(f"{where}: image config is not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise CorruptImageError(f"{where}: image config is not a JSON object")
    return data


def diff_ids(config: dict[str, Any]) -> list[str]:
    rootfs = config.get("rootfs")
    ids = rootfs.get("diff_ids") if isinstance(rootfs, dict) else None
    return [str(x) for x in ids] if isinstance(ids, list) else []


def config_platform(config: dict[str, Any]) -> str | None:
    os_, arch, var = config.get("os"), config.get("architecture"), config.get("variant")
    if not isinstance(os_, str) or not isinstance(arch, str):
        return None
    return "/".join(x for x in (os_, arch, var if isinstance(var, str) else None) if x)


def image_info(
    name: str,
    digest: str | None,
    config: dict[str, Any],
    layers: list[tuple[str, str, int]],
) -> ImageInfo:
    ids = diff_ids(config)
    if ids and len(ids) != len(layers):
        raise CorruptImageError(
            f"{name}: the config lists {len(ids)} diff_ids for {len(layers)} layers",
            "the image is inconsistent; rebuild or copy it again",
        )
    refs = tuple(
        LayerRef(digest=d, media_type=mt, size=size, diff_id=ids[i] if ids else None)
        for i, (d, mt, size) in enumerate(layers)
    )
    return ImageInfo(
        name=name, digest=digest, platform=config_platform(config), layers=refs, config=config
    )
