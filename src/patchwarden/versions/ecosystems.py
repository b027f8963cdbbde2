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
from functools import lru_cache
from typing import Any

from packaging.version import Version as Pep440Version
from univers.versions import (
    AlpineLinuxVersion,
    DebianVersion,
    MavenVersion,
    RpmVersion,
    SemverVersion,
)

from patchwarden.errors import UsageError

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


def _semver(v: str) -> tuple[Any, ...]:
    """SemVer 2.0 precedence as a tuple (build metadata ignored; a release after its
    pre-releases; numeric identifiers before alphanumeric ones). univers validates; its own
    comparisons are ~20x slower than tuples, and its ``==`` looks at build metadata."""
    parsed = _semver_value(v)
    pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parsed.prerelease)
    return (parsed.major, parsed.minor, parsed.patch, 0 if pre else 1, pre)


def _semver_value(v: str) -> Any:
    v = v.strip()
    if v[:1] in ("v", "V"):
        v = v[1:]
    try:
        return SemverVersion(v).value
    except Exception:
        # Go toolchain versions such as "1.21" or "1.21rc2" (from go1.21rc2) are not SemVer.
        m = re.fullmatch(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?((?:-|(?=[a-z])).*)?", v)
        if not m:
            raise
        pre = m.group(4) or ""
        if pre and not pre.startswith("-"):
            pre = "-" + pre
        return SemverVersion(f"{m.group(1)}.{m.group(2) or 0}.{m.group(3) or 0}{pre}").value


def _dpkg_part(s: str) -> tuple[Any, ...]:
    """dpkg's verrevcmp as a tuple: non-digit runs as char weights (``~`` < end < letters <
    other), digit runs as ints, and a final end marker so ``1.0~`` < ``1.0`` < ``1.0.0``."""
    out: list[Any] = []
    for nondigit, digits in re.findall(r"(\D*)(\d*)", s):
        if not nondigit and not digits:
            continue
        weights = [-1 if c == "~" else ord(c) if c.isalpha() else ord(c) + 256 for c in nondigit]
        out.append((*weights, 0))
        out.append(int(digits) if digits else 0)
    if out == [(0,), 0]:  # "0" == "" (a missing revision is revision 0)
        out = []
    out.append((0,))
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
    "apk": AlpineLinuxVersion,
    "rpm": RpmVersion,
    "pep440": _pep440,
    "semver": _semver,
    "maven": MavenVersion,
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
    """A key function for ``sorted(versions, key=sort_key("Debian:12"))``."""
    scheme = scheme_of(ecosystem)

    def key(v: str) -> tuple[int, Any]:
        return _key(scheme, v)

    return key


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
