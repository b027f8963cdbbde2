"""Who may call the API: bearer tokens with a role, a limit on failed attempts, CSRF.

- ``Authorization: Bearer TOKEN``. The admin token comes from ``PATCHWARDEN_API_TOKEN`` (or
  ``serve.admin_token``); more tokens are created through ``POST /api/v1/tokens`` and stored
  as SHA-256 only (:mod:`patchwarden.store.tokens`). ``read`` reads; ``admin`` may also change
  things. Nothing changes state without an admin token.
- Failed attempts are counted per client address; past ``serve.auth_failures_per_minute`` in
  the last minute every request from it gets 429 with ``Retry-After`` until the window clears.
- The dashboard keeps the token in an HttpOnly, SameSite=Strict cookie; its forms carry a
  CSRF token (an HMAC of the session under a per-process key) that POSTs must echo.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass

from patchwarden.store.tokens import Role, TokenStore


class AuthError(Exception):
    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Principal:
    name: str
    role: Role


class FailureLimiter:
    def __init__(self, per_minute: int, clock: object = time.monotonic) -> None:
        self.per_minute = per_minute
        self._clock = clock
        self._fails: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _now(self) -> float:
        return float(self._clock())  # type: ignore[operator]

    def blocked_for(self, client: str) -> int | None:
        now = self._now()
        with self._lock:
            q = self._fails.get(client)
            if not q:
                return None
            while q and q[0] <= now - 60:
                q.popleft()
            if len(q) >= self.per_minute:
                return max(1, int(q[0] + 60 - now) + 1)
            return None

    def failed(self, client: str) -> None:
        with self._lock:
            q = self._fails.setdefault(client, deque())
            q.append(self._now())
            if len(self._fails) > 10_000:  # bounded memory under a scan of many addresses
                self._fails.pop(next(iter(self._fails)))


class Authenticator:
    def __init__(
        self, tokens: TokenStore, admin_token: str | None, failures_per_minute: int = 10
    ) -> None:
        self.tokens = tokens
        self._admin = hashlib.sha256(admin_token.encode()).digest() if admin_token else None
        self.limiter = FailureLimiter(failures_per_minute)
        self._csrf_key = secrets.token_bytes(32)

    @property
    def admin_missing(self) -> bool:
        return self._admin is None

    def identify(self, token: str | None, client: str) -> Principal:
        wait = self.limiter.blocked_for(client)
        if wait is not None:
            raise AuthError(429, "too many failed authentication attempts", retry_after=wait)
        if token:
            if self._admin is not None and hmac.compare_digest(
                hashlib.sha256(token.encode()).digest(), self._admin
            ):
                return Principal("admin", Role.ADMIN)
            info = self.tokens.lookup(token)
            if info is not None:
                return Principal(info.name, info.role)
        self.limiter.failed(client)
        raise AuthError(401, "a valid API token is required (Authorization: Bearer TOKEN)")

    def require(self, token: str | None, client: str, role: Role) -> Principal:
        who = self.identify(token, client)
        if role == Role.ADMIN and who.role != Role.ADMIN:
            raise AuthError(403, f"token {who.name!r} is read-only; this needs an admin token")
        return who

    def csrf_token(self, session_token: str) -> str:
        return hmac.new(self._csrf_key, session_token.encode(), hashlib.sha256).hexdigest()

    def check_csrf(self, session_token: str, sent: str | None) -> None:
        if not sent or not hmac.compare_digest(self.csrf_token(session_token), sent):
            raise AuthError(403, "missing or wrong CSRF token: reload the page and try again")


def bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None
