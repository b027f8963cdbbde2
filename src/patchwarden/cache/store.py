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

FORMAT = 1


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
            entry = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        if max_age is not None and time.time() - float(entry.get("at", 0)) > max_age:
            return None
        return entry.get("value")

    def put(self, namespace: str, key: str, value: Any) -> None:
        path = self._path(namespace, key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            entry = {"key": key, "at": time.time(), "value": value}
            write_atomic(path, json.dumps(entry), mode=0o600)
        except OSError:
            # A cache that cannot be written costs requests, never correctness.
            return
