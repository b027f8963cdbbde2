"""The one mapping of httpx transport exceptions to a neutral :class:`NetworkError`.

It says what failed and where, never gives registry (or forge) advice: the caller knows what
it was talking to and adds its own (see ``registry/transport.py``, ``apply/forge/api.py``,
``advisories/fetch.py``). Messages never carry secrets.
"""

from __future__ import annotations

import httpx

from patchwarden.errors import NetworkError, NetworkFailure
from patchwarden.net.redact import redact_text

_CHECK_NETWORK = "check the host name, your network and proxy settings"


def _reason(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return redact_text(text)


def _is_tls(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(w in text for w in ("ssl", "certificate", "tls", "wrong version number"))


def map_transport_error(exc: httpx.HTTPError, host: str, *, what: str = "server") -> NetworkError:
    """``what`` names the other side in the message (``registry``, ``GitHub API``, ...)."""
    reason = _reason(exc)
    if isinstance(exc, httpx.TimeoutException):
        kind = "connecting to" if isinstance(exc, httpx.ConnectTimeout) else "waiting for"
        return NetworkError(
            f"timed out {kind} {what} {host}: {reason}",
            f"{what} {host} may be slow or overloaded; try again later",
            NetworkFailure.TIMEOUT,
            transient=True,
        )
    if isinstance(exc, httpx.ConnectError) and _is_tls(exc):
        return NetworkError(
            f"TLS handshake with {what} {host} failed: {reason}",
            f"check that {host} serves HTTPS with a certificate this machine trusts",
            NetworkFailure.TLS,
            transient=False,
        )
    if isinstance(exc, httpx.ConnectError | httpx.NetworkError | httpx.RemoteProtocolError):
        return NetworkError(
            f"cannot reach {what} {host}: {reason}",
            _CHECK_NETWORK,
            NetworkFailure.UNREACHABLE,
            transient=True,
        )
    if isinstance(exc, httpx.TooManyRedirects):
        return NetworkError(
            f"{what} {host} redirected too many times: {reason}",
            None,
            NetworkFailure.REDIRECTS,
            transient=False,
        )
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return NetworkError(
            f"invalid URL for {what} {host}: {reason}",
            None,
            NetworkFailure.BAD_URL,
            transient=False,
        )
    return NetworkError(
        f"request to {what} {host} failed: {reason}", None, NetworkFailure.OTHER, transient=True
    )
