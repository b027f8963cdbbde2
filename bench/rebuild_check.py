"""Benchmark ``patchwarden rebuild --check`` on 50 declared builds (issue: under 5 s, HEAD only).

A local registry holds 5 base images and, for each of 50 builds, a "last build" whose config
carries the ``org.opencontainers.image.base.name`` / ``base.digest`` labels (written with the
project's OCI builder and pushed with skopeo: building 50 images with buildah would measure
buildah, not the check). Two bases are then re-pushed with new content, so 20 builds are due
(base moved). Three runs of the real CLI, each printing wall time and requests by kind:

- cold: empty state store, empty cache: the labels are read once (manifest + config GET);
- warm: the same again: labels come from the on-disk cache (content by digest), HEADs only;
- store: a fresh cache, but the state store has each last build's record: HEADs only.

The reference, measured in the same run, is a minimal httpx client doing only the HEADs any
correct check needs (one per destination, one per base tag) on one connection: the printed
ratio is patchwarden's wall time (a whole process, start-up included) against that floor.
A second reference is the bare start of the CLI (`patchwarden --version`), so the part of a
run that is start-up and imports shows apart from the check (`-start` column).

The processes run with bytecode caching on (as an installed patchwarden has its .pyc files):
a shell with PYTHONDONTWRITEBYTECODE=1 would otherwise compile every module on every run. One
warm-up run (not counted) writes them.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from patchwarden.devtools import oci_builder, skopeo
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.registry.manifests import ACCEPT

BUILDS, BASES, MOVED = 50, 5, 2


def push(host: str, work: Path, repo: str, tag: str, **kw: Any) -> str:
    d = work / f"{repo.replace('/', '_')}-{tag}-{kw.get('salt', '')}"
    oci_builder.build_image(d, tag, **kw)
    skopeo.push(d, tag, f"{host}/{repo}:{tag}")
    return skopeo.inspect_digest(f"{host}/{repo}:{tag}")


def seed(host: str, work: Path) -> tuple[Path, dict[str, str]]:
    bases = {k: push(host, work, f"bench/base-{k}", "1", salt=f"b{k}") for k in range(BASES)}
    project = work / "project"
    lines = ["version: 1", "builds:"]
    last: dict[str, str] = {}
    for i in range(BUILDS):
        k = i % BASES
        ctx = project / f"img-{i:02d}"
        ctx.mkdir(parents=True)
        (ctx / "Containerfile").write_text(f"FROM {host}/bench/base-{k}:1\nRUN true\n")
        labels = {
            "org.opencontainers.image.base.name": f"{host}/bench/base-{k}:1",
            "org.opencontainers.image.base.digest": bases[k],
        }
        last[f"img-{i:02d}"] = push(
            host, work, f"bench/img-{i:02d}", "latest", labels=labels, salt=f"i{i}"
        )
        lines += [
            f"  - name: img-{i:02d}",
            f"    context: img-{i:02d}",
            f"    destination: {host}/bench/img-{i:02d}",
        ]
    (project / "patchwarden.yaml").write_text("\n".join(lines) + "\n")
    for k in range(MOVED):
        push(host, work, f"bench/base-{k}", "1", salt=f"moved{k}")
    return project, {"bases": json.dumps(bases), **last}


def record_builds(state: Path, host: str, seeded: dict[str, str]) -> None:
    from patchwarden.store import BuildRecord, open_store

    bases = json.loads(seeded["bases"])
    now = datetime.now(UTC)
    with open_store(str(state)) as store:
        for i in range(BUILDS):
            k = i % BASES
            store.record_build(
                BuildRecord(
                    id=None,
                    name=f"img-{i:02d}",
                    destination=f"{host}/bench/img-{i:02d}",
                    started_at=now,
                    finished_at=now,
                    outcome="pushed",
                    reason="seeded",
                    base_name=f"{host}/bench/base-{k}:1",
                    base_digest=bases[str(k)],
                    image_digest=seeded[f"img-{i:02d}"],
                    tags=["latest"],
                )
            )


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PATCHWARDEN_CONFIG": "", **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def start_floor() -> tuple[float, float]:
    """Wall and CPU time of the bare CLI start (`patchwarden --version`), best of 3."""
    best, best_cpu = float("inf"), float("inf")
    for _ in range(3):
        t, c = time.perf_counter(), _cpu()
        subprocess.run(
            [sys.executable, "-m", "patchwarden.cli.main", "--version"],
            env=_env(),
            capture_output=True,
            check=True,
            timeout=60,
        )
        best, best_cpu = min(best, time.perf_counter() - t), min(best_cpu, _cpu() - c)
    return best, best_cpu


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_cli(project: Path, cache: Path, state: Path) -> tuple[float, float, dict[str, Any]]:
    """(wall s, CPU s of the process, its JSON): CPU time varies less than wall time when
    other work shares the machine."""
    env = _env(PATCHWARDEN_STATE=str(state))
    argv = [sys.executable, "-m", "patchwarden.cli.main", "rebuild", str(project), "--check"]
    argv += ["--format", "json", "--cache-dir", str(cache)]
    t, c = time.perf_counter(), _cpu()
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    took, cpu = time.perf_counter() - t, _cpu() - c
    if proc.returncode != 0:
        raise SystemExit(f"rebuild --check failed ({proc.returncode}): {proc.stderr}")
    return took, cpu, json.loads(proc.stdout)


def in_process(project: Path, cache: Path, state: Path) -> tuple[float, dict[str, int]]:
    """The decision alone (config loaded, modules imported): what a long-running service pays."""
    from patchwarden.app.rebuild import specs
    from patchwarden.app.wiring import build_rebuild
    from patchwarden.config.loader import load_config

    cfg = load_config(project / "patchwarden.yaml")
    todo = specs(cfg.builds, project)
    with build_rebuild(
        cfg, state=str(state), db=None, cache_dir=cache, use_cache=True, check_only=True
    ) as (due, _):
        t = time.perf_counter()
        decisions = due.decide_all(todo)
        took = time.perf_counter() - t
        assert sum(1 for d in decisions if d.due) == BUILDS * MOVED // BASES
        return took, {k: v for k, v in due.requests().items() if v}


def floor(host: str) -> float:
    """Only the HEADs a correct check needs, on one keep-alive connection."""
    t = time.perf_counter()
    with httpx.Client(base_url=f"http://{host}", headers={"Accept": ACCEPT}) as c:
        for i in range(BUILDS):
            c.head(f"/v2/bench/img-{i:02d}/manifests/latest").raise_for_status()
        for k in range(BASES):
            c.head(f"/v2/bench/base-{k}/manifests/1").raise_for_status()
    return time.perf_counter() - t


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pw-bench-rebuild-") as tmp, RegistryServer() as reg:
        work = Path(tmp)
        t = time.perf_counter()
        project, seeded = seed(reg.host, work)
        print(f"seeded {BUILDS} builds on {BASES} bases in {time.perf_counter() - t:.1f}s")
        ref = min(floor(reg.host) for _ in range(3))
        print(f"reference: {BUILDS + BASES} HEADs with a minimal client: {ref * 1000:.0f} ms")
        run_cli(project, work / "c0", work / "s0.db")  # warm-up: writes the .pyc files
        start, start_cpu = start_floor()
        print(
            f"reference: bare CLI start (patchwarden --version): {start * 1000:.0f} ms "
            f"({start_cpu * 1000:.0f} ms CPU)"
        )
        runs = [
            ("cold", work / "c1", work / "s1.db"),
            ("warm", work / "c1", work / "s1.db"),
        ]
        record_builds(work / "s2.db", reg.host, seeded)
        runs.append(("store", work / "c2", work / "s2.db"))
        head = f"{'run':6} {'wall s':>7} {'x ref':>7} {'-start':>7} {'cpu s':>6} {'x start':>7}"
        print(f"{head}  due  requests by kind")
        for name, cache, state in runs:
            took, cpu, out = run_cli(project, cache, state)
            due = sum(1 for b in out["builds"] if b["due"])
            errors = [b["error"] for b in out["builds"] if b["error"]]
            req = {k: v for k, v in out["requests"].items() if v}
            print(
                f"{name:6} {took:7.2f} {took / ref:7.1f} {took - start:7.2f} {cpu:6.2f} "
                f"{cpu / start_cpu:7.1f}  {due:3d}  {req}"
            )
            assert not errors, errors[:3]
            assert due == BUILDS * MOVED // BASES, f"{due} due, expected {BUILDS * MOVED // BASES}"
            if name != "cold":
                assert out["requests"]["manifest_get"] == 0 and out["requests"]["blob"] == 0
        took, req = in_process(project, work / "c1", work / "s1.db")
        print(f"{'decide':6} {took:7.2f} {took / ref:7.1f}  (in process, warm: no start-up) {req}")
        print("goal: under 5 s for 50 builds; warm and store runs make HEAD requests only")


if __name__ == "__main__":
    main()
