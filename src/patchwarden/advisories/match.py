"""Match packages against the advisory index, following the OSV schema's evaluation rules.

* Ecosystem per package: see :func:`ecosystems_for`. deb packages match on their SOURCE
  package (``source_name``/``source_version``, falling back to name/version), apk on the
  origin (``source_name``), as Debian, Ubuntu and Alpine records name source packages.
* An affected entry applies when the version is listed in ``versions`` or falls in an
  ``ECOSYSTEM``/``SEMVER`` range (events sorted by version, ``introduced: "0"`` first; a
  ``limit`` caps the range). ``GIT`` ranges and withdrawn records are ignored. A version the
  ecosystem cannot parse only matches ``versions`` literally.
* ``fixed_version``: the smallest ``fixed`` event above the installed version in the
  matching ranges. Status: fixed / will-not-fix (see :mod:`.severity`) / no-fix.
* Records that share an id, alias or upstream id (and ``UBUNTU-CVE-X``/``ALPINE-CVE-X``/
  ``DEBIAN-CVE-X`` -> ``CVE-X``) for the same package become one Finding, named by its CVE.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

from patchwarden.advisories.enrich import SOURCE_RANK, enrich
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.rows import AffectedRow, StoredRecord, normalize_name, record_keys
from patchwarden.advisories.severity import assess, wont_fix
from patchwarden.core.gcpause import gc_paused
from patchwarden.scan.model import Finding, FindingStatus, OSInfo, Package, PackageType, Severity
from patchwarden.versions.ecosystems import ecosystem_base, sort_key

DEBIAN_CODENAMES = {"wheezy": "7", "jessie": "8", "stretch": "9", "buster": "10"}
DEBIAN_CODENAMES |= {"bullseye": "11", "bookworm": "12", "trixie": "13", "forky": "14"}
_LANG = {
    PackageType.PYTHON: "PyPI",
    PackageType.NPM: "npm",
    PackageType.GO: "Go",
    PackageType.JAVA: "Maven",
}


@dataclass(slots=True)  # not frozen: built ~15,000 times per scan, never changed
class _Hit:
    record: StoredRecord
    keys: frozenset[str]  # every id the record answers to (``record_keys``)
    ecosystem: str
    fixed: str | None
    status: FindingStatus
    severity: Severity
    severity_source: str
    cvss: float | None


def os_ecosystems(index: AdvisoryIndex, pkg_type: PackageType, os: OSInfo | None) -> list[str]:
    """OSV ecosystems to query for OS packages of ``pkg_type`` on ``os`` (may be empty)."""
    if os is None:
        return []
    osid, ver = os.id.lower(), (os.version_id or "").strip()
    if pkg_type is PackageType.DEB and osid == "debian":
        major = ver.split(".")[0] or DEBIAN_CODENAMES.get(os.version_codename or "", "")
        return [f"Debian:{major}"] if major else []
    if pkg_type is PackageType.DEB and osid == "ubuntu" and ver:
        plain = [e for e in (f"Ubuntu:{ver}", f"Ubuntu:{ver}:LTS") if index.has_ecosystem(e)]
        pro = [e for e in (f"Ubuntu:Pro:{ver}:LTS", f"Ubuntu:Pro:{ver}")]
        return plain or [e for e in pro if index.has_ecosystem(e)]
    if pkg_type is PackageType.APK and osid == "alpine":
        m = re.match(r"(\d+)\.(\d+)", ver)
        return [f"Alpine:v{m.group(1)}.{m.group(2)}"] if m else []
    if pkg_type is PackageType.RPM and ver:
        major = ver.split(".")[0]
        if osid == "rocky":
            return [f"Rocky Linux:{major}"]
        if osid == "almalinux":
            return [f"AlmaLinux:{major}"]
        if osid == "rhel":
            hits = index.ecosystems_with_prefix("Red Hat")
            return [e for e in hits if re.search(rf"(^|:){major}(\.\d+)?(:|$)", e[8:])] or (
                ["Red Hat"] if "Red Hat" in hits else []
            )
        if osid.startswith("opensuse"):
            return [f"openSUSE:Leap {ver}"]
    return []


def package_coordinates(pkg: Package) -> tuple[str, str]:
    """(name, version) as OSV records name them."""
    if pkg.type in (PackageType.DEB, PackageType.APK):
        return pkg.source_name or pkg.name, pkg.source_version or pkg.version
    if pkg.type is PackageType.GO and pkg.name == "stdlib":
        return "stdlib", pkg.version.removeprefix("go")
    if pkg.type is PackageType.JAVA and pkg.namespace and ":" not in pkg.name:
        return f"{pkg.namespace}:{pkg.name}", pkg.version
    return pkg.name, pkg.version


def evaluate(ecosystem: str, version: str, entry: Mapping[str, Any]) -> tuple[bool, str | None]:
    """(affected, smallest fixed version above ``version``) for one affected entry."""
    key = sort_key(ecosystem)
    return _evaluate(key, version, key(version), entry, lambda: entry.get("versions", ()))


def _evaluate(
    key: Callable[[str], tuple[int, Any]],
    version: str,
    kv: tuple[int, Any],
    entry: Mapping[str, Any],
    versions: Callable[[], Sequence[str]],
) -> tuple[bool, str | None]:
    """:func:`evaluate` with the key function, the version's key and the entry's ``versions``
    list (called only when the ranges do not decide) given."""
    valid = kv[0] == 1
    affected = False
    fixes: list[str] = []
    if valid:
        for rng in entry.get("ranges", ()):
            if rng.get("type") not in ("ECOSYSTEM", "SEMVER"):
                continue
            in_range, fixed = _in_range(key, kv, rng.get("events", ()))
            affected = affected or in_range
            if fixed is not None:
                fixes.append(fixed)
    if not affected:  # ranges first: the explicit list can be hundreds of versions long
        listed = versions()
        affected = bool(listed) and (version in listed or (valid and _listed_same(key, kv, listed)))
    if not affected:
        return False, None
    if len(fixes) > 1:
        return True, min(fixes, key=key)
    return True, (fixes[0] if fixes else None)


def _listed_same(
    key: Callable[[str], tuple[int, Any]], kv: tuple[int, Any], listed: Sequence[str]
) -> bool:
    """Whether a version of ``listed`` denotes the version with key ``kv`` (:func:`same`).
    Key ``==`` is ordering equality in every scheme (tests/unit/versions proves it on the
    reference pairs), and ``in`` over ``map`` runs the whole loop in C."""
    return kv in map(key, listed)


# An event kind's rank among events at the same version (OSV: introduced, then last_affected,
# then fixed).
_ORDER = {"introduced": 0, "last_affected": 1, "fixed": 2}
_START: tuple[int, ...] = (0,)  # "0": before every version
_FROM_START = {"introduced": "0"}


def _in_range(
    key: Callable[[str], tuple[int, Any]], kv: tuple[int, Any], events: Sequence[Mapping[str, str]]
) -> tuple[bool, str | None]:
    """Whether the version with key ``kv`` is in the range, and the first fix above it.

    The OSV evaluation sorts the events by version (introduced before last_affected before
    fixed at the same version, else in the order given) and walks them: an ``introduced`` at
    or below the version sets "affected", a ``fixed`` at or below it (a ``last_affected``
    below it) clears it; a ``limit`` at or below the version excludes it. The walk's result
    is the effect of the LAST event in that order that applies to the version, so this finds
    that event (the largest sort position among the applying ones) in one pass, without
    sorting. The first fix above the version is the smallest ``fixed`` above it (the first
    given among equal ones). testkit.osv_reference walks the sorted events; the tests compare.
    """
    if len(events) <= 2 and events and events[0] == _FROM_START:  # most distro ranges
        if len(events) == 1:  # introduced "0" alone: every version (no fix yet)
            return True, None
        fixed = events[1].get("fixed")
        if len(events[1]) == 1 and isinstance(fixed, str) and fixed != "0":
            # introduced "0", fixed X: affected below X, and X is the fix
            return (True, fixed) if kv < key(fixed) else (False, None)
    last: tuple[Any, ...] | None = None  # sort position of the last applying event
    last_kind = ""
    fix_key: tuple[int, Any] | None = None
    fix: str | None = None
    seq = 0
    for ev in events:
        for kind, value in ev.items():  # one kind per event, as the schema has it
            order = _ORDER.get(kind)
            if order is None:
                if kind == "limit" and value and value != "*" and kv >= key(value):
                    return False, None
                continue
            if not isinstance(value, str):
                continue
            seq += 1
            if value == "0":
                pos: tuple[Any, ...] = _START
                applies = True
            else:
                vk = key(value)
                pos = (1, vk)
                applies = kv > vk if order == 1 else kv >= vk
                if order == 2 and vk > kv and (fix_key is None or vk < fix_key):
                    fix_key, fix = vk, value
            if applies:
                here = (pos, order, seq)
                if last is None or here > last:
                    last, last_kind = here, kind
    if last_kind != "introduced":
        return False, None
    return True, fix


def _merge(hits: list[_Hit]) -> list[dict[str, Any]]:
    """The findings of one package version's hits, as :func:`_facts` (records that share an
    id, alias or upstream id are one finding)."""
    if len(hits) == 1:
        return [_facts(hits)]
    parent = list(range(len(hits)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    owner: dict[str, int] = {}
    for i, hit in enumerate(hits):
        for key in hit.keys:
            if key in owner:
                parent[find(i)] = find(owner[key])
            else:
                owner[key] = i
    groups: dict[int, list[_Hit]] = defaultdict(list)
    for i, hit in enumerate(hits):
        groups[find(i)].append(hit)
    return [_facts(group) for group in groups.values()]


def _facts(group: list[_Hit]) -> dict[str, Any]:
    """A finding's fields but those of the package (the same for every package installed at
    this version: the binaries of one source package)."""
    if len(group) == 1:  # most findings: one record
        hit = group[0]
        keys: AbstractSet[str] = hit.keys
        ids = [hit.record.id]
        fixes = [hit.fixed] if hit.fixed else []
        best, scores = hit, ([hit.cvss] if hit.cvss is not None else [])
    else:
        group.sort(key=_record_id)
        keys = set(group[0].keys).union(*(h.keys for h in group[1:]))
        ids = list(dict.fromkeys(h.record.id for h in group))  # one record may match twice
        distinct = {h.fixed for h in group if h.fixed}
        fixes = (
            sorted(distinct, key=sort_key(group[0].ecosystem))
            if len(distinct) > 1
            else list(distinct)
        )
        best = max(group, key=lambda h: (SOURCE_RANK.get(h.severity_source, 0), h.severity.rank))
        scores = [h.cvss for h in group if h.cvss is not None]
    cves = sorted(k for k in keys if k.startswith("CVE-"))
    main = cves[0] if len(cves) == 1 else next((i for i in ids if i in cves), ids[0])
    fixed = fixes[-1] if fixes else None
    if fixed:
        status = FindingStatus.FIXED
    elif any(h.status is FindingStatus.WILL_NOT_FIX for h in group):
        status = FindingStatus.WILL_NOT_FIX
    else:
        status = FindingStatus.NO_FIX
    summary = next((h.record.summary for h in group if h.record.summary), "")
    if not summary:
        details = next((h.record.details for h in group if h.record.details), "")
        summary = details.strip().splitlines()[0][:200] if details.strip() else ""
    url = next((h.record.url for h in group if h.record.url), None)
    return {
        "id": main,
        "aliases": tuple(sorted(keys - {main})),
        "fixed_version": fixed,
        "status": status,
        "severity": best.severity,
        "ecosystem": group[0].ecosystem,
        "summary": summary,
        "cvss_score": max(scores) if scores else None,
        "severity_source": best.severity_source,
        "records": tuple(ids),
        "url": url or f"https://osv.dev/vulnerability/{ids[0]}",
        "fixed_versions": tuple(fixes),
    }


def _record_id(hit: _Hit) -> str:
    return hit.record.id


def match(index: AdvisoryIndex, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
    """Findings for ``packages`` (affected only; not-affected results are never emitted)."""
    with gc_paused():  # tens of thousands of small, acyclic objects: nothing for the GC to find
        return _match(index, packages, os)


def _match(index: AdvisoryIndex, packages: Sequence[Package], os: OSInfo | None) -> list[Finding]:
    wanted: dict[str, dict[str, list[tuple[Package, str]]]] = defaultdict(lambda: defaultdict(list))
    eco_cache: dict[PackageType, list[str]] = {}
    for pkg in packages:
        if pkg.type in _LANG:
            ecos = [_LANG[pkg.type]]
        else:
            if pkg.type not in eco_cache:
                eco_cache[pkg.type] = os_ecosystems(index, pkg.type, os)
            ecos = eco_cache[pkg.type]
        name, version = package_coordinates(pkg)
        for eco in ecos:
            wanted[eco][normalize_name(eco, name)].append((pkg, version))
    # (ecosystem, name, version) -> its hits in row order: packages installed at the same
    # version (the binaries of one source package) share them, and their findings' facts
    hits_of: dict[tuple[str, str, str], list[_Hit]] = defaultdict(list)
    # each package (per ecosystem) in the order it was first affected -> its hits' key
    found: dict[tuple[int, str], tuple[Package, str, tuple[str, str, str]]] = {}
    record_keys_of: dict[str, frozenset[str]] = {}
    for eco, by_name in wanted.items():
        key = sort_key(eco)
        base = ecosystem_base(eco)
        # Evaluate each distinct version of a name once, then load only the records that
        # affect something.
        keyed = {name: {v: key(v) for _, v in installed} for name, installed in by_name.items()}
        affecting: list[tuple[AffectedRow, dict[str, str | None]]] = []
        for row in index.lookup(eco, list(by_name)):
            hit_versions = {}
            for v, kv in keyed[row.name].items():
                affected, fixed = _evaluate(key, v, kv, row.data, row.versions)
                if affected:
                    hit_versions[v] = fixed
            if hit_versions:
                affecting.append((row, hit_versions))
        records = index.records([row.record_id for row, _ in affecting])
        for row, hit_versions in affecting:
            rec = records.get(row.record_id)
            if rec is None or rec.withdrawn:
                continue
            keys = record_keys_of.get(rec.id)
            if keys is None:
                keys = record_keys_of[rec.id] = frozenset(
                    record_keys(rec.id, rec.aliases, rec.upstream)
                )
            sev, src, score = assess(base, row.data, rec.severity, rec.database_specific)
            unfixed = FindingStatus.WILL_NOT_FIX if wont_fix(row.data) else FindingStatus.NO_FIX
            for version, fixed in hit_versions.items():
                status = FindingStatus.FIXED if fixed else unfixed
                hits_of[eco, row.name, version].append(
                    _Hit(rec, keys, eco, fixed, status, sev, src, score)
                )
            for pkg, version in by_name[row.name]:
                if version in hit_versions and (id(pkg), eco) not in found:
                    found[(id(pkg), eco)] = (pkg, version, (eco, row.name, version))
    findings: list[Finding] = []
    facts_of: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for pkg, version, hits_key in found.values():
        facts = facts_of.get(hits_key)
        if facts is None:
            facts = facts_of[hits_key] = _merge(hits_of[hits_key])
        matched = version if version != pkg.version else None
        findings.extend(
            Finding(package=pkg, installed_version=pkg.version, matched_version=matched, **f)
            for f in facts
        )
    findings = enrich(index, findings)
    findings.sort(key=lambda f: (-f.severity.rank, f.package.name, f.id))
    return findings
