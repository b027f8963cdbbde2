"""Where registry credentials come from: config, environment, Docker's config.json."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from patchwarden.errors import AuthenticationError, ConfigError
from patchwarden.net.redact import redact_text, remember_secret
from patchwarden.registry.settings import HostSettings

DOCKER_HUB = "docker.io"
_HUB_ALIASES = frozenset(
    {"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}
)
HELPER_TIMEOUT = 15.0


@dataclass(frozen=True, slots=True)
class Credentials:
    """Username/password, or an identity (refresh) token for the token endpoint."""

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    identity_token: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:  # whatever provider found them: never print them
        remember_secret(self.password, user=self.username)
        remember_secret(self.identity_token, user=self.username)

    def __repr__(self) -> str:
        return (
            f"Credentials(username={self.username!r}, "
            f"password={'***' if self.password else None!r}, "
            f"identity_token={'***' if self.identity_token else None!r})"
        )

    __str__ = __repr__

    @property
    def has_basic(self) -> bool:
        return self.username is not None and self.password is not None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.password, self.identity_token) if s)


class CredentialProvider(Protocol):
    def get(self, host: str) -> Credentials | None:
        """Credentials for registry ``host`` (``docker.io`` for Docker Hub), or None."""
        ...


def normalize_host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``http://h:5000/x`` → ``h:5000``."""
    k = key.strip()
    k = re.sub(r"^[a-zA-Z][a-zA-Z0-9+.-]*://", "", k)
    k = k.split("/", 1)[0].lower()
    return DOCKER_HUB if k in _HUB_ALIASES else k


class ExplicitCredentials:
    """Credentials from patchwarden.yaml ``registries``."""

    def __init__(self, hosts: Mapping[str, HostSettings]) -> None:
        self._hosts = {normalize_host(h): s for h, s in hosts.items()}

    def get(self, host: str) -> Credentials | None:
        key = normalize_host(host)
        s = self._hosts.get(key)
        if s is None or s.username is None:
            return None
        password = s.password
        if s.password_env:
            password = os.environ.get(s.password_env)
            if password is None:
                raise ConfigError(
                    f"registries.{key}.password_env names ${s.password_env}, which is not set",
                    f"export {s.password_env}=... or remove password_env to use other credentials",
                )
        if password is None:
            return None
        return Credentials(s.username, password)


def env_prefix(host: str) -> str:
    """``PATCHWARDEN_REGISTRY_<HOST>_`` with the host uppercased, non-alnum as ``_``."""
    return "PATCHWARDEN_REGISTRY_" + re.sub(r"[^A-Z0-9]", "_", normalize_host(host).upper()) + "_"


