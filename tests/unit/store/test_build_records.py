"""The ``builds`` table: records of ``rebuild`` runs (real SQLite file, migrated by Alembic)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from patchwarden.store import BuildRecord, InvalidRecordError, open_store

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
DEST = "registry.example/team/app"


def rec(
    name: str = "app", outcome: str = "pushed", at: datetime = T0, destination: str = DEST
) -> BuildRecord:
    pushed = outcome == "pushed"
    return BuildRecord(
        id=None,
        name=name,
        destination=destination,
        started_at=at,
        finished_at=at + timedelta(seconds=30),
        outcome=outcome,
        reason="pushed 1-20261201.1, latest",
        base_name="docker.io/library/debian:12",
        base_digest="sha256:" + "a" * 64,
        image_digest="sha256:" + "b" * 64 if pushed else None,
        tags=["1-20261201.1", "latest"] if pushed else [],
        findings=[["CVE-2023-1", "openssl", "high", "fixed"]],
        fixable=1,
        steps=[{"name": "build", "ok": True, "detail": "built", "duration_s": 1.5}],
    )


def test_round_trip_and_last_pushed(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        first = store.record_build(rec(at=T0))
        store.record_build(rec(outcome="stopped", at=T0 + timedelta(hours=1)))
        store.record_build(rec(name="other", at=T0 + timedelta(hours=2)))
        assert first.id is not None
        last = store.last_pushed_build("app", DEST)
        assert last is not None and last.id == first.id
        assert last.findings == [["CVE-2023-1", "openssl", "high", "fixed"]]
        assert last.tags == ["1-20261201.1", "latest"] and last.fixable == 1
        assert last.started_at.tzinfo is not None
        assert [r.outcome for r in store.builds("app")] == ["stopped", "pushed"]
        assert store.last_pushed_build("nothing", DEST) is None
        store.record_build(
            rec(destination="registry.example/team/other", at=T0 + timedelta(days=1))
        )
        last = store.last_pushed_build("app", DEST)
        assert last is not None and last.id == first.id


def test_reopen_keeps_build_records(tmp_path: Path) -> None:
    with open_store(str(tmp_path / "s.db")) as store:
        store.record_build(rec())
    with open_store(str(tmp_path / "s.db")) as store:
        assert store.last_pushed_build("app", DEST) is not None


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        (rec(outcome="built"), "invalid build outcome"),
        (rec(name=""), "must not be empty"),
        (replace(rec(), started_at=datetime(2026, 1, 1)), "timezone-aware"),
        (replace(rec(), steps=[{"x": object()}]), "JSON-serialisable"),
    ],
)
def test_bad_build_records_are_rejected(tmp_path: Path, bad: BuildRecord, needle: str) -> None:
    with (
        open_store(str(tmp_path / "s.db")) as store,
        pytest.raises(InvalidRecordError, match=needle),
    ):
        store.record_build(bad)
