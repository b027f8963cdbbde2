"""The Docker tag version scheme: what users expect from tags like ``18-alpine``.

A version tag is::

    [v] release [pre-release] [-suffix]

* ``release``: 1..N dot-separated integers (``18``, ``1.25.3``, ``2024.01.15``, ``20240115``).
* ``pre-release``: attached PEP 440 style (``3.12.0rc1``, ``3.13.0a2``, ``1.22rc1``,
  ``2024.2.0.dev20240115``) or after a hyphen, semver style (``7.2-rc2``, ``1.2.3-beta.1``,
  ``v3.0.0-beta5``, ``7.2-rc``); a hyphenated part is a pre-release only when it is one of
  alpha/beta/rc/pre/preview/dev/snapshot followed by digits/dots and then ``-`` or the end.
* ``suffix``: everything after the next hyphen, kept verbatim (``alpine3.18``,
  ``slim-bookworm``, ``windowsservercore-ltsc2022``, ``alpine3.18-perl``). A second version in
  the suffix (``alpine3.18``) is part of the suffix and never changes on update.

Anything else (``latest``, ``stable``, ``bookworm``, ``lts-alpine``, ``a1b2c3d``) is not a
version: :func:`parse_tag` returns ``None`` and callers follow the tag's digest instead.

Order: release numerically (``1.10 > 1.9``), then pre-release < final; pre-releases order by
kind (dev/snapshot < alpha < beta < pre/preview < rc) and then by their numbers, so
``3.13.0a2 < 3.13.0b1 < 3.13.0rc1 < 3.13.0``. ``7.2-rc`` (no number) sorts before ``7.2-rc1``.

Compatibility (see :func:`incompatibility`): a candidate keeps the prefix, the suffix, the
precision (number of release components) and the version scheme (date-like or not) of the
current tag; pre-releases are accepted only when allowed (see there).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache, total_ordering
from typing import Literal

UpdateKind = Literal["major", "minor", "patch"]

_PRE_RANK = {
    "dev": 0,
    "snapshot": 0,
    "a": 1,
    "alpha": 1,
    "b": 2,
    "beta": 2,
    "pre": 3,
    "preview": 3,
    "c": 4,
    "rc": 4,
}
_FINAL_RANK = 5
#: First release component at or above this makes a version "date-like" (calendar versions).
DATE_LIKE_MIN = 1000

_TAG_RE = re.compile(
    r"""
    ^(?P<prefix>v)?
    (?P<release>\d+(?:\.\d+)*)
    (?:
        \.?(?P<attached>(?:alpha|beta|preview|pre|dev|rc)(?:\.?\d+)*|[abc]\d+(?:\.\d+)*)
      | -(?P<hyphen>(?:alpha|beta|preview|pre|dev|snapshot|rc)(?:\.?\d+)*)(?=-|$)
    )?
    (?:-(?P<suffix>[A-Za-z0-9][\w.-]*))?$
    """,
    re.VERBOSE,
)
_PRE_SPLIT_RE = re.compile(r"^(?P<kind>[a-z]+)\.?(?P<nums>\d+(?:\.\d+)*)?$")


def _pre_key(prerelease: str | None) -> tuple[int, tuple[int, ...]]:
    if prerelease is None:
        return (_FINAL_RANK, ())
    m = _PRE_SPLIT_RE.match(prerelease)
    if m is None:  # pragma: no cover - parse_tag only builds matching pre-releases
        return (0, ())
    nums = tuple(int(n) for n in m["nums"].split(".")) if m["nums"] else ()
    return (_PRE_RANK[m["kind"]], nums)


def _strip_zeros(release: tuple[int, ...]) -> tuple[int, ...]:
    end = len(release)
    while end > 1 and release[end - 1] == 0:
        end -= 1
    return release[:end]


@total_ordering
@dataclass(frozen=True, slots=True, eq=True)
class DockerTag:
    """A parsed version tag. ``raw`` is the tag exactly as the registry lists it.

    Ordering is total: by version (trailing zeros ignored, so ``18 == 18.0`` in version terms),
    then by precision, prefix, suffix and raw text as tie-breakers, so that sorting is stable
    and consistent with ``==``. Use :meth:`version_key` to compare versions only.
    """

    raw: str
    prefix: str
    release: tuple[int, ...]
    prerelease: str | None = None
    suffix: str | None = None

    @property
    def precision(self) -> int:
        return len(self.release)

    @property
    def is_prerelease(self) -> bool:
        return self.prerelease is not None

    @property
    def is_date_like(self) -> bool:
        return self.release[0] >= DATE_LIKE_MIN

    @property
    def scheme(self) -> tuple[bool, int]:
        """(date-like, digits of the first component): ``2024.01.15`` and ``20240115`` differ."""
        return (self.is_date_like, len(str(self.release[0])) if self.is_date_like else 0)

    def version_key(self) -> tuple[tuple[int, ...], tuple[int, tuple[int, ...]]]:
        return (_strip_zeros(self.release), _pre_key(self.prerelease))

    def _sort_key(self) -> tuple[object, ...]:
        return (*self.version_key(), self.precision, self.prefix, self.suffix or "", self.raw)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DockerTag):
            return NotImplemented
        return self._sort_key() < other._sort_key()

    def __str__(self) -> str:
        return self.raw


@lru_cache(maxsize=65536)
def parse_tag(tag: str) -> DockerTag | None:
    """Parse ``tag`` as a version tag, or return ``None`` when it is not one.

    Cached: a run parses the same tag lists for many references (``DockerTag`` is frozen).
    """
    m = _TAG_RE.match(tag)
    if m is None:
        return None
    pre = m["attached"] or m["hyphen"]
    return DockerTag(
        raw=tag,
        prefix=m["prefix"] or "",
        release=tuple(int(part) for part in m["release"].split(".")),
        prerelease=pre,
        suffix=m["suffix"],
    )


def is_newer(candidate: DockerTag, current: DockerTag) -> bool:
    """Strictly newer in version order (prefix, suffix and precision are not considered)."""
    return candidate.version_key() > current.version_key()


def update_kind(current: DockerTag, candidate: DockerTag) -> UpdateKind:
    """How big the move from ``current`` to ``candidate`` is.

    The first differing release component decides: index 0 → major, 1 → minor, 2 or later →
    patch. Same release (pre-release → final, or → a newer pre-release) counts as the smallest
    level, ``patch``. Date-like versions follow the same rule, so ``20231219 → 20240115`` is a
    major update and ``2024.1.3 → 2024.2.0`` a minor one.
    """
    a, b = current.release, candidate.release
    width = max(len(a), len(b))
    a, b = a + (0,) * (width - len(a)), b + (0,) * (width - len(b))
    for index, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            return "major" if index == 0 else "minor" if index == 1 else "patch"
    return "patch"


class Incompatibility(StrEnum):
    """Why a candidate tag is of another flavour than the current one (values: short text)."""

    PREFIX = "different prefix"
    SUFFIX = "different suffix"
    SCHEME = "different version scheme"
    PRECISION = "different precision"
    PRERELEASE = "pre-release"


def incompatibility(
    current: DockerTag, candidate: DockerTag, *, allow_prerelease: bool = False
) -> Incompatibility | None:
    """Why ``candidate`` cannot replace ``current``, or ``None``.

    Reasons, checked in this order: ``different prefix``, ``different suffix``, ``different
    version scheme`` (date-like vs. not, or a date of another shape), ``different precision``,
    ``pre-release``. A pre-release candidate is accepted when ``allow_prerelease`` is set, or
    when ``current`` is itself a pre-release of the same release (``3.13.0a2 → 3.13.0b1``);
    final releases are always acceptable for a pre-release current tag.
    """
    if candidate.prefix != current.prefix:
        return Incompatibility.PREFIX
    if candidate.suffix != current.suffix:
        return Incompatibility.SUFFIX
    if candidate.scheme != current.scheme:
        return Incompatibility.SCHEME
    if candidate.precision != current.precision:
        return Incompatibility.PRECISION
    same_release_pre = current.is_prerelease and candidate.release == current.release
    if candidate.is_prerelease and not allow_prerelease and not same_release_pre:
        return Incompatibility.PRERELEASE
    return None


def compatible_candidates(
    current: DockerTag, tags: Iterable[str], *, allow_prerelease: bool = False
) -> list[DockerTag]:
    """Tags strictly newer than ``current`` and compatible with it, newest first."""
    seen: set[str] = set()
    out: list[DockerTag] = []
    for text in tags:
        if text in seen:
            continue
        seen.add(text)
        tag = parse_tag(text)
        if tag is None or not is_newer(tag, current):
            continue
        if incompatibility(current, tag, allow_prerelease=allow_prerelease) is None:
            out.append(tag)
    out.sort(reverse=True)
    return out
