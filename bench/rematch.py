"""Benchmark the advisory refresh's re-match: 500 stored SBOMs (~100,000 packages) against a
full-size offline OSV index, without reading a layer.

Issue goal: "re-matching 500 stored SBOMs (~100,000 packages) after an advisory refresh takes
under 10 s". The index and the package universe are bench/match.py's (its synthesized
full-size index, built once into .bench/match/index.db). Each image is a base (one of 5 Debian
12 package sets, 110-140 packages, as teams share a few base images) plus its own application
packages (npm, PyPI, Go: 60-90 drawn from the universe), so the 500 images hold ~100,000
packages. The SBOMs are stored in a real SQLite state store (what ``serve`` keeps), and the
measured call is the advisory-refresh job's: read every SBOM, re-match, save what changed.
Timed: the worst case (every image gains every finding: all 500 rows rewritten, the
baselines emptied before each run, untimed), a refresh that changed nothing, and the first
match (the baselines).

Same-run reference (the floor): the bare index lookups of every distinct package name of all
500 images (``AdvisoryIndex.lookup`` per ecosystem: the read any matcher must do); also shown,
the naive way (``match`` image by image), timed on 25 images and scaled to 500.
No timed assertions: this prints numbers and ratios. Usage: python bench/rematch.py
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import match as matchbench

from patchwarden.advisories.index import AdvisoryIndex
from patchwarden.advisories.match import match
from patchwarden.app.refresh import refresh_and_rematch
from patchwarden.app.refresh.codec import encode_os, encode_package
from patchwarden.scan.model import Package, PackageType
from patchwarden.store import open_store
from patchwarden.store.sboms import SbomStore

GOAL_S = 10.0


def images(universe: list[Package], n: int) -> list[list[Package]]:
    rng = random.Random(20261202)
    debs = [p for p in universe if p.type is PackageType.DEB]
    apps = [p for p in universe if p.type is not PackageType.DEB]
    bases = [rng.sample(debs, rng.randint(110, 140)) for _ in range(5)]
    return [rng.choice(bases) + rng.sample(apps, rng.randint(60, 90)) for _ in range(n)]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=500)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--index", type=Path, help="an existing bench/match.py index file")
    a = ap.parse_args()
    path = a.index
    if path is None:
        matchbench.ensure_index(1.0, False)
        path = matchbench.WORK / "index.db"
    sboms = images(matchbench.inventory(matchbench.templates()), a.images)
    total = sum(map(len, sboms))
    with tempfile.TemporaryDirectory(prefix="pw-bench-rematch-") as tmp:
        store = open_store(str(Path(tmp) / "state.db"))
        sb = SbomStore(store.engine)
        for i, pkgs in enumerate(sboms):
            digest = f"sha256:{i:064x}"
            sb.put(digest, f"bench/app{i}@{digest}", encode_os(matchbench.OS),
                   [encode_package(p) for p in pkgs])  # fmt: skip
        walls, floors, found, steady = [], [], 0, []
        with AdvisoryIndex(path) as index:  # the first match: every image's baseline
            t0 = time.perf_counter()
            refresh_and_rematch(index, sb, None)
            first = time.perf_counter() - t0
        for _ in range(a.repeat):
            # worst case for a refresh: every image gains every finding (all rows rewritten,
            # every image "new"): the baselines are emptied first, untimed
            sb.save_matches({f"sha256:{i:064x}": ({}, {}) for i in range(len(sboms))})
            with AdvisoryIndex(path) as index:
                t0 = time.perf_counter()
                matchbench.floor(index, [p for pkgs in sboms for p in pkgs])
                floors.append(time.perf_counter() - t0)
            with AdvisoryIndex(path) as index:
                t0 = time.perf_counter()
                res = refresh_and_rematch(index, sb, None)
                walls.append(time.perf_counter() - t0)
                found = sum(len(m.findings) for m in res.images)
                assert len(res.added) == len(sboms)
            with AdvisoryIndex(path) as index:  # a refresh that changed nothing
                t0 = time.perf_counter()
                refresh_and_rematch(index, sb, None)
                steady.append(time.perf_counter() - t0)
        with AdvisoryIndex(path) as index:
            t0 = time.perf_counter()
            for pkgs in sboms[:25]:
                match(index, pkgs, matchbench.OS)
            naive = (time.perf_counter() - t0) * len(sboms) / 25
        store.close()
    wall, floor = statistics.median(walls), statistics.median(floors)
    ok = wall < GOAL_S
    print(
        f"re-match {len(sboms)} stored SBOMs ({total} packages) after a refresh: median "
        f"{wall:.2f} s with every image changed (goal < {GOAL_S:.0f} s: "
        f"{'PASS' if ok else 'FAIL'}); nothing changed {statistics.median(steady):.2f} s; "
        f"the first match (baselines) {first:.2f} s; bare index lookups "
        f"of all their names {floor:.2f} s, ratio {wall / floor:.1f}x; image by image "
        f"(25 timed, scaled) ~{naive:.1f} s = {naive / wall:.1f}x slower; {found} findings "
        f"(image, vulnerability) pairs"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
