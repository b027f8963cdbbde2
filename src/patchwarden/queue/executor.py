"""The producer side: ``serve`` (and a job that asks for another) records a task in the state
store and sends its id to the broker; a worker picks it up."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from patchwarden.errors import PatchwardenError
from patchwarden.queue.celery_app import TASK_NAME
from patchwarden.queue.model import trigger_dict

if TYPE_CHECKING:
    from celery import Celery

    from patchwarden.store.tasks import TaskStore

log = logging.getLogger("patchwarden.queue")


class QueueError(PatchwardenError):
    pass


def merge_triggers(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    kind = old["kind"] if old["kind"] == new["kind"] else f"{old['kind']}+{new['kind']}"
    detail = "; ".join(d for d in (old["detail"], new["detail"]) if d)[:240]
    return {**old, "kind": kind, "detail": detail}


class CeleryExecutor:
    """An :class:`~patchwarden.queue.model.Executor` sending jobs to the worker fleet. A
    request for a job with the same scope that is still queued is merged into it."""

    def __init__(self, app: Celery, tasks: TaskStore, jobs: frozenset[str]) -> None:
        self.app = app
        self.tasks = tasks
        self.jobs = jobs
        self._stopping = False

    def submit(self, job: str, trigger: Any) -> str | None:
        if job not in self.jobs:
            raise KeyError(job)
        if self._stopping:
            log.warning("not queueing %s (%s): shutting down", job, trigger.kind)
            return None
        tid, new = self.tasks.enqueue(job, trigger_dict(trigger), merge_triggers)
        if new:
            try:
                self.app.send_task(TASK_NAME, args=[tid], task_id=tid)
            except Exception as exc:  # kombu's errors: the broker is down or refused us
                from patchwarden.net.redact import redact_text

                raise QueueError(
                    f"cannot queue job {job}: {redact_text(str(exc))}",
                    "check that the broker (queue.broker_url, $PATCHWARDEN_BROKER_URL) is "
                    "reachable",
                    transient=True,
                ) from None
        log.info("job %s queued as task %s (%s)", job, tid, "new" if new else "merged")
        return tid

    def send(self, task_id: str) -> None:
        """Send an existing task again (a dead-letter entry taken back)."""
        self.app.send_task(TASK_NAME, args=[task_id], task_id=task_id)

    def busy(self) -> list[str]:
        return []

    def stop(self, timeout: float = 30.0) -> bool:
        self._stopping = True
        return True
