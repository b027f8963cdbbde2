"""A small on-disk key/value cache: one JSON file per key, written atomically.

One file per key keeps concurrent patchwarden processes safe without locks (a rename is atomic)
and lets a corrupt entry be dropped alone. Values never contain secrets: only tag lists,
digests, manifests and image-config facts are stored.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

import platformdirs

from patchwarden.core.files import write_atomic
from patchwarden.core.sealed import prune_stale_tmp, seal, unseal

FORMAT = 2  # 2: sealed entries (checksummed, see core.sealed)


def default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("patchwarden"))


class DiskCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, namespace: str, key: str) -> Path:
        h = hashlib.sha256(key.encode()).hexdigest()
        return self.root / f"v{FORMAT}" / namespace / h[:2] / f"{h}.json"

    def get(self, namespace: str, key: str, max_age: float | None = None) -> Any | None:
        """The stored value, or None when absent, expired (``max_age`` seconds) or unreadable."""
        path = self._path(namespace, key)
        try:
            payload = unseal(path.read_bytes())
            entry = None if payload is None else json.loads(payload)
            if not isinstance(entry, dict) or entry.get("key") != key:
                return None
            if max_age is not None and time.time() - float(entry.get("at", 0)) > max_age:
                return None
        except (OSError, ValueError, TypeError, RecursionError):
            return None  # unreadable or damaged: a miss, rebuilt by the next put
        return entry.get("value")

    def put(self, namespace: str, key: str, value: Any) -> None:
        path = self._path(namespace, key)
        data = seal(json.dumps({"key": key, "at": time.time(), "value": value}).encode())
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            prune_stale_tmp(path.parent)  # left by a killed writer
            write_atomic(path, data, mode=0o600)
        except OSError:
            # A cache that cannot be written costs requests, never correctness.
            return
