"""Benchmark advisory matching: 5,000 packages against a full-size offline OSV index.

Issue goal: "matching 5,000 packages against a full index in under 1 s". No network, so the
index (.bench/match/index.db) is synthesized from the real OSV records in tests/fixtures/osv/
(see its SOURCES.md): each record is a clone of a real one with a new id (``BENCH-<id>-N``),
fresh aliases (``CVE-2999-N``, ``BENCH-GHSA-...``) and its package renamed to a name of the
bench's universe; ranges, events, ``versions`` lists, severity and database_specific are the
template's. Sizes approximate the osv.dev dumps: Debian ~40,000 records (each names Debian:12),
Ubuntu ~20,000, Alpine ~15,000 (v3.19), PyPI ~15,000, npm ~20,000, Go ~5,000. Records per
package follow a Zipf law (a few names have hundreds, most a handful, many none). 20% of the
Debian clones lose their ``fixed`` event (``<unfixed>`` in the tracker), half of those get
``no-dsa``. One ``all.zip`` per ecosystem, imported with ``import_sources`` (``db import``).
The inventory: 2,000 deb (Debian 12), 1,500 npm, 1,000 PyPI, 500 Go. See bench/README.md.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import json
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

from patchwarden.advisories import match as matcher
from patchwarden.advisories import severity
from patchwarden.advisories.importer import import_sources
from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.index_schema import SCHEMA_VERSION
from patchwarden.advisories.rows import normalize_name
from patchwarden.scan.catalogers import _purl
from patchwarden.scan.model import Finding, OSInfo, Package, PackageType
from patchwarden.versions import ecosystems

ROOT = Path(__file__).resolve().parents[1]
WORK, FIXTURES = ROOT / ".bench" / "match", ROOT / "tests" / "fixtures" / "osv"
GEN_VERSION, SEED, GOAL_S = 1, 20240601, 1.0
SIZES = {"Debian": 40_000, "Ubuntu": 20_000, "Alpine": 15_000}
SIZES |= {"PyPI": 15_000, "npm": 20_000, "Go": 5_000}
UNIVERSE = {"Debian": 8000, "Ubuntu": 8000, "Alpine": 4000, "PyPI": 6000, "npm": 12000, "Go": 2000}
OS = OSInfo(id="debian", version_id="12", version_codename="bookworm")
LANG = {PackageType.PYTHON: "PyPI", PackageType.NPM: "npm", PackageType.GO: "Go"}
TYPES = {eco: t for t, eco in LANG.items()}
Templates = dict[str, dict[str, list[str]]]  # ecosystem -> template package -> record JSONs

# Only these records name these packages: DSA-5197-1 curl fixed 7.74.0-1.3+deb11u2 (moved to
# Debian:12), PYSEC-2023-74 requests [2.3.0, 2.31.0), GHSA-29mw-wpgm-hmr9 lodash < 4.17.21,
# GO-2020-0001 gin < 1.6.0 (SEMVER).
DEB_FIX, GIN = "7.74.0-1.3+deb11u2", "github.com/gin-gonic/gin"
SANITY = [
    ("Debian", "DSA-5197-1", "curl", "bench-sanity-curl", "7.74.0-1.3+deb11u1", DEB_FIX),
    ("Debian", "DSA-5197-1", "curl", "bench-sanity-curl-ok", DEB_FIX, None),
    ("PyPI", "PYSEC-2023-74", "requests", "Bench_Sanity.Requests", "2.30.0", "2.31.0"),
    ("PyPI", "PYSEC-2023-74", "requests", "bench-sanity-requests-ok", "2.31.0", None),
    ("npm", "GHSA-29mw-wpgm-hmr9", "lodash", "bench-sanity-lodash", "4.17.20", "4.17.21"),
    ("npm", "GHSA-29mw-wpgm-hmr9", "lodash", "bench-sanity-lodash-ok", "4.17.21", None),
    ("Go", "GO-2020-0001", GIN, "github.com/bench-sanity/gin", "v1.5.0", "1.6.0"),
    ("Go", "GO-2020-0001", GIN, "github.com/bench-sanity/gin-ok", "v1.6.0", None),
]


# -- templates and the package universe ----------------------------------------------------
def templates() -> Templates:
    """Records grouped by their template package (the name most ``affected`` entries use)."""
    out: Templates = {eco: {} for eco in SIZES}
    for eco, fams in out.items():
        for f in sorted((FIXTURES / eco).glob("*.json")):
            text = f.read_text()
            names = collections.Counter(a["package"]["name"] for a in json.loads(text)["affected"])
            fams.setdefault(names.most_common(1)[0][0], []).append(text)
    return out


def name_of(eco: str, i: int) -> str:
    if eco == "PyPI":
        return f"bench-py{i}"
    if eco == "npm":
        return f"@bench/js{i}" if i % 5 == 4 else f"bench-js{i}"
    if eco == "Go":
        return "stdlib" if i == 0 else f"github.com/bench-org/mod{i}"
    return f"bench-src{i}"  # Debian, Ubuntu and Alpine share source package names


def family(tpl: Templates, eco: str, i: int) -> str:
    """The template package whose records (and versions) universe name ``i`` gets."""
    if eco == "Go" and i == 0:
        return "stdlib"
    fams = {f: len(t) for f, t in tpl[eco].items() if f != "stdlib"}
    return random.Random(f"{SEED}:{eco}:{i}").choices(list(fams), list(fams.values()))[0]


# -- the index -----------------------------------------------------------------------------
_IDS = itertools.count(1)


def fresh(tok: str, aliases: dict[str, str]) -> str:
    """A new alias for ``tok``, the same one within a record (DEBIAN-CVE-X and CVE-X)."""
    m = re.fullmatch(r"(.*?)(CVE-\d{4}-\d+)", tok)
    key = m.group(2) if m else tok
    if key not in aliases:
        aliases[key] = f"CVE-2999-{next(_IDS)}" if m else f"BENCH-{tok}-{next(_IDS)}"
    return m.group(1) + aliases[key] if m else aliases[key]


def clone(eco: str, text: str, fam: str, new: str, rid: str) -> dict[str, Any]:
    r: dict[str, Any] = json.loads(text)
    r["id"], aliases = rid, dict[str, str]()
    for key in ("aliases", "upstream", "related"):
        r[key] = [fresh(t, aliases) for t in r.get(key) or ()]
    for n, a in enumerate(r["affected"]):
        p, old = a["package"], a["package"]["name"]
        sep = "/" if eco == "Go" else "-"  # other packages of the record: lodash.trim, x/net
        p["name"] = new if old == fam else old.replace(fam, new) if fam in old else new + sep + old
        if "purl" in p:
            p["purl"] = p["purl"].replace(old, p["name"], 1)
        if eco == "Debian":
            p["ecosystem"] = ("Debian:12", "Debian:11", "Debian:13")[min(n, 2)]
    if eco == "Alpine" and all(a["package"]["ecosystem"] != "Alpine:v3.19" for a in r["affected"]):
        r["affected"][0]["package"]["ecosystem"] = "Alpine:v3.19"
    return r


def build(params: dict[str, Any], marker: Path) -> None:
    """Write one all.zip per ecosystem and import them into a new index (in a child process)."""
    t0, rng, tpl, zips = time.perf_counter(), random.Random(SEED), templates(), []
    shutil.rmtree(WORK / "osv", ignore_errors=True)
    for eco, size in SIZES.items():
        zips.append(WORK / "osv" / eco / "all.zip")
        zips[-1].parent.mkdir(parents=True)
        weights = [1 / (i + 10) ** 1.05 for i in range(UNIVERSE[eco])]  # Zipf
        n = round(size * params["scale"])
        counts = collections.Counter(rng.choices(range(len(weights)), weights, k=n))
        with zipfile.ZipFile(zips[-1], "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
            for i, n in sorted(counts.items()):
                fam, cves = family(tpl, eco, i), list[str]()
                for k in range(n):
                    text = tpl[eco][fam][(k + i) % len(tpl[eco][fam])]
                    rid = f"BENCH-{json.loads(text)['id']}-{next(_IDS)}"
                    rec = clone(eco, text, fam, name_of(eco, i), rid)
                    if cves and rng.random() < 0.15:  # shares a CVE (DSA + DEBIAN-CVE): merged
                        rec["upstream"] = [*rec["upstream"], cves[-1]]
                    cves = [a for a in rec["aliases"] + rec["upstream"] if a.startswith("CVE-")]
                    if eco == "Debian" and rng.random() < 0.2:
                        rec["affected"][0]["ranges"][0]["events"] = [{"introduced": "0"}]
                        if rng.random() < 0.5:
                            rec["affected"][0]["database_specific"] = {"status": "no-dsa"}
                    zf.writestr(f"{rid}.json", json.dumps(rec))
            for k, (e, tid, fam, new, _, _) in enumerate(SANITY):
                if e == eco:
                    text = (FIXTURES / eco / f"{tid}.json").read_text()
                    rid = f"BENCH-SANITY-{tid}-{k}"
                    rec = clone(eco, text, fam, normalize_name(eco, new), rid)
                    rec["affected"] = rec["affected"][:1]
                    zf.writestr(f"{rid}.json", json.dumps(rec))
    t1, tmp = time.perf_counter(), WORK / "index.db.tmp"
    for p in WORK.glob("index.db*"):
        p.unlink()
    with AdvisoryIndex(tmp, create=True) as index:
        report = import_sources(index, [str(z) for z in zips])
    tmp.rename(WORK / "index.db")
    done = {"generate_s": t1 - t0, "import_s": time.perf_counter() - t1}
    marker.write_text(json.dumps(params | done | {"malformed": len(report.malformed)}))


def ensure_index(scale: float, rebuild: bool) -> dict[str, Any]:
    marker, params = WORK / "built.json", {"gen": GEN_VERSION, "seed": SEED, "sizes": SIZES}
    params |= {"scale": scale, "schema": SCHEMA_VERSION}  # an index of another schema: rebuilt
    old: dict[str, Any] = json.loads(marker.read_text()) if marker.exists() else {}
    if not rebuild and (WORK / "index.db").exists() and {k: old.get(k) for k in params} == params:
        return old | {"reused": True}
    WORK.mkdir(parents=True, exist_ok=True)
    marker.unlink(missing_ok=True)
    print("building the index (once) ...", file=sys.stderr)
    child = multiprocessing.get_context("fork").Process(target=build, args=(params, marker))
    child.start()
    child.join()  # a child: the build's memory does not count in this process's peak RSS
    if child.exitcode != 0:
        raise SystemExit(f"index build failed (exit {child.exitcode})")
    return {**json.loads(marker.read_text()), "reused": False}


# -- the inventory -------------------------------------------------------------------------
def inventory(tpl: Templates) -> list[Package]:
    rng, pools = random.Random(SEED + 1), dict[tuple[str, str], list[str]]()
    for eco, fams in tpl.items():  # versions of each template package in its records
        for fam, texts in fams.items():
            seen: set[str] = set()
            for a in (a for t in texts for a in json.loads(t)["affected"]):
                if a["package"]["name"] == fam:
                    seen.update(a.get("versions", ()))
                    for r in (r for r in a.get("ranges", ()) if r["type"] != "GIT"):
                        seen.update(v for e in r["events"] for v in e.values() if v != "0")
            pools[eco, fam] = sorted(seen, key=ecosystems.sort_key(eco))

    def version(eco: str, i: int) -> str:  # a quarter up to date, the rest anywhere
        versions = pools[eco, family(tpl, eco, i)]
        return versions[-1] if rng.random() < 0.25 else rng.choice(versions)

    def pick(eco: str, n: int, first: int = 0) -> list[int]:  # the 5 hottest + random others
        return [*range(first, first + 5), *rng.sample(range(first + 5, UNIVERSE[eco]), n - 5)]

    def pkg(t: PackageType, name: str, ver: str, path: str, src: str = "", sv: str = "") -> Package:
        if t is PackageType.DEB:
            purl = _purl.deb(name, ver, "amd64")
            return Package(name, ver, t, purl, "sha256:l0", path, src, sv, "amd64")
        make = {PackageType.NPM: _purl.npm, PackageType.PYTHON: _purl.pypi}.get(t, _purl.golang)
        return Package(name, ver, t, make(name, ver), "sha256:l1", path)

    out, status = [], "var/lib/dpkg/status"
    extra = collections.Counter(rng.choices(range(898), k=1100))  # 898 sources, 1998 binaries
    for k, i in enumerate(pick("Debian", 898)):
        src, ver = name_of("Debian", i), version("Debian", i)
        bins = [src, f"lib{src}-1", f"{src}-dev", f"{src}-common", f"{src}-data", f"{src}-utils"]
        bins = bins[rng.random() < 0.3 :] + [f"{src}-mod{j}" for j in range(20)]  # libssl3
        for b in bins[: 1 + extra[k]]:  # as the dpkg cataloger: source_name/version always set
            bver = ver + "+b1" * (rng.random() < 0.03)  # binNMU
            out.append(pkg(PackageType.DEB, b, bver, status, src, ver))
    npm = pick("npm", 1200)
    for i in npm + rng.choices(npm, k=298):  # a name twice: nested node_modules
        name, path = name_of("npm", i), f"app/node_modules/{name_of('npm', i)}/package.json"
        out.append(pkg(PackageType.NPM, name, version("npm", i), path))
    for i in pick("PyPI", 998):
        name, ver = name_of("PyPI", i), version("PyPI", i)
        name = name.title().replace("-", "_") if i % 3 == 0 else name  # PEP 503 spellings
        path = f"usr/lib/python3/dist-packages/{name}-{ver}.dist-info/METADATA"
        out.append(pkg(PackageType.PYTHON, name, ver, path))
    mods = pick("Go", 400, 1)
    for k, i in enumerate([0] * 6 + mods + rng.choices(mods, k=92)):  # 6 binaries: 6 stdlib
        ver = version("Go", i)
        out.append(pkg(PackageType.GO, name_of("Go", i), ver if i == 0 else f"v{ver}", f"bin{k}"))
    for eco, _, _, name, ver, _ in SANITY:
        out.append(pkg(TYPES.get(eco, PackageType.DEB), name, ver, "sanity", name, ver))
    return out


# -- measurement ---------------------------------------------------------------------------
def floor(index: AdvisoryIndex, packages: list[Package]) -> int:
    """The read every matcher must do: each candidate affected row for the 5,000 names (the
    index's ``lookup`` per ecosystem: the rows' ``data`` JSON decoded, their ``versions`` lists
    fetched as stored text, which a matcher decodes only for the rows whose ranges do not
    decide); no version evaluation, no record loading."""
    wanted: dict[str, set[str]] = collections.defaultdict(set)
    ecos: dict[PackageType, list[str]] = {}
    for pkg in packages:
        if pkg.type not in ecos:
            lang = LANG.get(pkg.type)
            ecos[pkg.type] = [lang] if lang else matcher.os_ecosystems(index, pkg.type, OS)
        for eco in ecos[pkg.type]:
            wanted[eco].add(normalize_name(eco, matcher.package_coordinates(pkg)[0]))
    rows = [index.lookup(eco, list(names)) for eco, names in wanted.items()]
    return sum(map(len, rows))


def measure(path: Path, packages: list[Package], repeat: int) -> dict[str, Any]:
    t: dict[str, list[float]] = collections.defaultdict(list)
    cpu: dict[str, list[float]] = collections.defaultdict(list)
    findings: list[Finding] = []
    for _ in range(repeat):
        for kind in ("match", "floor"):
            for mod in (ecosystems, severity, matcher):  # the lru caches a new process lacks
                for obj in vars(mod).values():
                    if hasattr(obj, "cache_clear"):
                        obj.cache_clear()
            t0, c0 = time.perf_counter(), time.process_time()
            with AdvisoryIndex(path) as index:  # a new connection: cold
                for phase in ("cold", "warm"):
                    if kind == "match":
                        findings = matcher.match(index, packages, OS)
                    else:
                        rows = floor(index, packages)
                    t[f"{kind}_{phase}"].append(time.perf_counter() - t0)
                    cpu[f"{kind}_{phase}"].append(time.process_time() - c0)
                    t0, c0 = time.perf_counter(), time.process_time()
    return {"walls_s": dict(t), "cpu_s": dict(cpu), "findings": findings, "rows": rows}


def sanity(findings: list[Finding]) -> list[tuple[str, bool]]:
    got = collections.defaultdict(list)
    for f in findings:
        got[f.package.name].append((f.records, f.fixed_version))
    out = []
    for k, (_, tid, _, name, ver, fixed) in enumerate(SANITY):
        if fixed:
            ok = got[name] == [((f"BENCH-SANITY-{tid}-{k}",), fixed)]
            out.append((f"{name} {ver} < fixed {fixed}: found, fixed {fixed} {got[name]}", ok))
        else:
            out.append((f"{name} {ver} (= fixed): not found {got[name]}", not got[name]))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="build the index again")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON")
    ap.add_argument("--scale", type=float, default=1.0, help="index size factor (trials only)")
    a = ap.parse_args()
    built, path = ensure_index(a.scale, a.rebuild), WORK / "index.db"
    packages = inventory(templates())
    res = measure(path, packages, a.repeat)
    with AdvisoryIndex(path) as index:
        per_eco = {s.ecosystem: s.record_count for s in index.status()}
        records = index.record_count()
    findings, count = res["findings"], collections.Counter
    med = {k: statistics.median(v) for k, v in res["walls_s"].items()}
    med_cpu = {k: statistics.median(v) for k, v in res["cpu_s"].items()}
    goals = [(f"findings > 0 ({len(findings)})", len(findings) > 0), *sanity(findings)]
    cold = med["match_cold"]
    goals.append((f"match 5,000 packages < {GOAL_S} s (cold median {cold:.3f} s)", cold < GOAL_S))
    out = {
        "index": {"records": records, "per_ecosystem": per_eco, "built": built},
        "packages": dict(count(str(p.type) for p in packages)),
        "repeat": a.repeat,
        "median_s": med,
        "walls_s": res["walls_s"],
        "median_cpu_s": med_cpu,
        "load_average": os.getloadavg(),
        "ratio_match_floor": {p: med[f"match_{p}"] / med[f"floor_{p}"] for p in ("cold", "warm")},
        "candidate_rows": res["rows"],
        "findings": len(findings),
        "findings_by_status": dict(count(str(f.status) for f in findings)),
        "findings_by_ecosystem": dict(count(f.ecosystem for f in findings)),
        "affected_packages": len({id(f.package) for f in findings}),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "goals": [{"goal": g, "pass": ok} for g, ok in goals],
    }
    print(json.dumps(out, indent=2) if a.json else report(out))
    return 0 if all(ok for _, ok in goals) else 1


def report(o: dict[str, Any]) -> str:
    b, m, r, w = o["index"]["built"], o["median_s"], o["ratio_match_floor"], o["walls_s"]
    c = o["median_cpu_s"]
    lines = [
        f"index: {o['index']['records']:,} records, per ecosystem {o['index']['per_ecosystem']}",
        f"  {'reused' if b['reused'] else 'built now'}; the build took {b['generate_s']:.1f} s "
        f"generating + {b['import_s']:.1f} s import_sources",
        f"packages: {sum(o['packages'].values()):,} {o['packages']} on Debian 12; "
        f"{o['candidate_rows']:,} candidate affected rows",
        f"\nmedian of {o['repeat']}  {'cold s':>8} {'warm s':>8}   (min-max cold, warm)"
        f"  {'cpu cold':>8} {'cpu warm':>8}",
        *(
            f"{label:14} {m[k + '_cold']:8.3f} {m[k + '_warm']:8.3f}   ("
            + ", ".join(f"{min(w[k + p]):.3f}-{max(w[k + p]):.3f}" for p in ("_cold", "_warm"))
            + f")  {c[k + '_cold']:8.3f} {c[k + '_warm']:8.3f}"
            for label, k in (("match()", "match"), ("floor (reads)", "floor"))
        ),
        f"{'match / floor':14} {r['cold']:8.2f} {r['warm']:8.2f}",
        f"\nfindings: {o['findings']:,} in {o['affected_packages']:,} packages; "
        f"{o['findings_by_status']} {o['findings_by_ecosystem']}",
        f"peak RSS: {o['peak_rss_mib']:.0f} MiB (this process; the index is built in a child)",
        "load average at the end: "
        + " ".join(f"{x:.2f}" for x in o["load_average"])
        + f" on {os.cpu_count()} cores (cpu = this process's CPU time: less sensitive to load)",
        "NOTE  cold = a new SQLite connection and cleared lru caches (files in the OS page "
        "cache); the wall-time goal depends on the machine",
    ]
    return "\n".join(
        lines + [f"{'PASS' if g['pass'] else 'FAIL'}  {g['goal']}" for g in o["goals"]]
    )


if __name__ == "__main__":
    sys.exit(main())
