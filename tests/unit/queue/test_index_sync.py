"""The advisory index distributed by version through the state store: published once, pulled
by a worker whose copy is older (while its old copy is open), left alone when up to date."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.app.fleet import IndexSync
from patchwarden.store import open_store
from patchwarden.store.db import Store
from patchwarden.store.shared import SharedContent

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[Store]:
    with open_store(str(tmp_path / "state.db")) as s:
        yield s


def _count(path: Path) -> int:
    with AdvisoryIndex(path) as index:
        return index.record_count()


def test_publish_once_pull_where_older_skip_when_current(store: Store, tmp_path: Path) -> None:
    built = tmp_path / "serve" / "index.db"
    built.parent.mkdir()
    with AdvisoryIndex(built, create=True) as index:
        import_sources(index, [str(FIXTURES / "osv" / "Alpine")])
    sync = IndexSync(SharedContent(store.engine, "advisory-index"))
    v1 = sync.publish(built)
    assert v1 is not None and sync.publish(built) == v1  # the same index: nothing new stored
    worker = tmp_path / "worker" / "index.db"
    assert sync.pull(worker) == v1
    assert _count(worker) == _count(built) > 0
    # a scan has the worker's index open while a newer one arrives
    reader = sqlite3.connect(worker)
    before = reader.execute("SELECT COUNT(*) FROM records").fetchone()[0]
    with AdvisoryIndex(built) as index:
        import_sources(index, [str(FIXTURES / "cve")])
    v2 = sync.publish(built)
    assert v2 not in (None, v1)
    assert sync.pull(worker) == v2
    assert reader.execute("SELECT COUNT(*) FROM records").fetchone()[0] >= before
    reader.close()
    assert _count(worker) == _count(built)
    mtime = worker.stat().st_mtime_ns
    assert sync.pull(worker) == v2 and worker.stat().st_mtime_ns == mtime  # up to date


def test_nothing_published_or_a_damaged_entry_leaves_the_local_index(
    store: Store, tmp_path: Path
) -> None:
    shared = SharedContent(store.engine, "advisory-index")
    sync = IndexSync(shared)
    assert sync.pull(tmp_path / "index.db") is None
    import zstandard

    shared.write("0" * 32, zstandard.ZstdCompressor().compress(b"not an index"))
    assert sync.pull(tmp_path / "index.db") is None
    assert not (tmp_path / "index.db").exists()
    assert sync.publish(tmp_path / "missing.db") is None
