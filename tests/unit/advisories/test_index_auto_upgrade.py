"""``advisories.auto_update`` upgrades an index of the older format (schema 1, ``versions``
inside ``data``) in place, as ``db update`` does; without it a reading command refuses the
index with exit code 3 and the advice to run ``db update``. The index is a real one: the
Debian records of tests/fixtures/osv imported, then rewritten the way schema 1 stored them
(as test_match_equivalence.py builds it)."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from patchwarden.advisories.errors import AdvisoryIndexError
from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.index_schema import SCHEMA_VERSION
from patchwarden.cli.main import app
from patchwarden.config.schema import Config
from patchwarden.errors import ExitCode
from testkit.advisory_helpers import FIXTURES, downgrade_to_schema_1

STATUS = (
    b"Package: curl\nStatus: install ok installed\nVersion: 7.74.0-1.3+deb11u2\n"
    b"Architecture: amd64\n\n"
)
OS_RELEASE = b'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n'
LATE = "DSA-5330-1"  # curl < 7.74.0-1.3+deb11u5 in Debian 11


@pytest.fixture(scope="module")
def schema_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A schema-1 index of the Debian fixtures (copy it before use: it gets upgraded)."""
    db = tmp_path_factory.mktemp("schema1") / "old.db"
    with AdvisoryIndex(db, create=True) as index:
        assert import_sources(index, [str(FIXTURES / "Debian")]).added
        index._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    downgrade_to_schema_1(db)
    return db


def _version(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
    return int(version)


def _copy(schema_1: Path, tmp_path: Path) -> Path:
    db = tmp_path / "advisories.db"
    shutil.copy(schema_1, db)
    assert _version(db) == 1
    return db


def _rootfs(tmp_path: Path) -> Path:
    root = tmp_path / "rootfs"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "etc").mkdir()
    (root / "var/lib/dpkg/status").write_bytes(STATUS)
    (root / "etc/os-release").write_bytes(OS_RELEASE)
    return root


def _scan(tmp_path: Path, db: Path, auto_update: bool, monkeypatch: pytest.MonkeyPatch) -> Result:
    (tmp_path / "patchwarden.yaml").write_text(
        f"advisories:\n  db_path: {db}\n  auto_update: {'true' if auto_update else 'false'}\n"
        "  base_url: http://127.0.0.1:9\n"  # nothing may be downloaded: the index is fresh
    )
    monkeypatch.chdir(tmp_path)
    return CliRunner().invoke(
        app, ["scan", "--rootfs", str(_rootfs(tmp_path)), "--no-cache", "--format", "json"]
    )


def test_scan_with_auto_update_upgrades_a_schema_1_index_in_place(
    schema_1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy(schema_1, tmp_path)
    res = _scan(tmp_path, db, True, monkeypatch)
    assert res.exit_code == ExitCode.OK, res.output
    assert _version(db) == SCHEMA_VERSION == 2
    doc = json.loads(res.stdout)
    found = {r for v in doc["vulnerabilities"] for r in v["records"]}
    assert LATE in found  # matched through the upgraded index
    with sqlite3.connect(db) as conn:  # every versions list moved out of data
        left = conn.execute("SELECT COUNT(*) FROM affected WHERE data LIKE '%\"versions\"%'")
        assert left.fetchone()[0] == 0


def test_without_auto_update_a_schema_1_index_is_refused_with_exit_3(
    schema_1: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = _copy(schema_1, tmp_path)
    res = _scan(tmp_path, db, False, monkeypatch)
    assert res.exit_code == ExitCode.ERRORS, res.output  # 3
    assert "written by an older patchwarden" in res.output
    assert "patchwarden db update" in res.output
    assert _version(db) == 1  # left as it was


def test_the_other_readers_upgrade_only_with_auto_update(schema_1: Path, tmp_path: Path) -> None:
    """check/update --vulns, the rebuild scan gate and serve's scan job open the index through
    the composition root, which passes ``advisories.auto_update`` on."""
    from patchwarden.app.wiring import build_advisory_index

    db = _copy(schema_1, tmp_path)
    plain = Config.model_validate({"advisories": {"db_path": str(db)}})
    with pytest.raises(AdvisoryIndexError, match="schema version 1") as err:
        build_advisory_index(plain)
    assert err.value.exit_code == ExitCode.ERRORS
    assert "advisories.auto_update: true" in (err.value.hint or "")
    assert _version(db) == 1
    auto = Config.model_validate({"advisories": {"db_path": str(db), "auto_update": True}})
    index = build_advisory_index(auto)
    assert index is not None
    try:
        assert index.record_count() > 0
    finally:
        index.close()
    assert _version(db) == SCHEMA_VERSION
    with AdvisoryIndex(db) as again:  # upgraded for every reader from now on
        assert again.record_count() > 0
