"""Benchmark the worker fleet: throughput of 1, 2 and 4 ``patchwarden worker`` processes
against in-process execution of the same job set, and registry requests per reference, side
by side in one run.

Set-up, all real and on loopback: one CNCF registry seeded with IMAGES corpus-style images (a
Debian 11 base layer shared by all: os-release and a dpkg status of packages the advisory
records name; an application layer of its own per image: Python dist-info), each under its own
repository, tag 1.0 (references are up to date: the check resolves their digest, which the scan
job scans; for an outdated reference the scan job would ask one HEAD per tag); reached through
HOSTS counting proxies (each its own registry host, LATENCY seconds added per request, as a
remote registry has); REFS references spread over the images in Dockerfiles; an advisory index
imported from the project's OSV fixtures (tests/fixtures/osv), published through the state
store as ``serve`` does; Redis (broker) and PostgreSQL (state) started here. The job set, per
mode: one ``check`` task per REPOS_PER_TASK image repositories (what ``queue.shard_size`` does
to a whole-fleet check), then one ``scan`` task per the same group (scan results keyed by
digest and index version: each image is catalogued once), run by

- the reference: the same handlers called one after another in one process (what ``serve``
  does without a broker), in a child process like the workers;
- N workers (N = 1, 2, 4), each ``patchwarden worker --concurrency 1``, timed from the first
  submit to the last task's end (worker start-up excluded).

Every mode starts cold: its own database, its own layer caches. Prints load averages,
throughput (references/s), the ratio to the reference and to 1 worker, requests per reference
counted at the proxies (check and scan), and the images catalogued. No assertions.

Usage:
    python bench/fleet.py            # the issue's size: 10,000 references, 500 images, 20 hosts
    python bench/fleet.py --small    # 800 references, 40 images, 4 hosts (a minute or two)
    [--images N] [--refs N] [--hosts N] [--latency S] [--repos-per-task N] [--workers 1,2,4]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
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
from testkit.fleet import WorkerProcess

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "osv"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"

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
t1 = time.monotonic()
for s in scopes:
    svc.handlers["scan"](Trigger("bench", "", frozenset(s)))
print(json.dumps([t1 - t0, time.monotonic() - t1]))
"""


def _tar(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(files):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(files[name]), 0, 0o644
            tar.addfile(info, io.BytesIO(files[name]))
    return buf.getvalue()


def _sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def base_files() -> dict[str, bytes]:
    """Debian 11 with one installed package per package name the Debian advisory fixtures
    name for Debian:11 (an old version: every range affects it), and a few more."""
    names: set[str] = set()
    for f in sorted((FIXTURES / "Debian").glob("*.json")):
        doc = json.loads(f.read_text())
        for a in doc.get("affected", []):
            pkg = a.get("package", {})
            if str(pkg.get("ecosystem", "")).startswith("Debian"):
                names.add(pkg["name"])
    names |= {f"libbench{i}" for i in range(40)}
    status = "".join(
        f"Package: {n}\nStatus: install ok installed\nVersion: 0.1-1\nArchitecture: amd64\n\n"
        for n in sorted(names)
    )
    return {
        "etc/os-release": b'ID=debian\nVERSION_ID="11"\nVERSION_CODENAME=bullseye\n',
        "var/lib/dpkg/status": status.encode(),
    }


def app_files(i: int) -> dict[str, bytes]:
    site = "usr/local/lib/python3.11/site-packages"
    files = {}
    for name, version in (("requests", "2.19.0"), ("flask", "0.12"), (f"app{i}", "1.0.0")):
        meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        files[f"{site}/{name}-{version}.dist-info/METADATA"] = meta.encode()
    files[f"srv/app{i}/main.py"] = f"print('service {i}')\n".encode() * 50
    return files


def seed(host: str, images: int) -> int:
    """Push IMAGES two-layer images (shared base, own app layer); the number of packages."""
    base_tar = _tar(base_files())
    base = gzip.compress(base_tar, mtime=0)
    with Seeder(host) as s:
        s.upload_blob("bench/base", base)

    def one(i: int) -> None:
        app_tar = _tar(app_files(i))
        app = gzip.compress(app_tar, mtime=0)
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "config": {"Cmd": ["/bin/sh"]},
                "rootfs": {"type": "layers", "diff_ids": [_sha(base_tar), _sha(app_tar)]},
            }
        ).encode()
        repo = f"bench/img{i}"
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": _sha(config), "size": len(config)},
            "layers": [
                {"mediaType": OCI_LAYER, "digest": _sha(base), "size": len(base)},
                {"mediaType": OCI_LAYER, "digest": _sha(app), "size": len(app)},
            ],
        }
        body = json.dumps(manifest).encode()
        with Seeder(host) as s:
            s.mount_blob(_sha(base), "bench/base", repo)
            s.upload_blob(repo, app)
            s.upload_blob(repo, config)
            s.put_manifest(repo, "1.0", body, OCI_MANIFEST)

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(images)))
    return base_tar.count(b"Package: ")


