"""Benchmark ``patchwarden rollout``: 20 containers on Podman in waves of 5 (a canary of 5, then
batches of 5), each wave gated by the health probe (grace) and a soak.

Two references, both from the same run:

- the gate/soak floor: the time the configuration itself asks for (per wave the health grace
  plus the soak). Everything else (process start, pulling, creating, stopping, starting,
  probing, recording) counts as outside; the issue's goal is that it stays at or below 10 % of
  the wall time (``outside_fraction``).
- the engine floor: the same engine doing a wave's replacement by itself (create, stop, rename,
  start, remove five containers in parallel through the Docker API, no patchwarden), measured
  before the rollout. ``own_fraction`` is what is left outside both: patchwarden's own cost.

The CLI runs as its own process, as a user runs it. The machine's load average is printed with
the result (the numbers move with it). See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))  # testkit: the Podman and image helpers

from patchwarden.devtools.registry_server import RegistryServer, free_port  # noqa: E402
from patchwarden.engine.client import EngineClient  # noqa: E402
from testkit.podman import podman_service, push_web_image  # noqa: E402

# httpd under a shell that stops at once on SIGTERM (busybox httpd as PID 1 ignores it, and
# the engine's stop timeout is not a gate)
CMD = [
    "/bin/sh",
    "-c",
    'trap "exit 0" TERM; /bin/busybox httpd -f -p 8080 -h /www & wait',
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--wave", type=int, default=5)
    ap.add_argument("--soak", type=float, default=10.0, help="seconds per wave")
    ap.add_argument("--grace", type=float, default=1.0, help="health grace, seconds")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save-record", type=Path, help="write the rollout's JSON record here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="pw-bench-rollout-") as tmp:
        work = Path(tmp)
        with RegistryServer("none") as reg, podman_service("podman", work) as url:
            return run(args, work, reg, url)


def run(args: argparse.Namespace, work: Path, reg: RegistryServer, url: str) -> int:
    engine = EngineClient(url)
    layouts = work / "layouts"
    layouts.mkdir()
    d1 = push_web_image(layouts, reg.host, "bench/web", "1.0.0", version="v1", cmd=CMD)
    d2 = push_web_image(layouts, reg.host, "bench/web", "1.0.1", version="v2", cmd=CMD)
    engine.api.pull(f"{reg.host}/bench/web", tag="1.0.0")
    names = []
    for i in range(args.containers):
        name = f"bench-web-{i:02d}"
        body = {
            "Image": f"{reg.host}/bench/web:1.0.0",
            "Labels": {"bench.env": "prod"},
            "HostConfig": _published(str(free_port())),
        }
        engine.api.start(engine.api.create_container_from_config(body, name=name)["Id"])
        names.append(name)
    floor = engine_floor(engine, reg.host, args.wave)
    config = work / "patchwarden.yaml"
    env = {
        "name": "prod",
        "engine": url,
        "containers": {"label": "bench.env=prod"},
        "waves": {"canary": args.wave, "max_parallel": args.wave},
        "stop_timeout": 5,
        "gates": {
            "health": {"http": "http://127.0.0.1:{port:8080}/version", "grace": args.grace},
            "soak": args.soak,
            "soak_interval": 1,
        },
    }
    config.write_text(
        json.dumps({"registries": {reg.host: {"insecure": True}}, "environments": [env]})
    )
    argv = [sys.executable, "-m", "patchwarden.cli.main", "rollout", "start"]
    argv += [f"{reg.host}/bench/web@{d2}", "--config", str(config)]
    argv += ["--state", str(work / "state.db"), "--format", "json"]
    load_before = os.getloadavg()[0]
    t0 = time.monotonic()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600)
    wall = time.monotonic() - t0
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    doc = json.loads(proc.stdout)
    if args.save_record:
        args.save_record.write_text(proc.stdout)
    (prod,) = doc["environments"]
    waves = prod["waves"]
    configured = len(waves) * (args.grace + args.soak)
    gate_time = {
        g: round(sum(x["duration_s"] for w in waves for x in w["gates"] if x["gate"] == g), 2)
        for g in ("deploy", "soak")
    }
    outside = (wall - configured) / wall
    engine_total = len(waves) * floor
    own = (wall - configured - engine_total) / wall
    moved = all(engine.info(n).digest == d2 for n in names)
    result = {
        "containers": args.containers,
        "waves": [len(w["containers"]) for w in waves],
        "wall_s": round(wall, 2),
        "configured_gate_and_soak_s": configured,
        "deploy_gate_s_total": gate_time["deploy"],
        "soak_s_total": gate_time["soak"],
        "outside_fraction": round(outside, 3),
        # where the outside time went
        "replace_beyond_grace_s": round(gate_time["deploy"] - len(waves) * args.grace, 2),
        "soak_beyond_configured_s": round(gate_time["soak"] - len(waves) * args.soak, 2),
        "other_s": round(wall - gate_time["deploy"] - gate_time["soak"], 2),
        "engine_floor_per_wave_s": round(floor, 2),
        "engine_floor_total_s": round(engine_total, 2),
        "own_fraction": round(own, 3),
        "goal": 0.10,
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "all_on_new_digest": moved,
        "old_digest": d1,
        "new_digest": d2,
    }
    for n in names:
        engine.remove(n, force=True)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for k, v in result.items():
            print(f"{k:28} {v}")
        verdict = "PASS" if outside <= 0.10 and moved else "FAIL"
        print(f"{verdict}: {outside:.1%} of the rollout outside the configured gate/soak time")
        print(
            f"{own:.1%} outside both the gate/soak time and the engine's own replacement time "
            f"({floor:.2f} s per wave of {args.wave}, same run)"
        )
    return 0 if moved else 1


def engine_floor(engine: EngineClient, host: str, width: int) -> float:
    """Seconds the engine itself takes to replace ``width`` containers in parallel (create
    from the new image with the same published port, stop the old, rename both, start the
    new, remove the old), without patchwarden: the mean of two rounds (to the new image and
    back)."""
    names, ports = [], {}
    for i in range(width):
        name = f"bench-floor-{i:02d}"
        ports[name] = str(free_port())
        body = {
            "Image": f"{host}/bench/web:1.0.0",
            "Labels": {"bench.env": "floor"},
            "HostConfig": _published(ports[name]),
        }
        engine.api.start(engine.api.create_container_from_config(body, name=name)["Id"])
        names.append(name)
    engine.api.pull(f"{host}/bench/web", tag="1.0.1")

    def replace(name: str, image: str) -> None:
        body = {"Image": image, "HostConfig": _published(ports[name])}
        new = engine.api.create_container_from_config(body, name=f"{name}-new")
        engine.api.stop(name, timeout=5)
        engine.api.rename(name, f"{name}-old")
        engine.api.rename(new["Id"], name)
        engine.api.start(new["Id"])
        engine.api.remove_container(f"{name}-old", force=True)

    rounds = []
    for tag in ("1.0.1", "1.0.0"):
        t0 = time.monotonic()
        with ThreadPoolExecutor(width) as pool:
            image = f"{host}/bench/web:{tag}"
            list(pool.map(replace, names, [image] * width))
        rounds.append(time.monotonic() - t0)
    for n in names:
        engine.remove(n, force=True)
    return sum(rounds) / len(rounds)


def _published(port: str) -> dict[str, object]:
    return {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}}


if __name__ == "__main__":
    raise SystemExit(main())
