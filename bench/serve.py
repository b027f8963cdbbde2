"""Benchmark `patchwarden serve`: the fleet page with 5,000 images, and an idle process's memory.

Issue goals: "the fleet page renders 5,000 images in under 300 ms of server time"; "memory of
an idle serve under 150 MiB". Measured in the same run:

- fleet page: ``GET /`` through the ASGI app in-process (Starlette's test client: no network,
  so the time is the server's: store queries + template), median of N requests: the first page
  (100 rows; counts over the whole fleet, by the database) and all rows on one page
  (``?per_page=N``), each against a same-run reference: the store reads it needs, alone, so the
  ratio shows what counting and rendering add; plus the reads the page did before paging;
- warm scan: ``GET /api/v1/scan?image=...&sbom_only=1`` of a small Debian-like image in a local
  registry, answered by a real ``serve`` process with warm caches (median wall time of the HTTP
  round trip), against the same scan as a CLI process (``patchwarden scan --sbom-only``, same
  config and cache), whose start-up the API avoids;
- idle memory: RSS of a real ``patchwarden serve`` process on an empty directory once it is
  ready, against a bare ``python -c pass`` interpreter of the same venv.

No timed assertions: this prints numbers and ratios. Usage: python bench/serve.py [--images N]
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def fleet_page(n: int, runs: int) -> None:
    from starlette.testclient import TestClient

    from patchwarden.config.schema import Config
    from patchwarden.service.app import build_app
    from patchwarden.service.process import Service
    from patchwarden.store.fleet import FleetItem

    with tempfile.TemporaryDirectory(prefix="pw-bench-serve-") as tmp:
        root = Path(tmp)
        (root / "repo").mkdir()
        token = secrets.token_hex(16)
        svc = Service(
            Config(),
            [root / "repo"],
            state=str(root / "s.db"),
            env={"PATCHWARDEN_API_TOKEN": token},
        )
        now = datetime.now(UTC)
        kinds = ["major", "minor", "patch", "digest", None]
        svc.fleet.save_results(
            FleetItem(
                key=f"file:deploy/svc{i}/Dockerfile:1",
                source=f"deploy/svc{i}/Dockerfile:1",
                image=f"registry.example.org/team{i % 50}/app{i}",
                repository=f"registry.example.org/team{i % 50}/app{i}",
                status="outdated" if kinds[i % 5] else "up-to-date",
                update_kind=kinds[i % 5],
                current_tag="1.2.3",
                current_digest="sha256:" + f"{i:064x}",
                candidate_tag="1.3.0" if kinds[i % 5] else None,
                candidate_digest="sha256:" + f"{i + 1:064x}" if kinds[i % 5] else None,
                reason="newer tag allowed by policy level=major",
                checked_at=now,
                vulns={"by_severity": {"critical": i % 3, "high": i % 7}},
            )
            for i in range(n)
        )
        with TestClient(build_app(svc, manage=False)) as client:
            client.post("/login", data={"token": token})
            first = client.get("/")
            assert first.status_code == 200 and first.text.count("<tr class=") == 100
            full = client.get(f"/?per_page={n}")
            assert full.text.count("<tr class=") == n
            paged = _median(runs, lambda: client.get("/"))
            whole = _median(runs, lambda: client.get(f"/?per_page={n}"))
            old = _median(runs, lambda: _old_reads(svc))
            floor = _median(
                runs,
                lambda: (
                    svc.fleet.summary(),
                    svc.fleet.lines(limit=100),
                    svc.fleet.pending("pending"),
                    svc.jobs.states(),
                ),
            )
            floor_all = _median(runs, lambda: svc.fleet.lines(limit=n))
        svc.stop(1)
        print(
            f"fleet page, {n} images in the fleet (goal < 300 ms of server time): "
            f"first page (100 rows, counts over all {n}) median {paged:.0f} ms, its store reads "
            f"alone {floor:.0f} ms, ratio {paged / floor:.2f}x; "
            f"all {n} rows on one page {whole:.0f} ms ({len(full.content) / 1e6:.1f} MB of HTML), "
            f"reading those rows alone {floor_all:.0f} ms, ratio {whole / floor_all:.2f}x; "
            f"the previous page's store reads alone (every row as a full record, twice) "
            f"{old:.0f} ms = {old / paged:.1f}x today's whole first page"
        )


def _median(runs: int, fn: Any) -> float:
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def _old_reads(svc: Any) -> None:
    """What the page read before it was paged: every row as a full record, counted in Python
    (the same reads again for the counts the overview shows)."""
    from patchwarden.store.fleet import summarize

    summarize(svc.fleet.fleet(limit=10_000_000))
    svc.fleet.fleet()
    svc.fleet.pending("pending")


def warm_scan(runs: int) -> None:
    from patchwarden.devtools.registry_server import RegistryServer
    from patchwarden.devtools.skopeo import Pusher

    status = b"".join(
        f"Package: pkg{i}\nStatus: install ok installed\nVersion: 1.{i}-1\n"
        f"Architecture: amd64\n\n".encode()
        for i in range(200)
    )
    files = {"var/lib/dpkg/status": status, "etc/os-release": b"ID=debian\nVERSION_ID=12\n"}
    with tempfile.TemporaryDirectory(prefix="pw-bench-serve-") as tmp, RegistryServer() as reg:
        root = Path(tmp)
        Pusher(root / "layouts").image(reg, "bench/app", "1", files=files)
        image = f"{reg.host}/bench/app:1"
        cfg = root / "patchwarden.yaml"
        cfg.write_text(
            f"registries:\n  '{reg.host}':\n    insecure: true\ncache:\n  dir: {root / 'cache'}\n"
        )
        (root / "repo").mkdir()
        token = "b" * 40
        env = {**os.environ, "PATCHWARDEN_API_TOKEN": token}
        env.pop("PATCHWARDEN_CONFIG", None)
        proc, port = _start_serve([str(root / "repo"), "-c", str(cfg)], root, env)
        try:
            _wait_ready(port)
            url = f"http://127.0.0.1:{port}/api/v1/scan"
            with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:
                params = {"image": image, "sbom_only": "1"}
                first = c.get(url, params=params)
                assert first.status_code == 200 and len(first.json()["packages"]) == 200
                api = []
                for _ in range(runs):
                    t0 = time.perf_counter()
                    c.get(url, params=params).raise_for_status()
                    api.append(time.perf_counter() - t0)
        finally:
            proc.terminate()
            proc.wait(30)
        cli = []
        argv = [
            sys.executable,
            "-m",
            "patchwarden.cli.main",
            "scan",
            image,
            "--sbom-only",
            "--format",
            "json",
            "-c",
            str(cfg),
            "--no-progress",
        ]
        for _ in range(max(3, runs // 3)):
            t0 = time.perf_counter()
            subprocess.run(argv, env=env, capture_output=True, check=True, cwd=root)
            cli.append(time.perf_counter() - t0)
        a, b = statistics.median(api) * 1e3, statistics.median(cli) * 1e3
        print(
            f"warm scan (200 packages): API {a:.0f} ms (goal < 50 ms), CLI process {b:.0f} ms; "
            f"CLI/API {b / a:.1f}x"
        )


def _start_serve(args: list[str], root: Path, env: dict[str, str]) -> tuple[Any, int]:
    from patchwarden.devtools.registry_server import free_port

    port = free_port()
    argv = [sys.executable, "-m", "patchwarden.cli.main", "serve", *args]
    argv += ["--listen", f"127.0.0.1:{port}", "--state", str(root / "s.db")]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


def _wait_ready(port: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("serve did not become ready")


def idle_memory() -> None:

    with tempfile.TemporaryDirectory(prefix="pw-bench-serve-") as tmp:
        env = {**os.environ, "PATCHWARDEN_API_TOKEN": "x" * 32}
        env.pop("PATCHWARDEN_CONFIG", None)
        proc, port = _start_serve([tmp], Path(tmp), env)
        try:
            _wait_ready(port)
            time.sleep(3)  # the start-up check has finished; the process is idle
            httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
            rss = _rss_mib(proc.pid)
        finally:
            proc.terminate()
            proc.wait(30)
        bare = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
        time.sleep(1)
        ref = _rss_mib(bare.pid)
        bare.wait()
        print(
            f"idle serve RSS: {rss:.0f} MiB (goal < 150 MiB); bare interpreter {ref:.0f} MiB; "
            f"ratio {rss / ref:.1f}x"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=7)
    args = ap.parse_args()
    fleet_page(args.images, args.runs)
    warm_scan(max(args.runs, 10))
    idle_memory()


if __name__ == "__main__":
    main()
