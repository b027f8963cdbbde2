"""The HTTP side shared by the forge clients: one client, retries, capped bodies, errors.

Requests go through :func:`patchwarden.net.http.send_with_retry` (429/502/503/504 and connect
errors are retried with backoff, honouring Retry-After); every client has connect and read
timeouts; bodies are read with a size cap; every message is redacted, token included.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from patchwarden.apply.forge.model import (
    ForgeAuthError,
    ForgeConflictError,
    ForgeError,
    ForgeNotFoundError,
)
from patchwarden.errors import NetworkError
from patchwarden.net import http
from patchwarden.net.http import make_client, send_with_retry
from patchwarden.net.redact import redact_text, redact_url, remember_secret
from patchwarden.net.retry import RetryPolicy

MAX_BODY = 8 * 1024 * 1024  # a page of 50 pull requests is well under 1 MiB
MAX_ERROR_BODY = 64 * 1024
MAX_MESSAGE = 400


@dataclass(frozen=True, slots=True)
class ForgeHints:
    """Per-forge wording for the errors users will most likely hit."""

    name: str  # "GitHub"
    auth: str  # "the GitHub token was rejected or lacks `pull_requests: write`"
    auth_hint: str
    not_found_hint: str


def api_message(data: Any) -> str:
    """The human part of an error body, in GitHub, GitLab or Gitea shape."""
    if isinstance(data, str):
        return data.strip()
    if not isinstance(data, dict):
        return ""
    parts: list[str] = []
    for key in ("message", "error"):
        value = data.get(key)
        if isinstance(value, str):
            parts.append(value.strip())
        elif isinstance(value, list):
            parts.extend(str(v) for v in value)
        elif isinstance(value, dict):  # GitLab: {"message": {"title": ["is too long"]}}
            for field, why in value.items():
                why_text = ", ".join(map(str, why)) if isinstance(why, list) else str(why)
                parts.append(f"{field} {why_text}")
    errors = data.get("errors")
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, dict):  # GitHub: {"resource", "field", "code"[, "message"]}
            text = err.get("message") or " ".join(
                str(err[k]) for k in ("field", "code") if err.get(k)
            )
            if text:
                parts.append(str(text))
        elif isinstance(err, str) and err:
            parts.append(err)
    return ": ".join(p for p in parts if p)


def read_capped(resp: httpx.Response, limit: int) -> bytes:
    def too_large(size: int | None) -> ForgeError:
        return ForgeError(
            f"the forge's answer to {resp.request.method} "
            f"{redact_url(str(resp.request.url))} is larger than {limit} bytes",
            "this is not a normal API answer; check api_url points at the forge's API",
        )

    return http.read_capped(resp, limit, too_large)


class ForgeApi:
    """A JSON API at ``base_url``; ``auth_headers`` are sent with every request."""

    def __init__(
        self,
        base_url: str,
        auth_headers: Mapping[str, str],
        token: str,
        hints: ForgeHints,
        *,
        extra_headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] | None = None,
        connect_timeout: float = 10.0,
        read_timeout: float = 30.0,
        verify: bool | str = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.host = httpx.URL(self.base_url).host
        self.hints = hints
        self._token = token
        remember_secret(token)
        self._headers = {"Accept": "application/json", **(extra_headers or {}), **auth_headers}
        self._policy = policy or RetryPolicy()
        self._sleep = sleep or time.sleep
        self.client = make_client(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            verify=verify,
            max_connections=4,
            transport=transport,
        )

    def close(self) -> None:
        self.client.close()

    def redact(self, text: str) -> str:
        return redact_text(text, secrets=[self._token])

    def call(
        self,
        method: str,
        path: str,
        what: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str | int] | None = None,
    ) -> tuple[Any, httpx.Headers]:
        """Send, map errors to :class:`ForgeError`, return (decoded JSON, headers)."""
        url = f"{self.base_url}{path}"

        def build() -> httpx.Request:
            return httpx.Request(
                method, url, headers=self._headers, json=body, params=dict(params or {})
            )

        try:
            resp = send_with_retry(
                self.client,
                build,
                self._policy,
                host=self.host,
                what=f"{self.hints.name} API",
                sleep=self._sleep,
            )
        except NetworkError as exc:
            raise self._transport_error(exc, what) from exc
        try:
            if resp.status_code >= 300:
                raw = read_capped(resp, MAX_ERROR_BODY)
                raise self._status_error(resp, raw, what)
            raw = read_capped(resp, MAX_BODY)
        finally:
            resp.close()
        try:
            return (json.loads(raw) if raw.strip() else None), resp.headers
        except ValueError:
            raise ForgeError(
                f"{self.hints.name} answered the request to {what} with something not JSON",
                f"check that the API URL {self.base_url} is the forge's API root",
            ) from None

    def _transport_error(self, exc: NetworkError, what: str) -> ForgeError:
        return ForgeError(
            self.redact(f"could not {what}: {exc.message}"),
            f"check the network, proxy settings and the API URL {self.base_url}",
            transient=exc.transient,
        )

    def _status_error(self, resp: httpx.Response, raw: bytes, what: str) -> ForgeError:
        status = resp.status_code
        try:
            detail = api_message(json.loads(raw))
        except ValueError:  # a proxy's page, not the API: keep a plain-text first line only
            text = raw.decode("utf-8", "replace").strip()
            detail = "" if not text or text.startswith("<") else text.splitlines()[0]
        detail = self.redact(detail)[:MAX_MESSAGE]
        said = f" ({self.hints.name} said: {detail})" if detail else ""
        name = self.hints.name
        if status in (403, 429) and _rate_limited(resp, detail):
            return ForgeError(
                f"{name} rate-limited the request to {what}{said}",
                "wait and run again; a token with a higher rate limit helps",
                status=status,
                transient=True,
            )
        if status in (401, 403):
            return ForgeAuthError(
                f"could not {what}: {self.hints.auth} (HTTP {status}){said}",
                self.hints.auth_hint,
                status=status,
            )
        if status == 404:
            return ForgeNotFoundError(
                f"could not {what}: {name} answered 404 Not Found for "
                f"{redact_url(str(resp.request.url.copy_with(query=None)))}{said}",
                self.hints.not_found_hint,
                status=status,
            )
        if status in (400, 409, 422):
            return ForgeConflictError(
                f"{name} refused to {what} (HTTP {status}){said}", status=status
            )
        if 300 <= status < 400:
            where = redact_url(resp.headers.get("Location", "?"))
            return ForgeError(
                f"{name} redirected the request to {what} to {where}",
                "the repository may have been renamed or moved; update the git remote or api_url",
                status=status,
            )
        return ForgeError(
            f"could not {what}: {name} answered HTTP {status}{said}",
            "the forge may be having trouble; try again later",
            status=status,
            transient=status >= 500,
        )


def _rate_limited(resp: httpx.Response, detail: str) -> bool:
    if resp.status_code == 429:
        return True
    return resp.headers.get("x-ratelimit-remaining") == "0" or "rate limit" in detail.lower()
