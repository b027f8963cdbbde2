"""Map httpx exceptions to patchwarden errors with a clear message and hint."""

from __future__ import annotations

import httpx

from patchwarden.errors import RegistryError
from patchwarden.net.redact import redact_text


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact_text(text)


def _is_tls(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("ssl", "certificate", "tls", "wrong version number"))


def map_transport_error(
    exc: httpx.HTTPError, host: str, *, what: str = "registry"
) -> RegistryError:
    """Turn a transport-level httpx error into a :class:`RegistryError` (never leaks secrets)."""
    reason = _reason(exc)
    if isinstance(exc, httpx.TimeoutException):
        kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return RegistryError(
            f"timed out {kind} {what} {host}: {reason}",
            "the registry may be slow or overloaded; try again later or raise the timeouts",
            transient=True,
        )
    if isinstance(exc, httpx.ConnectError) and _is_tls(exc):
        return RegistryError(
            f"TLS handshake with {what} {host} failed: {reason}",
            f"if {host} uses a private CA set registries.{host}.ca_file; if it serves plain "
            f"HTTP set registries.{host}.insecure: true in patchwarden.yaml",
        )
    if isinstance(exc, httpx.ConnectError | httpx.NetworkError | httpx.RemoteProtocolError):
        return RegistryError(
            f"cannot reach {what} {host}: {reason}",
            "check the host name, your network and proxy settings; for a registry without "
            f"TLS set registries.{host}.insecure: true in patchwarden.yaml",
            transient=True,
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return RegistryError(f"{what} {host} redirected too many times: {reason}")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return RegistryError(f"invalid URL for {what} {host}: {reason}")
    return RegistryError(f"request to {what} {host} failed: {reason}", transient=True)
