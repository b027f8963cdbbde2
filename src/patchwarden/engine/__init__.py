"""A narrow Docker Engine API client (Docker or Podman's Docker-compatible API)."""

from patchwarden.engine.client import ContainerInfo, EngineClient, EngineError, connect
from patchwarden.engine.spec import create_config

__all__ = ["ContainerInfo", "EngineClient", "EngineError", "connect", "create_config"]
