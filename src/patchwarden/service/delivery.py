"""One delivery of a queued task, in a worker: the same job code ``serve`` runs in process,
under the same job lease, plus the task record that makes an at-least-once broker run each task
once (:mod:`patchwarden.store.tasks`).

A delivery takes the job's lease (per job and scope: two checks of different repositories run
side by side on two workers, two of the same never), claims the task, runs the handler with
both leases renewed, then records the outcome. Failures are retried with exponential backoff
(``queue.retry_backoff``, doubling, at most 10 minutes) up to ``queue.max_retries``; then the
task is *dead* (listed by ``GET /api/v1/tasks?state=dead`` and on the dashboard).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from patchwarden.config.queue import QueueConfig
from patchwarden.errors import PatchwardenError
from patchwarden.net.redact import redact_text
from patchwarden.queue.model import Delivery, Verdict
from patchwarden.service.runner import Finished, Handler, Trigger
from patchwarden.store.jobs import JobStore
from patchwarden.store.tasks import Begin, Task, TaskState, TaskStore

log = logging.getLogger("patchwarden.worker")
MAX_BACKOFF = 600.0


def lease_name(task: Task) -> str:
    repos = task.trigger.get("repositories")
    if repos is None:
        return task.job
    digest = hashlib.sha256("\n".join(repos).encode()).hexdigest()[:16]
    return f"{task.job}:{digest}"


def to_trigger(task: Task) -> Trigger:
    t = task.trigger
    repos = t.get("repositories")
    return Trigger(
        str(t.get("kind", "queue")),
        str(t.get("detail", "")),
        None if repos is None else frozenset(repos),
    )


class Deliverer:
    def __init__(
        self,
        tasks: TaskStore,
        jobs: JobStore,
        handlers: Mapping[str, Handler],
        cfg: QueueConfig,
        *,
        owner: str,
        on_finish: Finished | None = None,
    ) -> None:
        self.tasks = tasks
        self.jobs = jobs
        self.handlers = handlers
        self.cfg = cfg
        self.owner = owner
        self.on_finish = on_finish
        # short enough that a lost worker's job is taken over soon after the broker redelivers
        seconds = min(60.0, max(5.0, cfg.visibility_timeout.total_seconds() / 2))
        self.lease = timedelta(seconds=seconds)

    def backoff(self, attempts: int) -> float:
        return float(min(MAX_BACKOFF, self.cfg.retry_backoff.total_seconds() * 2 ** (attempts - 1)))

    def __call__(self, task_id: str) -> Delivery:
        task = self.tasks.get(task_id)
        if task is None or task.state in (TaskState.SUCCEEDED, TaskState.DEAD):
            return Delivery(Verdict.DONE, f"task {task_id} already ended")
        lease = lease_name(task)
        if not self.jobs.acquire(lease, self.owner, self.lease):
            st = self.jobs.state(lease)
            wait = self.lease.total_seconds() / 2
            if st is not None and st.lease_expires is not None:
                wait = max(0.5, min(wait, (st.lease_expires - _now()).total_seconds() + 0.1))
            return Delivery(Verdict.RETRY, f"{lease} is running elsewhere", wait)
        outcome = "failed"
        run: tuple[int, str, float] | None = None
        try:
            started = self.tasks.begin(task_id, self.owner, self.lease)
            if started.outcome == Begin.DONE or started.task is None:
                return Delivery(Verdict.DONE, f"task {task_id} already ended")
            if started.outcome == Begin.BUSY:
                return Delivery(Verdict.RETRY, f"task {task_id} runs elsewhere", started.wait)
            task = started.task
            if started.previous_run is not None:
                self.jobs.finish_run(
                    started.previous_run, "interrupted", "the worker running it was lost", 0.0
                )
            if task.attempts > self.cfg.max_retries + 1:  # earlier attempts never came back
                why = (
                    f"gave up after {task.attempts - 1} attempts that never finished "
                    "(the worker was lost each time, or queue.time_limit stopped it)"
                )
                self.tasks.finish(task.id, self.owner, TaskState.DEAD, why)
                log.error("task %s dead: %s", task.id, why)
                return Delivery(Verdict.DONE, why)
            outcome, delivery, run = self._run(task, lease)
            return delivery
        finally:
            self.jobs.release(lease, self.owner, outcome, run)

    def _run(self, task: Task, lease: str) -> tuple[str, Delivery, tuple[int, str, float]]:
        trigger = to_trigger(task)
        run_id = self.jobs.start_run(task.job, f"{trigger.kind}: {trigger.detail}", self.owner)
        self.tasks.attach_run(task.id, self.owner, run_id)
        stop = threading.Event()
        beat = threading.Thread(target=self._beat, args=(task.id, lease, stop), daemon=True)
        beat.start()
        t0 = time.monotonic()
        log.info("task %s: job %s started (attempt %d)", task.id, task.job, task.attempts)
        transient, outcome = True, "failed"  # a crash may be passing: retry it
        try:
            summary = self.handlers[task.job](trigger)
            outcome = "succeeded"
        except PatchwardenError as exc:
            summary, transient = redact_text(str(exc)), exc.transient
        except Exception as exc:  # a bug, a soft time limit: retried, then dead-lettered
            log.exception("task %s: job %s crashed", task.id, task.job)
            summary = redact_text(f"internal error: {type(exc).__name__}: {exc}")
        finally:
            stop.set()
            beat.join()
        seconds = time.monotonic() - t0
        if self.on_finish is not None:
            try:
                self.on_finish(task.job, outcome, seconds, summary)
            except Exception:
                log.exception("after task %s", task.id)
        run = (run_id, summary, seconds)
        if outcome == "succeeded":
            self.tasks.finish(task.id, self.owner, TaskState.SUCCEEDED, summary)
            return outcome, Delivery(Verdict.DONE, summary), run
        if transient and task.attempts <= self.cfg.max_retries:
            wait = self.backoff(task.attempts)
            self.tasks.finish(task.id, self.owner, TaskState.RETRYING, summary)
            log.warning("task %s failed (attempt %d), retry in %.0fs", task.id, task.attempts, wait)
            return outcome, Delivery(Verdict.RETRY, summary, wait), run
        self.tasks.finish(task.id, self.owner, TaskState.DEAD, summary)
        log.error("task %s dead after %d attempt(s): %s", task.id, task.attempts, summary)
        return outcome, Delivery(Verdict.DONE, summary), run

    def _beat(self, task_id: str, lease: str, stop: threading.Event) -> None:
        every = max(self.lease.total_seconds() / 3, 0.05)
        while not stop.wait(every):
            if not (
                self.jobs.renew(lease, self.owner, self.lease)
                and self.tasks.renew(task_id, self.owner, self.lease)
            ):
                log.error("task %s: lost its lease (the store was unreachable too long)", task_id)


def _now() -> datetime:
    return datetime.now(UTC)


Deliver = Callable[[str], Delivery]