def make_db(pg: PostgresServer, name: str) -> str:
    import psycopg

    with psycopg.connect(
        f"postgresql://postgres@127.0.0.1:{pg.port}/postgres", autocommit=True
    ) as c:
        c.execute(f"CREATE DATABASE {name}")
    return pg.url.rsplit("/", 1)[0] + f"/{name}"


def build_index(path: Path) -> None:
    from patchwarden.advisories.importer import import_sources
    from patchwarden.advisories.index import AdvisoryIndex

    with AdvisoryIndex(path, create=True) as index:
        import_sources(index, [str(FIXTURES)])


def publish(index: Path, state: str) -> None:
    """What ``serve`` does at start-up with workers: share its advisory index by version."""
    from sqlalchemy import create_engine

    from patchwarden.app.fleet import IndexSync
    from patchwarden.store import open_store
    from patchwarden.store.shared import SharedContent

    open_store(state).close()
    engine = create_engine(state)
    try:
        IndexSync(SharedContent(engine, "advisory-index", 1 << 30)).publish(index)
    finally:
        engine.dispose()


def catalogued(state: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(state)
    try:
        with engine.connect() as c:
            return int(c.execute(text("SELECT COUNT(*) FROM image_sboms")).scalar_one())
    finally:
        engine.dispose()


def loadavg() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--small", action="store_true", help="40 images, 800 references, 4 hosts")
    ap.add_argument("--images", type=int)
    ap.add_argument("--refs", type=int)
    ap.add_argument("--hosts", type=int)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--workers", default="1,2,4")
    ap.add_argument(
        "--no-reference",
        dest="reference",
        action="store_false",
        help="skip the in-process reference (it takes as long as one worker)",
    )
    ap.add_argument(
        "--repos-per-task", type=int, default=4, help="repositories per task (shard size)"
    )
    a = ap.parse_args()
    size = (40, 800, 4) if a.small else (500, 10_000, 20)
    a.images = a.images or size[0]
    a.refs = a.refs or size[1]
    a.hosts = a.hosts or size[2]
    print(f"start: {loadavg()}, {os.cpu_count()} CPUs", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="pw-fleet-bench-"))
    with (
        RegistryServer("none") as reg,
        RedisServer() as redis_server,
        PostgresServer() as pg,
    ):
        t = time.monotonic()
        packages = seed(reg.host, a.images)
        index = tmp / "index.db"
        build_index(index)
        print(f"seeded {a.images} images in {time.monotonic() - t:.1f}s", flush=True)
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
        cfg = tmp / "patchwarden.yaml"
        cfg.write_text(f"registries:\n{regs}concurrency: 1\nserve:\n  jobs: {{}}\n")
        names = sorted(scopes)
        per = a.repos_per_task
        scope_list = [names[i : i + per] for i in range(0, len(names), per)]

        def requests() -> int:
            return sum(len(p.times) for p in proxies)

        def reset() -> None:
            for p in proxies:
                p.times.clear()

        rows = []
        if a.reference:
            rows.append(reference(pg, cfg, repo, index, tmp, scope_list, reset, requests))
            print(f"in-process done: {loadavg()}", flush=True)
        for n in [int(x) for x in a.workers.split(",")]:
            rows.append(
                run_workers(n, pg, redis_server, cfg, repo, index, tmp, scope_list, reset, requests)
            )
            print(f"{n} worker(s) done: {loadavg()}", flush=True)
        ref_s = rows[0][1] if a.reference else None
        base1 = next((r[1] for r in rows if r[0] == "1 worker"), None)
        print(
            f"\n{a.refs} references, {a.images} images ({packages} OS packages + 3 Python each) "
            f"in {len(scope_list)} check + {len(scope_list)} scan tasks, {a.hosts} registry "
            f"hosts, {a.latency * 1000:.0f} ms added latency, {os.cpu_count()} CPUs; "
            f"end: {loadavg()}"
        )
        print(
            f"{'mode':<12}{'seconds':>9}{'check s':>9}{'refs/s':>9}{'vs in-process':>15}"
            f"{'vs 1 worker':>13}{'requests/ref':>14}{'catalogued':>12}"
        )
        for name, secs, chk, reqs, cat in rows:
            vs1 = f"{base1 / secs:.2f}x" if base1 else "-"
            vsref = f"{ref_s / secs:.2f}x" if ref_s else "-"
            print(
                f"{name:<12}{secs:>9.2f}{chk:>9.2f}{a.refs / secs:>9.1f}{vsref:>15}"
                f"{vs1:>13}{reqs / a.refs:>14.3f}{cat:>12}"
            )
        for p in proxies:
            p.stop()


