"""Registry access: the :class:`Registry` seam and its OCI distribution implementation.

Names are loaded on first use (PEP 562), so importing ``patchwarden.registry.model`` for its
types does not pull in httpx and the client: it keeps every command's start-up fast.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "RegistryClient": "patchwarden.registry.client",
    "ChainCredentials": "patchwarden.registry.credentials",
    "CredentialProvider": "patchwarden.registry.credentials",
    "Credentials": "patchwarden.registry.credentials",
    "DockerConfigCredentials": "patchwarden.registry.credentials",
    "EnvCredentials": "patchwarden.registry.credentials",
    "ExplicitCredentials": "patchwarden.registry.credentials",
    "default_credentials": "patchwarden.registry.credentials",
    "Registry": "patchwarden.registry.model",
    "ClientOptions": "patchwarden.registry.settings",
    "HostSettings": "patchwarden.registry.settings",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
