"""Cache files that prove they are intact: a header line with a format tag and the SHA-256 of
the payload. A truncated, edited or foreign file reads as absent (a miss, then a rebuild), never
as truth; and temp files of a killed writer are pruned by later writers."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

MAGIC = b"PWC1 "
STALE_TMP_SECONDS = 3600.0  # a cache write takes well under a second


def seal(payload: bytes) -> bytes:
    return MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload


def unseal(blob: bytes) -> bytes | None:
    """The payload, or None when the header or the checksum does not match."""
    if not blob.startswith(MAGIC):
        return None
    head, sep, payload = blob.partition(b"\n")
    if not sep or head[len(MAGIC) :] != hashlib.sha256(payload).hexdigest().encode():
        return None
    return payload


def prune_stale_tmp(directory: Path, pattern: str = ".*.tmp") -> int:
    """Remove ``pattern`` files in ``directory`` older than :data:`STALE_TMP_SECONDS`."""
    removed = 0
    now = time.time()
    try:
        candidates = list(directory.glob(pattern))
    except OSError:
        return 0
    for path in candidates:
        try:
            if path.is_file() and now - path.lstat().st_mtime > STALE_TMP_SECONDS:
                path.unlink()
                removed += 1
        except OSError:
            continue
    return removed
