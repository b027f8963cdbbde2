"""Session-scoped real registries (CNCF distribution) started via patchwarden.devtools."""

from __future__ import annotations

from collections.abc import Iterator

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
