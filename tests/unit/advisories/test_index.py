"""Import: sources, malformed records, newer-modified replacement, atomic failure."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from patchwarden.advisories import importer
from patchwarden.advisories.batch import ImportBatch
from patchwarden.advisories.dbpath import resolve_db_path
from patchwarden.advisories.errors import AdvisoryIndexError
from patchwarden.advisories.importer import AdvisoryImportError, ImportReport, import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.rows import normalize_name
from testkit.advisory_helpers import FIXTURES


def snapshot(index: AdvisoryIndex) -> tuple[int, list[tuple[str, int]]]:
    return index.record_count(), [(s.ecosystem, s.record_count) for s in index.status()]


def make_zip(path: Path, folder: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(folder.glob("*.json")):
            zf.write(f, f.name)
    return path


def test_import_zip_and_counts(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    report = import_sources(index, [str(make_zip(tmp_path / "all.zip", FIXTURES / "Debian"))])
    assert (report.added, report.malformed) == (180, [])
    assert snapshot(index) == (180, [("Debian", 180)])
    again = import_sources(index, [str(FIXTURES / "Debian")])  # same records, same modified
    assert (again.added, again.replaced, again.unchanged) == (0, 0, 180)


def test_newer_modified_replaces(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    rec = json.loads((FIXTURES / "Debian" / "DSA-5197-1.json").read_text())
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "r.json").write_text(json.dumps(rec))
    import_sources(index, [str(tmp_path / "old")])
    rec["modified"] = "2030-01-01T00:00:00Z"
    rec["affected"][0]["ranges"][0]["events"][1]["fixed"] = "7.74.0-1.3+deb11u9"
    (tmp_path / "new.json").write_text(json.dumps(rec))
    assert import_sources(index, [str(tmp_path / "new.json")]).replaced == 1
    rows = index.lookup("Debian:11", ["curl"])
    assert [r.data["ranges"][0]["events"][1]["fixed"] for r in rows] == ["7.74.0-1.3+deb11u9"]
    # An older copy does not overwrite the newer one.
    assert import_sources(index, [str(tmp_path / "old")]).unchanged == 1


def test_malformed_record_is_skipped_with_its_file(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(FIXTURES / "npm", src)
    (src / "broken.json").write_text("{not json")
    (src / "noid.json").write_text('{"modified": "2024-01-01T00:00:00Z"}')
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    report = import_sources(index, [str(src)])
    assert report.added == 17
    assert sorted(Path(w).name for w, _ in report.malformed) == ["broken.json", "noid.json"]


def test_not_a_zip_is_an_error_and_nothing_changes(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Go")])
    before = snapshot(index)
    bogus = tmp_path / "all.zip"
    bogus.write_bytes(b"this is not a zip")
    with pytest.raises(AdvisoryImportError, match="not a readable zip archive"):
        import_sources(index, [str(FIXTURES / "npm"), str(bogus)])
    assert snapshot(index) == before  # npm (first source) was rolled back too


def test_corrupt_member_mid_zip_rolls_back(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Go")])
    before = snapshot(index)
    z = make_zip(tmp_path / "all.zip", FIXTURES / "PyPI")
    data = bytearray(z.read_bytes())
    with zipfile.ZipFile(z) as zf:
        info = zf.infolist()[100]  # a member in the middle: flip bytes in its compressed data
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    for i in range(start + 5, start + 25):
        data[i] ^= 0xFF
    z.write_bytes(bytes(data))
    with pytest.raises(AdvisoryImportError, match="corrupt"):
        import_sources(index, [str(z)])
    assert snapshot(index) == before
    # and the index is still fully usable afterwards
    assert index.lookup("Go", ["stdlib"])


def test_exception_injected_mid_import_rolls_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Go")])
    before = snapshot(index)
    calls = 0
    real = importer.add_document

    def flaky(batch: ImportBatch, report: ImportReport, where: str, data: bytes) -> None:
        nonlocal calls
        calls += 1
        if calls == 50:
            raise KeyboardInterrupt  # an interrupt half-way through
        real(batch, report, where, data)

    monkeypatch.setattr(importer, "add_document", flaky)
    with pytest.raises(KeyboardInterrupt):
        import_sources(index, [str(FIXTURES / "PyPI")])
    assert snapshot(index) == before
    other = AdvisoryIndex(tmp_path / "a.db")  # a second connection sees the same
    assert other.record_count() == before[0]


def test_missing_index_and_path_resolution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(AdvisoryIndexError, match="no advisory index"):
        AdvisoryIndex(tmp_path / "none.db")
    monkeypatch.delenv("PATCHWARDEN_ADVISORY_DB", raising=False)
    assert resolve_db_path(None, "/x/cfg.db") == Path("/x/cfg.db")
    assert resolve_db_path(None, None).name == "advisories.db"
    monkeypatch.setenv("PATCHWARDEN_ADVISORY_DB", "/x/env.db")
    assert resolve_db_path(None, "/x/cfg.db") == Path("/x/env.db")
    assert resolve_db_path(Path("/x/cli.db"), "/x/cfg.db") == Path("/x/cli.db")


def test_name_normalisation() -> None:
    assert normalize_name("PyPI", "Zope.Interface__x") == "zope-interface-x"
    assert normalize_name("npm", "Axios") == "Axios"


def _foreign_sqlite(path: Path) -> Path:
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.execute("INSERT INTO photos VALUES (1, 'cat.jpg')")
    conn.commit()
    conn.close()
    return path


@pytest.mark.parametrize("create", [False, True])
def test_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path: Path, create: bool) -> None:
    db = _foreign_sqlite(tmp_path / "photos.db")
    before = db.read_bytes()
    with pytest.raises(AdvisoryIndexError, match="not a patchwarden advisory index") as err:
        AdvisoryIndex(db, create=create)
    assert "another program" in err.value.message
    assert db.read_bytes() == before  # no schema written into someone else's file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos.db"]


def test_zero_byte_file_is_not_an_empty_index(tmp_path: Path) -> None:
    db = tmp_path / "advisories.db"
    db.write_bytes(b"")
    with pytest.raises(AdvisoryIndexError, match="an empty file"):
        AdvisoryIndex(db)
    assert db.read_bytes() == b""  # reading never writes


def test_index_without_sources_is_not_taken_as_complete(tmp_path: Path) -> None:
    AdvisoryIndex(tmp_path / "a.db", create=True).close()  # schema only: an import never ran
    with pytest.raises(AdvisoryIndexError, match="holds no advisory source"):
        AdvisoryIndex(tmp_path / "a.db")


def test_sources_claiming_records_that_are_gone_is_damage(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Debian")])
    index._conn.execute("DELETE FROM records")
    index.close()
    with pytest.raises(AdvisoryIndexError, match="is damaged: its sources claim 180"):
        AdvisoryIndex(tmp_path / "a.db")


def test_not_sqlite_at_all_is_a_clear_error(tmp_path: Path) -> None:
    db = tmp_path / "advisories.db"
    db.write_bytes(b"this is not a database\n" * 100)
    with pytest.raises(AdvisoryIndexError, match="cannot open advisory index"):
        AdvisoryIndex(db)


def test_corrupt_page_while_reading_is_a_clear_error(tmp_path: Path) -> None:
    index = AdvisoryIndex(tmp_path / "a.db", create=True)
    import_sources(index, [str(FIXTURES / "Debian")])
    index._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    index.close()
    db = tmp_path / "a.db"
    raw = bytearray(db.read_bytes())
    page = 4096
    for off in range(page * 3, len(raw) - page, page):  # keep page 1 (schema) intact
        raw[off : off + 64] = b"\xff" * 64
    db.write_bytes(bytes(raw))
    with pytest.raises(AdvisoryIndexError, match=r"damaged|cannot open"), AdvisoryIndex(db) as idx:
        idx.lookup("Debian:12", ["openssl", "curl", "bash"])
        idx.records(["DSA-5417-1"])
