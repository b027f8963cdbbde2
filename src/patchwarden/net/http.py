"""The one place HTTP clients are built, and the retry loop every request goes through."""

from __future__ import annotations

import functools
import logging
import os
import ssl
import time
from collections.abc import Callable

import httpx

from patchwarden.net import deadline
from patchwarden.net.errors import map_transport_error
from patchwarden.net.redact import redact_url
from patchwarden.net.retry import RetryPolicy

log = logging.getLogger(__name__)


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("patchwarden")
    except Exception:  # pragma: no cover - not installed
        return "0"


USER_AGENT = f"patchwarden/{_version()} (+https://github.com/patchwarden/patchwarden)"


def make_client(
    *,
    connect_timeout: float = 10.0,
    read_timeout: float = 30.0,
    verify: bool | str = True,
    follow_redirects: bool = False,
    max_connections: int = 16,
    user_agent: str = USER_AGENT,
    transport: httpx.BaseTransport | None = None,
) -> httpx.Client:
    """An ``httpx.Client`` with timeouts always on, our User-Agent, and room for an overall
    deadline per request (:mod:`patchwarden.net.deadline`, set by :func:`send_with_retry`).

    ``verify`` is True, False, or a CA bundle file path. The TLS context for it is built once
    per process and shared (loading a CA bundle costs ~50 ms of CPU, and the health gates and
    probes build a client per container).
    """
    ctx: ssl.SSLContext | bool = False
    if verify is not False:
        ctx = _tls_context(verify, _ca_env(verify))
    timeout = httpx.Timeout(read_timeout, connect=connect_timeout, pool=read_timeout)
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    client = httpx.Client(
        timeout=timeout,
        verify=ctx,
        follow_redirects=follow_redirects,
        limits=limits,
        headers={"User-Agent": user_agent},
        trust_env=True,
        transport=transport,
    )
    deadline.install(client)
    return client


def _ca_env(verify: bool | str) -> tuple[str | None, ...]:
    """What the context for ``verify`` is built from, as a cache key: the environment's CA
    settings (httpx reads them with ``trust_env``) and the CA file's modification time (a
    replaced bundle is read again)."""
    mtime = None
    if isinstance(verify, str):
        try:
            mtime = str(os.stat(verify).st_mtime_ns)
        except OSError:
            mtime = None  # ssl reports the missing file when the context is built
    return os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"), mtime


@functools.lru_cache(maxsize=16)
def _tls_context(verify: bool | str, key: tuple[str | None, ...]) -> ssl.SSLContext:
    """httpx's own context for ``verify`` (certifi, or ``SSL_CERT_FILE``/``SSL_CERT_DIR``),
    or the CA bundle file ``verify`` names; ``key`` only keys the cache (:func:`_ca_env`).
    Contexts are safe to share between clients and threads once built."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return httpx.create_ssl_context(verify=True, trust_env=True)


def send_with_retry(
    client: httpx.Client,
    build: Callable[[], httpx.Request],
    policy: RetryPolicy,
    *,
    host: str,
    what: str = "server",
    on_retry: Callable[[int, str], None] | None = None,
    on_response: Callable[[httpx.Response], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    follow_redirects: bool = False,
    request_timeout: float | None = None,
) -> httpx.Response:
    """Send a request, streaming, retrying 429/502/503/504 and connect errors.

    Returns the (streamed, still open) final response: the caller reads and closes it.
    A retryable status on the last attempt is returned as is for the caller to map.
    Transport errors after the last attempt raise :class:`~patchwarden.errors.NetworkError`
    (``what`` names the other side in its message).
    ``on_retry(attempt, reason)`` is called before each retry; ``on_response(response)`` with
    every response received (a rate limiter learns of 429s there). ``request_timeout`` bounds each
    attempt as a whole (headers and body, whatever the server's pace): the body's deadline
    travels with the response (read it with :func:`patchwarden.net.deadline.iter_body`).
    """
    attempt = 0
    while True:
        attempt += 1
        request = build()
        until = None if request_timeout is None else time.monotonic() + request_timeout
        try:
            with deadline.deadline_at(until):
                response = client.send(request, stream=True, follow_redirects=follow_redirects)
        except (httpx.ConnectError, httpx.RemoteProtocolError) as exc:  # not ConnectTimeout: a
            # host that does not even accept connections is not tried again and again
            if not policy.should_retry_error(attempt):
                raise map_transport_error(exc, host, what=what) from exc
            reason = type(exc).__name__
            wait = policy.backoff(attempt)
        except httpx.HTTPError as exc:
            raise map_transport_error(exc, host, what=what) from exc
        else:
            if on_response is not None:
                on_response(response)
            if not policy.should_retry_status(response.status_code, attempt):
                if until is not None:
                    response.extensions[deadline.EXTENSION] = until
                return response
            reason = str(response.status_code)
            wait = policy.delay(attempt, response.headers.get("Retry-After"))
            response.close()
        log.debug(
            "retrying %s %s after %s (attempt %d, waiting %.2fs)",
            request.method,
            redact_url(str(request.url)),
            reason,
            attempt,
            wait,
        )
        if on_retry is not None:
            on_retry(attempt, reason)
        sleep(wait)


def read_capped(
    resp: httpx.Response, limit: int, too_large: Callable[[int | None], Exception]
) -> bytes:
    """A streamed body, read whole but never past ``limit`` bytes.

    Past the limit (or when ``Content-Length`` announces more), ``too_large(size)`` is raised:
    the caller says what the body was and what to do; ``size`` is the announced length, or
    None when the body simply kept coming.
    """
    length = resp.headers.get("Content-Length")
    if length and length.isdigit() and int(length) > limit:
        raise too_large(int(length))
    chunks: list[bytes] = []
    total = 0
    for chunk in deadline.iter_body(resp):  # within the request's overall deadline
        total += len(chunk)
        if total > limit:
            raise too_large(None)
        chunks.append(chunk)
    return b"".join(chunks)
