"""Per-container locks of the state store between real processes: SQLite (``flock`` next to
the database file) and PostgreSQL (advisory locks, on a server started by this module). A
holder is named to the others, and a killed holder's lock is free again at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.store import open_store

pytestmark = pytest.mark.integration
SCOPE = "unix://host/run/podman.sock"
CHILD = """
import sys, time
from patchwarden.store import open_store
from patchwarden.store.locks import run_owner
store = open_store(sys.argv[1])
with store.container_locks(sys.argv[2], run_owner("engine update")).hold("web") as holder:
    assert holder is None, holder
    print("held", flush=True)
    time.sleep(120)
"""


def _eventually(probe: Callable[[], str | None], seconds: float = 15.0) -> str | None:
    deadline = time.monotonic() + seconds
    while (value := probe()) is not None and time.monotonic() < deadline:
        time.sleep(0.1)
    return value


def _held_elsewhere_then_killed(url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, url, SCOPE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with open_store(url) as store:
            locks = store.container_locks(SCOPE, "pid 1 (test) on test since now")
            assert locks is not None
            with locks.hold("web") as holder:
                assert holder is not None
                assert holder.startswith(f"pid {child.pid} (engine update) on "), holder
            with locks.hold("db") as other:  # another container of the same engine: free
                assert other is None
            elsewhere = store.container_locks("tcp://other:2375", "x")
            assert elsewhere is not None
            with elsewhere.hold("web") as other_engine:
                assert other_engine is None, "the same name on another engine is another lock"
            os.kill(child.pid, signal.SIGKILL)
            child.wait(10)

            def attempt() -> str | None:
                with locks.hold("web") as h:
                    return h

            assert _eventually(attempt) is None, "a killed holder's lock is released"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(10)


def test_sqlite_locks_between_processes(tmp_path: Path) -> None:
    _held_elsewhere_then_killed(str(tmp_path / "state.db"))
    assert (tmp_path / "state.db.locks").is_dir()


def test_postgresql_advisory_locks_between_processes(pg: PostgresServer) -> None:
    _held_elsewhere_then_killed(pg.url)
