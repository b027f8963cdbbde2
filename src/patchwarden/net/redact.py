"""Strip secrets from URLs, headers and free text before they reach a message or a log line.

Every error message or log line that includes a URL or a header goes through this module.

Besides patterns (``Basic …``, JWTs, ``"token": …``), every credential value the process holds
is registered with :func:`remember_secret` when it is obtained (registry credentials, identity
and Bearer tokens, forge tokens, engine URL passwords) and masked wherever it appears, in every
form a server could echo it: raw, ``user:password``, base64 (standard and URL-safe, with or
without padding) and percent-encoded. A registry that echoes ``user:password`` in an error body
cannot get it printed.
"""

from __future__ import annotations

import base64
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

MASK = "***"
_MIN_SECRET = 4  # shorter values would mask ordinary words; such secrets are not secret anyway
_known: list[str] = []  # longest first
_known_lock = threading.Lock()


def _forms(raw: str) -> set[str]:
    b = raw.encode()
    out = {raw, quote(raw, safe="")}
    for enc in (base64.b64encode(b), base64.urlsafe_b64encode(b)):
        text = enc.decode()
        out.update((text, text.rstrip("=")))
    return {x for x in out if len(x) >= _MIN_SECRET}


def remember_secret(value: str | None, *, user: str | None = None) -> None:
    """Mask ``value`` (and ``user:value``) in every form from now on, in this process."""
    if not value or len(value) < _MIN_SECRET:
        return
    forms = _forms(value)
    if user:
        forms |= _forms(f"{user}:{value}")
    with _known_lock:
        new = forms.difference(_known)
        if new:
            _known.extend(new)
            _known.sort(key=len, reverse=True)


def forget_secrets() -> None:
    """Tests only: start from no remembered secret."""
    with _known_lock:
        _known.clear()


def redact_known(text: str) -> str:
    """Mask every remembered secret in ``text`` (a no-op when none was remembered)."""
    for secret in tuple(_known):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


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
    text = redact_known(text)
    text = _URL_RE.sub(lambda m: redact_url(m.group(0)), text)
    return redact_text_plain(text)
