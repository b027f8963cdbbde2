"""Map registry HTTP error answers (distribution-spec error bodies) to patchwarden errors."""

from __future__ import annotations

import json

from patchwarden.errors import (
    AuthenticationError,
    NetworkError,
    NetworkFailure,
    NotFoundError,
    RateLimitedError,
    RegistryError,
)
from patchwarden.net.redact import redact_text


def error_codes(body: bytes) -> list[tuple[str, str]]:
    """``(code, message)`` pairs of ``{"errors": [{"code": ..., "message": ...}]}``."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    errs = data.get("errors") if isinstance(data, dict) else None
    if not isinstance(errs, list):
        return []
    out: list[tuple[str, str]] = []
    for e in errs:
        if isinstance(e, dict):
            out.append((str(e.get("code", "")).upper(), str(e.get("message", ""))))
    return out


def map_http_error(
    status: int,
    body: bytes,
    *,
    host: str,
    repository: str,
    reference: str | None = None,
    what: str = "manifest",
) -> RegistryError:
    """The error for a non-2xx answer. ``reference`` is the tag or digest asked for."""
    codes = error_codes(body)
    names = {c for c, _ in codes}
    detail = "; ".join(f"{c}: {m}" if m else c for c, m in codes) or f"HTTP {status}"
    detail = redact_text(detail)[:300]
    if "NAME_UNKNOWN" in names or (status == 404 and reference is None):
        return NotFoundError(
            f"repository {repository} not found on {host}",
            "check the image name, and that your credentials may see it",
        )
    if names & {"MANIFEST_UNKNOWN", "BLOB_UNKNOWN", "TAG_INVALID"} or status == 404:
        kind = "tag" if reference and not reference.startswith("sha") else what
        return NotFoundError(
            f"{kind} {reference} not found in {repository} on {host}",
            "list the available tags, or check the reference for typos",
        )
    if names & {"UNAUTHORIZED", "DENIED"} or status in (401, 403):
        return AuthenticationError(
            f"registry {host} denied access to {repository} ({detail})",
            f"check `patchwarden.yaml` registries.{host} or `docker login {host}`",
        )
    if "TOOMANYREQUESTS" in names or status == 429:
        return RateLimitedError(
            f"registry {host} is rate limiting requests ({detail})",
            "wait and try again, authenticate to get a higher limit, or lower concurrency",
            transient=True,
        )
    if status >= 500:
        return RegistryError(
            f"registry {host} had a server error ({detail})",
            "this is usually temporary; try again later",
            transient=True,
        )
    return RegistryError(f"registry {host} answered {status} for {repository} ({detail})")


def registry_network_error(exc: NetworkError, host: str) -> RegistryError:
    """The network error with what a registry user can do about it."""
    config = f"registries.{host}"
    hint = {
        NetworkFailure.TLS: f"if {host} uses a private CA set {config}.ca_file; if it serves "
        f"plain HTTP set {config}.insecure: true in patchwarden.yaml",
        NetworkFailure.UNREACHABLE: "check the host name, your network and proxy settings; "
        f"for a registry without TLS set {config}.insecure: true in patchwarden.yaml",
        NetworkFailure.TIMEOUT: "the registry may be slow, overloaded or not answering; try "
        f"again later, raise {config}.timeout (or the top-level timeout, or --timeout), or "
        f"lower {config}.max_concurrency",
    }.get(exc.failure, exc.hint)
    return RegistryError(exc.message, hint, transient=exc.transient)
