"""Benchmark ``patchwarden check``: 1,000 references over 100 repositories on a local registry.

Prints wall time, peak memory and HTTP requests by kind for a cold and a warm run, each as a
ratio against a minimal client measured in the same run (machines are noisy), then checks the
goals of the issue and that digest drift is never hidden by the cache. See bench/README.md.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from patchwarden.devtools import oci_builder, skopeo
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.seed import Seeder
from patchwarden.registry.manifests import ACCEPT

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".bench" / "check"
SOURCE = "bench/source"
SEED_VERSION = 1
MiB = 1024 * 1024
PROXY = """
import json, sys
from patchwarden.devtools.proxies import RegistryProxy
p = RegistryProxy(sys.argv[1], tags_page_size=int(sys.argv[2])).start()
# Headers and body are written separately: without TCP_NODELAY every GET waits ~40 ms for a
# delayed ACK (Nagle), which would swamp both patchwarden and the floor.
p._server.RequestHandlerClass.disable_nagle_algorithm = True
print(p.host, flush=True)
for _ in sys.stdin:  # one line in = counts by kind out (then reset); EOF = exit
    counts = dict(p.counts)
    p.reset()
    print(json.dumps(counts), flush=True)
"""
WRAPPER = """
import atexit, resource, sys
atexit.register(lambda: print("BENCH_MAXRSS_KIB=%d" % resource.getrusage(
    resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr))
sys.argv[0] = "patchwarden"
from patchwarden.cli.main import main
main()
"""


# -- data set ------------------------------------------------------------------------------
def repo_name(i: int) -> str:
    return f"bench/app-{i:03d}"


def tag_sets(tags_per_repo: int) -> tuple[list[str], list[str]]:
    """Plain semver tags and ``-alpine`` tags, oldest first (plus latest and stable: +2)."""
    n = tags_per_repo - 2
    versions = [f"{a}.{b}.{c}" for a in range(1, 100) for b in range(5) for c in range(5)]
    plain = versions[: math.ceil(n * 2 / 3)]
    return plain, [f"{v}-alpine" for v in versions[: n - len(plain)]]


def all_tags(tags_per_repo: int) -> list[str]:
    plain, alpine = tag_sets(tags_per_repo)
    return [*plain, *alpine, "latest", "stable"]


def manifest_index(i: int, tag: str, drifted: bool = False) -> int:
    """Which of the 3 seeded manifests ``repo_name(i):tag`` points to."""
    if tag == "stable":
        return 1 if drifted else 0
    return zlib.crc32(f"{i}:{tag}".encode()) % 3


def repo_tags(i: int, tags_per_repo: int) -> list[str]:
    """The 3 distinct tags the sample repository uses for repository ``i``.

    An outdated semver tag; the newest semver tag (30%) or another outdated one (70%), both of
    which share the newest tag's HEAD; then an outdated -alpine tag (40%), the floating
    ``stable`` (20%) or a third outdated semver tag (40%). Minimal requests per repository:
    its tag-list pages + 1.6 HEADs on average.
    """
    plain, alpine = tag_sets(tags_per_repo)
    half = len(plain) // 2
    t1 = plain[i % half]
    t2 = plain[-1] if i % 10 < 3 else plain[half + i % (half - 2)]
    if i % 5 == 0:
        t3 = "stable"
    elif i % 5 in (1, 2):
        t3 = alpine[i % (len(alpine) - 1)]
    else:
        t3 = plain[(i + 7) % half] if (i + 7) % half != i % half else plain[half - 1]
    return [t1, t2, t3]


def write_repo(dest: Path, host: str, repos: int, refs: int, tags_per_repo: int) -> None:
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    for i in range(repos):
        tags = repo_tags(i, tags_per_repo)
        containers = "".join(
            f"        - name: c{k}\n          image: {host}/{repo_name(i)}:{tags[k % 3]}\n"
            for k in range(refs)
        )
        (dest / f"app-{i:03d}.yaml").write_text(
            f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i:03d}\nspec:\n"
            f"  template:\n    spec:\n      containers:\n{containers}"
        )


# -- registry, seeding, proxy -------------------------------------------------------------------
def seed(host: str, repos: int, tags_per_repo: int, workers: int = 8) -> None:
    layout_dir = WORK / "layout"
    shutil.rmtree(layout_dir, ignore_errors=True)
    layout = oci_builder.OCILayout(layout_dir)
    for k in range(3):
        desc = layout.add_image({"etc/bench": f"image {k}\n".encode()}, salt=f"bench-{k}")
        layout.tag(f"m{k}", desc)
        skopeo.push(layout_dir, f"m{k}", f"{host}/{SOURCE}:m{k}")
    bodies = source_manifests(host)
    blobs = sorted(
        {d["digest"] for body, _ in bodies for d in [json.loads(body)["config"]]}
        | {d["digest"] for body, _ in bodies for d in json.loads(body)["layers"]}
    )

    def one(i: int) -> None:
        with Seeder(host) as s:
            for d in blobs:
                s.mount_blob(d, SOURCE, repo_name(i))
            for tag in all_tags(tags_per_repo):
                body, mt = bodies[manifest_index(i, tag)]
                s.put_manifest(repo_name(i), tag, body, mt)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        list(pool.map(one, range(repos)))


def source_manifests(host: str) -> list[tuple[bytes, str]]:
    with Seeder(host) as s:
        return [s.get_manifest(SOURCE, f"m{k}") for k in range(3)]


def set_stable(host: str, repos: list[int], bodies: list[tuple[bytes, str]], drift: bool) -> None:
    with Seeder(host) as s:
        for i in repos:
            body, mt = bodies[manifest_index(i, "stable", drift)]
            s.put_manifest(repo_name(i), "stable", body, mt)


class Proxy:
    """A paginating RegistryProxy in its own process (its threads do not compete with ours)."""

    def __init__(self, upstream: str, page_size: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", PROXY, upstream, str(page_size)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.host = self.proc.stdout.readline().strip()

    def counts(self) -> dict[str, int]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("counts\n")
        self.proc.stdin.flush()
        return dict(sorted(json.loads(self.proc.stdout.readline()).items()))

    def stop(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


# -- measurements -------------------------------------------------------------------------------
def run_cli(repo: Path, cache: Path, proxy: Proxy) -> dict[str, Any]:
    cmd = [sys.executable, "-c", WRAPPER, "check", str(repo), "--format", "json"]
    cmd += ["--no-progress", "--cache-dir", str(cache)]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 3):
        raise RuntimeError(f"patchwarden exited {proc.returncode}: {proc.stderr[-2000:]}")
    rss = next(ln for ln in proc.stderr.splitlines() if ln.startswith("BENCH_MAXRSS_KIB="))
    report = json.loads(proc.stdout)
    return {
        "wall": wall,
        "rss_mib": int(rss.split("=")[1]) * 1024 / MiB,
        "requests": {k: v for k, v in report["requests"].items() if v},
        "proxy": proxy.counts(),
        "summary": report["summary"],
        "results": report["results"],
    }


def needed_heads(results: list[dict[str, Any]]) -> set[tuple[str, str]]:
    """(repository, tag) whose digest the answer needs: candidates, else the current tag."""
    out = set()
    for r in results:
        tag = (r["candidate"] or r["current"])["tag"]
        if r["status"] in ("outdated", "up-to-date") and tag:
            out.add((r["repository"], tag))
    return out


def floor(host: str, repos: list[str], heads: set[tuple[str, str]], page: int) -> dict[str, Any]:
    """The minimal request set, sequential, with one keep-alive connection."""
    pages = 0
    with httpx.Client(base_url=f"http://{host}", timeout=30) as c:
        t0 = time.perf_counter()
        for repo in repos:
            url: str | None = f"/v2/{repo}/tags/list?n={page}"
            while url:
                r = c.get(url)
                r.raise_for_status()
                pages += 1
                url = r.links.get("next", {}).get("url")
        t1 = time.perf_counter()
        for repo, tag in sorted(heads):
            c.head(f"/v2/{repo}/manifests/{tag}", headers={"Accept": ACCEPT}).raise_for_status()
        t2 = time.perf_counter()
    return {"pages": pages, "heads": len(heads), "tags_s": t1 - t0, "heads_s": t2 - t1}


def startup_cost(n: int = 3) -> float:
    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import patchwarden.cli.main"], check=True)
        return time.perf_counter() - t0

    return statistics.median(once() for _ in range(n))


def wrong_digests(results: list[dict[str, Any]], digests: list[str], drifted: set[int]) -> int:
    bad = 0
    for r in results:
        cand = r["candidate"]
        if cand:
            i = int(r["repository"].rsplit("-", 1)[1])
            want = digests[manifest_index(i, cand["tag"], i in drifted)]
            bad += cand["digest"] != want
    return bad


# -- main ---------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repos", type=int, default=100)
    ap.add_argument("--tags-per-repo", type=int, default=150)
    ap.add_argument("--refs-per-repo", type=int, default=10)
    ap.add_argument("--page-size", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reseed", action="store_true", help="wipe the registry and seed again")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON")
    a = ap.parse_args()
    if a.tags_per_repo < 20 or a.refs_per_repo < 3:
        ap.error("--tags-per-repo must be >= 20 and --refs-per-repo >= 3")
    say = (lambda *_: None) if a.json else print
    marker = WORK / "seeded.json"
    params = {"version": SEED_VERSION, "repos": a.repos, "tags_per_repo": a.tags_per_repo}
    fresh = a.reseed or not marker.exists() or json.loads(marker.read_text()) != params
    if fresh:
        shutil.rmtree(WORK / "registry" / "storage", ignore_errors=True)
        marker.unlink(missing_ok=True)
    out: dict[str, Any] = {"params": vars(a) | {"references": a.repos * a.refs_per_repo}}
    with RegistryServer("none", workdir=WORK / "registry") as reg:
        t0 = time.perf_counter()
        if fresh:
            seed(reg.host, a.repos, a.tags_per_repo)
            marker.write_text(json.dumps(params))
        out["seed_s"] = time.perf_counter() - t0
        out["seeded"] = fresh
        bodies = source_manifests(reg.host)
        digests = ["sha256:" + hashlib.sha256(b).hexdigest() for b, _ in bodies]
        stable_repos = [i for i in range(a.repos) if "stable" in repo_tags(i, a.tags_per_repo)]
        set_stable(reg.host, stable_repos, bodies, drift=False)  # undo an interrupted run
        proxy = Proxy(reg.host, a.page_size)
        try:
            out |= measure(a, proxy, reg.host, bodies, digests, stable_repos)
        finally:
            proxy.stop()
            set_stable(reg.host, stable_repos, bodies, drift=False)
    if a.json:
        goals = [{"goal": text, "pass": ok} for text, ok in out["goals"]]
        print(json.dumps(out | {"goals": goals}, indent=2))
    else:
        report(out, say)
    return 0 if all(ok for _, ok in out["goals"]) else 1


def measure(
    a: argparse.Namespace,
    proxy: Proxy,
    registry: str,
    bodies: list[tuple[bytes, str]],
    digests: list[str],
    stable_repos: list[int],
) -> dict[str, Any]:
    repo = WORK / "repo"
    write_repo(repo, proxy.host, a.repos, a.refs_per_repo, a.tags_per_repo)
    startup = startup_cost()
    runs: dict[str, list[dict[str, Any]]] = {"cold": [], "warm": []}
    floors: list[dict[str, Any]] = []
    heads: set[tuple[str, str]] = set()
    repos: list[str] = []
    for n in range(a.repeat):
        cache = WORK / f"cache-{n}"
        shutil.rmtree(cache, ignore_errors=True)
        runs["cold"].append(run_cli(repo, cache, proxy))
        runs["warm"].append(run_cli(repo, cache, proxy))
        if n == 0:
            heads = needed_heads(runs["cold"][0]["results"])
            repos = sorted({r["repository"] for r in runs["cold"][0]["results"]})
        floors.append(floor(proxy.host, repos, heads, a.page_size))  # interleaved: same noise
        proxy.counts()  # reset the proxy's counters: the floor is not patchwarden's
    fl = {k: statistics.median(f[k] for f in floors) for k in floors[0]}
    # Drift: re-point `stable` in a few repositories, then run warm on the last cache again.
    drifted = set(stable_repos[:5])
    set_stable(registry, sorted(drifted), bodies, drift=True)
    last_cache = WORK / f"cache-{a.repeat - 1}"
    drift = run_cli(repo, last_cache, proxy)
    again = run_cli(repo, last_cache, proxy)  # informational: is the drift still reported?
    refs = a.repos * a.refs_per_repo
    pages = a.repos * math.ceil(a.tags_per_repo / a.page_size)
    floor_s = {"cold": fl["tags_s"] + fl["heads_s"], "warm": fl["heads_s"]}
    phases: dict[str, Any] = {}
    for name, rs in runs.items():
        mid = sorted(rs, key=lambda r: r["wall"])[len(rs) // 2]
        req = mid["requests"]
        phases[name] = {
            "wall_s": mid["wall"],
            "walls_s": [r["wall"] for r in rs],
            "floor_s": floor_s[name],
            "ratio": mid["wall"] / floor_s[name],
            "ratio_minus_startup": (mid["wall"] - startup) / floor_s[name],
            "peak_rss_mib": max(r["rss_mib"] for r in rs),
            "requests": req,
            "proxy_requests": mid["proxy"],
            "requests_per_ref": sum(v for k, v in req.items() if k != "retries") / refs,
            "tags_per_page": req.get("tags", 0) / pages,
            "summary": mid["summary"],
            "wrong_candidate_digests": wrong_digests(mid["results"], digests, set()),
        }

    def moved(r: dict[str, Any]) -> bool:
        return r["tag"] == "stable" and int(r["repository"].rsplit("-", 1)[1]) in drifted

    before = runs["warm"][-1]["results"]
    hit = [r for r in drift["results"] if moved(r)]
    shown = sum(r["status"] == "outdated" and r["update"] == "digest" for r in hit)
    later = sum(r["status"] == "outdated" for r in again["results"] if moved(r))
    others_same = all(
        (x["status"], x["update"]) == (y["status"], y["update"])
        for x, y in zip(before, drift["results"], strict=True)
        if not moved(x)
    )
    cold, warm = phases["cold"], phases["warm"]
    goals = [
        (
            f"cold: tag-list requests <= pages ({cold['requests'].get('tags', 0)} <= {pages})",
            cold["requests"].get("tags", 0) <= pages,
        ),
        (
            f"cold: HEADs <= distinct needed ({cold['requests'].get('manifest_head', 0)} <= "
            f"{len(heads)})",
            cold["requests"].get("manifest_head", 0) <= len(heads),
        ),
        (
            f"cold: <= 0.4 requests/reference ({cold['requests_per_ref']:.3f})",
            cold["requests_per_ref"] <= 0.4,
        ),
        (
            f"warm: no tag-list requests ({warm['requests'].get('tags', 0)})",
            warm["requests"].get("tags", 0) == 0,
        ),
        (
            f"warm: HEADs <= distinct needed ({warm['requests'].get('manifest_head', 0)} <= "
            f"{len(heads)})",
            warm["requests"].get("manifest_head", 0) <= len(heads),
        ),
        (
            f"peak RSS < 150 MiB (cold {cold['peak_rss_mib']:.1f}, "
            f"warm {warm['peak_rss_mib']:.1f})",
            max(cold["peak_rss_mib"], warm["peak_rss_mib"]) < 150,
        ),
        (
            "results correct: no errors, candidate digests match the seeded manifests",
            all(
                p["summary"]["error"] == 0 and not p["wrong_candidate_digests"]
                for p in phases.values()
            ),
        ),
        (
            f"drift never hidden by the cache: {shown} of {len(hit)} refs to a re-pointed `stable` "
            f"reported outdated/digest, all other refs unchanged: {others_same}",
            shown == len(hit) > 0
            and others_same
            and not wrong_digests(drift["results"], digests, drifted),
        ),
    ]
    return {
        "startup_s": startup,
        "floor": fl,
        "expected_pages": pages,
        "distinct_needed_heads": len(heads),
        "phases": phases,
        "drift": {
            "repos": sorted(drifted),
            "refs": len(hit),
            "reported": shown,
            "reported_next_run": later,
            "summary": drift["summary"],
            "requests": drift["requests"],
        },
        "goals": goals,
    }


def report(out: dict[str, Any], say: Any) -> None:
    p, fl = out["params"], out["floor"]
    say(
        f"patchwarden check benchmark: {p['references']} references, {p['repos']} repositories, "
        f"{p['tags_per_repo']} tags each, tag pages of {p['page_size']}, median of {p['repeat']}"
    )
    seeding = f"{out['seed_s']:.1f} s" if out["seeded"] else "reused (--reseed to redo)"
    say(f"seeding: {seeding}")
    say(f"python start-up + import patchwarden.cli.main: {out['startup_s']:.2f} s")
    say(
        f"floor (sequential minimal client, median): {fl['pages']} tag pages "
        f"in {fl['tags_s']:.2f} s, "
        f"{fl['heads']} HEADs in {fl['heads_s']:.2f} s"
    )
    for name, ph in out["phases"].items():
        walls = ", ".join(f"{w:.2f}" for w in ph["walls_s"])
        say(
            f"\n{name}: wall {ph['wall_s']:.2f} s [{walls}]  floor {ph['floor_s']:.2f} s  "
            f"ratio {ph['ratio']:.2f} (without start-up {ph['ratio_minus_startup']:.2f})"
        )
        say(
            f"  peak RSS {ph['peak_rss_mib']:.1f} MiB; requests/ref {ph['requests_per_ref']:.3f}; "
            f"tag-list requests per repository page {ph['tags_per_page']:.2f}"
        )
        say(f"  patchwarden requests: {ph['requests']}")
        say(f"  proxy saw:            {ph['proxy_requests']}")
        say(f"  statuses: {ph['summary']}")
    d = out["drift"]
    say(
        f"\ndrift run (stable re-pointed in repos {d['repos']}): {d['summary']}, "
        f"requests {d['requests']}"
    )
    say(
        f"  refs to the moved tags reported outdated/digest: {d['reported']} of {d['refs']}; "
        f"on the next warm run: {d['reported_next_run']} of {d['refs']}"
    )
    say("")
    for text, ok in out["goals"]:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    say(
        f"NOTE  1,000 references in < 6 s: cold {out['phases']['cold']['wall_s']:.2f} s, warm "
        f"{out['phases']['warm']['wall_s']:.2f} s on this machine (wall time is not asserted)"
    )


if __name__ == "__main__":
    sys.exit(main())
