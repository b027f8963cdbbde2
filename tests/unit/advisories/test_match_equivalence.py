"""The matcher's fast paths give exactly what the plain OSV evaluation gives, on the real records.

Corpus: every affected entry of tests/fixtures/osv (real Debian, Ubuntu, Alpine, PyPI, npm and
Go records) and the synthetic ones (limit, Maven, Rocky), each evaluated at every version any
entry of the same package names (events and ``versions`` lists) plus spellings that only
ordering makes equal or that do not parse. Compared with testkit.osv_reference (the schema's
pseudo-code: events sorted, then walked; the evaluation the matcher used before its
one-pass rewrite):

* ``evaluate`` on each entry (the one-pass range walk, ``versions`` compared by key ``==``);
* ``match`` through the index (the ``versions`` column decoded only when the ranges do not
  decide; distinct versions evaluated once): per package, the records found and their fixes;
* a schema-1 index (``versions`` inside ``data``) upgraded in place reads back exactly what a
  fresh import stores, and matches the same.
"""

from __future__ import annotations

import collections
import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from patchwarden.advisories.errors import AdvisoryIndexError
from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.index_schema import SCHEMA_VERSION
from patchwarden.advisories.match import evaluate, match
from patchwarden.advisories.osv import parse_record
from patchwarden.advisories.rows import normalize_name
from patchwarden.scan.model import Finding, OSInfo, Package, PackageType
from patchwarden.versions.ecosystems import UnknownEcosystemError, compare, scheme_of
from testkit.advisory_helpers import (
    FIXTURES,
    SYNTHETIC,
    downgrade_to_schema_1,
    pkg,
    write_synthetic,
)
from testkit.osv_reference import reference_evaluate

PER_PACKAGE = 60  # versions per package at most (every one of them against every entry)
LANG = {"PyPI": PackageType.PYTHON, "npm": PackageType.NPM, "Go": PackageType.GO}
LANG |= {"Maven": PackageType.JAVA}


def _entries() -> list[tuple[str, str, dict[str, Any], str]]:
    """(ecosystem, normalised name, entry as stored, record id) of every fixture entry."""
    docs = [json.loads(f.read_bytes()) for f in sorted(FIXTURES.glob("*/*.json"))]
    out = []
    for doc in docs + SYNTHETIC:
        rec = parse_record(doc)
        for aff in rec.affected:
            if aff.package is None or rec.withdrawn:
                continue
            eco = aff.package.ecosystem
            try:
                scheme_of(eco)
            except UnknownEcosystemError:
                continue
            entry = aff.model_dump(exclude={"package"}, exclude_none=True, exclude_defaults=True)
            out.append((eco, normalize_name(eco, aff.package.name), entry, rec.id))
    return out


def _spellings(eco: str, v: str) -> list[str]:
    """``v``, spellings equal to it by ordering only, and neighbours (some do not parse)."""
    out = [v, v + ".1", v + "~", v + "-1", v + "+x"]
    if eco == "PyPI":
        out += [v + ".0", "0!" + v, v.replace(".", "_")]
    if eco in ("npm", "Go"):
        out += ["v" + v.lstrip("v"), v.lstrip("v") + "+build.5"]
    if eco.startswith(("Debian", "Ubuntu")):
        out += ["0:" + v, v.replace("-", "-0", 1)]
    return out


