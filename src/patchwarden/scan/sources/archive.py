"""``archive``: a ``docker save`` tar or an OCI archive tar, read in place via member offsets."""

from __future__ import annotations

import hashlib
import io
import json
import posixpath
import re
import tarfile
from pathlib import Path
from typing import Any, BinaryIO

from patchwarden.core.ref import parse_reference
from patchwarden.errors import PatchwardenError
from patchwarden.registry.model import Platform
from patchwarden.scan.errors import CorruptImageError, ImageSelectionError, SourceNotFoundError
from patchwarden.scan.model import ImageInfo, LayerRef
from patchwarden.scan.sources.layout import split_target
from patchwarden.scan.sources.oci import (
    MAX_CONFIG,
    MAX_MANIFEST,
    blob_name,
    image_info,
    load_config,
    resolve_layout,
)
from patchwarden.scan.sources.unpack import MAX_ARCHIVE_BYTES, Unpacked

DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar"


class FileSlice(io.RawIOBase):
    """``size`` bytes of a file from ``offset``, with its own file handle (thread-safe)."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        self._f = path.open("rb", buffering=0)
        self._f.seek(offset)
        self._left = size

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        got = self._f.readinto(memoryview(b)[:n]) or 0
        self._left -= got
        return got

    def close(self) -> None:
        self._f.close()
        super().close()


class TarIndex:
    """Offsets of the regular files in an uncompressed tar (symlinks resolved)."""

    def __init__(self, path: Path, shown: Path | None = None) -> None:
        self.path = path
        self.shown = shown or path  # what messages name (not an inflated temporary copy)
        self.members: dict[str, tuple[int, int]] = {}
        links: dict[str, str] = {}
        try:
            with tarfile.open(path, mode="r:") as tar:
                for m in tar:
                    name = posixpath.normpath(m.name).lstrip("/")
                    if m.isreg():
                        self.members[name] = (m.offset_data, m.size)
                    elif m.issym():
                        links[name] = posixpath.normpath(
                            posixpath.join(posixpath.dirname(name), m.linkname)
                        )
                    elif m.islnk():
                        links[name] = posixpath.normpath(m.linkname).lstrip("/")
        except tarfile.ReadError as exc:
            raise CorruptImageError(
                f"{self.shown} is not a tar archive ({exc})",
                "pass a `docker save` or OCI archive: .tar, or .tar.gz / .tar.zst",
            ) from exc
        for name, target in links.items():
            for _ in range(8):
                if target in self.members or target not in links:
                    break
                target = links[target]
            if target in self.members:
                self.members.setdefault(name, self.members[target])

    def has(self, name: str) -> bool:
        return name in self.members

    def read(self, name: str, limit: int) -> bytes:
        entry = self.members.get(name)
        if entry is None:
            raise CorruptImageError(f"{self.shown}: {name} is missing from the archive")
        if entry[1] > limit:
            raise CorruptImageError(f"{self.shown}: {name} is larger than the {limit}-byte limit")
        with FileSlice(self.path, *entry) as f:
            return f.read()

    def open(self, name: str) -> BinaryIO:
        entry = self.members.get(name)
        if entry is None:
            raise CorruptImageError(f"{self.shown}: layer {name} is missing from the archive")
        return io.BufferedReader(FileSlice(self.path, *entry), buffer_size=1 << 20)


class TarStore:
    def __init__(self, index: TarIndex) -> None:
        self.index = index
        self.where = f"oci-archive:{index.shown}"

    def read_index(self) -> bytes:
        return self.index.read("index.json", MAX_MANIFEST)

    def read_blob(self, digest: str, limit: int) -> bytes:
        return self.index.read(blob_name(digest), limit)

    def open_blob(self, digest: str) -> BinaryIO:
        return self.index.open(blob_name(digest))


def _tag_matches(want: str, tags: list[str]) -> bool:
    if want in tags:
        return True
    try:
        w = parse_reference(want)
        key = (w.registry, w.repository, w.tag or "latest")
        return any(
            (r.registry, r.repository, r.tag or "latest") == key
            for r in (parse_reference(t) for t in tags)
        )
    except PatchwardenError:
        return False


class ArchiveSource:
    """Detects the flavour: ``manifest.json`` -> docker-archive, else ``index.json`` -> OCI.

    docker-archive layers are stored uncompressed, so their blob digest (what Package.layer
    and LayerFacts.digest carry) is the layer's diff_id, not the registry's compressed digest.
    """

    def __init__(
        self,
        target: str,
        platform: Platform,
        max_archive_bytes: int = MAX_ARCHIVE_BYTES,
        *,
        shown: str | None = None,
    ) -> None:
        path, self.tag = split_target(target)
        if not path.is_file():
            raise SourceNotFoundError(f"archive {path} does not exist or is not a file")
        self.path = path
        self.shown = shown or f"docker-archive:{path}"  # how messages name it
        self.platform = platform
        self._unpacked = Unpacked(path, max_archive_bytes)  # .tar.gz / .tar.zst inflated
        self.index = TarIndex(self._unpacked.path, shown=Path(shown) if shown else path)
        self._paths: dict[str, str] = {}  # layer digest -> member name (docker-archive)
        self._info: ImageInfo | None = None
        if self.index.has("manifest.json"):
            self.kind = "docker-archive"
        elif self.index.has("index.json"):
            self.kind = "oci-archive"
        else:
            raise CorruptImageError(
                f"{path} is neither a docker-archive (manifest.json) nor an OCI archive "
                "(index.json)",
                "create it with `docker save` or `skopeo copy ... oci-archive:FILE`",
            )

    def describe(self) -> ImageInfo:
        if self._info is None:
            if self.kind == "oci-archive":
                self._info = resolve_layout(TarStore(self.index), self.tag, self.platform)
            else:
                self._info = self._docker()
        return self._info

    def _docker(self) -> ImageInfo:
        where = self.shown
        try:
            entries = json.loads(self.index.read("manifest.json", MAX_MANIFEST))
        except ValueError as exc:
            raise CorruptImageError(f"{where}: manifest.json is not valid JSON") from exc
        if not isinstance(entries, list) or not entries:
            raise CorruptImageError(f"{where}: manifest.json lists no images")
        all_tags = [t for e in entries for t in (e.get("RepoTags") or [])]
        if self.tag is not None:
            chosen = [e for e in entries if _tag_matches(self.tag, e.get("RepoTags") or [])]
            if not chosen:
                raise ImageSelectionError(
                    f"{where} has no image tagged {self.tag!r}",
                    f"available: {', '.join(all_tags) or 'none'}",
                )
        elif len(entries) > 1:
            raise ImageSelectionError(
                f"{where} holds {len(entries)} images; name one",
                f"append :NAME:TAG, one of: {', '.join(all_tags) or 'none'}",
            )
        else:
            chosen = entries
        entry: dict[str, Any] = chosen[0]
        cfg_name = posixpath.normpath(str(entry.get("Config", ""))).lstrip("/")
        raw_config = self.index.read(cfg_name, MAX_CONFIG)
        _check_config_name(cfg_name, raw_config, where)
        config = load_config(raw_config, where)
        layer_names = [posixpath.normpath(str(x)).lstrip("/") for x in entry.get("Layers", [])]
        ids = image_info(where, None, config, [("", "", 0)] * len(layer_names)).layers
        layers: list[tuple[str, str, int]] = []
        for name, ref in zip(layer_names, ids, strict=True):
            digest = _docker_layer_digest(name, ref)
            if digest is None:
                raise CorruptImageError(f"{where}: cannot tell the digest of layer {name}")
            self._paths[digest] = name
            size = self.index.members.get(name, (0, 0))[1]
            layers.append((digest, DOCKER_LAYER, size))
        return image_info(where, None, config, layers)

    def close(self) -> None:
        """Remove the inflated copy of a compressed archive (also done at exit)."""
        self._unpacked.close()

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        if self.kind == "oci-archive":
            return TarStore(self.index).open_blob(layer.digest)
        return self.index.open(self._paths[layer.digest])


_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/)?([0-9a-f]{64})(?:\.json)?$")


def _check_config_name(name: str, raw: bytes, where: str) -> None:
    """``docker save`` names the config by its digest (``<hex>.json``, ``blobs/sha256/<hex>``):
    the bytes must hash to that name, or the layers' diff_ids come from a swapped config."""
    m = _CONFIG_NAME.match(name)
    if m is None:
        return
    actual = hashlib.sha256(raw).hexdigest()
    if actual != m.group(1):
        raise CorruptImageError(
            f"{where}: the image config {name} does not match its name (content is "
            f"sha256:{actual})",
            "the archive was edited or damaged; save/copy the image again",
        )


def _docker_layer_digest(name: str, ref: LayerRef) -> str | None:
    """``blobs/sha256/<hex>`` names its digest; legacy ``<id>/layer.tar`` and skopeo's
    ``<hex>.tar`` hold the uncompressed layer, whose digest is the config's diff_id."""
    parts = name.split("/")
    if len(parts) == 3 and parts[0] == "blobs":
        return f"{parts[1]}:{parts[2]}"
    return ref.diff_id


__all__ = ["ArchiveSource", "FileSlice", "TarIndex"]
