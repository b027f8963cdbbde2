"""Where ``patchwarden.yaml`` is; no pydantic or YAML here, so commands that run without a
config file start fast."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from patchwarden.errors import ConfigError

CONFIG_NAMES = ("patchwarden.yaml", "patchwarden.yml", ".patchwarden.yaml", ".patchwarden.yml")
ENV_CONFIG = "PATCHWARDEN_CONFIG"


def find_config(explicit: Path | None, search_dirs: Sequence[Path]) -> Path | None:
    """``--config``, then ``$PATCHWARDEN_CONFIG``, then the first config name in each of
    ``search_dirs`` or its parents, up to the root of the git repository it is in (the
    directory holding ``.git``; the filesystem root outside one)."""
    if explicit is not None:
        if not explicit.is_file():
            raise ConfigError(f"config file {explicit} does not exist", "check the --config path")
        return explicit
    env = os.environ.get(ENV_CONFIG)
    if env:
        path = Path(env)
        if not path.is_file():
            raise ConfigError(f"${ENV_CONFIG} names {env}, which does not exist")
        return path
    for start in search_dirs:
        for d in _upward(start.resolve()):
            for name in CONFIG_NAMES:
                if (d / name).is_file():
                    return d / name
    return None


def _upward(start: Path) -> list[Path]:
    """``start`` and its parents, ending with the repository root (or ``/``)."""
    dirs = []
    for d in (start, *start.parents):
        dirs.append(d)
        if (d / ".git").exists():
            break
    return dirs