def reference(
    pg: PostgresServer,
    cfg: Path,
    repo: Path,
    index: Path,
    tmp: Path,
    scope_list: list[list[str]],
    reset: Callable[[], None],
    requests: Callable[[], int],
) -> tuple[str, float, float, int, int]:
    """The same handlers one after another in one process (serve without a broker)."""
    reset()
    state = make_db(pg, "ref")
    env = {
        **os.environ,
        "PATCHWARDEN_ADVISORY_DB": str(index),
        "XDG_CACHE_HOME": str(tmp / "ref-cache"),
    }
    out = subprocess.run(
        [sys.executable, "-c", CHILD, str(cfg), str(repo), state, json.dumps(scope_list)],
        capture_output=True,
        text=True,
        check=True,
        cwd=repo,
        env=env,
    )
    check_s, scan_s = json.loads(out.stdout.strip().splitlines()[-1])
    return ("in-process", check_s + scan_s, check_s, requests(), catalogued(state))


def run_workers(
    n: int,
    pg: PostgresServer,
    redis_server: RedisServer,
    cfg: Path,
    repo: Path,
    index: Path,
    tmp: Path,
    scope_list: list[list[str]],
    reset: Callable[[], None],
    requests: Callable[[], int],
) -> tuple[str, float, float, int, int]:
    import redis

    from patchwarden.config.loader import load_config
    from patchwarden.service.process import Service
    from patchwarden.service.runner import Trigger

    redis.Redis.from_url(redis_server.url).flushall()
    state = make_db(pg, f"w{n}")
    publish(index, state)
    env = {
        "PATCHWARDEN_BROKER_URL": redis_server.url,
        "PATCHWARDEN_STATE_URL": state,
        "PATCHWARDEN_ADVISORY_DB": str(index),
    }
    os.environ.update(env)
    svc = Service(load_config(cfg), [repo], state=state)
    workers = [
        WorkerProcess(  # logs beside the repository: a file changing in it is a new inventory
            [str(repo), "-c", str(cfg)],
            {**env, "XDG_CACHE_HOME": str(tmp / f"w{n}-{i}-cache")},
            tmp,
            f"b{n}-{i}",
        ).start()
        for i in range(n)
    ]
    try:
        # warm-up: every worker has started and taken a task (start-up is not measured)
        for i in range(n):
            svc.runner.submit("check", Trigger("warm", str(i), frozenset({f"none/x{i}"})))
        _wait(svc, n)
        reset()
        t0 = time.monotonic()
        for s in scope_list:
            svc.runner.submit("check", Trigger("bench", "", frozenset(s)))
        _wait(svc, n + len(scope_list))
        check_s = time.monotonic() - t0
        for s in scope_list:
            svc.runner.submit("scan", Trigger("bench", "", frozenset(s)))
        _wait(svc, n + 2 * len(scope_list))
        secs = time.monotonic() - t0
        dead = svc.tasks.counts().get("dead", 0)
        if dead:
            print(f"{n} workers: {dead} tasks dead", flush=True)
        last = svc.tasks.list(limit=1)
        if last:
            print(f"{n} workers: last task: {last[0].job}: {last[0].detail[:300]}", flush=True)
    finally:
        for w in workers:
            w.stop()
        svc.store.close()
    name = f"{n} worker" + ("s" if n > 1 else "")
    return (name, secs, check_s, requests(), catalogued(state))


def _wait(svc: Any, total: int) -> None:
    """Until ``total`` tasks of this (fresh) database ended: one COUNT query per 0.1 s, so the
    polling does not compete with the workers for the machine."""
    while True:
        counts = svc.tasks.counts()
        if counts.get("succeeded", 0) + counts.get("dead", 0) >= total and not any(
            counts.get(s, 0) for s in ("queued", "running", "retrying")
        ):
            return
        time.sleep(0.1)


if __name__ == "__main__":
    main()
