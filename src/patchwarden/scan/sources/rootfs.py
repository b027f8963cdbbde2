"""``rootfs``: a directory tree scanned as one layer, never following symlinks."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from patchwarden.scan.errors import HostileLayerError, ScanError, SourceNotFoundError
from patchwarden.scan.layers import Collector
from patchwarden.scan.limits import Limits
from patchwarden.scan.model import Cataloger, FileEntry, ImageInfo, LayerFacts, LayerRef

_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class RootfsSource:
    """Implements :class:`patchwarden.scan.scanner.DirectLayerSource`."""

    def __init__(self, target: str) -> None:
        self.root = Path(target).resolve()
        if not self.root.is_dir():
            raise SourceNotFoundError(f"rootfs {target} is not a directory")
        self.layer = LayerRef(digest=f"rootfs:{self.root}", media_type="directory", size=0)

    def describe(self) -> ImageInfo:
        return ImageInfo(
            name=f"rootfs:{self.root}", digest=None, platform=None, layers=(self.layer,)
        )

    def open_layer(self, layer: LayerRef) -> BinaryIO:
        raise ScanError("a rootfs source has no layer blob; scan it with Scanner")

    def read_layer_facts(
        self, layer: LayerRef, catalogers: Sequence[Cataloger], limits: Limits
    ) -> LayerFacts:
        col = Collector(catalogers, limits, layer.digest)
        entries = 0
        stack = [(str(self.root), "")]
        while stack:
            top, rel = stack.pop()
            try:
                it = os.scandir(top)
            except OSError as exc:
                col.warnings.append(f"cannot read directory /{rel}: {exc.strerror}")
                continue
            with it:
                for de in it:
                    entries += 1
                    if entries > limits.max_entries:
                        raise HostileLayerError(
                            layer.digest, f"more than {limits.max_entries} entries"
                        )
                    path = f"{rel}/{de.name}" if rel else de.name
                    try:
                        st = de.stat(follow_symlinks=False)
                    except OSError:
                        continue
                    if stat.S_ISDIR(st.st_mode):
                        stack.append((de.path, path))
                    elif stat.S_ISREG(st.st_mode):
                        self._file(col, de.path, path, st.st_mode, st.st_size)
                    # symlinks, devices, fifos and sockets are never followed nor opened
        return col.facts(layer, entries)

    @staticmethod
    def _file(col: Collector, full: str, path: str, mode: int, size: int) -> None:
        wanting = col.wanting(path, mode, size)
        if not wanting or col.too_big(path, size):
            return
        try:
            fd = os.open(full, os.O_RDONLY | _NOFOLLOW)
        except OSError as exc:
            col.warnings.append(f"cannot read /{path}: {exc.strerror}")
            return
        with os.fdopen(fd, "rb") as f:
            data = f.read(col.limits.max_file_bytes + 1)
        if len(data) > col.limits.max_file_bytes:
            col.too_big(path, len(data))
            return
        col.catalog(wanting, FileEntry(path, data, mode, len(data)))
