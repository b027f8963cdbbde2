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

The CLI runs as its own process, as a user runs it, with a fresh state store (its creation and
migration are part of the measured run). The machine's load average is printed with the result
(the numbers move with it). See bench/README.md.

Where the time went: the CLI runs with ``PATCHWARDEN_TIMINGS`` (its timing log: every engine
call, state-store write, probe, health grace and soak, with start and length) and the bench
gives every instant of the wall time to one phase (the configured grace/soak first, then the
engine calls, probes, store writes, ...; ``startup`` before the first timed step, ``exit``
after the command ended, ``other`` Python between timed calls). Calls overlap across threads,
so ``wall s`` adds up to the wall time while ``sum s`` is the calls' own total.

Configuration: the rollout runs with the defaults of ``waves``, so ``waves.prepare`` is on:
the next wave's containers are created (not started) while a wave is gated, concurrently with
its soak checks; ``--no-prepare`` turns that off, for comparison in the same conditions. The
container count (20) and wave size (5) are the issue's; the issue names no soak length, and
the fraction depends on it (the time outside is a cost per wave and per run, the configured
time grows with the soak), so the bench runs the rollout once per ``--soak`` (default: 10 s, a
very short soak, and 60 s, the default analysis interval of Flagger and the shortest soak
step Argo Rollouts' examples use) and prints both, with the seconds outside per wave.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

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
    ap.add_argument(
        "--soak",
        type=float,
        action="append",
        help="soak seconds per wave; repeat to run once per value (default: 10 and 60)",
    )
    ap.add_argument("--grace", type=float, default=1.0, help="health grace, seconds")
    ap.add_argument(
        "--no-prepare",
        action="store_true",
        help="waves.prepare: false (the next wave's containers are not created ahead)",
    )
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save-record", type=Path, help="write the rollout's JSON record here")
    ap.add_argument("--save-timings", type=Path, help="copy the CLI's timing log (JSON lines) here")
    args = ap.parse_args()
    soaks = args.soak or [10.0, 60.0]
    results = []
    with tempfile.TemporaryDirectory(prefix="pw-bench-rollout-") as tmp:
        work = Path(tmp)
        with RegistryServer("none") as reg, podman_service("podman", work) as url:
            layouts = work / "layouts"
            layouts.mkdir()
            d1 = push_web_image(layouts, reg.host, "bench/web", "1.0.0", version="v1", cmd=CMD)
            d2 = push_web_image(layouts, reg.host, "bench/web", "1.0.1", version="v2", cmd=CMD)
            for i, soak in enumerate(soaks):
                run_dir = work / f"run-{i}"
                run_dir.mkdir()
                args.soak = soak
                try:
                    result = run(args, run_dir, reg, url, (d1, d2))
                finally:  # also after a failed run: containers outlive the engine's API service
                    _remove_all(EngineClient(url))
                if result is None:
                    return 1
                results.append(result)
    if args.json:
        print(json.dumps(results if len(results) > 1 else results[0], indent=2))
    else:
        summary(results, args.wave)
    return 0 if all(r["all_on_new_digest"] for r in results) else 1


def summary(results: list[dict[str, Any]], wave: int) -> None:
    """One line per soak length: the fraction outside the configured time and what it is
    made of, per wave."""
    print(f"\nsummary ({results[0]['containers']} containers, waves of {wave}):")
    print(
        f"  {'soak s':>6} {'wall s':>7} {'configured':>10} {'outside':>8} {'per wave':>9} "
        f"{'engine/wave':>11} {'own':>6}  goal <= 10 %"
    )
    for r in results:
        n = len(r["waves"])
        out_s = r["wall_s"] - r["configured_gate_and_soak_s"]
        verdict = "PASS" if r["outside_fraction"] <= r["goal"] else "FAIL"
        print(
            f"  {r['soak_s']:6g} {r['wall_s']:7.1f} {r['configured_gate_and_soak_s']:10.1f} "
            f"{r['outside_fraction']:8.1%} {out_s / n:8.2f}s {r['engine_floor_per_wave_s']:10.2f}s "
            f"{r['own_fraction']:6.1%}  {verdict}"
        )


def run(
    args: argparse.Namespace, work: Path, reg: RegistryServer, url: str, digests: tuple[str, str]
) -> dict[str, Any] | None:
    engine = EngineClient(url)
    d1, d2 = digests
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
        # waves.prepare stays at its default unless --no-prepare (so that the bench also
        # drives versions that do not know the key)
        "waves": {
            "canary": args.wave,
            "max_parallel": args.wave,
            **({"prepare": False} if args.no_prepare else {}),
        },
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
    timings = work / "timings.jsonl"
    cli_env = {**os.environ, "PATCHWARDEN_TIMINGS": str(timings)}
    load_before = os.getloadavg()[0]
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0, wall0 = time.monotonic(), time.time()
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=3600, env=cli_env)
    wall = time.monotonic() - t0
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # the CLI process's own CPU time (the engine's is Podman's): moves less with the load
    cli_cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return None
    doc = json.loads(proc.stdout)
    if args.save_record:
        _per_soak(args.save_record, args.soak).write_text(proc.stdout)
    if args.save_timings and timings.is_file():
        _per_soak(args.save_timings, args.soak).write_text(timings.read_text())
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
        "soak_s": args.soak,
        "waves": [len(w["containers"]) for w in waves],
        "prepare": not args.no_prepare,
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
        "cli_cpu_s": round(cli_cpu, 2),
        "goal": 0.10,
        "load_avg_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "all_on_new_digest": moved,
        "old_digest": d1,
        "new_digest": d2,
        "phases": breakdown(read_spans(timings), wall0, wall0 + wall),
    }
    for n in names:
        engine.remove(n, force=True)
    if not args.json:
        print(f"\n== soak {args.soak:g} s")
        for k, v in result.items():
            if k != "phases":
                print(f"{k:28} {v}")
        print_phases(result["phases"], wall)
        verdict = "PASS" if outside <= 0.10 and moved else "FAIL"
        print(f"{verdict}: {outside:.1%} of the rollout outside the configured gate/soak time")
        print(
            f"{own:.1%} outside both the gate/soak time and the engine's own replacement time "
            f"({floor:.2f} s per wave of {args.wave}, same run)"
        )
    return result


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


