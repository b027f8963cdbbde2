"""Run the real `patchwarden` CLI as a process (no config from the caller's environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "250", **(extra or {})}
    env.pop("PATCHWARDEN_CONFIG", None)
    return env


def cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "patchwarden.cli.main", *args],
        cwd=cwd,
        env=cli_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
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
