"""Scan results keyed by image digest and advisory index version (``store_sboms``): a result
of this index version is reused without reading the image, one of another version is matched
again from its stored packages, and an image another process is scanning is waited for and
reused. Real advisory records (tests/fixtures/osv), a real SQLite state store and its
per-digest file locks; the image source is a counting stand-in (testkit.sbom_pipeline; the
integration test tests/integration/test_fleet_once.py reads real images from a real
registry)."""

from __future__ import annotations

import shutil
import threading
import time
from pathlib import Path

from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.app.refresh import index_version, store_sboms
from patchwarden.store import open_store
from patchwarden.store.locks import FileLocks
from patchwarden.store.sboms import SbomStore
from testkit.sbom_pipeline import CountingPipeline

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "osv"
LATE = "DSA-5330-1"  # curl < 7.74.0-1.3+deb11u5 in Debian:11
DIGEST = "sha256:" + "a" * 64


def _index(path: Path, root: Path) -> AdvisoryIndex:
    index = AdvisoryIndex(path, create=True)
    assert import_sources(index, [str(root)]).added
    return index


def test_a_result_is_reused_for_its_index_version_and_rematched_for_a_new_one(
    tmp_path: Path,
) -> None:
    early = tmp_path / "osv-early"
    shutil.copytree(FIXTURES, early)
    (early / "Debian" / f"{LATE}.json").unlink()
    index = _index(tmp_path / "adv.db", early)
    v1 = index_version(index)
    assert index_version(index) == v1  # stable while nothing is imported
    pipeline = CountingPipeline()
    images = [(DIGEST, f"reg/a@{DIGEST}"), (DIGEST, f"reg/b@{DIGEST}")]  # one image, two refs
    with open_store(str(tmp_path / "s.db")) as store:
        sboms = SbomStore(store.engine)
        first = store_sboms(pipeline, sboms, images, None, index)  # type: ignore[arg-type]
        assert len(first.scanned) == 1 and len(pipeline.reads) == 1
        assert sboms.versions([DIGEST]) == {DIGEST: v1}
        again = store_sboms(pipeline, sboms, images, None, index)  # type: ignore[arg-type]
        assert (again.scanned, again.known, again.rematched) == ([], 1, [])
        assert len(pipeline.reads) == 1  # reused: the image was not read again

        assert import_sources(index, [str(FIXTURES / "Debian" / f"{LATE}.json")]).added
        v2 = index_version(index)
        assert v2 != v1
        later = store_sboms(pipeline, sboms, images, None, index)  # type: ignore[arg-type]
        assert later.scanned == [] and len(pipeline.reads) == 1  # re-matched, not read
        assert [m.added for m in later.rematched] == [(LATE,)]
        (stored,) = sboms.get_many([DIGEST])
        assert stored.index_version == v2 and LATE in (stored.findings or {})
        assert LATE in (stored.new_findings or {})
    index.close()


def test_an_image_another_process_is_scanning_is_waited_for_and_reused(tmp_path: Path) -> None:
    index = _index(tmp_path / "adv.db", FIXTURES)
    pipeline = CountingPipeline()
    with open_store(str(tmp_path / "s.db")) as store:
        sboms = SbomStore(store.engine)
        other = FileLocks(tmp_path / "s.db.locks", "image-scan", "the other worker")
        taken, release = threading.Event(), threading.Event()

        def scanning_elsewhere() -> None:
            with other.hold(DIGEST) as holder:
                assert holder is None
                taken.set()
                release.wait(10)
                sboms.put(DIGEST, "reg/a", {"id": "debian", "version_id": "11"}, [], {}, "v")

        t = threading.Thread(target=scanning_elsewhere)
        t.start()
        assert taken.wait(10)
        mine = store.container_locks("image-scan", "this worker")
        threading.Timer(0.5, release.set).start()
        t0 = time.monotonic()
        res = store_sboms(
            pipeline,  # type: ignore[arg-type]
            sboms,
            [(DIGEST, "reg/a")],
            None,
            None,
            locks=mine,
            wait=20,
        )
        t.join()
        assert time.monotonic() - t0 >= 0.4  # it waited for the other process
        assert (res.scanned, res.known, res.failed) == ([], 1, [])
        assert pipeline.reads == []
    index.close()
