"""Image references, parsed and normalized exactly as the Docker reference grammar does.

Grammar (github.com/distribution/reference)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain '/'] path-component ['/' path-component]*
    domain     := host [':' port]        (host: DNS name, IPv4 or [IPv6])
    path-comp  := [a-z0-9]+ ( ( [._] | __ | -+ ) [a-z0-9]+ )*
    tag        := [\\w][\\w.-]{0,127}

Normalization (``ParseNormalizedNamed``): a first component that has no ``.`` or ``:`` and is
not ``localhost`` is part of the path and the domain is ``docker.io``; ``index.docker.io`` is
``docker.io``; a single-component path on Docker Hub gets ``library/``. Uppercase in the path
is rejected. The text as the user wrote it is kept in ``original`` for rewriting.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from patchwarden.core.digest import Digest
from patchwarden.errors import ReferenceFormatError

DOCKER_HUB = "docker.io"
_LEGACY_HUB = "index.docker.io"
_OFFICIAL_NS = "library"

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_HOST = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])"
_DOMAIN_RE = re.compile(rf"^{_HOST}(?::[0-9]+)?$")
_PATH_RE = re.compile(rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")
_MAX_NAME = 255


@dataclass(frozen=True, slots=True)
class ImageRef:
    """A normalized image reference. ``registry`` is ``docker.io`` for Docker Hub."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None
    original: str = ""

    @property
    def name(self) -> str:
        """Fully qualified name without tag or digest: ``docker.io/library/nginx``."""
        return f"{self.registry}/{self.repository}"

    @property
    def familiar_name(self) -> str:
        """Name as Docker prints it: ``nginx``, ``bitnami/redis``, ``ghcr.io/x/y``."""
        if self.registry == DOCKER_HUB:
            if self.repository.startswith(_OFFICIAL_NS + "/") and self.repository.count("/") == 1:
                return self.repository[len(_OFFICIAL_NS) + 1 :]
            return self.repository
        return self.name

    @property
    def is_docker_hub(self) -> bool:
        return self.registry == DOCKER_HUB

    def with_tag(self, tag: str | None) -> ImageRef:
        return replace(self, tag=tag, digest=None, original="")

    def with_digest(self, digest: str | None) -> ImageRef:
        return replace(self, digest=digest, original="")

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out

    @property
    def familiar(self) -> str:
        out = self.familiar_name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if not sep or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, path = DOCKER_HUB, name
    else:
        domain, path = first, rest
    if domain == _LEGACY_HUB:
        domain = DOCKER_HUB
    if domain == DOCKER_HUB and "/" not in path:
        path = f"{_OFFICIAL_NS}/{path}"
    return domain, path


def parse_reference(text: str) -> ImageRef:
    """Parse and normalize ``text``; raise :class:`ReferenceFormatError` with a precise reason."""
    original = text
    text = text.strip()
    if not text:
        raise ReferenceFormatError("empty image reference")
    if text != original:
        raise ReferenceFormatError(f"image reference {original!r} has surrounding whitespace")
    rest, at, digest_text = text.partition("@")
    digest: str | None = None
    if at:
        digest = str(Digest.parse(digest_text))
    # A tag is after the last ':' that follows the last '/', so registry ports are kept.
    tag: str | None = None
    colon = rest.rfind(":")
    if colon > rest.rfind("/"):
        rest, tag = rest[:colon], rest[colon + 1 :]
        if not _TAG_RE.match(tag):
            raise ReferenceFormatError(
                f"invalid tag {tag!r} in image reference {text!r}",
                "tags are 1-128 characters of letters, digits, '_', '.' and '-', "
                "not starting with '.' or '-'",
            )
    if not rest:
        raise ReferenceFormatError(f"image reference {text!r} has no repository name")
    if len(rest) > _MAX_NAME:
        raise ReferenceFormatError(f"repository name in {text!r} is longer than 255 characters")
    domain, path = _split_domain(rest)
    if domain != DOCKER_HUB and not _DOMAIN_RE.match(domain):
        raise ReferenceFormatError(f"invalid registry host {domain!r} in image reference {text!r}")
    if path.lower() != path:
        raise ReferenceFormatError(
            f"repository name must be lowercase in {text!r}", f"did you mean {text.lower()!r}?"
        )
    if not _PATH_RE.match(path):
        raise ReferenceFormatError(
            f"invalid repository name {path!r} in image reference {text!r}",
            "path components are lowercase letters and digits separated by '.', '_', '__' or '-'",
        )
    return ImageRef(registry=domain, repository=path, tag=tag, digest=digest, original=original)


def is_valid_tag(tag: str) -> bool:
    return bool(_TAG_RE.match(tag))
