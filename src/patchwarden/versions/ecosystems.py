"""Version ordering per OSV ecosystem, as the advisory matcher needs it.

======================================  ==================================================
OSV ecosystem (prefix before ``:``)      ordering
======================================  ==================================================
``Debian``, ``Ubuntu``                   dpkg (epochs ``1:``, ``~`` before anything, revisions)
``Alpine``                               apk (``-rN``, ``_rc``/``_alpha`` < final < ``_p``)
``Red Hat``, ``Rocky Linux``,            rpm (``rpmvercmp`` with epoch and release)
``AlmaLinux``, ``openSUSE``, ``SUSE``
``PyPI``                                 PEP 440 (``packaging.version``)
``npm``, ``crates.io``, ``Go``           SemVer 2 (Go: a leading ``v`` is dropped,
                                         ``1.21`` is read as ``1.21.0``)
``Maven``                                Maven ``ComparableVersion``
======================================  ==================================================

A version that its ecosystem cannot parse never raises from :func:`compare` or
:func:`sort_key`: it sorts before every valid version, invalid ones among themselves in a
natural (digit-aware) order. Use :func:`is_valid` to decide whether range logic applies at all.
An ecosystem not in the table raises :class:`UnknownEcosystemError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any

from packaging.version import Version as Pep440Version
from univers.versions import DebianVersion, RpmVersion

from patchwarden.errors import UsageError
from patchwarden.versions.apk import apk_version
from patchwarden.versions.maven import MavenVersionKey

__all__ = [
    "UnknownEcosystemError",
    "compare",
    "ecosystem_base",
    "is_valid",
    "same",
    "scheme_of",
    "sort_key",
]


class UnknownEcosystemError(UsageError):
    """No version ordering is known for this OSV ecosystem."""


_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+[0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*)?"
)  # semver.org's own regular expression
# Go toolchain versions ("1.21", "1.21rc2" from go1.21rc2) and x/mod's "v1.2" shorthand
_GO_SHORT = re.compile(r"(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?((?:rc|beta)\d+)?")


def _semver(v: str) -> tuple[Any, ...]:
    """SemVer 2.0 precedence as a tuple (build metadata ignored; a release after its
    pre-releases; numeric identifiers before alphanumeric ones, compared as numbers).
    A leading ``v`` is dropped; leading zeros are invalid, as in node-semver and Go."""
    v = v.strip()
    if v[:1] in ("v", "V"):
        v = v[1:]
    m = _SEMVER.fullmatch(v)
    if m:
        major, minor, patch, pre_text = m.groups()
    else:
        short = _GO_SHORT.fullmatch(v)
        if not short:
            raise ValueError(f"not a SemVer version: {v!r}")
        major, minor, patch, pre_text = (
            short.group(1),
            short.group(2),
            short.group(3),
            short.group(4),
        )
    parts = pre_text.split(".") if pre_text else []
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts)
    return (int(major), int(minor or 0), int(patch or 0), 0 if pre else 1, pre)


def _dpkg_part(s: str) -> tuple[tuple[int, ...], ...]:
    """dpkg's verrevcmp as a tuple key.

    dpkg compares alternating non-digit runs (character by character: ``~`` < end of run <
    letters < other characters) and digit runs (as numbers), a missing run counting as empty
    / 0 - so ``1.0`` == ``1.0`` + ``""`` and revision ``0`` == no revision. Flattened, that is
    a lexicographic comparison of integer sequences padded with zeros forever. The key stores
    each non-zero element with the number of zeros before it, ordered so that padding with
    zeros is respected: ``(0, zeros, v)`` for v < 0 (only ``~``), ``(1,)`` for the end, and
    ``(2, -zeros, v)`` for v > 0.
    """
    flat: list[int] = []
    for nondigit, digits in re.findall(r"(\D*)(\d*)", s):
        if not nondigit and not digits:
            continue
        flat.extend(-1 if c == "~" else ord(c) if c.isalpha() else ord(c) + 256 for c in nondigit)
        flat.append(0)
        flat.append(int(digits) if digits else 0)
    out: list[tuple[int, ...]] = []
    zeros = 0
    for value in flat:
        if value == 0:
            zeros += 1
        elif value < 0:
            out.append((0, zeros, value))
            zeros = 0
        else:
            out.append((2, -zeros, value))
            zeros = 0
    out.append((1,))
    return tuple(out)


def _dpkg(v: str) -> tuple[Any, ...]:
    """Sort key with dpkg semantics (univers' DebianVersion validates, ~30x slower to compare)."""
    DebianVersion(v)  # validates: raises on an invalid version
    v = v.strip()
    epoch, colon, rest = v.partition(":")
    if not colon:
        epoch, rest = "0", v
    upstream, dash, revision = rest.rpartition("-")
    if not dash:
        upstream, revision = rest, ""
    return (int(epoch or 0), _dpkg_part(upstream), _dpkg_part(revision))


def _pep440(v: str) -> Any:
    return Pep440Version(v)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "dpkg": _dpkg,
    "apk": apk_version,  # univers' AlpineLinuxVersion orders 8.18.0-r0 below 8.4.0-r0
    "rpm": RpmVersion,
    "pep440": _pep440,
    "semver": _semver,
    "maven": MavenVersionKey,  # univers' MavenVersion differs from Maven 3 on qualifiers
}

