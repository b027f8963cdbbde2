"""Session-scoped real registries (CNCF distribution) started via patchwarden.devtools."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.skopeo import Pusher
from testkit.tools import require_tool

REGISTRY_BINARY = "docker-registry"


@pytest.fixture(scope="session")
def tools() -> None:
    for name in (REGISTRY_BINARY, "skopeo", "htpasswd"):
        require_tool(name)


@pytest.fixture(scope="session")
def plain_registry(tools: None) -> Iterator[RegistryServer]:
    with RegistryServer("none") as reg:
        yield reg


@pytest.fixture(scope="session")
def htpasswd_registry(tools: None) -> Iterator[RegistryServer]:
    with RegistryServer("htpasswd", username="alice", password="Wonderland-42!") as reg:
        yield reg


@pytest.fixture(scope="session")
def token_registry(tools: None) -> Iterator[RegistryServer]:
    with RegistryServer("token", username="bob", password="Builder-77?") as reg:
        yield reg


@pytest.fixture()
def proxy(plain_registry: RegistryServer) -> Iterator[RegistryProxy]:
    with RegistryProxy(plain_registry.host) as p:
        yield p


@pytest.fixture(scope="session")
def pusher(tmp_path_factory: pytest.TempPathFactory) -> Pusher:
    return Pusher(tmp_path_factory.mktemp("layouts"))


def import_advisories(records: Path, db: Path) -> Path:
    """An advisory index at ``db`` built from the OSV records in ``records`` by the real CLI."""
    import subprocess
    import sys

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


def image_config(ref: str) -> dict[str, Any]:
    """The image config of ``docker://REF`` as skopeo (an independent client) reads it."""
    import json
    import subprocess

    out = subprocess.run(
        ["skopeo", "inspect", "--tls-verify=false", "--config", f"docker://{ref}"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return dict(json.loads(out.stdout))
