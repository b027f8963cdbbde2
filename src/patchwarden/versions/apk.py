"""Alpine's apk version ordering (apk-tools 3 ``apk_version_compare``), as a sort key.

Written here because no Python library orders apk versions correctly: univers'
``AlpineLinuxVersion`` answers ``8.18.0-r0 >= 8.4.0-r0`` with False while ``>`` is True
(see docs/upstream/univers-alpine-ordering.md). The rules, from apk-tools' documentation of
its version format ``digit{.digit}...{letter}{_suffix{number}}...{~hash}{-r#}``:

* A version is a sequence of tokens: the first number; ``.number`` components; one lower-case
  letter; ``_suffix`` with an optional number (``alpha`` < ``beta`` < ``pre`` < ``rc`` <
  *(none)* < ``cvs`` < ``svn`` < ``git`` < ``hg`` < ``p``); ``~hexhash``; ``-rN``. Anything else
  ends the version as *invalid* at that point.
* Tokens are compared in pairs while both are of the same kind: numbers as numbers, except
  that a ``.component`` with a leading zero (on either side) compares as a string (Gentoo's
  rule: ``1.01`` < ``1.1``, ``1.001`` < ``1.01``); letters, suffixes and numbers by value;
  hashes as strings. The first difference decides.
* When the kinds differ, a pre-release suffix (``_alpha`` .. ``_rc``) is older than anything;
  otherwise the version that goes on with the earlier kind in the list
  (component, letter, suffix, suffix number, hash, revision, end, invalid) is newer:
  ``1.0.1`` > ``1.0a`` > ``1.0_p1`` > ``1.0-r1`` > ``1.0`` > ``1.0_rc1``.
* Two versions that reach *invalid* at the same point with equal tokens before are equal.

:func:`apk_key` turns a version into a tuple whose order is exactly that comparison (proven
against apk-tools' own test table and a recorded run of its comparator on generated pairs,
``tests/unit/versions/test_apk_reference.py``).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["ApkVersionError", "apk_compare", "apk_key", "apk_valid"]

# Token kinds, in apk-tools' order (a lower kind is newer when two versions differ in kind).
_INITIAL, _DIGIT, _LETTER, _SUFFIX, _SUFFIX_NO, _HASH, _REVISION, _END, _INVALID = range(9)
_PRE = ("alpha", "beta", "pre", "rc")
_POST = ("cvs", "svn", "git", "hg", "p")
# suffix value: pre-releases below 0 (no suffix), post-releases above it
_SUFFIX_VALUE = {s: i - len(_PRE) for i, s in enumerate(_PRE)} | {
    s: i + 1 for i, s in enumerate(_POST)
}
_NUM = re.compile(r"[0-9]*")
_LOWER = re.compile(r"[a-z]*")
_HEX = re.compile(r"[0-9a-f]*")


class ApkVersionError(ValueError):
    """Not a valid apk version (apk-tools' ``apk_version_validate`` would reject it)."""


def _rank(kind: int, value: Any = None) -> int:
    """The first element of a token's key: differing kinds compare by this alone."""
    if kind == _SUFFIX and value < 0:
        return -100  # a pre-release suffix is older than whatever the other version has
    return -kind


def _tokens(v: str) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    m = _NUM.match(v)
    assert m is not None  # noqa: S101 - the pattern matches the empty string
    if not m.group():
        return [(_rank(_INVALID),)]
    out.append((_rank(_INITIAL), int(m.group())))
    pos, kind = m.end(), _INITIAL
    n = len(v)
    while True:
        if pos >= n:
            out.append((_rank(_END),))
            return out
        c = v[pos]
        if "a" <= c <= "z":
            if kind > _DIGIT:
                break
            kind = _LETTER
            out.append((_rank(kind), ord(c)))
            pos += 1
        elif c == "." or (c.isdigit() and c.isascii()):
            if c == "." and kind > _DIGIT:
                break
            if kind in (_INITIAL, _DIGIT):
                kind = _DIGIT
            elif kind == _SUFFIX:
                kind = _SUFFIX_NO
            else:
                break
            if c == ".":
                pos += 1
            m = _NUM.match(v, pos)
            assert m is not None  # noqa: S101 - the pattern matches the empty string
            digits = m.group()
            if not digits:
                break
            pos = m.end()
            if kind == _DIGIT and digits[0] == "0":
                # a leading zero: compared as a string with whatever the other side has;
                # as every other component starts with 1-9, "0..." is below all of them
                out.append((_rank(kind), 0, digits))
            elif kind == _DIGIT:
                out.append((_rank(kind), 1, int(digits)))
            else:
                out.append((_rank(kind), int(digits)))
        elif c == "_":
            if kind > _SUFFIX_NO:
                break
            m = _LOWER.match(v, pos + 1)
            assert m is not None  # noqa: S101 - the pattern matches the empty string
            value = _SUFFIX_VALUE.get(m.group())
            if value is None:
                break
            kind = _SUFFIX
            out.append((_rank(kind, value), value))
            pos = m.end()
        elif c == "~":
            if kind >= _HASH:
                break
            m = _HEX.match(v, pos + 1)
            assert m is not None  # noqa: S101 - the pattern matches the empty string
            if not m.group():
                break
            kind = _HASH
            out.append((_rank(kind), m.group()))
            pos = m.end()
        elif c == "-":
            if kind >= _REVISION or not v.startswith("-r", pos):
                break
            m = _NUM.match(v, pos + 2)
            assert m is not None  # noqa: S101 - the pattern matches the empty string
            if not m.group():
                break
            kind = _REVISION
            out.append((_rank(kind), int(m.group())))
            pos = m.end()
        else:
            break
    out.append((_rank(_INVALID),))
    return out


def apk_key(v: str) -> tuple[tuple[Any, ...], ...]:
    """A key with apk-tools' order for any string (invalid ones too, as apk compares them)."""
    return tuple(_tokens(v))


def apk_valid(v: str) -> bool:
    return _tokens(v)[-1] == (_rank(_END),)


def apk_version(v: str) -> tuple[tuple[Any, ...], ...]:
    """The key of a valid version; :class:`ApkVersionError` for an invalid one."""
    key = apk_key(v.strip())
    if key[-1] != (_rank(_END),):
        raise ApkVersionError(f"not an apk version: {v!r}")
    return key


def apk_compare(a: str, b: str) -> int:
    ka, kb = apk_key(a), apk_key(b)
    return -1 if ka < kb else (1 if ka > kb else 0)
