"""Run a throwaway PostgreSQL server (Debian's ``postgresql`` package) on a loopback port.

``initdb`` into a fresh directory, ``pg_ctl start`` with the socket in that directory and TCP
on 127.0.0.1 only, trust authentication (loopback, throwaway). PostgreSQL refuses to run as
root: as root the directory is handed to the ``postgres`` user and the tools run through
``runuser``.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from patchwarden.devtools.registry_server import free_port

TIMEOUT = 60.0


class PostgresServerError(RuntimeError):
    pass


def pg_bindir() -> Path | None:
    """The newest ``/usr/lib/postgresql/N/bin`` that has ``initdb``, else ``initdb`` on PATH."""
    dirs = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if dirs:
        return Path(dirs[-1]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


class PostgresServer:
    def __init__(self, database: str = "patchwarden") -> None:
        self.database = database
        self.port = 0
        self.dir = Path()
        self._bindir: Path | None = None
        self._as: list[str] = []
        self._started = False

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, *args: str) -> str:
        assert self._bindir is not None
        cmd = [*self._as, str(self._bindir / args[0]), *args[1:]]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False)
        if proc.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PostgresServerError(
                f"{args[0]} failed ({proc.returncode}): {proc.stderr.strip()}\n{tail}"
            )
        return proc.stdout

    def start(self) -> PostgresServer:
        self._bindir = pg_bindir()
        if self._bindir is None:
            raise PostgresServerError(
                "PostgreSQL is not installed; install it with `apt-get install -y postgresql`"
            )
        # Not under pytest's 0700 temp root: the postgres user must reach this directory.
        self.dir = Path(tempfile.mkdtemp(prefix="patchwarden-pg-"))
        data = self.dir / "data"
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresServerError("running as root needs runuser (util-linux)")
            shutil.chown(self.dir, "postgres", "postgres")
            self._as = [runuser, "-u", "postgres", "--"]
        self._run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.port = free_port()
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl",
            "-D",
            str(data),
            "-l",
            str(self.dir / "server.log"),
            "-o",
            opts,
            "-w",
            "-t",
            str(int(TIMEOUT)),
            "start",
        )
        self._started = True
        self._run(
            "createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database
        )
        return self

    def stop(self) -> None:
        if self._started:
            try:
                self._run("pg_ctl", "-D", str(self.dir / "data"), "-m", "fast", "-w", "stop")
            finally:
                self._started = False
        if self.dir != Path() and self.dir.exists():
            shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> PostgresServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
