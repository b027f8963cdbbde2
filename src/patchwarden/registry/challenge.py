"""Parsing of WWW-Authenticate challenges and RFC 5988 Link headers."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"  # noqa: S105 - a regular expression for the token grammar, not a secret
_PARAM_RE = re.compile(rf"\s*({_TOKEN})\s*=\s*(?:\"((?:[^\"\\]|\\.)*)\"|([^\s,\"]+))\s*,?")
_SCHEME_RE = re.compile(rf"\s*({_TOKEN})(?:\s+|$)")


@dataclass(frozen=True, slots=True)
class Challenge:
    scheme: str  # lowercase: "basic" or "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


def parse_challenges(header: str | None) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` (possibly several challenges, comma-joined)."""
    out: list[Challenge] = []
    if not header:
        return out
    pos, n = 0, len(header)
    while pos < n:
        while pos < n and header[pos] in " ,":
            pos += 1
        m = _SCHEME_RE.match(header, pos)
        if not m:
            break
        scheme = m.group(1).lower()
        pos = m.end()
        params: dict[str, str] = {}
        while pos < n:
            pm = _PARAM_RE.match(header, pos)
            if not pm:
                break
            value = pm.group(2)
            value = re.sub(r"\\(.)", r"\1", value) if value is not None else pm.group(3)
            params[pm.group(1).lower()] = value
            pos = pm.end()
        out.append(Challenge(scheme, params))
    return out


def pick_challenge(header: str | None) -> Challenge | None:
    """Bearer wins over Basic; other schemes are ignored."""
    found = {c.scheme: c for c in parse_challenges(header)}
    return found.get("bearer") or found.get("basic")


_LINK_RE = re.compile(r"<([^>]*)>((?:\s*;\s*[^;,]+)*)")


def parse_next_link(header: str | None, base_url: str) -> str | None:
    """The absolute URL of the ``rel="next"`` link, resolved against ``base_url``.

    Returns None when there is no next link. Raises ValueError when the link leaves the
    origin (scheme+host) of ``base_url``.
    """
    if not header:
        return None
    for m in _LINK_RE.finditer(header):
        target, params = m.group(1).strip(), m.group(2)
        rels: list[str] = []
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k.strip().lower() == "rel":
                rels.extend(v.strip().strip('"').lower().split())
        if "next" in rels:
            url = urljoin(base_url, target)
            a, b = urlsplit(url), urlsplit(base_url)
            if (a.scheme, a.netloc) != (b.scheme, b.netloc):
                raise ValueError(f"next-page link points to another host: {a.netloc}")
            return str(url)
    return None
