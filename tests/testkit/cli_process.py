"""Run the real `patchwarden` CLI as a process (no config from the caller's environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path


def cli_env(
    extra: dict[str, str] | None = None,
    *,
    columns: int = 250,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """A CLI child's environment: ``base`` (default: this process's) without any
    ``PATCHWARDEN_*`` variable (no config, index or state of the caller's), plain output
    ``columns`` wide, then ``extra``."""
    source = os.environ if base is None else base
    env = {k: v for k, v in source.items() if not k.startswith("PATCHWARDEN_")}
    return {**env, "NO_COLOR": "1", "COLUMNS": str(columns), **(extra or {})}


def cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 180,
    columns: int = 250,
    base: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``patchwarden ARGS`` run to its end, its output captured as text (see :func:`cli_env`)."""
    return subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", *args],
        cwd=cwd,
        env=cli_env(env, columns=columns, base=base),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def spawn_cli(
    args: list[str], env: dict[str, str], cwd: Path, log: Path, *, new_session: bool = False
) -> subprocess.Popen[bytes]:
    """``patchwarden ARGS`` in the background (``serve``, ``worker``), its output appended to
    ``log``; the caller's environment plus ``env``, without ``PATCHWARDEN_CONFIG``.
    ``new_session``: its own process group, so a test can signal it with its children."""
    full = {**os.environ, **env}
    full.pop("PATCHWARDEN_CONFIG", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "patchwarden.cli.main", *args],
            cwd=cwd,
            env=full,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=new_session,
        )


def import_advisories(records: Path, db: Path) -> Path:
    """An advisory index at ``db`` built from the OSV records in ``records`` by the real CLI."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "db",
            "import",
            str(records),
            "--db",
            str(db),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return db