@pytest.fixture(scope="module")
def corpus() -> dict[tuple[str, str], tuple[list[tuple[dict[str, Any], str]], list[str]]]:
    """(ecosystem, name) -> (its entries with record ids, the versions to try)."""
    by_pkg: dict[tuple[str, str], list[tuple[dict[str, Any], str]]] = collections.defaultdict(list)
    for eco, name, entry, rid in _entries():
        by_pkg[eco, name].append((entry, rid))
    out = {}
    for (eco, name), entries in by_pkg.items():
        named = {
            v
            for entry, _ in entries
            for v in [
                *entry.get("versions", ()),
                *(x for r in entry.get("ranges", ()) for e in r["events"] for x in e.values()),
            ]
            if v not in ("0", "*")
        }
        ordered = sorted(named)
        step = max(1, len(ordered) // (PER_PACKAGE // 4))
        tried = list(dict.fromkeys(s for v in ordered[::step] for s in _spellings(eco, v)))
        out[eco, name] = (entries, tried[:PER_PACKAGE])
    return out


def test_evaluate_equals_the_reference_on_every_fixture_entry(
    corpus: dict[tuple[str, str], tuple[list[tuple[dict[str, Any], str]], list[str]]],
) -> None:
    cases, affected, by_order_only, wrong = 0, 0, 0, []
    for (eco, _name), (entries, versions) in corpus.items():
        for entry, rid in entries:
            # the entry, and its versions list alone (real lists repeat what the ranges say)
            listed_only = {"versions": entry["versions"]} if entry.get("versions") else None
            for e in (entry, listed_only) if listed_only else (entry,):
                for v in versions:
                    want = reference_evaluate(eco, v, e)
                    got = evaluate(eco, v, e)
                    cases += 1
                    affected += want[0]
                    by_order_only += e is listed_only and want[0] and v not in e["versions"]
                    if got != want:
                        wrong.append((rid, eco, v, want, got))
    assert not wrong, (
        f"{len(wrong)} of {cases} differ (record, eco, version, ref, ours): {wrong[:10]}"
    )
    # not vacuous: many cases, both answers, and listed versions equal by ordering only
    assert cases > 50_000 and 5_000 < affected < cases - 5_000 and by_order_only > 100, (
        cases,
        affected,
        by_order_only,
    )


def _os_for(eco: str) -> tuple[OSInfo, PackageType] | None:
    base, _, release = eco.partition(":")
    if base == "Debian":
        return OSInfo("debian", release), PackageType.DEB
    if base == "Alpine":
        return OSInfo("alpine", release.removeprefix("v") + ".0"), PackageType.APK
    if base == "Ubuntu" and release.count(":") <= 1 and not release.startswith("Pro"):
        return OSInfo("ubuntu", release.split(":")[0]), PackageType.DEB
    return None


def _packages(eco: str, names: dict[str, list[str]]) -> list[Package]:
    if eco in LANG:
        return [pkg(n, v, LANG[eco]) for n, vs in names.items() for v in vs]
    target = _os_for(eco)
    assert target is not None
    return [pkg(f"bin-{n}", v, target[1], source_name=n) for n, vs in names.items() for v in vs]


def _by_package(findings: list[Finding]) -> dict[tuple[str, str], dict[str, tuple[str, ...]]]:
    """(package name, version) -> record id -> the fixes of the finding that names it."""
    out: dict[tuple[str, str], dict[str, tuple[str, ...]]] = collections.defaultdict(dict)
    for f in findings:
        for rid in f.records:
            out[f.package.name, f.package.version][rid] = f.fixed_versions
    return out


def _expected(
    eco: str, entries: list[tuple[dict[str, Any], str]], v: str
) -> dict[str, set[str | None]]:
    """record id -> the reference's fixes for ``v`` (one per affecting entry)."""
    out: dict[str, set[str | None]] = collections.defaultdict(set)
    for entry, rid in entries:
        hit, fixed = reference_evaluate(eco, v, entry)
        if hit:
            out[rid].add(fixed)
    return out


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AdvisoryIndex]:
    tmp = tmp_path_factory.mktemp("equiv")
    index = AdvisoryIndex(tmp / "fresh.db", create=True)
    report = import_sources(index, [str(FIXTURES), str(write_synthetic(tmp / "synthetic"))])
    assert not report.malformed
    yield index
    index.close()


def _ecosystems_matched(
    corpus: dict[tuple[str, str], tuple[list[tuple[dict[str, Any], str]], list[str]]],
) -> dict[str, dict[str, list[str]]]:
    """ecosystem -> name -> versions, for the ecosystems a package type and OS reach exactly."""
    out: dict[str, dict[str, list[str]]] = collections.defaultdict(dict)
    for (eco, name), (_, versions) in corpus.items():
        if eco in LANG or _os_for(eco) is not None:
            out[eco][name] = versions
    return out


