"""Severity and "will not fix" from OSV fields. Precedence (first that gives a rating wins):

1. ``distro`` — OS ecosystems only (Debian, Ubuntu, Alpine, Red Hat, Rocky Linux, AlmaLinux,
   openSUSE, SUSE): a ``severity[]`` entry of type ``Ubuntu`` (affected entry, then record);
   ``affected[].ecosystem_specific.ubuntu_priority``; ``urgency`` (Debian) or ``severity``
   in the affected entry's ``ecosystem_specific``/``database_specific`` or the record's
   ``database_specific``. Words: negligible/unimportant/low -> low, medium/moderate ->
   medium, high/important -> high, critical -> critical (a trailing ``*``/`` (...)`` is ignored).
2. ``cvss_v3``, then ``cvss_v4``, then ``cvss_v2`` — the vector's base score (``cvss``
   package), affected entry's ``severity[]`` before the record's; rating per the CVSS spec
   (v2: <4 low, <7 medium, else high).
3. ``database_specific`` — ``database_specific.severity`` (GHSA: LOW/MODERATE/HIGH/CRITICAL).
4. unknown.

``cvss_score`` is the best CVSS base score found (v3, v4, v2) even when 1. decided the rating.

Will-not-fix: an affected entry's ``ecosystem_specific``/``database_specific`` key
``status``, ``state`` or ``fix_state`` (or ``urgency``) with one of :data:`WONT_FIX` values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from cvss import CVSS2, CVSS3, CVSS4

from patchwarden.scan.model import Severity

OS_ECOSYSTEMS = frozenset(
    {"Debian", "Ubuntu", "Alpine", "Red Hat", "Rocky Linux", "AlmaLinux", "openSUSE", "SUSE"}
)
WONT_FIX = frozenset(
    {
        "will-not-fix",
        "will_not_fix",
        "wont-fix",
        "wontfix",
        "won't fix",
        "will not fix",
        "ignored",
        "deferred",
        "no-dsa",
        "end-of-life",
    }
)
_WORDS = {
    "negligible": Severity.LOW,
    "unimportant": Severity.LOW,
    "low": Severity.LOW,
    "medium": Severity.MEDIUM,
    "moderate": Severity.MEDIUM,
    "high": Severity.HIGH,
    "important": Severity.HIGH,
    "critical": Severity.CRITICAL,
}
_CVSS_ORDER = ("CVSS_V3", "CVSS_V4", "CVSS_V2")


def word_severity(value: object) -> Severity | None:
    if not isinstance(value, str):
        return None
    word = re.sub(r"[\s*]+$|\s*\(.*\)$", "", value.strip().lower())
    return _WORDS.get(word)


@lru_cache(maxsize=65536)
def cvss_score(kind: str, vector: str) -> float | None:
    """Base score of a CVSS vector (or a bare number); ``None`` when it does not parse."""
    try:
        return float(vector)
    except ValueError:
        pass
    try:
        if kind == "CVSS_V4":
            return float(CVSS4(vector).base_score)
        if kind == "CVSS_V3":
            return float(CVSS3(vector).base_score)
        if kind == "CVSS_V2":
            return float(CVSS2(vector).base_score)
    except Exception:
        return None
    return None


def rating(kind: str, score: float) -> Severity:
    if kind == "CVSS_V2":
        return Severity.LOW if score < 4 else Severity.MEDIUM if score < 7 else Severity.HIGH
    if score >= 9:
        return Severity.CRITICAL
    if score >= 7:
        return Severity.HIGH
    return Severity.MEDIUM if score >= 4 else Severity.LOW


def _dicts(*items: object) -> list[Mapping[str, Any]]:
    return [i for i in items if isinstance(i, Mapping)]


def distro_severity(
    entry: Mapping[str, Any], record_severity: Iterable[Mapping[str, str]], record_db: object
) -> Severity | None:
    for sev in [*entry.get("severity", []), *record_severity]:
        if sev.get("type") == "Ubuntu" and (found := word_severity(sev.get("score"))):
            return found
    for spec in _dicts(entry.get("ecosystem_specific"), entry.get("database_specific")):
        for key in ("ubuntu_priority", "urgency", "severity"):
            if found := word_severity(spec.get(key)):
                return found
    for spec in _dicts(record_db):
        if found := word_severity(spec.get("urgency")):
            return found
    return None


def best_cvss(
    entry: Mapping[str, Any], record_severity: Iterable[Mapping[str, str]]
) -> tuple[str, float] | None:
    entries = [*entry.get("severity", []), *record_severity]
    for kind in _CVSS_ORDER:
        for sev in entries:
            if sev.get("type") == kind and (score := cvss_score(kind, str(sev.get("score")))):
                return kind, score
    return None


def assess(
    ecosystem_base: str,
    entry: Mapping[str, Any],
    record_severity: Iterable[Mapping[str, str]],
    record_db: Mapping[str, Any],
) -> tuple[Severity, str, float | None]:
    """(severity, severity_source, cvss_score) for one record's affected entry."""
    record_severity = list(record_severity)
    cvss = best_cvss(entry, record_severity)
    score = cvss[1] if cvss else None
    if ecosystem_base in OS_ECOSYSTEMS and (
        found := distro_severity(entry, record_severity, record_db)
    ):
        return found, "distro", score
    if cvss:
        return rating(cvss[0], cvss[1]), cvss[0].lower(), score
    if found := word_severity(record_db.get("severity")):
        return found, "database_specific", None
    return Severity.UNKNOWN, "", None


def wont_fix(entry: Mapping[str, Any]) -> bool:
    for spec in _dicts(entry.get("ecosystem_specific"), entry.get("database_specific")):
        for key in ("status", "state", "fix_state", "urgency"):
            value = spec.get(key)
            if isinstance(value, str) and value.strip().lower() in WONT_FIX:
                return True
    return False
