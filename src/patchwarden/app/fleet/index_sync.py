"""The advisory index, built once (``db update`` where ``serve`` runs) and distributed to
every worker by version.

``publish`` takes a consistent snapshot of the local SQLite index (SQLite's backup API, so a
concurrent import is never copied half-written), names it by the SHA-256 of its bytes and
stores it compressed in the shared store; publishing the same index again stores nothing.
``pull`` compares the newest published version with the one this machine has (a marker file
beside the index) and replaces the local index atomically when they differ, after checking the
bytes against the version. The new index is copied *into* the local one with SQLite's backup
API (not renamed over it), so a scan reading the old index meanwhile is never disturbed and no
stale write-ahead log meets a new file. A worker calls it before each job: one small query
when up to date.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import tempfile
from pathlib import Path
from typing import Protocol

from patchwarden.core.files import write_atomic

log = logging.getLogger("patchwarden.fleet.index")


class Shared(Protocol):
    def read(self, key: str) -> bytes | None: ...
    def write(self, key: str, body: bytes) -> None: ...
    def newest(self) -> str | None: ...


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".fleet-version")


class IndexSync:
    def __init__(self, shared: Shared) -> None:
        self.shared = shared

    def publish(self, path: Path) -> str | None:
        """Share the index at ``path``; its version, or None when there is none."""
        if not path.is_file():
            return None
        import zstandard

        with tempfile.TemporaryDirectory(prefix="pw-index-") as tmp:
            snap = Path(tmp) / "index.db"
            src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dst = sqlite3.connect(snap)
            try:
                src.backup(dst)
            finally:
                dst.close()
                src.close()
            data = snap.read_bytes()
        version = hashlib.sha256(data).hexdigest()[:32]
        if self.shared.newest() != version:
            self.shared.write(version, zstandard.ZstdCompressor(level=6).compress(data))
            log.info("published advisory index %s (%d bytes)", version, len(data))
        write_atomic(_marker(path), version.encode())
        return version

    def pull(self, path: Path) -> str | None:
        """Bring the local index at ``path`` to the newest shared version; that version."""
        version = self.shared.newest()
        if version is None:
            return None
        marker = _marker(path)
        if path.is_file() and marker.is_file() and marker.read_text().strip() == version:
            return version
        body = self.shared.read(version)
        if body is None:
            return None
        import zstandard

        data = zstandard.ZstdDecompressor().decompress(body, max_output_size=4 << 30)
        if hashlib.sha256(data).hexdigest()[:32] != version:
            log.error("shared advisory index %s does not match its version: not used", version)
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        _install(data, path)
        write_atomic(marker, version.encode())
        log.info("advisory index %s installed at %s", version, path)
        return version


def _install(data: bytes, path: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="pw-index-", dir=path.parent) as tmp:
        snap = Path(tmp) / "index.db"
        snap.write_bytes(data)
        src = sqlite3.connect(f"file:{snap}?mode=ro", uri=True)
        dst = sqlite3.connect(path, timeout=30)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
