"""Where the advisory index file is: ``--db``, the environment, the config, the default."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

ENV_DB = "PATCHWARDEN_ADVISORY_DB"


def default_db_path() -> Path:
    return Path(platformdirs.user_data_dir("patchwarden")) / "advisories.db"


def resolve_db_path(cli: Path | None = None, configured: str | None = None) -> Path:
    """``--db``, then ``$PATCHWARDEN_ADVISORY_DB``, then ``advisories.db_path``, then default."""
    if cli is not None:
        return cli
    env = os.environ.get(ENV_DB)
    if env:
        return Path(env).expanduser()
    if configured:
        return Path(configured).expanduser()
    return default_db_path()
