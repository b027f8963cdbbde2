"""The inventory of ``serve``'s PATHs, kept while no file under them changed.

Every ``check`` task reads the inventory of all PATHs (a task narrowed to some repositories
must still find every reference to them), and a worker runs many such tasks in a row: parsing
10,000 references again for each was most of a worker's CPU. The inventory is kept with a
fingerprint of the trees (path, size, modification time and inode of every file, walked as
discovery walks them); a task whose fingerprint matches reuses it, any change re-reads
everything. Walking and stat-ing costs a small fraction of parsing.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Sequence
from pathlib import Path

from patchwarden.app.inventory import run_inventory
from patchwarden.config.schema import Config
from patchwarden.refs.model import Inventory


def fingerprint(paths: Sequence[Path], follow_symlinks: bool) -> str:
    h = hashlib.sha256()
    for root in paths:
        h.update(f"root\0{root}\0".encode())
        if not root.is_dir():
            h.update(_stat(str(root)))
            continue
        for dirpath, dirnames, filenames in os.walk(root, followlinks=follow_symlinks):
            dirnames.sort()
            if ".git" in dirnames:  # git's own files: what changes in a checkout shows below
                dirnames.remove(".git")
            for name in sorted(filenames):
                path = os.path.join(dirpath, name)
                h.update(path.encode(errors="surrogateescape") + b"\0" + _stat(path))
    return h.hexdigest()


def _stat(path: str) -> bytes:
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"err:{exc.errno}".encode()
    return f"{st.st_size}:{st.st_mtime_ns}:{st.st_ino}:{st.st_ctime_ns}".encode()


class InventoryCache:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: tuple[str, int, Inventory] | None = None

    def get(self, paths: Sequence[Path], config: Config) -> Inventory:
        key = fingerprint(paths, config.discovery.follow_symlinks)
        with self._lock:
            kept = self._kept
        if kept is not None and kept[0] == key and kept[1] == id(config):
            return kept[2]
        inv = run_inventory(paths, config)
        if fingerprint(paths, config.discovery.follow_symlinks) == key:  # stable meanwhile
            with self._lock:
                self._kept = (key, id(config), inv)
        return inv
