"""Registry access: the :class:`Registry` seam and its OCI distribution implementation."""

from patchwarden.registry.client import RegistryClient
from patchwarden.registry.credentials import (
    ChainCredentials,
    CredentialProvider,
    Credentials,
    DockerConfigCredentials,
    EnvCredentials,
    ExplicitCredentials,
    default_credentials,
)
from patchwarden.registry.model import Registry
from patchwarden.registry.settings import ClientOptions, HostSettings

__all__ = [
    "ChainCredentials",
    "ClientOptions",
    "CredentialProvider",
    "Credentials",
    "DockerConfigCredentials",
    "EnvCredentials",
    "ExplicitCredentials",
    "HostSettings",
    "Registry",
    "RegistryClient",
    "default_credentials",
]
