"""An overall deadline per request, on top of httpx's per-read timeouts.

httpx's read timeout restarts on every byte: a server that drips one byte every few seconds
keeps a request alive for hours. Here every socket read and write made while a deadline is set
(:func:`deadline_at`, per thread) waits at most until that deadline, and fails with
``httpcore.ReadTimeout`` once it has passed; :func:`install` puts this under an httpx client.
``send_with_retry`` sets the deadline for the headers, body readers for the body.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
import httpx

EXTENSION = "patchwarden.deadline"  # response.extensions key: monotonic time the body must end
_local = threading.local()
DEADLINE_PASSED = "no complete answer within the request's overall deadline"


@contextmanager
def deadline_at(until: float | None) -> Iterator[None]:
    """Within the block, socket reads/writes of this thread end by ``until`` (monotonic)."""
    previous = getattr(_local, "until", None)
    if until is not None and previous is not None:
        until = min(until, previous)
    _local.until = until if until is not None else previous
    try:
        yield
    finally:
        _local.until = previous


def _clamp(timeout: float | None) -> float | None:
    until: float | None = getattr(_local, "until", None)
    if until is None:
        return timeout
    left = until - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout(DEADLINE_PASSED)
    return left if timeout is None else min(timeout, left)


def body_deadline(resp: httpx.Response) -> float | None:
    value = resp.extensions.get(EXTENSION)
    return value if isinstance(value, float) else None


def iter_body(resp: httpx.Response) -> Iterator[bytes]:
    """``resp.iter_bytes()`` within the deadline ``send_with_retry`` gave the response."""
    until = body_deadline(resp)
    it = resp.iter_bytes()
    while True:
        with deadline_at(until):
            chunk = next(it, None)
        if chunk is None:
            return
        yield chunk


def _why(exc: Exception, timeout: float | None, clamped: float | None) -> Exception:
    """The deadline, not the per-read timeout, ended the wait: say so."""
    if clamped is not None and (timeout is None or clamped < timeout):
        return type(exc)(DEADLINE_PASSED)
    return exc


class _Stream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        clamped = _clamp(timeout)
        try:
            return self._inner.read(max_bytes, clamped)
        except httpcore.ReadTimeout as exc:
            raise _why(exc, timeout, clamped) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        clamped = _clamp(timeout)
        try:
            self._inner.write(buffer, clamped)
        except httpcore.WriteTimeout as exc:
            raise _why(exc, timeout, clamped) from exc

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.start_tls(ssl_context, server_hostname, _clamp(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _Backend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        return _Stream(
            self._inner.connect_tcp(host, port, _clamp(timeout), local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        return _Stream(self._inner.connect_unix_socket(path, _clamp(timeout), socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def install(client: httpx.Client) -> bool:
    """Put the deadline under every connection pool of ``client`` (its own transport and
    proxy mounts); False when a transport is not httpx's (tests' mock transports)."""
    transports = [client._transport, *client._mounts.values()]
    done = False
    for t in transports:
        pool = getattr(t, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _Backend):
            pool._network_backend = _Backend(backend)  # type: ignore[union-attr]
            done = True
    return done
