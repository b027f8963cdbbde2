"""Maven's version ordering (``org.apache.maven.artifact.versioning.ComparableVersion``).

Written here because univers' ``MavenVersion`` (a port of an older ``ComparableVersion``)
disagrees with Maven 3 on qualifier edge cases (``2.beta`` vs ``2.beta-final``, ``1.0.alpha``
vs ``1.0.alpha.0.0``, ``9release`` vs ``9``), found by comparing both with Maven's own class on
thousands of pairs (tests/unit/versions/test_reference_orderings.py). The rules, as Maven
documents them:

* Lower-cased, the version is split into items at ``.``, at ``-`` (which opens a nested list)
  and at every digit/letter transition (which also opens a nested list); an empty item is 0;
  a qualifier after ``.`` is read as after ``-`` (``1.0.0.X1`` < ``1.0.0-X2``).
* Numbers compare as numbers; qualifiers by rank: ``alpha`` (``a1``) < ``beta`` (``b1``) <
  ``milestone`` (``m1``) < ``rc`` = ``cr`` < ``snapshot`` < release (``""``, ``ga``,
  ``final``, ``release``) < ``sp`` < any other qualifier (alphabetically among themselves).
* A number is newer than a qualifier or a list; a list is newer than a qualifier; a missing
  item compares as "null" (0, the release, an empty list). Trailing nulls of every list are
  dropped (``1.0.0`` == ``1``; ``1-ga`` == ``1``).
"""

from __future__ import annotations

from functools import lru_cache, total_ordering
from typing import Union

__all__ = ["MavenVersionKey", "maven_compare"]

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_RELEASE = str(_QUALIFIERS.index(""))
_SHORT = {"a": "alpha", "b": "beta", "m": "milestone"}

Item = Union[int, str, list["Item"]]  # noqa: UP007 - a recursive alias needs the string form


def _qualifier(q: str) -> str:
    """Maven compares qualifiers by this string (a digit for a known one, ``7-name`` else)."""
    if q in _QUALIFIERS:
        return str(_QUALIFIERS.index(q))
    return f"{len(_QUALIFIERS)}-{q}"


def _string_item(value: str, followed_by_digit: bool) -> str:
    if followed_by_digit and len(value) == 1:
        value = _SHORT.get(value, value)
    return _ALIASES.get(value, value)


def _is_null(item: Item) -> bool:
    if isinstance(item, int):
        return item == 0
    if isinstance(item, str):
        return _qualifier(item) == _RELEASE
    return not item


def _normalize(items: list[Item]) -> None:
    for i in range(len(items) - 1, -1, -1):
        last = items[i]
        if _is_null(last):
            del items[i]
        elif not isinstance(last, list):
            break


def parse(version: str) -> list[Item]:
    version = version.lower()
    root: list[Item] = []
    current = root
    stack = [root]
    is_digit = False
    start = 0

    def item(digit: bool, text: str) -> Item:
        return int(text) if digit else _string_item(text, False)

    def open_list() -> None:
        nonlocal current
        new: list[Item] = []
        current.append(new)
        current = new
        stack.append(new)

    for i, c in enumerate(version):
        if c == ".":
            current.append(0 if i == start else item(is_digit, version[start:i]))
            start = i + 1
        elif c == "-":
            current.append(0 if i == start else item(is_digit, version[start:i]))
            start = i + 1
            open_list()
        elif "0" <= c <= "9":
            if not is_digit and i > start:
                if current:  # 1.0.0.X1 < 1.0.0-X2: ".X" is read as "-X"
                    open_list()
                current.append(_string_item(version[start:i], True))
                start = i
                open_list()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(int(version[start:i]))
                start = i
                open_list()
            is_digit = False
    if len(version) > start:
        if not is_digit and current:  # ".X" is read as "-X" at the end too
            open_list()
        current.append(item(is_digit, version[start:]))
    while stack:
        _normalize(stack.pop())
    return root


def _cmp(a: Item | None, b: Item | None) -> int:
    """``a.compareTo(b)`` of Maven's items (``None``: the missing item)."""
    if a is None:
        return 0 if b is None else -_cmp(b, None)
    if isinstance(a, int):
        if b is None:
            return 0 if a == 0 else 1
        if isinstance(b, int):
            return (a > b) - (a < b)
        return 1
    if isinstance(a, str):
        qa = _qualifier(a)
        if b is None:
            return (qa > _RELEASE) - (qa < _RELEASE)
        if isinstance(b, str):
            qb = _qualifier(b)
            return (qa > qb) - (qa < qb)
        return -1
    if b is None:
        return 0 if not a else _cmp(a[0], None)
    if isinstance(b, int):
        return -1
    if isinstance(b, str):
        return 1
    for i in range(max(len(a), len(b))):
        left = a[i] if i < len(a) else None
        right = b[i] if i < len(b) else None
        r = _cmp(left, right)
        if r:
            return r
    return 0


@lru_cache(maxsize=65536)
def _parsed(version: str) -> list[Item]:
    return parse(version)


def maven_compare(a: str, b: str) -> int:
    return _cmp(_parsed(a), _parsed(b))


@total_ordering
class MavenVersionKey:
    """A sort key whose every operator follows :func:`maven_compare`."""

    __slots__ = ("items", "version")

    def __init__(self, version: str) -> None:
        self.version = version
        self.items = _parsed(version)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MavenVersionKey):
            return NotImplemented
        return _cmp(self.items, other.items) == 0

    def __lt__(self, other: MavenVersionKey) -> bool:
        return _cmp(self.items, other.items) < 0

    def __hash__(self) -> int:  # equal keys may differ in structure: one bucket is correct
        return 0

    def __repr__(self) -> str:
        return f"MavenVersionKey({self.version!r})"
