"""Strip secrets from URLs, headers and free text before they reach a message or a log line.

Every error message or log line that includes a URL or a header goes through this module.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"

# Query parameters whose values are secrets (compared case-insensitively).
SECRET_PARAMS = frozenset(
    {
        "access_token",
        "token",
        "refresh_token",
        "id_token",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "api_key",
        "apikey",
        "key",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "auth",
    }
)
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "set-cookie", "x-registry-auth"}
)

_URL_RE = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]+")
_AUTH_VALUE_RE = re.compile(r"\b(Basic|Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_JSON_SECRET_RE = re.compile(
    r"(\"(?:token|access_token|refresh_token|password|secret|identitytoken|auth)\"\s*:\s*\")"
    r"[^\"]*(\")",
    re.IGNORECASE,
)


def redact_url(url: str) -> str:
    """Remove userinfo and mask secret query parameters; other parts are kept verbatim."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text_plain(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        netloc = f"{MASK}@{hostport}" if userinfo else hostport
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() in SECRET_PARAMS for k, _ in pairs):
            query = urlencode(
                [(k, MASK if k.lower() in SECRET_PARAMS else v) for k, v in pairs], safe="*:/"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_header(name: str, value: str) -> str:
    """The value to show for header ``name``: secrets keep only their scheme word."""
    if name.lower() in SECRET_HEADERS:
        scheme, sep, _ = value.partition(" ")
        if sep and scheme.lower() in ("basic", "bearer", "digest", "token"):
            return f"{scheme} {MASK}"
        return MASK
    return redact_text(value)


def redact_headers(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return {k: redact_header(k, v) for k, v in items}


def redact_text_plain(text: str) -> str:
    text = _AUTH_VALUE_RE.sub(lambda m: f"{m.group(1)} {MASK}", text)
    text = _JWT_RE.sub(MASK, text)
    return _JSON_SECRET_RE.sub(lambda m: f"{m.group(1)}{MASK}{m.group(2)}", text)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact URLs, auth header values, JWTs and JSON token fields in free text.

    ``secrets`` are literal values (passwords, tokens) to mask wherever they appear.
    """
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    text = _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    return redact_text_plain(text)
