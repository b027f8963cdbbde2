"""A compressed archive (``docker save | gzip``, ``.tar.zst``) made readable in place.

Archives are read by member offsets, several layers at once, so a compressed one is first
inflated, streaming, into a private temporary file next to the system's temp dir: bounded by
``max_bytes`` (a decompression bomb stops there with a clear error, and the partial file is
removed at once), removed when the source is done with it, and named ``patchwarden-archive-*``
so a file left by a killed run is recognisable. An uncompressed archive is used as it is.
"""

from __future__ import annotations

import os
import tempfile
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, cast

import zstandard

from patchwarden.scan.decompress import sniff
from patchwarden.scan.errors import CorruptImageError, ScanError

CHUNK = 1 << 20
PREFIX = "patchwarden-archive-"
MAX_ARCHIVE_BYTES = 64 * (1 << 30)  # inflated size of one compressed archive


class Unpacked:
    """The readable tar for ``path``: ``path`` itself, or an inflated private copy."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        with path.open("rb") as fh:
            self.compression = sniff(fh.read(4))
        self.path = path
        self._remove: Callable[[], None] | None = None
        if self.compression != "tar":
            self.path = _inflate(path, self.compression, max_bytes)
            self._remove = remove_at_exit(self, self.path)

    def close(self) -> None:
        if self._remove is not None:
            self._remove()


def _unlink(path: Path) -> None:
    path.unlink(missing_ok=True)


def _inflate(path: Path, kind: str, max_bytes: int) -> Path:
    try:
        with path.open("rb") as src:
            reader = _decoder(kind, src)
            return spool(
                iter(lambda: reader.read(CHUNK), b""),
                max_bytes,
                too_big=ScanError(
                    f"{path} inflates to more than {max_bytes // (1 << 20)} MiB",
                    "a decompression bomb, or an image larger than the scan limit: "
                    "decompress it yourself and pass the .tar",
                ),
            )
    except (OSError, EOFError, zstandard.ZstdError) as exc:
        raise CorruptImageError(
            f"{path} could not be decompressed ({kind}): {exc}",
            "check that the file is complete, or decompress it yourself and pass the .tar",
        ) from None


def spool(chunks: Iterator[bytes], max_bytes: int, *, too_big: Exception) -> Path:
    """Write ``chunks`` to a new private ``patchwarden-archive-*.tar``; past ``max_bytes``,
    or on any error, the partial file is removed and the error raised (``too_big``)."""
    fd, name = tempfile.mkstemp(prefix=PREFIX, suffix=".tar")
    out = Path(name)
    try:
        with os.fdopen(fd, "wb") as dst:
            total = 0
            for chunk in chunks:
                total += len(chunk)
                if total > max_bytes:
                    raise too_big
                dst.write(chunk)
    except BaseException:
        _unlink(out)
        raise
    return out


def remove_at_exit(owner: object, path: Path) -> Callable[[], None]:
    """Remove ``path`` when ``owner`` is collected or the process exits; call to remove now."""
    return weakref.finalize(owner, _unlink, path)


def _decoder(kind: str, src: IO[bytes]) -> IO[bytes]:
    if kind == "gzip":
        from isal import igzip

        return cast(IO[bytes], igzip.IGzipFile(fileobj=src, mode="rb"))  # type: ignore[no-untyped-call]
    return cast(IO[bytes], zstandard.ZstdDecompressor().stream_reader(src, read_across_frames=True))
