"""A narrow Docker Engine API client (Docker or Podman's Docker-compatible API)."""

from patchwarden.engine.client import EngineClient, connect
from patchwarden.engine.errors import EngineError
from patchwarden.engine.info import ContainerInfo
from patchwarden.engine.spec import create_config

__all__ = ["ContainerInfo", "EngineClient", "EngineError", "connect", "create_config"]
