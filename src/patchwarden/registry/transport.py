"""Sending to a registry host: scheme choice on the first request, the concurrency bound,
auth (Basic, Bearer tokens) and retries. What is kept per host (pool, scheme, challenge,
credentials, dead-host memory) is :mod:`patchwarden.registry.hosts`."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace

import httpx

from patchwarden.errors import IntegrityError, NetworkError, NetworkFailure, RegistryError
from patchwarden.net import http
from patchwarden.net.errors import map_transport_error
from patchwarden.net.http import send_with_retry
from patchwarden.net.retry import RetryPolicy, parse_retry_after
from patchwarden.registry.auth import (
    Token,
    TokenCache,
    basic_header,
    build_token_request,
    parse_token_response,
    rejected_error,
    repo_scope,
)
from patchwarden.registry.challenge import Challenge, pick_challenge
from patchwarden.registry.credentials import CredentialProvider, Credentials, normalize_host
from patchwarden.registry.errors import registry_network_error
from patchwarden.registry.hosts import UNSET, HostState
from patchwarden.registry.ratelimit import RateLimiter
from patchwarden.registry.settings import ClientOptions, HostSettings
from patchwarden.registry.stats import RequestStats

Body = bytes | Iterator[bytes] | None


def read_capped(resp: httpx.Response, limit: int, what: str) -> bytes:
    """Read a streamed body, failing with :class:`IntegrityError` past ``limit`` bytes."""

    def too_large(size: int | None) -> IntegrityError:
        if size is not None:
            return IntegrityError(f"{what} is {size} bytes, more than the {limit}-byte limit")
        return IntegrityError(f"{what} is larger than the {limit}-byte limit")

    try:
        return http.read_capped(resp, limit, too_large)
    except httpx.HTTPError as exc:  # a broken or dripping body: a registry error, not a bug
        host = resp.url.host
        raise registry_network_error(map_transport_error(exc, host, what="registry"), host) from exc


class Transport:
    def __init__(
        self,
        hosts: Mapping[str, HostSettings],
        credentials: CredentialProvider,
        options: ClientOptions,
        stats: RequestStats,
        sleep: Callable[[float], None] | None = None,
        http_transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        self._http_transport = http_transport
        self._limiter = limiter
        self._settings = {normalize_host(h): s for h, s in hosts.items()}
        self._credentials = credentials
        self.options = options
        self.stats = stats
        self._policy = RetryPolicy(
            max_attempts=options.max_attempts,
            base_delay=options.base_backoff,
            max_backoff=options.max_backoff,
            max_retry_after=options.max_retry_after,
        )
        self._sleep = sleep
        self._hosts: dict[str, HostState] = {}
        self._lock = threading.Lock()
        self._tokens = TokenCache()

    def mirrors(self, name: str) -> tuple[str, ...]:
        s = self._settings.get(normalize_host(name))
        return s.mirrors if s is not None else ()

    def host(self, name: str) -> HostState:
        key = normalize_host(name)
        with self._lock:
            st = self._hosts.get(key)
            if st is None:
                st = HostState(
                    name,
                    self._settings.get(key, HostSettings()),
                    self.options,
                    self._http_transport,
                )
                self._hosts[key] = st
            return st

    def close(self) -> None:
        with self._lock:
            for st in self._hosts.values():
                st.client.close()
            self._hosts.clear()

    def _creds(self, h: HostState) -> Credentials | None:
        with h.lock:
            if h.creds is UNSET:
                h.creds = self._credentials.get(h.name)
            return h.creds if isinstance(h.creds, Credentials) else None

    # -- sending -------------------------------------------------------------------------

    def _send_once(
        self,
        h: HostState,
        build: Callable[[], httpx.Request],
        kind: str,
        policy: RetryPolicy,
        follow: bool,
    ) -> httpx.Response:
        def counted() -> httpx.Request:
            if self._limiter is not None:
                self._limiter.acquire(h.api)
            self.stats.incr(kind)
            request = build()
            # Requests built by hand (httpx.Request) do not get the client's default headers;
            # registries and CDNs throttle or reject requests without a User-Agent.
            request.headers.setdefault("User-Agent", h.client.headers["User-Agent"])
            return request

        if h.dead is not None:  # a fresh error per request: threads share the host
            raise RegistryError(h.dead.message, h.dead.hint, transient=True)
        kw = {} if self._sleep is None else {"sleep": self._sleep}
        try:
            return send_with_retry(
                h.client,
                counted,
                policy,
                host=h.name,
                what="registry",
                follow_redirects=follow,
                request_timeout=h.timeouts.overall,
                on_retry=lambda _a, reason: self._count_retry(reason),
                on_response=None if self._limiter is None else self._on_response(h),
                **kw,
            )
        except NetworkError as exc:
            error = registry_network_error(exc, h.name)
            h.mark_dead(exc, error)
            raise error from exc

    def _on_response(self, h: HostState) -> Callable[[httpx.Response], None]:
        limiter = self._limiter

        def seen(resp: httpx.Response) -> None:
            if resp.status_code == 429 and limiter is not None:
                wait = parse_retry_after(resp.headers.get("Retry-After"))
                limiter.throttled(h.api, min(wait or 1.0, self.options.max_retry_after))

        return seen

    def _count_retry(self, reason: str) -> None:
        self.stats.incr("retries")
        if reason == "429":
            self.stats.incr("rate_limited")

    def send(
        self,
        h: HostState,
        kind: str,
        method: str,
        target: str,
        headers: Mapping[str, str],
        follow: bool = False,
        content: Body = None,
    ) -> httpx.Response:
        """Send to ``target`` (a path on the host, or an absolute URL on it)."""

        def builder(scheme: str | None) -> Callable[[], httpx.Request]:
            def build() -> httpx.Request:
                url = target if "://" in target else f"{scheme or h.scheme}://{h.api}{target}"
                return httpx.Request(method, url, headers=dict(headers), content=content)

            return build

        if not h.answered:  # the first request to a host goes alone: a dead host costs one
            with h.probe_lock:
                if not h.answered:
                    resp = self._first(h, builder, kind, follow)
                    h.answered = True
                    return resp
        return self._send_once(h, builder(None), kind, self._policy, follow)

    def _first(
        self,
        h: HostState,
        builder: Callable[[str | None], Callable[[], httpx.Request]],
        kind: str,
        follow: bool,
    ) -> httpx.Response:
        """The first request to ``h``; an insecure or loopback host is tried on HTTPS, then
        (refused, not a timeout) on plain HTTP."""
        if h.scheme is None:
            try:
                probe = replace(self._policy, max_attempts=1)
                resp = self._send_once(h, builder("https"), kind, probe, follow)
            except RegistryError:
                if h.dead is not None and h.dead_failure == NetworkFailure.TIMEOUT:
                    raise  # not answering at all: plain HTTP would wait as long
                h.dead = h.dead_failure = None  # refused on https: HTTP may answer
                h.scheme = "http"  # Docker's fallback for insecure/loopback hosts
                self.stats.incr(kind, -1)
                self.stats.incr("probe")
            else:
                h.scheme = "https"
                return resp
        return self._send_once(h, builder(None), kind, self._policy, follow)

    # -- auth ----------------------------------------------------------------------------

    def _auth(
        self, h: HostState, repo: str, force: bool, scope: str | None = None
    ) -> tuple[dict[str, str], bool]:
        """(headers, fresh): fresh means these credentials were just obtained/checked.

        ``scope`` (space-separated token scopes) defaults to pulling ``repo``."""
        ch = h.challenge
        if ch is None:
            return {}, False
        creds = self._creds(h)
        if ch.scheme == "basic":
            return (
                {"Authorization": basic_header(creds)} if creds and creds.has_basic else {}
            ), True
        key = (normalize_host(h.name), scope or repo_scope(repo))
        if not force:
            tok = self._tokens.get(key)
            if tok is not None:
                return {"Authorization": f"Bearer {tok.value}"}, False
        with self._tokens.lock_for(key):
            tok = None if force else self._tokens.get(key)
            if tok is None:
                tok = self._fetch_token(h, ch, key[1], creds)
                self._tokens.put(key, tok)
                return {"Authorization": f"Bearer {tok.value}"}, True
            return {"Authorization": f"Bearer {tok.value}"}, False

    def _fetch_token(
        self, h: HostState, ch: Challenge, scope: str, creds: Credentials | None
    ) -> Token:
        req = build_token_request(
            ch, scope, creds, registry_host=h.name, allow_http=h.settings.insecure
        )
        resp = self._send_once(h, lambda: req, "token", self._policy, True)
        try:
            body = read_capped(resp, 1024 * 1024, f"token answer from {h.name}")
        finally:
            resp.close()
        if resp.status_code in (401, 403):
            raise rejected_error(h.name, creds, f"token server answered {resp.status_code}")
        if resp.status_code != 200:
            raise RegistryError(
                f"token server for {h.name} answered HTTP {resp.status_code}",
                "the registry's auth service may be down; try again later",
                transient=resp.status_code >= 500 or resp.status_code == 429,
            )
        return parse_token_response(body, self.options.default_token_ttl)

    def _send_streamed(
        self,
        h: HostState,
        kind: str,
        method: str,
        target: str,
        headers: Mapping[str, str],
        content: Body,
    ) -> httpx.Response:
        """One attempt (an iterator body cannot be replayed)."""
        if h.scheme is None:
            raise RegistryError(f"internal: streamed upload to {h.name} before any request")
        url = target if "://" in target else f"{h.scheme}://{h.api}{target}"
        if self._limiter is not None:
            self._limiter.acquire(h.api)
        self.stats.incr(kind)
        req = httpx.Request(method, url, headers=dict(headers), content=content)
        try:
            return h.client.send(req, stream=True)
        except httpx.HTTPError as exc:
            from patchwarden.net.errors import map_transport_error

            raise map_transport_error(exc, h.name) from exc

    def _ping(self, h: HostState) -> Challenge | None:
        resp = self.send(h, "ping", "GET", "/v2/", {})
        resp.close()
        return (
            pick_challenge(resp.headers.get("WWW-Authenticate"))
            if resp.status_code == 401
            else None
        )

    @contextmanager
    def request(
        self,
        host: str,
        repo: str,
        kind: str,
        method: str,
        target: str,
        headers: Mapping[str, str] | None = None,
        follow: bool = False,
        *,
        scope: str | None = None,
        content: Body = None,
    ) -> Iterator[httpx.Response]:
        """An authenticated, retried, concurrency-bounded request; yields the open response.

        ``scope`` asks a token server for more than pulling ``repo`` (push, cross-repository
        mount). ``content`` is a request body; a streamed (iterator) body is sent once, so the
        caller makes it only after an earlier request on the same scope settled scheme and
        auth (an upload session's POST does)."""
        h = self.host(host)
        base = dict(headers or {})
        streamed = content is not None and not isinstance(content, bytes)
        with h.semaphore:
            auth, fresh = self._auth(h, repo, force=False, scope=scope)
            if streamed:
                resp = self._send_streamed(h, kind, method, target, base | auth, content)
            else:
                resp = self.send(h, kind, method, target, base | auth, follow, content)
            if resp.status_code == 401:
                resp.close()
                ch = pick_challenge(resp.headers.get("WWW-Authenticate")) or self._ping(h)
                creds = self._creds(h)
                if ch is None or (fresh and auth):
                    raise rejected_error(h.name, creds)
                h.challenge = ch
                auth, fresh = self._auth(h, repo, force=True, scope=scope)
                if not auth and ch.scheme == "basic":
                    raise rejected_error(h.name, None)
                if streamed:
                    raise rejected_error(h.name, creds, "a streamed upload was refused")
                resp = self.send(h, kind, method, target, base | auth, follow, content)
                if resp.status_code == 401:
                    resp.close()
                    raise rejected_error(h.name, creds)
            try:
                yield resp
            finally:
                resp.close()
