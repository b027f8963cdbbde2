"""Where a run's time goes: named spans, written to a file only when asked for.

With ``PATCHWARDEN_TIMINGS=FILE`` in the environment, every :func:`span` (engine calls, state
store writes, health probes, the configured waits) is kept in memory and written to ``FILE`` as
JSON lines when the process exits: ``{"phase", "start", "seconds", "thread"}``, ``start`` in
seconds since the epoch (so another process, e.g. a benchmark, can line them up with its own
clock). Without the variable a span costs one attribute lookup. For benchmarks and diagnosis
(``bench/rollout.py`` reads it); never secrets: a phase is a fixed word, not a container name
or a URL.
"""

from __future__ import annotations

import atexit
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

ENV: Final = "PATCHWARDEN_TIMINGS"


class _Log:
    def __init__(self, path: str | None) -> None:
        self.path = path
        self.spans: list[tuple[str, float, float, str]] = []
        self._lock = threading.Lock()
        if path:
            atexit.register(self.write)

    def add(self, phase: str, start: float, seconds: float) -> None:
        row = (phase, start, seconds, threading.current_thread().name)
        with self._lock:
            self.spans.append(row)

    def write(self) -> None:
        if not self.path:
            return
        self.add("exit", time.time(), 0.0)
        with self._lock:
            rows, self.spans = self.spans, []
        with open(self.path, "a", encoding="utf-8") as fh:
            for phase, start, seconds, thread in rows:
                doc = {"phase": phase, "start": start, "seconds": seconds, "thread": thread}
                fh.write(json.dumps(doc) + "\n")


_log = _Log(os.environ.get(ENV) or None)


def enabled() -> bool:
    return _log.path is not None


@contextmanager
def span(phase: str) -> Iterator[None]:
    """Time the block as ``phase`` (when timings are on)."""
    if _log.path is None:
        yield
        return
    wall, t0 = time.time(), time.perf_counter()
    try:
        yield
    finally:
        _log.add(phase, wall, time.perf_counter() - t0)


def mark(phase: str) -> None:
    """A moment (a span of no length): e.g. when the command itself begins."""
    if _log.path is not None:
        _log.add(phase, time.time(), 0.0)
