"""The per-layer cache: hits, misses, key contents, corruption, warm rescans."""

from __future__ import annotations

from pathlib import Path

from patchwarden.scan.layer_cache import LayerCache, cache_key
from patchwarden.scan.model import Cataloger
from patchwarden.scan.scanner import Scanner
from testkit.scanner_helpers import (
    DpkgCataloger,
    MemorySource,
    PipCataloger,
    dpkg_status,
    layer,
    metadata,
)


def _image(n: int = 3) -> MemorySource:
    blobs = [
        layer(
            [("var/lib/dpkg/status", dpkg_status(("libc6", "2.36"), (f"p{i}", "1")))]
            + [(f"app{i}/m{j}.dist-info/METADATA", metadata(f"m{i}-{j}", "1.0")) for j in range(50)]
            + [(f"usr/share/doc/f{j}", b"x" * 100) for j in range(200)]
        )
        for i in range(n)
    ]
    return MemorySource(blobs)


def test_warm_rescan_opens_no_blob_and_gives_same_result(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    cats: list[Cataloger] = [DpkgCataloger(), PipCataloger()]
    src = _image()
    progress: list[tuple[str, int, int]] = []
    cold = Scanner(cats, cache=cache).scan(src, progress=lambda *a: progress.append(a))
    assert src.opens == 3
    assert [p[1:] for p in progress] == [(1, 3), (2, 3), (3, 3)]
    warm = Scanner(cats, cache=cache).scan(src)
    assert src.opens == 3  # nothing opened on the warm run
    assert warm.packages == cold.packages and warm.os == cold.os
    # the whole-image entry answers: its layers carry their digests, not their file facts
    assert [lf.digest for lf in warm.layers] == [lf.digest for lf in cold.layers]
    # without the whole-image entry, the per-layer entries give the very same facts
    for entry in tmp_path.rglob("*.json"):
        if b'"packages"' in entry.read_bytes():
            entry.unlink()
    again = Scanner(cats, cache=cache).scan(src)
    assert src.opens == 3 and again.packages == cold.packages and again.layers == cold.layers


def test_key_includes_cataloger_versions_sorted(tmp_path: Path) -> None:
    d = "sha256:" + "1" * 64
    a, b = DpkgCataloger(1), PipCataloger()
    assert cache_key(d, [a, b]) == cache_key(d, [b, a])
    assert cache_key(d, [a, b]) != cache_key(d, [DpkgCataloger(2), b])
    assert cache_key(d, [a]) != cache_key(d, [a, b])
    cache = LayerCache(tmp_path)
    src = _image(1)
    Scanner([DpkgCataloger(1)], cache=cache).scan(src)
    Scanner([DpkgCataloger(2)], cache=cache).scan(src)  # version bump: miss
    assert src.opens == 2
    Scanner([DpkgCataloger(2)], cache=cache).scan(src)
    assert src.opens == 2


def test_corrupt_entry_is_ignored_and_rewritten(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    src = _image(1)
    first = Scanner([DpkgCataloger()], cache=cache).scan(src)
    entries = list(tmp_path.rglob("*.json"))
    (image_entry,) = [e for e in entries if b'"packages"' in e.read_bytes()]
    image_entry.unlink()  # this test is about the per-layer entry
    (entry,) = [e for e in entries if e != image_entry]
    entry.write_text('{"digest": "sha256:')
    again = Scanner([DpkgCataloger()], cache=cache).scan(src)
    assert src.opens == 2 and again.packages == first.packages
    Scanner([DpkgCataloger()], cache=cache).scan(src)
    assert src.opens == 2  # rewritten atomically, valid again
    assert not [p for p in tmp_path.rglob("*") if p.name.startswith(".tmp-")]


def test_corrupt_or_foreign_image_entry_is_a_miss(tmp_path: Path) -> None:
    cache = LayerCache(tmp_path)
    src = _image(1)
    first = Scanner([DpkgCataloger()], cache=cache).scan(src)
    (image_entry,) = [e for e in tmp_path.rglob("*.json") if b'"packages"' in e.read_bytes()]
    image_entry.write_text('{"layers": ["sha256:other"], "os": null, "packages": []}')
    again = Scanner([DpkgCataloger()], cache=cache).scan(src)
    assert again.packages == first.packages  # a mismatching entry is ignored
    image_entry.write_text("not json")
    assert Scanner([DpkgCataloger()], cache=cache).scan(src).packages == first.packages
    assert src.opens == 1  # the per-layer entry answered both times


def test_edited_truncated_or_deep_entries_are_misses_and_rebuilt(tmp_path: Path) -> None:
    """A cache entry edited into valid JSON is not served as truth (it carries a checksum);
    deeply nested JSON is a miss, not a RecursionError."""
    import json

    cache = LayerCache(tmp_path)
    src = _image(2)
    first = Scanner([DpkgCataloger(), PipCataloger()], cache=cache).scan(src)
    entries = sorted(p for p in tmp_path.rglob("*.json") if not p.name.startswith(".tmp-"))
    assert entries
    for i, entry in enumerate(entries):
        raw = entry.read_bytes()
        head, _, payload = raw.partition(b"\n")
        if i % 3 == 0:  # valid JSON, one version changed, old checksum kept
            d = json.loads(payload)
            entry.write_bytes(head + b"\n" + json.dumps(d).replace('"1.', '"9.').encode())
        elif i % 3 == 1:
            entry.write_bytes(b"[" * 100_000 + b"]" * 100_000)
        else:
            entry.write_bytes(raw[: len(raw) // 2])
    src2 = _image(2)
    again = Scanner([DpkgCataloger(), PipCataloger()], cache=cache).scan(src2)
    assert again.packages == first.packages
    assert src2.opens == 2  # every layer read again


def test_stale_temp_files_of_a_killed_scan_are_pruned(tmp_path: Path) -> None:
    import os
    import time

    cache = LayerCache(tmp_path)
    Scanner([DpkgCataloger()], cache=cache).scan(_image(1))
    shard = next(p.parent for p in tmp_path.rglob("*.json"))
    old = shard / ".abc.json.killed.tmp"
    old.write_bytes(b"partial")
    past = time.time() - 7200
    os.utime(old, (past, past))
    fresh = shard / ".abc.json.inflight.tmp"
    fresh.write_bytes(b"writing")
    cache._write(shard.name + "0" * 62, b"{}")  # the next write into that directory
    assert not old.exists()
    assert fresh.exists()
