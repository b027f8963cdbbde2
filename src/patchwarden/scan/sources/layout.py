"""``oci-layout``: an OCI image layout directory (``DIR`` or ``DIR:TAG``)."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

from patchwarden.registry.model import Platform
from patchwarden.scan.errors import CorruptImageError, SourceNotFoundError
from patchwarden.scan.model import ImageInfo, LayerRef
from patchwarden.scan.sources.oci import blob_name, resolve_layout


def split_target(target: str) -> tuple[Path, str | None]:
    """``PATH`` if it exists, else ``PATH:REF`` split at the first colon after which the
    path exists (REF may hold colons itself, e.g. ``img.tar:example.com:5000/app:1``)."""
    p = Path(target)
    if p.exists() or ":" not in target:
        return p, None
    for i, ch in enumerate(target):
        if ch == ":" and Path(target[:i]).exists():
            return Path(target[:i]), target[i + 1 :] or None
    base, _, tag = target.rpartition(":")
    return Path(base), tag or None


def _read_capped(path: Path, limit: int, what: str) -> bytes:
    try:
        with path.open("rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError as exc:
        raise CorruptImageError(f"{what} is missing: {path}") from exc
    if len(data) > limit:
        raise CorruptImageError(f"{what} {path} is larger than the {limit}-byte limit")
    return data


class DirStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.where = f"oci-layout:{root}"

    def read_index(self) -> bytes:
        return _read_capped(self.root / "index.json", 4 * 1024 * 1024, "index.json")

    def read_blob(self, digest: str, limit: int) -> bytes:
        return _read_capped(self.root / blob_name(digest), limit, f"blob {digest}")

    def open_blob(self, digest: str) -> BinaryIO:
        path = self.root / blob_name(digest)
        try:
            return path.open("rb")
        except FileNotFoundError as exc:
            raise CorruptImageError(
                f"{self.where}: layer blob {digest} is missing",
                "the layout is incomplete; copy the image again",
            ) from exc


class OCILayoutSource:
    def __init__(self, target: str, platform: Platform) -> None:
        root, self.tag = split_target(target)
        if not (root / "index.json").is_file():
            raise SourceNotFoundError(
                f"{root} is not an OCI image layout (no index.json)",
                "pass a directory written by `skopeo copy ... oci:DIR:TAG`, optionally as DIR:TAG",
            )
        self.store = DirStore(root)
        self.platform = platform
        self._info: ImageInfo | None = None

    def describe(self) -> ImageInfo:
        if self._info is None:
            self._info = resolve_layout(self.store, self.tag, self.platform)
        return self._info

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        return self.store.open_blob(layer.digest)
