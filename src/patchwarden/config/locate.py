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
    """``--config``, then ``$PATCHWARDEN_CONFIG``, then the first config name in search_dirs."""
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
    for d in search_dirs:
        for name in CONFIG_NAMES:
            if (d / name).is_file():
                return d / name
    return None
