"""Registry authentication: Basic, and Bearer tokens from the challenge's realm."""

from __future__ import annotations

import base64
import ipaddress
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import httpx

from patchwarden.errors import AuthenticationError, RegistryError
from patchwarden.net.redact import redact_text, redact_url, remember_secret
from patchwarden.registry.challenge import Challenge
from patchwarden.registry.credentials import Credentials

CLIENT_ID = "patchwarden"


def is_loopback(host: str) -> bool:
    """``localhost``, 127.0.0.0/8 and ::1, with or without a port."""
    h = host.strip()
    if h.startswith("["):
        h = h[1 : h.find("]")] if "]" in h else h[1:]
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    if h.lower() == "localhost" or h.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(h).is_loopback
    except ValueError:
        return False


def basic_header(creds: Credentials) -> str:
    raw = f"{creds.username or ''}:{creds.password or ''}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def repo_scope(repository: str, actions: str = "pull") -> str:
    return f"repository:{repository}:{actions}"


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    expires_at: float  # time.monotonic() based

    def valid(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.expires_at


def parse_token_response(body: bytes, default_ttl: float, now: float | None = None) -> Token:
    """``{"token": ..., "access_token": ..., "expires_in": N}`` → :class:`Token`."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise RegistryError("token server answered with something that is not JSON") from exc
    if not isinstance(data, dict):
        raise RegistryError("token server answered with JSON that is not an object")
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        raise RegistryError("token server answer has neither `token` nor `access_token`")
    remember_secret(value)
    ttl = data.get("expires_in")
    lifetime = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else default_ttl
    # Refresh a little early so a token never expires in flight.
    margin = min(5.0, lifetime * 0.2)
    return Token(value, (time.monotonic() if now is None else now) + lifetime - margin)


@dataclass
class TokenCache:
    """Tokens per (host, scope, credential identity); thread-safe, one fetch per key at a time."""

    _tokens: dict[tuple[str, str], Token] = field(default_factory=dict)
    _locks: dict[tuple[str, str], threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def lock_for(self, key: tuple[str, str]) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: tuple[str, str]) -> Token | None:
        with self._guard:
            tok = self._tokens.get(key)
        return tok if tok is not None and tok.valid() else None

    def put(self, key: tuple[str, str], token: Token) -> None:
        with self._guard:
            self._tokens[key] = token

    def drop(self, key: tuple[str, str]) -> None:
        with self._guard:
            self._tokens.pop(key, None)


def build_token_request(
    challenge: Challenge,
    scope: str,
    creds: Credentials | None,
    *,
    registry_host: str,
    allow_http: bool,
) -> httpx.Request:
    """The request for a Bearer token from ``challenge.realm`` (GET, or POST for refresh tokens)."""
    realm = challenge.realm
    if not realm:
        raise RegistryError(
            f"registry {registry_host} asked for a Bearer token but named no realm",
            "the registry's auth setup is broken; report it to its operators",
        )
    parts = urlsplit(realm)
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise RegistryError(f"registry {registry_host} named an invalid token realm {realm!r}")
    if parts.scheme == "http" and not (allow_http or is_loopback(parts.netloc)):
        raise RegistryError(
            f"registry {registry_host} wants credentials sent to a plain-HTTP token server "
            f"{redact_url(realm)}",
            f"refusing to send credentials unencrypted; set registries.{registry_host}.insecure"
            " if this is intended",
        )
    params: dict[str, str | list[str]] = {}
    if challenge.service:
        params["service"] = challenge.service
    # Several scopes (push here, pull there for a cross-repository mount): one parameter each.
    params["scope"] = scope.split() if " " in scope else scope
    if creds is not None and creds.identity_token:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": creds.identity_token,
            "client_id": CLIENT_ID,
            **params,
        }
        return httpx.Request(
            "POST",
            realm,
            content=urlencode(form, doseq=True).encode(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    headers = (
        {"Authorization": basic_header(creds)} if creds is not None and creds.has_basic else {}
    )
    sep = "&" if parts.query else "?"
    return httpx.Request("GET", realm + sep + urlencode(params, doseq=True), headers=headers)


def rejected_error(host: str, creds: Credentials | None, detail: str = "") -> AuthenticationError:
    """The error for a 401/403 after fresh credentials were sent."""
    secrets = creds.secrets() if creds else ()
    extra = f": {redact_text(detail, secrets)}" if detail else ""
    if creds is None:
        return AuthenticationError(
            f"registry {host} requires credentials{extra}",
            f"add credentials in `patchwarden.yaml` registries.{host}, set "
            f"PATCHWARDEN_REGISTRY_<HOST>_USERNAME/_PASSWORD, or run `docker login {host}`",
        )
    who = f" (user {creds.username})" if creds.username else ""
    return AuthenticationError(
        f"credentials for {host}{who} were rejected{extra}",
        f"check `patchwarden.yaml` registries.{host} or `docker login {host}`",
    )


TokenFetcher = Callable[[httpx.Request], httpx.Response]
