"""Run named jobs on threads, each under its lease in the state store.

Requests for a job that is queued or running are merged (one more run covers them all), so a
burst of registry events costs one check. A run first takes the job's lease
(:class:`~patchwarden.store.jobs.JobStore`); while another process holds it, the request waits
(it is not dropped: an event must still be handled). The lease is renewed while the job runs;
a process that dies leaves a lease that expires, and the job runs again elsewhere.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from patchwarden.errors import PatchwardenError
from patchwarden.net.redact import redact_text
from patchwarden.store.jobs import JobStore

log = logging.getLogger("patchwarden.service.jobs")


@dataclass(frozen=True, slots=True)
class Trigger:
    """Why a job runs; ``repositories`` narrows a check to what an event named (None: all)."""

    kind: str  # startup | schedule | hook | git | api | recovery
    detail: str = ""
    repositories: frozenset[str] | None = None
    pull: frozenset[tuple[str, str]] = frozenset()  # (path, branch) to fast-forward first

    def merge(self, other: Trigger) -> Trigger:
        repos = (
            None
            if self.repositories is None or other.repositories is None
            else self.repositories | other.repositories
        )
        kind = self.kind if self.kind == other.kind else f"{self.kind}+{other.kind}"
        detail = "; ".join(d for d in (self.detail, other.detail) if d)
        return Trigger(kind, detail[:240], repos, self.pull | other.pull)


Handler = Callable[[Trigger], str]
Finished = Callable[[str, str, float, str], None]  # job, outcome, seconds, summary


class JobRunner:
    def __init__(
        self,
        store: JobStore,
        handlers: dict[str, Handler],
        *,
        owner: str,
        lease: timedelta = timedelta(seconds=60),
        on_finish: Finished | None = None,
        retry_wait: float = 1.0,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.owner = owner
        self.lease = lease
        self.on_finish = on_finish
        self.retry_wait = retry_wait
        self._lock = threading.Lock()
        self._queued: dict[str, Trigger] = {}
        self._workers: dict[str, threading.Thread] = {}
        self._stopping = threading.Event()

    def submit(self, job: str, trigger: Trigger) -> None:
        if job not in self.handlers:
            raise KeyError(job)
        with self._lock:
            if self._stopping.is_set():
                log.warning("not starting %s (%s): shutting down", job, trigger.kind)
                return
            queued = self._queued.get(job)
            self._queued[job] = trigger if queued is None else queued.merge(trigger)
            worker = self._workers.get(job)
            if worker is None or not worker.is_alive():
                worker = threading.Thread(
                    target=self._worker, args=(job,), name=f"job-{job}", daemon=True
                )
                self._workers[job] = worker
                worker.start()

    def busy(self) -> list[str]:
        with self._lock:
            return sorted(j for j, w in self._workers.items() if w.is_alive())

    def _worker(self, job: str) -> None:
        while True:
            with self._lock:
                trigger = self._queued.pop(job, None)
                if trigger is None or self._stopping.is_set():
                    self._workers.pop(job, None)
                    return
            self._run(job, trigger)

    def _run(self, job: str, trigger: Trigger) -> None:
        waited = False
        while not self.store.acquire(job, self.owner, self.lease):
            if not waited:
                log.info("%s is running elsewhere; waiting for its lease", job)
                waited = True
            if self._stopping.wait(self.retry_wait):
                log.warning("dropping %s (%s): shutting down", job, trigger.kind)
                return
        run_id = self.store.start_run(job, f"{trigger.kind}: {trigger.detail}", self.owner)
        beat_stop = threading.Event()
        beat = threading.Thread(
            target=self._heartbeat, args=(job, beat_stop), name=f"lease-{job}", daemon=True
        )
        beat.start()
        t0 = time.monotonic()
        outcome, summary = "failed", ""
        log.info("job %s started (%s %s)", job, trigger.kind, trigger.detail)
        try:
            summary = self.handlers[job](trigger)
            outcome = "succeeded"
        except PatchwardenError as exc:
            summary = redact_text(str(exc))
        except Exception as exc:  # a bug in a job must not kill the service
            log.exception("job %s crashed", job)
            summary = redact_text(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            seconds = time.monotonic() - t0
            log.info("job %s %s in %.2fs: %s", job, outcome, seconds, summary)
            if self.on_finish is not None:  # metrics and alerts first: the run is visible
                try:  # in the store only once they are done
                    self.on_finish(job, outcome, seconds, summary)
                except Exception:
                    log.exception("after job %s", job)
            beat_stop.set()
            beat.join()
            self.store.release(job, self.owner, outcome, (run_id, summary, seconds))

    def _heartbeat(self, job: str, stop: threading.Event) -> None:
        every = max(self.lease.total_seconds() / 3, 0.05)
        while not stop.wait(every):
            if not self.store.renew(job, self.owner, self.lease):
                log.error("lost the lease of %s (the store was unreachable for too long)", job)

    def stop(self, timeout: float = 30.0) -> bool:
        """Refuse new runs, drop queued ones, let running ones finish; True when all did."""
        self._stopping.set()
        deadline = time.monotonic() + timeout
        with self._lock:
            self._queued.clear()
            workers = list(self._workers.values())
        for w in workers:
            w.join(max(0.0, deadline - time.monotonic()))
        return not any(w.is_alive() for w in workers)
