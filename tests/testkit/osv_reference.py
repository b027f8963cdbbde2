"""A reference evaluation of OSV affected entries, written from the OSV schema's pseudo-code
(https://ossf.github.io/osv-schema/#evaluation) as plainly as possible, for comparing the
matcher's optimised evaluation with: events sorted by version (introduced, then
last_affected, then fixed at the same version; otherwise as given), walked in order; the
``versions`` list compared by ordering (:func:`compare`), not by spelling.

This is the matcher's evaluation before the changes of issue #10's bench work (sort, then
walk), kept as the oracle."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from patchwarden.versions.ecosystems import compare, is_valid

_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}


def reference_evaluate(
    ecosystem: str, version: str, entry: Mapping[str, Any]
) -> tuple[bool, str | None]:
    """(affected, the smallest ``fixed`` above ``version`` in the ranges that include it)."""
    valid = is_valid(ecosystem, version)
    affected, fixes = False, []
    for rng in entry.get("ranges", ()) if valid else ():
        if rng.get("type") in ("ECOSYSTEM", "SEMVER"):
            inside, fixed = _range(ecosystem, version, rng.get("events", ()))
            affected = affected or inside
            fixes += [fixed] if fixed is not None else []
    listed: Sequence[str] = entry.get("versions", ())
    if not affected:
        affected = version in listed or (
            valid
            and any(is_valid(ecosystem, v) and compare(ecosystem, v, version) == 0 for v in listed)
        )
    if not affected:
        return False, None

    def order(a: str, b: str) -> int:
        return compare(ecosystem, a, b)

    return True, (min(fixes, key=functools.cmp_to_key(order)) if fixes else None)


def _range(
    ecosystem: str, version: str, events: Sequence[Mapping[str, str]]
) -> tuple[bool, str | None]:
    limits = [e["limit"] for e in events if e.get("limit") and e["limit"] != "*"]
    if any(compare(ecosystem, version, lim) >= 0 for lim in limits):
        return False, None
    points = [
        (kind, ev[kind])
        for ev in events
        for kind in ("introduced", "fixed", "last_affected")
        if isinstance(ev.get(kind), str)
    ]

    def order(a: tuple[str, str], b: tuple[str, str]) -> int:
        if a[1] == "0" or b[1] == "0":  # "0": before every version
            c = (a[1] != "0") - (b[1] != "0")
        else:
            c = compare(ecosystem, a[1], b[1])
        return c or _ORDER[a[0]] - _ORDER[b[0]]

    points.sort(key=functools.cmp_to_key(order))  # stable: as given among equals
    affected = False
    for kind, value in points:
        c = 1 if value == "0" else compare(ecosystem, version, value)
        if kind == "introduced" and c >= 0:
            affected = True
        elif (kind == "fixed" and c >= 0) or (kind == "last_affected" and c > 0):
            affected = False
    if not affected:
        return False, None
    above = [
        v for k, v in points if k == "fixed" and v != "0" and compare(ecosystem, v, version) > 0
    ]
    return True, (above[0] if above else None)