_SCHEMES: dict[str, str] = {
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "Alpine": "apk",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "openSUSE": "rpm",
    "SUSE": "rpm",
    "PyPI": "pep440",
    "npm": "semver",
    "crates.io": "semver",
    "Go": "semver",
    "Maven": "maven",
}


def ecosystem_base(ecosystem: str) -> str:
    """``Debian:12`` -> ``Debian``; ``Ubuntu:Pro:16.04:LTS`` -> ``Ubuntu``."""
    return ecosystem.split(":", 1)[0].strip()


def scheme_of(ecosystem: str) -> str:
    """The version scheme name (``dpkg``, ``apk``, ``rpm``, ``pep440``, ``semver``, ``maven``)."""
    try:
        return _SCHEMES[ecosystem_base(ecosystem)]
    except KeyError:
        known = ", ".join(sorted(_SCHEMES))
        raise UnknownEcosystemError(
            f"no version ordering is known for ecosystem {ecosystem!r}",
            f"supported ecosystems: {known}",
        ) from None


def _natural(v: str) -> tuple[tuple[int, int, str], ...]:
    return tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part)
        for part in re.findall(r"\d+|[^\d]+", v)
    )


@lru_cache(maxsize=200_000)
def _key(scheme: str, v: str) -> tuple[int, Any]:
    try:
        return (1, _PARSERS[scheme](v))
    except Exception:
        return (0, _natural(v))


def sort_key(ecosystem: str) -> Callable[[str], tuple[int, Any]]:
    """A key function for ``sorted(versions, key=sort_key("Debian:12"))`` (a ``partial`` of
    the cached parser: calling it runs no Python frame once a version is cached, and the
    matcher calls it ~100,000 times per scan)."""
    return partial(_key, scheme_of(ecosystem))


def is_valid(ecosystem: str, v: str) -> bool:
    return _key(scheme_of(ecosystem), v)[0] == 1


def same(ka: tuple[int, Any], kb: tuple[int, Any]) -> bool:
    """Two :func:`sort_key` keys denote the same version (by ordering, not by spelling)."""
    return not (ka < kb or kb < ka)


def compare(ecosystem: str, a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` sorts before, equal to, or after ``b`` in ``ecosystem``."""
    scheme = scheme_of(ecosystem)
    ka, kb = _key(scheme, a), _key(scheme, b)
    if ka[0] != kb[0]:
        return -1 if ka[0] < kb[0] else 1
    return -1 if ka[1] < kb[1] else (1 if ka[1] > kb[1] else 0)
