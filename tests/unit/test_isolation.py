"""The autouse isolation fixture (tests/conftest.py) keeps the developer's home out of tests."""

from __future__ import annotations

import os
from pathlib import Path

from patchwarden.advisories.dbpath import default_db_path
from patchwarden.cache.store import default_cache_dir
from patchwarden.registry.credentials import docker_config_path


def test_home_docker_config_and_platform_dirs_are_temporary(isolated_home: Path) -> None:
    assert Path(os.environ["HOME"]) == isolated_home
    assert Path(os.environ["DOCKER_CONFIG"]).is_relative_to(isolated_home)
    assert default_cache_dir().is_relative_to(isolated_home)
    assert default_db_path().is_relative_to(isolated_home)
    assert docker_config_path().is_relative_to(isolated_home)
    assert not [v for v in os.environ if v.startswith("PATCHWARDEN_")]
