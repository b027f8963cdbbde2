"""Benchmark the worker fleet: throughput of 1, 2 and 4 ``patchwarden worker`` processes
against in-process execution of the same job set, and registry requests per reference.

Set-up, all real and on loopback: one CNCF registry seeded with IMAGES repositories (two tags
each), reached through HOSTS counting proxies (each its own registry host, with LATENCY
seconds added per request, as a remote registry has), REFS references spread over the images
in Dockerfiles; Redis (broker) and PostgreSQL (state) started here. The job set: one ``check``
task per REPOS_PER_TASK image repositories (what ``queue.shard_size`` does to a whole-fleet
check), run by

- the reference: the same ``CheckJob`` handlers called one after another in one process (what
  ``serve`` does without a broker), in a child process like the workers;
- N workers (N = 1, 2, 4), each ``patchwarden worker --concurrency 1``, timed from the first
  submit to the last task's end (worker start-up excluded).

Prints throughput (references/s), the ratio to the reference and to 1 worker, and requests per
reference counted at the proxies. No assertions. Usage:
    python bench/fleet.py [--images 40] [--refs 800] [--hosts 4] [--latency 0.02]
        [--repos-per-task 4] [--workers 1,2,4]
The issue's full size is --images 500 --refs 10000 --hosts 20 (not run on the 2-core machine
this was written on: see docs/deployment.md for what was measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from patchwarden.devtools.postgres_server import PostgresServer
from patchwarden.devtools.proxies import RegistryProxy
from patchwarden.devtools.redis_server import RedisServer
from patchwarden.devtools.registry_server import RegistryServer
from patchwarden.devtools.seed import Seeder
from patchwarden.devtools.skopeo import Pusher
from testkit.fleet import WorkerProcess

CHILD = """
import json, sys, time
from pathlib import Path
from patchwarden.config.loader import load_config
from patchwarden.service.process import Service
from patchwarden.service.runner import Trigger
cfg, repo, state, scopes = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
svc = Service(load_config(Path(cfg)), [Path(repo)], state=state)
t0 = time.monotonic()
for s in scopes:
    svc.handlers["check"](Trigger("bench", "", frozenset(s)))
