"""The gates after each wave: test commands, then the soak (with the metrics gate during it).

A test command runs on the patchwarden host with ``sh -c`` and a time limit (its process group
is killed when the limit passes); the tail of its output is kept in the record. The soak checks
the wave's containers every ``soak_interval``: they must keep running, not restart, and pass
their probes; a metrics gate's PromQL query must stay within its bounds the whole time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from patchwarden.app.rollout.prometheus import MetricsError, MetricsSource, within
from patchwarden.config.rollout import MetricsGate, TestCommand

OUTPUT_KEPT = 16 * 1024  # bytes of a test command's output kept in the record


@dataclass(frozen=True, slots=True)
class Outcome:
    ok: bool
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)


def run_tests(tests: list[TestCommand], env: Mapping[str, str], cwd: str | None) -> Outcome:
    """Every test command in order; the first failure stops the gate."""
    runs: list[dict[str, Any]] = []
    for i, test in enumerate(tests):
        name = test.name or f"test {i + 1}"
        run = run_command(test.run, test.timeout.total_seconds(), env, cwd)
        runs.append({"name": name, "command": test.run, **run})
        if run["exit_code"] != 0:
            what = (
                f"timed out after {test.timeout.total_seconds():g}s"
                if run["exit_code"] is None
                else f"exited {run['exit_code']}"
            )
            tail = _last_line(run["output"])
            return Outcome(False, f"{name} {what}" + (f": {tail}" if tail else ""), {"runs": runs})
    return Outcome(True, f"{len(tests)} test command(s) passed", {"runs": runs})


def run_command(
    command: str, timeout: float, env: Mapping[str, str], cwd: str | None
) -> dict[str, Any]:
    """Run ``sh -c command``; exit code (None: killed at the time limit), kept output, time."""
    t0 = time.monotonic()
    with tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(  # noqa: S603 - argv list, no shell of ours; the command is the user's configured test
            ["sh", "-c", command],  # noqa: S607 - sh from PATH, as the user runs it
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env={**os.environ, **env},
            start_new_session=True,
        )
        try:
            code: int | None = proc.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
            _kill_group(proc)
        size = out.seek(0, os.SEEK_END)
        out.seek(max(0, size - OUTPUT_KEPT))
        text = out.read().decode("utf-8", "replace")
    if size > OUTPUT_KEPT:
        text = f"[{size - OUTPUT_KEPT} earlier bytes not kept]\n" + text
    return {"exit_code": code, "output": text, "duration_s": round(time.monotonic() - t0, 3)}


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def check_metrics(source: MetricsSource, gate: MetricsGate) -> tuple[str | None, list[float]]:
    """(what is wrong or None, the sample values) for one evaluation of the query."""
    try:
        samples = source.query(gate.prometheus, gate.query)
    except MetricsError as exc:
        return f"metrics: {exc.message}", []
    values = [s.value for s in samples]
    if not samples:
        return (None if gate.on_no_data == "pass" else "metrics: the query returned no data"), []
    bad = [v for v in values if not within(v, gate.min, gate.max)]
    if bad:
        bounds = " and ".join(
            x
            for x in (
                f">= {gate.min:g}" if gate.min is not None else "",
                f"<= {gate.max:g}" if gate.max is not None else "",
            )
            if x
        )
        return f"metrics: {gate.query} = {bad[0]:g}, must be {bounds}", values
    return None, values


def soak(
    duration: float,
    interval: float,
    check: Callable[[], str | None],
    metrics: Callable[[], tuple[str | None, list[float]]] | None,
    metrics_interval: float,
    heartbeat: Callable[[], None] = lambda: None,
) -> tuple[Outcome, Outcome | None]:
    """(soak outcome, metrics outcome or None). Checks at the start, every ``interval``
    and at the end; the metrics query at the start, every ``metrics_interval`` and at the end.
    The first problem ends both."""
    t0 = time.monotonic()
    end = t0 + duration
    checks = evaluations = 0
    next_check = next_metrics = t0
    values: list[float] = []
    while True:
        now = time.monotonic()
        last = now >= end
        if now >= next_check or last:
            checks += 1
            problem = check()
            if problem:
                held = round(now - t0, 3)
                soak_out = Outcome(False, f"{problem} (after {held:g}s)", {"checks": checks})
                return soak_out, (_metrics_out(True, "", evaluations, values) if metrics else None)
            next_check = now + interval
        if metrics is not None and (now >= next_metrics or last):
            evaluations += 1
            problem, got = metrics()
            values = got or values
            if problem:
                held = round(now - t0, 3)
                return (
                    Outcome(
                        True, f"stopped by the metrics gate after {held:g}s", {"checks": checks}
                    ),
                    _metrics_out(False, f"{problem} (after {held:g}s)", evaluations, values),
                )
            next_metrics = now + metrics_interval
        if last:
            break
        heartbeat()
        time.sleep(
            max(0.0, min(next_check, next_metrics if metrics else end, end) - time.monotonic())
        )
    soak_out = Outcome(True, f"no restarts or failed probes for {duration:g}s", {"checks": checks})
    met = (
        _metrics_out(True, f"within bounds for {duration:g}s", evaluations, values)
        if metrics
        else None
    )
    return soak_out, met


def _metrics_out(ok: bool, reason: str, evaluations: int, values: list[float]) -> Outcome:
    return Outcome(ok, reason, {"evaluations": evaluations, "last_values": values[:20]})
