"""Real servers and processes for the worker-fleet tests and bench/fleet.py: Redis and
PostgreSQL on loopback, ``patchwarden worker`` child processes (each in its own session, so a
test can SIGKILL a whole worker: its main process and its pool)."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from patchwarden.devtools.postgres_server import PostgresServer, PostgresServerError, pg_bindir
from patchwarden.devtools.redis_server import RedisServer, RedisServerError, redis_binary
from testkit.cli_process import spawn_cli
from testkit.tools import unavailable


@contextmanager
def redis_or_fail() -> Iterator[RedisServer]:
    if redis_binary() is None:
        unavailable(
            "redis-server is not installed (Debian: redis-server; scripts/install-system-deps.sh)"
        )
    try:
        with RedisServer() as server:
            yield server
    except RedisServerError as exc:
        pytest.fail(str(exc), pytrace=False)


@contextmanager
def postgres_or_fail() -> Iterator[PostgresServer]:
    if pg_bindir() is None:
        unavailable("PostgreSQL is not installed (Debian: postgresql; scripts/install-system-deps.sh)")
    try:
        with PostgresServer() as server:
            yield server
    except PostgresServerError as exc:
        pytest.fail(str(exc), pytrace=False)


class WorkerProcess:
    """``patchwarden worker`` as a child process in its own session."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.args, self.env, self.cwd, self.name = args, env, cwd, name
        self.log = cwd / f"worker-{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> WorkerProcess:
        args = ["worker", *self.args, "--name", f"{self.name}@test"]
        self.proc = spawn_cli(args, self.env, self.cwd, self.log, new_session=True)
        return self

    @property
    def pgid(self) -> int:
        assert self.proc is not None
        return self.proc.pid  # a session leader's group id is its pid

    def owns(self, pid: int) -> bool:
        try:
            return os.getpgid(pid) == self.pgid
        except ProcessLookupError:
            return False

    def kill(self) -> None:
        """SIGKILL the worker and its pool: a machine lost mid-job."""
        os.killpg(self.pgid, signal.SIGKILL)
        assert self.proc is not None
        self.proc.wait(10)

    def stop(self, timeout: float = 30) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            os.killpg(self.pgid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pgid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""
