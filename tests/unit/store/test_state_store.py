"""The state store on a temporary SQLite file: migrations, records, queries and errors."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, create_engine, inspect

from patchwarden.store import (
    InvalidRecordError,
    Store,
    StoreError,
    UpdateRecord,
    open_store,
    resolve_url,
)
from patchwarden.store import connection as store_connection
from patchwarden.store import migrate as store_migrate
from patchwarden.store.orm import Base

T0 = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def rec(
    container: str = "web",
    *,
    at: datetime = T0,
    outcome: str = "updated",
    action: str = "update",
    to_digest: str | None = "sha256:" + "b" * 64,
    gates: dict[str, object] | None = None,
) -> UpdateRecord:
    return UpdateRecord(
        id=None,
        started_at=at,
        finished_at=at + timedelta(seconds=3),
        container=container,
        from_image="nginx:1.25",
        from_digest="sha256:" + "a" * 64,
        to_image="nginx:1.26",
        to_digest=to_digest,
        outcome=outcome,
        reason="",
        gates=gates if gates is not None else {"healthcheck": {"ok": True, "status": "healthy"}},
        duration_s=3.0,
        action=action,
    )


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "state.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    with open_store(str(db_path)) as s:
        yield s


# ---- resolving where the database lives ------------------------------------------------------


def test_resolve_default_env_path_and_url(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("PATCHWARDEN_STATE", raising=False)
    assert resolve_url() == f"sqlite:///{store_connection.default_path()}"
    assert store_connection.default_path().name == "state.db"
    monkeypatch.setenv("PATCHWARDEN_STATE", str(tmp_path / "env.db"))
    assert resolve_url() == f"sqlite:///{tmp_path / 'env.db'}"
    assert resolve_url(str(tmp_path / "arg.db")) == f"sqlite:///{tmp_path / 'arg.db'}"
    assert resolve_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"


def test_env_var_is_used_when_no_argument(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATCHWARDEN_STATE", str(tmp_path / "from-env.db"))
    with open_store() as s:
        s.record(rec())
    assert (tmp_path / "from-env.db").is_file()


# ---- migrations ------------------------------------------------------------------------------


def test_migrates_an_empty_database_to_head(db_path: Path) -> None:
    with open_store(str(db_path)):
        pass
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        insp = inspect(engine)
        assert set(insp.get_table_names()) == {
            "updates",
            "tag_digests",
            "promotions",
            "builds",
            "rollouts",
            "rollout_steps",
            "alembic_version",
            # patchwarden serve (migration 0006)
            "jobs",
            "job_runs",
            "fleet",
            "pending_updates",
            "api_tokens",
            "audit_log",
            "notifications",
            # stored SBOMs (migration 0007)
            "image_sboms",
            # patchwarden worker (migration 0008)
            "tasks",
            "effects",
            "shared_content",
        }
        indexes = {ix["name"]: ix["column_names"] for ix in insp.get_indexes("updates")}
        assert indexes == {"ix_updates_container_started_at": ["container", "started_at"]}
        indexes = {ix["name"]: ix["column_names"] for ix in insp.get_indexes("builds")}
        assert indexes == {"ix_builds_name_started_at": ["name", "started_at"]}
        assert store_migrate.current_revision(engine) == store_migrate.head_revision()
    finally:
        engine.dispose()


def test_models_match_the_migrations(db_path: Path) -> None:
    with open_store(str(db_path)):
        pass
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(conn, opts={"compare_type": True})
            assert compare_metadata(ctx, Base.metadata) == []
            # The comparison is live: a model change without a migration shows up.
            changed = MetaData()
            for table in Base.metadata.tables.values():
                table.to_metadata(changed)
            changed.tables["updates"].append_column(Column("extra", Integer))
            diffs = compare_metadata(ctx, changed)
            assert [d[0] for d in diffs] == ["add_column"]
    finally:
        engine.dispose()


def test_second_open_on_a_migrated_database_is_a_no_op(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_store(str(db_path)) as s:
        s.record(rec())

    def boom(*_a: object, **_k: object) -> None:
        raise AssertionError("upgrade must not run on a database already at head")

    monkeypatch.setattr("alembic.command.upgrade", boom)
    with open_store(str(db_path)) as s:
        assert len(s.history()) == 1
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        assert store_migrate.migrate(engine) is False
    finally:
        engine.dispose()


def test_the_head_read_from_the_migration_files_is_alembics() -> None:
    assert store_migrate._head_from_files() == store_migrate.head_revision()


def test_a_store_at_head_opens_without_importing_alembic(db_path: Path) -> None:
    """Opening a store already at the newest revision is one query: Alembic (a large import,
    paid by every command) is loaded only when there is something to migrate."""
    with open_store(str(db_path)):
        pass
    probe = (
        "import sys\n"
        "from patchwarden.store import open_store\n"
        f"with open_store({str(db_path)!r}) as s:\n"
        "    s.history()\n"
        "print('alembic' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "False", out.stderr


def test_a_store_behind_head_is_still_migrated(db_path: Path) -> None:
    with open_store(str(db_path)):
        pass
    engine = create_engine(f"sqlite:///{db_path}")
    try:
        cfg = store_migrate._alembic_config()
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, "-1")
        assert store_migrate.current_revision(engine) != store_migrate.head_revision()
        assert store_migrate.migrate(engine) is True
        assert store_migrate.current_revision(engine) == store_migrate.head_revision()
    finally:
        engine.dispose()


def test_concurrent_opens_on_a_fresh_file_both_succeed(db_path: Path) -> None:
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with open_store(str(db_path)) as s:
                s.record(rec())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with open_store(str(db_path)) as s:
        assert len(s.history()) == 4


def test_unknown_newer_revision_is_reported(db_path: Path) -> None:
    with open_store(str(db_path)):
        pass
    con = sqlite3.connect(db_path)
    con.execute("UPDATE alembic_version SET version_num = 'zz99'")
    con.commit()
    con.close()
    with pytest.raises(StoreError) as info:
        open_store(str(db_path))
    assert "zz99" in str(info.value)
    assert "newer patchwarden" in (info.value.hint or "")


# ---- record / history / last_success ---------------------------------------------------------


def test_record_returns_the_record_with_an_id(store: Store) -> None:
    a = store.record(rec())
    b = store.record(rec())
    assert a.id is not None and b.id is not None and b.id > a.id
    assert a == store.history()[1]
    assert a.gates == {"healthcheck": {"ok": True, "status": "healthy"}}


def test_datetimes_come_back_aware_in_utc(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    stored = store.record(rec(at=datetime(2025, 3, 1, 14, 0, tzinfo=plus2)))
    assert stored.started_at == T0 and stored.started_at.tzinfo is UTC
    (back,) = store.history()
    assert back.started_at == T0
    assert back.started_at.utcoffset() == timedelta(0)
    assert back.finished_at == T0 + timedelta(seconds=3)
    assert back.finished_at is not None and back.finished_at.tzinfo is not None


def test_history_is_newest_first_filtered_and_limited(store: Store) -> None:
    # Inserted out of time order on purpose.
    store.record(rec("web", at=T0 + timedelta(minutes=2)))
    store.record(rec("db", at=T0 + timedelta(minutes=1)))
    store.record(rec("web", at=T0))
    store.record(rec("web", at=T0 + timedelta(minutes=3), outcome="failed"))
    times = [r.started_at for r in store.history()]
    assert times == sorted(times, reverse=True) and len(times) == 4
    web = store.history("web")
    assert [r.container for r in web] == ["web"] * 3
    assert [r.started_at - T0 for r in web] == [timedelta(minutes=m) for m in (3, 2, 0)]
    assert len(store.history(limit=2)) == 2
    assert store.history(limit=0) == []
    assert store.history("nope") == []


def test_same_start_time_orders_by_insertion(store: Store) -> None:
    first = store.record(rec(at=T0, outcome="failed"))
    second = store.record(rec(at=T0, outcome="updated"))
    assert [r.id for r in store.history()] == [second.id, first.id]


def test_last_success(store: Store) -> None:
    assert store.last_success("web") is None
    good = store.record(rec("web", at=T0, outcome="updated"))
    store.record(rec("web", at=T0 + timedelta(minutes=1), outcome="rolled-back"))
    store.record(rec("web", at=T0 + timedelta(minutes=2), outcome="failed"))
    store.record(rec("web", at=T0 + timedelta(minutes=3), outcome="skipped"))
    store.record(rec("web", at=T0 + timedelta(minutes=4), outcome="up-to-date"))
    store.record(rec("other", at=T0 + timedelta(minutes=5), outcome="updated"))
    assert store.last_success("web") == good
    rollback = store.record(
        rec("web", at=T0 + timedelta(minutes=6), outcome="rolled-back", action="rollback")
    )
    assert store.last_success("web") == rollback
    recovered = store.record(
        rec("web", at=T0 + timedelta(minutes=7), outcome="updated", action="recover")
    )
    assert store.last_success("web") == recovered


def test_reopen_keeps_data(db_path: Path) -> None:
    with open_store(str(db_path)) as s:
        stored = s.record(rec(gates={"http": {"status": 200}, "tcp": None}))
    with open_store(f"sqlite:///{db_path}") as s:
        assert s.history() == [stored]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("outcome", "success", "invalid outcome 'success'"),
        ("action", "upgrade", "invalid action 'upgrade'"),
        ("container", "", "container"),
        ("started_at", datetime(2025, 1, 1), "timezone-aware"),
        ("finished_at", datetime(2025, 1, 1), "timezone-aware"),
        ("duration_s", -1.0, "negative"),
        ("gates", {"x": object()}, "JSON"),
        ("id", 7, "already has id"),
    ],
)
def test_bad_records_are_rejected(store: Store, field: str, value: object, needle: str) -> None:
    from dataclasses import replace

    changes: dict[str, Any] = {field: value}
    bad = replace(rec(), **changes)
    with pytest.raises(InvalidRecordError) as info:
        store.record(bad)
    assert needle in str(info.value)
    assert isinstance(info.value, StoreError) and isinstance(info.value, ValueError)
    assert store.history() == []


# ---- errors ----------------------------------------------------------------------------------


def test_a_non_sqlite_file_gives_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"this is not a database, it is a shopping list\n" * 200)
    with pytest.raises(StoreError) as info:
        open_store(str(path))
    err = info.value
    assert "file is not a database" in err.message
    assert str(path) in err.message
    assert err.hint and "not a patchwarden SQLite database" in err.hint


def test_an_unwritable_location_gives_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError) as info:
        open_store(str(blocker / "sub" / "state.db"))
    assert "PATCHWARDEN_STATE" in (info.value.hint or "")


def test_invalid_url_is_a_store_error() -> None:
    with pytest.raises(StoreError) as info:
        open_store("not a scheme://u:secret@h/db")
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://patch:s3cr3tpw@127.0.0.1:1/state",
        "postgresql://patch:s3cr3tpw@127.0.0.1:1/state",
    ],
)
def test_postgres_errors_never_show_the_password(url: str) -> None:
    with pytest.raises(StoreError) as info:
        open_store(url)
    err = info.value
    shown = f"{err} {err.message} {err.hint} {err!r} {err.args}"
    assert "s3cr3tpw" not in shown
    assert "127.0.0.1" in err.message
    assert err.__cause__ is None and err.__suppress_context__
    try:
        import psycopg  # noqa: F401
    except ImportError:
        assert "not installed" in err.message
        assert err.hint and "pip install" in err.hint and "psycopg" in err.hint
    else:  # pragma: no cover - only where psycopg is installed
        assert "cannot open the state store" in err.message


def test_an_unwritable_store_is_found_before_anything_is_touched(db_path: Path) -> None:
    with open_store(str(db_path)) as store:
        store.record(rec())
        store.check_writable()  # writable: passes, and leaves no probe row behind
        assert [r.container for r in store.history()] == ["web"]
    readonly = f"sqlite:///file:{db_path}?mode=ro&uri=true"
    with open_store(readonly) as store:
        assert [r.container for r in store.history()] == ["web"]
        with pytest.raises(StoreError, match="nothing was changed"):
            store.check_writable()


@pytest.mark.parametrize(
    ("column", "value"),
    [("gates", "{not json"), ("started_at", "yesterday-ish"), ("gates", "[" * 5000 + "]" * 5000)],
)
def test_a_malformed_history_row_is_a_clear_error(db_path: Path, column: str, value: str) -> None:
    with open_store(str(db_path)) as store:
        store.record(rec())
    conn = sqlite3.connect(db_path)
    sql = {
        "gates": "UPDATE updates SET gates = ?",
        "started_at": "UPDATE updates SET started_at = ?",
    }[column]
    conn.execute(sql, (value,))
    conn.commit()
    conn.close()
    with open_store(str(db_path)) as store, pytest.raises(StoreError, match="malformed row"):
        store.history()


@pytest.mark.parametrize("command", [["update"], ["rollback", "web"]])
def test_engine_commands_check_the_store_before_the_engine(
    db_path: Path, command: list[str]
) -> None:
    """An unreachable engine is not even contacted when the store cannot record."""
    import os
    import subprocess
    import sys

    with open_store(str(db_path)) as store:
        store.record(rec())
    readonly = f"sqlite:///file:{db_path}?mode=ro&uri=true"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "engine",
            *command,
            "--state",
            readonly,
            "--engine",
            "tcp://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=db_path.parent,
        env={**os.environ, "COLUMNS": "500"},
    )
    assert proc.returncode == 3, proc.stderr
    assert "nothing was changed" in proc.stderr
    assert "container engine" not in proc.stderr