class EnvCredentials:
    """``PATCHWARDEN_REGISTRY_<HOST>_USERNAME`` / ``_PASSWORD``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = environ

    def get(self, host: str) -> Credentials | None:
        env = os.environ if self._env is None else self._env
        prefix = env_prefix(host)
        user, pw = env.get(prefix + "USERNAME"), env.get(prefix + "PASSWORD")
        if user and pw is not None:
            return Credentials(user, pw)
        return None


def docker_config_path(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    base = env.get("DOCKER_CONFIG")
    if base:
        return Path(base) / "config.json"
    return Path(env.get("HOME", str(Path.home()))) / ".docker" / "config.json"


def run_credential_helper(
    name: str, server: str, timeout: float = HELPER_TIMEOUT
) -> Credentials | None:
    """Run ``docker-credential-NAME get`` with ``server`` on stdin."""
    binary = f"docker-credential-{name}"
    path = shutil.which(binary)
    if path is None:
        raise ConfigError(
            f"Docker credential helper {binary} is not installed or not on PATH",
            f"install {binary}, or remove it from credHelpers/credsStore in {docker_config_path()}",
        )
    try:
        proc = subprocess.run(  # noqa: S603 - the docker-credential-NAME helper the user configured; argv list, no shell
            [path, "get"], input=server.encode(), capture_output=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise AuthenticationError(
            f"Docker credential helper {binary} did not answer within {timeout:.0f}s",
            "it may be waiting for an unlock prompt; run `docker login` once interactively",
        ) from exc
    out = proc.stdout.decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        if (
            "credentials not found" in out.lower()
            or "credentials not found" in proc.stderr.decode("utf-8", "replace").lower()
        ):
            return None
        err = redact_text(proc.stderr.decode("utf-8", "replace").strip() or out)[:300]
        raise AuthenticationError(
            f"Docker credential helper {binary} failed for {server}: {err}",
            f"run `docker login {server}` again",
        )
    try:
        data = json.loads(out)
        user, secret = data.get("Username"), data.get("Secret")
    except (ValueError, AttributeError) as exc:
        raise AuthenticationError(
            f"Docker credential helper {binary} printed something that is not JSON",
            'expected {"Username": ..., "Secret": ...}',
        ) from exc
    if not isinstance(secret, str) or not secret:
        return None
    if user == "<token>":
        return Credentials(identity_token=secret)
    return Credentials(str(user) if user else None, secret)


class DockerConfigCredentials:
    """Docker's ``config.json``: ``auths``, ``credHelpers`` and ``credsStore``."""

    def __init__(self, path: Path | None = None, *, helper_timeout: float = HELPER_TIMEOUT) -> None:
        self._path = path
        self._timeout = helper_timeout

    def _load(self) -> dict[str, object]:
        path = self._path or docker_config_path()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read Docker config {path}: {exc}") from exc
        return data if isinstance(data, dict) else {}

    def get(self, host: str) -> Credentials | None:
        host = normalize_host(host)
        cfg = self._load()
        helpers = cfg.get("credHelpers")
        if isinstance(helpers, dict):
            for key, name in helpers.items():
                if normalize_host(str(key)) == host and isinstance(name, str):
                    return run_credential_helper(name, str(key), self._timeout)
        auths = cfg.get("auths")
        entry_key: str | None = None
        if isinstance(auths, dict):
            for key, entry in auths.items():
                if normalize_host(str(key)) == host and isinstance(entry, dict):
                    entry_key = str(key)
                    creds = _from_auth_entry(entry, entry_key)
                    if creds is not None:
                        return creds
        store = cfg.get("credsStore")
        if isinstance(store, str) and store:
            server = entry_key or ("https://index.docker.io/v1/" if host == DOCKER_HUB else host)
            return run_credential_helper(store, server, self._timeout)
        return None


def _from_auth_entry(entry: Mapping[str, object], key: str) -> Credentials | None:
    ident = entry.get("identitytoken")
    user, pw = entry.get("username"), entry.get("password")
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            decoded = base64.b64decode(auth, validate=False).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise ConfigError(
                f"the auth entry for {key} in the Docker config is not valid base64",
                f"run `docker login {key}` again",
            ) from exc
        u, sep, p = decoded.partition(":")
        if not sep:
            raise ConfigError(
                f"the auth entry for {key} in the Docker config is not user:password",
                f"run `docker login {key}` again",
            )
        user, pw = u, p
    if isinstance(ident, str) and ident:
        return Credentials(username=user if isinstance(user, str) else None, identity_token=ident)
    if isinstance(user, str) and user and isinstance(pw, str):
        return Credentials(user, pw)
    return None


class ChainCredentials:
    """Try providers in order; the first that has credentials wins."""

    def __init__(self, providers: Sequence[CredentialProvider]) -> None:
        self._providers = tuple(providers)

    def get(self, host: str) -> Credentials | None:
        for p in self._providers:
            creds = p.get(host)
            if creds is not None:
                return creds
        return None


def default_credentials(hosts: Mapping[str, HostSettings] | None = None) -> ChainCredentials:
    """Explicit config, then environment, then Docker's config.json."""
    return ChainCredentials(
        [ExplicitCredentials(hosts or {}), EnvCredentials(), DockerConfigCredentials()]
    )
