"""Locks per engine + container, so two runs never act on the same container at once.

``engine update``, ``engine rollback`` and crash recovery take the lock of a container
(engine identity + container name) before they touch it, and hold it until its procedure is
over. A run that finds the lock held does not wait: it skips that container, and says which
run holds it (process id, host, command and since when).

The locks are released by the operating system or the database when their holder dies, so a
killed run never blocks the next one (which then recovers what the killed run left):

- SQLite: an exclusive ``flock`` on a small file per container in ``STATE.db.locks/``; the
  holder writes who it is into the file.
- PostgreSQL: a session-level advisory lock (``pg_try_advisory_lock``) on a connection held for
  the procedure; the holder names itself in the connection's ``application_name``, which the
  other runs read from ``pg_locks`` and ``pg_stat_activity``.
- Anything else (an in-memory SQLite database): none here; the updater's own lock within
  the process is all there is.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import SQLAlchemyError

APP_NAME_MAX: Final = 63  # PostgreSQL keeps NAMEDATALEN - 1 bytes of application_name


def run_owner(command: str) -> str:
    """Who a lock holder is, as another run reports it."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"pid {os.getpid()} ({command}) on {socket.gethostname()} since {now}"


def _digest(scope: str, name: str) -> bytes:
    return hashlib.sha256(f"{scope}\0{name}".encode()).digest()


class FileLocks:
    """``flock`` on ``DIRECTORY/<sha256 of scope and name>.lock`` (POSIX)."""

    def __init__(self, directory: Path, scope: str, owner: str) -> None:
        self.directory, self.scope, self.owner = directory, scope, owner

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[str | None]:
        import fcntl

        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / f"{_digest(self.scope, name).hex()[:40]}.lock"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield _read_holder(fd)
                return
            note = json.dumps({"holder": self.owner, "container": name, "engine": self.scope})
            os.ftruncate(fd, 0)
            os.pwrite(fd, note.encode(), 0)
            try:
                yield None
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)


def _read_holder(fd: int) -> str:
    raw = os.pread(fd, 4096, 0)
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(raw)["holder"])
    return "another patchwarden run (it is starting)"


class AdvisoryLocks:
    """PostgreSQL session-level advisory locks, one connection per lock held."""

    def __init__(self, engine: Engine, scope: str, owner: str) -> None:
        self.engine, self.scope, self.owner = engine, scope, owner

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[str | None]:
        key = int.from_bytes(_digest(self.scope, name)[:8], "big", signed=True)
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}).scalar()
            if not got:
                yield self._holder(conn, key)
                return
            label = f"patchwarden {self.owner}".encode()[:APP_NAME_MAX].decode(errors="ignore")
            conn.execute(text("SELECT set_config('application_name', :n, false)"), {"n": label})
            try:
                yield None
            finally:
                conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                conn.execute(text("RESET application_name"))
        except SQLAlchemyError:
            conn.invalidate()  # never hand a connection that may still hold the lock back
            raise
        finally:
            conn.close()

    @staticmethod
    def _holder(conn: Connection, key: int) -> str:
        unsigned = key & 0xFFFFFFFFFFFFFFFF
        row = conn.execute(
            text(
                "SELECT a.application_name, a.pid FROM pg_locks l "
                "JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
                "AND l.classid = CAST(:hi AS bigint)::oid AND l.objid = CAST(:lo AS bigint)::oid"
            ),
            {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
        ).first()
        if row is None:
            return "another patchwarden run (it just finished)"
        app_name = str(row[0] or "").removeprefix("patchwarden ")
        return app_name or f"another patchwarden run (PostgreSQL backend pid {row[1]})"
