"""Read a small file only when it is a regular file: a FIFO, device or socket named like a
config file or a Dockerfile must never block or stream forever."""

from __future__ import annotations

import os
import stat
from pathlib import Path


class NotRegularFileError(OSError):
    """The path is a FIFO, a device, a socket or a directory."""


class FileTooLargeError(OSError):
    """The file is larger than the caller's cap."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a directory"
    return "not a regular file"


def read_regular(path: Path | str, max_bytes: int) -> bytes:
    """The content of ``path`` if it is a regular file of at most ``max_bytes``.

    Opened non-blocking (opening a FIFO never waits for a writer) and checked with ``fstat`` on
    the open descriptor (no race with a swap after a ``stat``). Raises
    :class:`NotRegularFileError`, :class:`FileTooLargeError` or another ``OSError``.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise NotRegularFileError(f"{path} is {_kind(st.st_mode)}, not a regular file")
        if st.st_size > max_bytes:
            raise FileTooLargeError(
                f"{path} is {st.st_size} bytes, more than the {max_bytes}-byte limit"
            )
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(1 << 20, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:  # grew while being read
                raise FileTooLargeError(f"{path} is more than the {max_bytes}-byte limit")
        return b"".join(chunks)
    finally:
        os.close(fd)