# Where the wall time went, from the CLI's own timing log (PATCHWARDEN_TIMINGS): every instant
# of the run is given to one phase, the first in this order that was in progress then (calls
# run in parallel threads, so a plain sum would count an instant several times).
PRIORITY = [
    "gate.grace",  # the configured health grace (its engine polls included)
    "soak",  # the configured soak (its checks included)
    "engine.create",
    "engine.stop",
    "engine.start",
    "engine.rename",
    "engine.remove",
    "engine.pull",
    "engine.inspect",
    "engine.inspect_image",
    "engine.list",
    "engine.connect",
    "engine.version",
    "engine.other",
    "probe",
    "store.open",
    "store.save",
    "store.step",
    "store.history",
    "plan.select",
    "config",
]
CONFIGURED = {"gate.grace", "soak"}


def read_spans(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def breakdown(spans: list[dict[str, Any]], t0: float, t1: float) -> dict[str, dict[str, float]]:
    """Seconds of wall time per phase (they add up to the wall time), calls and the summed
    time of every call (threads overlap) per phase. ``startup``: from the process being
    started to its first timed step (interpreter, imports, argument parsing); ``exit``: from
    the command's end to the process's; ``other``: Python between the timed calls."""
    marks = {s["phase"]: s["start"] for s in spans if s["seconds"] == 0.0}
    timed = [s for s in spans if s["seconds"] > 0.0 and s["phase"] in PRIORITY]
    first = min((s["start"] for s in timed), default=t1)
    end = marks.get("exit", t1)
    events: list[tuple[float, int, str]] = [(t0, 1, "startup"), (first, -1, "startup")]
    events += [(end, 1, "exit"), (t1, -1, "exit")]
    for s in timed:
        events += [(s["start"], 1, s["phase"]), (s["start"] + s["seconds"], -1, s["phase"])]
    events.sort(key=lambda e: (e[0], e[1]))
    rank = {p: i for i, p in enumerate(["startup", "exit", *PRIORITY])}
    active = dict.fromkeys(rank, 0)
    out: dict[str, dict[str, float]] = {}
    last = t0
    for at, delta, phase in events:
        at = min(max(at, t0), t1)
        if at > last:
            live = [p for p, n in active.items() if n > 0]
            who = min(live, key=rank.__getitem__) if live else "other"
            out.setdefault(who, {"wall_s": 0.0})["wall_s"] += at - last
            last = at
        active[phase] += delta
    if t1 > last:
        out.setdefault("other", {"wall_s": 0.0})["wall_s"] += t1 - last
    for s in timed:
        row = out.setdefault(s["phase"], {"wall_s": 0.0})
        row["calls"] = row.get("calls", 0) + 1
        row["call_s"] = row.get("call_s", 0.0) + s["seconds"]
    return {
        k: {x: round(v, 3) for x, v in row.items()}
        for k, row in sorted(out.items(), key=lambda kv: -kv[1]["wall_s"])
    }


def print_phases(phases: dict[str, dict[str, float]], wall: float) -> None:
    head = f"{'wall s':>7} {'share':>6} {'calls':>6} {'sum s':>7}"
    print(f"{'phase (wall time given to it)':28} {head}")
    outside = 0.0
    for name, row in phases.items():
        share = row["wall_s"] / wall if wall else 0.0
        inside = name in CONFIGURED
        outside += 0.0 if inside else row["wall_s"]
        calls = f"{int(row['calls']):6d}" if "calls" in row else " " * 6
        total = f"{row['call_s']:7.2f}" if "call_s" in row else " " * 7
        label = f"{name}{' (configured)' if inside else ''}"
        print(f"  {label:26} {row['wall_s']:7.2f} {share:6.1%} {calls} {total}")
    print(f"  {'outside grace/soak spans':26} {outside:7.2f} {outside / wall:6.1%}")


def _remove_all(engine: EngineClient) -> None:
    """Every container of the bench's own Podman service (its storage is the bench's)."""
    for c in engine.list_containers(all=True):
        engine.remove(c.id, force=True)


def _per_soak(path: Path, soak: float) -> Path:
    """``record.json`` -> ``record-soak10.json``: one file per rollout of the run."""
    return path.with_name(f"{path.stem}-soak{soak:g}{path.suffix}")


def _published(port: str) -> dict[str, object]:
    return {"PortBindings": {"8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": port}]}}


if __name__ == "__main__":
    raise SystemExit(main())
