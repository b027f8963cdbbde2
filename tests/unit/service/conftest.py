"""A real ``Service`` on a temporary SQLite store, driven through Starlette's TestClient."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from patchwarden.config.schema import Config
from patchwarden.service.app import build_app
from patchwarden.service.process import Service
from testkit.serve_helpers import ADMIN, HOOK, Served


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[Served]:
    repo = tmp_path / "repo"
    repo.mkdir()
    cfg = Config.model_validate({"serve": {"auth_failures_per_minute": 5}})
    env = {"PATCHWARDEN_API_TOKEN": ADMIN, "PATCHWARDEN_HOOK_TOKEN": HOOK}
    svc = Service(cfg, [repo], state=str(tmp_path / "state.db"), env=env)
    with TestClient(build_app(svc, grace=5), base_url="http://127.0.0.1") as client:
        yield Served(svc, client)
