"""The registry answer cache (DiskCache) only serves entries that prove they are intact."""

from __future__ import annotations

import json
from pathlib import Path

from patchwarden.cache.store import DiskCache


def _only_entry(root: Path) -> Path:
    (entry,) = [p for p in root.rglob("*.json") if not p.name.startswith(".tmp-")]
    return entry


def test_an_entry_edited_into_valid_json_is_not_served(tmp_path: Path) -> None:
    cache = DiskCache(tmp_path)
    cache.put("tags", "reg/app", ["1.0.0", "1.0.1"])
    assert cache.get("tags", "reg/app") == ["1.0.0", "1.0.1"]
    entry = _only_entry(tmp_path)
    head, _, payload = entry.read_bytes().partition(b"\n")
    d = json.loads(payload)
    d["value"] = ["9.9.9"]  # a poisoned tag list
    entry.write_bytes(head + b"\n" + json.dumps(d).encode())
    assert cache.get("tags", "reg/app") is None
    entry.write_bytes(json.dumps(d).encode())  # an unsealed (old-format or forged) entry
    assert cache.get("tags", "reg/app") is None


def test_deep_or_odd_entries_are_misses(tmp_path: Path) -> None:
    from patchwarden.core.sealed import seal

    cache = DiskCache(tmp_path)
    cache.put("tags", "reg/app", ["1"])
    entry = _only_entry(tmp_path)
    entry.write_bytes(seal(b"[" * 200_000 + b"]" * 200_000))
    assert cache.get("tags", "reg/app") is None
    entry.write_bytes(seal(json.dumps({"key": "reg/app", "at": "x", "value": 1}).encode()))
    assert cache.get("tags", "reg/app", max_age=10) is None