print(time.monotonic() - t0)
"""


def seed(reg: RegistryServer, images: int, tmp: Path) -> None:
    Pusher(tmp / "layouts").image(reg, "bench/src", "1.0", salt="fleet-bench")
    with Seeder(reg.host) as s:
        body, _ = s.get_manifest("bench/src", "1.0")
        doc = json.loads(body)
        blobs = [doc["config"]["digest"], *(ly["digest"] for ly in doc["layers"])]

    def one(i: int) -> None:
        with Seeder(reg.host) as s:
            s.copy_repo("bench/src", "1.0", f"bench/img{i}", ["1.0", "1.1"], blobs)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(images)))


def make_db(pg: PostgresServer, name: str) -> str:
    import psycopg

    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True
    ) as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--images", type=int, default=40)
    ap.add_argument("--refs", type=int, default=800)
    ap.add_argument("--hosts", type=int, default=4)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument(
        "--repos-per-task", type=int, default=4, help="repositories per check task (shard size)"
    )
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="pw-fleet-bench-"))
    with (
        RegistryServer("none") as reg,
        RedisServer() as redis_server,
        PostgresServer() as pg,
    ):
        seed(reg, a.images, tmp)
        proxies = [RegistryProxy(reg.host).start() for _ in range(a.hosts)]
        for p in proxies:
            p.delay = a.latency
        repo = tmp / "repo"
        repo.mkdir()
        scopes: dict[str, list[str]] = {}
        lines: dict[int, list[str]] = {}
        for r in range(a.refs):
            i = r % a.images
            host = proxies[i % a.hosts].host
            scopes.setdefault(f"{host}/bench/img{i}", [])
            lines.setdefault(r % 50, []).append(f"FROM {host}/bench/img{i}:1.0 AS s{r}\n")
        for k, body in lines.items():
            (repo / f"Dockerfile.{k}").write_text("".join(body))
        regs = "".join(f"  '{p.host}':\n    insecure: true\n" for p in proxies)
        cfg = repo / "patchwarden.yaml"
        cfg.write_text(f"registries:\n{regs}concurrency: 1\n")
        names = sorted(scopes)
        per = a.repos_per_task
        scope_list = [names[i : i + per] for i in range(0, len(names), per)]

        def requests() -> int:
            return sum(len(p.times) for p in proxies)

        def reset() -> None:
            for p in proxies:
                p.times.clear()

        # reference: in process, one after another
        reset()
        state = make_db(pg, "ref")
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(cfg), str(repo), state, json.dumps(scope_list)],
            capture_output=True,
            text=True,
            check=True,
            cwd=repo,
        )
        ref_s = float(out.stdout.strip().splitlines()[-1])
        rows = [("in-process", ref_s, requests())]
        for n in [int(x) for x in a.workers.split(",")]:
            rows.append(run_workers(n, pg, redis_server, cfg, repo, scope_list, reset, requests))
        base1 = next((r[1] for r in rows if r[0] == "1 worker"), None)
        print(
            f"{a.refs} references, {a.images} images in {len(scope_list)} tasks, "
            f"{a.hosts} registry hosts, "
            f"{a.latency * 1000:.0f} ms added latency, {os.cpu_count()} CPUs"
        )
        print(
            f"{'mode':<12}{'seconds':>9}{'refs/s':>9}{'vs in-process':>15}{'vs 1 worker':>13}"
            f"{'requests/ref':>14}"
        )
        for name, secs, reqs in rows:
            vs1 = f"{base1 / secs:.2f}x" if base1 else "-"
            print(
                f"{name:<12}{secs:>9.2f}{a.refs / secs:>9.1f}{ref_s / secs:>14.2f}x"
                f"{vs1:>13}{reqs / a.refs:>14.3f}"
            )
        for p in proxies:
            p.stop()


def run_workers(
    n: int,
    pg: PostgresServer,
    redis_server: RedisServer,
    cfg: Path,
    repo: Path,
    scope_list: list[list[str]],
    reset: Callable[[], None],
    requests: Callable[[], int],
) -> tuple[str, float, int]:
    import redis

    from patchwarden.config.loader import load_config
    from patchwarden.service.process import Service
    from patchwarden.service.runner import Trigger

    redis.Redis.from_url(redis_server.url).flushall()
    state = make_db(pg, f"w{n}")
    env = {"PATCHWARDEN_BROKER_URL": redis_server.url, "PATCHWARDEN_STATE_URL": state}
    os.environ.update(env)
    svc = Service(load_config(cfg), [repo], state=state)
    workers = [
        WorkerProcess([".", "-c", str(cfg)], env, repo, f"b{n}-{i}").start() for i in range(n)
    ]
    try:
        # warm-up: every worker has started and taken a task (start-up is not measured)
        warm = [
            svc.runner.submit("check", Trigger("warm", str(i), frozenset({f"none/x{i}"})))
            for i in range(n)
        ]
        _wait(svc, warm)
        reset()
        t0 = time.monotonic()
        ids = [svc.runner.submit("check", Trigger("bench", "", frozenset(s))) for s in scope_list]
        _wait(svc, ids)
        secs = time.monotonic() - t0
    finally:
        for w in workers:
            w.stop()
        svc.store.close()
    return (f"{n} worker" + ("s" if n > 1 else ""), secs, requests())


def _wait(svc: Any, ids: list[Any]) -> None:
    """Until every task of this (fresh) database ended: one COUNT query per 0.1 s, so the
    polling does not compete with the workers for the machine."""
    while True:
        counts = svc.tasks.counts()
        if counts.get("succeeded", 0) + counts.get("dead", 0) >= len(ids) and not any(
            counts.get(s, 0) for s in ("queued", "running", "retrying")
        ):
            return
        time.sleep(0.1)


if __name__ == "__main__":
    main()