def test_match_through_the_index_equals_the_reference(
    fresh: AdvisoryIndex,
    corpus: dict[tuple[str, str], tuple[list[tuple[dict[str, Any], str]], list[str]]],
) -> None:
    checked, found, wrong = 0, 0, list[tuple[object, ...]]()
    for eco, names in _ecosystems_matched(corpus).items():
        packages = _packages(eco, names)
        target = _os_for(eco)
        got = _by_package(match(fresh, packages, target[0] if target else None))
        for p in packages:
            name = normalize_name(eco, p.source_name or p.name)
            want = _expected(eco, corpus[eco, name][0], p.version)
            mine = got.get((p.name, p.version), {})
            checked += 1
            found += bool(want)
            if set(mine) != set(want):
                wrong.append((eco, p.name, p.version, sorted(want), sorted(mine)))
                continue
            for rid, fixes in want.items():  # the finding's fixes include this record's fix
                real = {f for f in fixes if f is not None}
                if not real <= set(mine[rid]):
                    wrong.append((eco, p.name, p.version, rid, sorted(real), mine[rid]))
    assert not wrong, f"{len(wrong)} of {checked} packages differ: {wrong[:8]}"
    assert checked > 4_000 and 1_000 < found < checked - 1_000, (checked, found)


def _all_rows(index: AdvisoryIndex) -> list[tuple[str, str, str, dict[str, Any], list[str]]]:
    names: dict[str, list[str]] = collections.defaultdict(list)
    for eco, name in index._conn.execute("SELECT DISTINCT ecosystem, name FROM affected"):
        names[eco].append(name)
    rows = [r for eco, ns in names.items() for r in index.lookup(eco, ns)]
    return sorted(
        ((r.record_id, r.ecosystem, r.name, r.data, r.versions()) for r in rows),
        key=lambda r: (r[0], r[1], r[2], json.dumps(r[3], sort_keys=True), r[4]),
    )


def test_schema_1_index_is_refused_for_reading_and_upgraded_by_an_import(
    fresh: AdvisoryIndex,
    corpus: dict[tuple[str, str], tuple[list[tuple[dict[str, Any], str]], list[str]]],
    tmp_path: Path,
) -> None:
    fresh._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    old = tmp_path / "old.db"
    shutil.copy(fresh.path, old)
    downgrade_to_schema_1(old)
    with sqlite3.connect(old) as conn:  # the layout schema 1 had: versions inside data
        listed = conn.execute("SELECT COUNT(*) FROM affected WHERE data LIKE '%\"versions\"%'")
        assert listed.fetchone()[0] > 200
    with pytest.raises(AdvisoryIndexError, match="written by an older patchwarden") as err:
        AdvisoryIndex(old)
    assert "patchwarden db update" in (err.value.hint or "")
    with AdvisoryIndex(old, create=True):  # what `db update` / `db import` do: upgrade
        pass
    with AdvisoryIndex(old) as upgraded:
        (version,) = upgraded._conn.execute("SELECT version FROM schema_version").fetchone()
        assert version == SCHEMA_VERSION == 2
        assert _all_rows(upgraded) == _all_rows(fresh)
        for eco, names in _ecosystems_matched(corpus).items():
            target = _os_for(eco)
            os = target[0] if target else None
            packages = _packages(eco, names)
            assert match(upgraded, packages, os) == match(fresh, packages, os), eco


def test_newer_schema_is_refused(fresh: AdvisoryIndex, tmp_path: Path) -> None:
    fresh._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    newer = tmp_path / "newer.db"
    shutil.copy(fresh.path, newer)
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE schema_version SET version = 3")
    for create in (False, True):
        with pytest.raises(
            AdvisoryIndexError, match="has schema version 3, this patchwarden uses 2"
        ):
            AdvisoryIndex(newer, create=create)


def test_reference_orders_the_way_compare_does() -> None:
    # the oracle's own footing: "0" first, then by compare(), kinds at equal versions
    entry = {"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": "2.0"}, {"introduced": "0"}]}]}
    assert reference_evaluate("PyPI", "1.5", entry) == (True, "2.0")
    assert reference_evaluate("PyPI", "2.0.0", entry) == (False, None)
    assert compare("PyPI", "2.0", "2.0.0") == 0


@pytest.mark.parametrize("first", ["2.0.0", "2.0"])
def test_equal_fixes_in_one_range_the_first_given_is_named(first: str) -> None:
    # two fixed events equal by ordering only: the walk meets them in the order given
    other = "2.0" if first == "2.0.0" else "2.0.0"
    events = [{"introduced": "0"}, {"fixed": first}, {"fixed": other}]
    entry = {"ranges": [{"type": "ECOSYSTEM", "events": events}]}
    assert evaluate("PyPI", "1.0", entry) == reference_evaluate("PyPI", "1.0", entry)
    assert evaluate("PyPI", "1.0", entry) == (True, first)
