"""The Celery application of the worker fleet: broker, delivery guarantees, time limits.

Delivery settings, and why:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a message is acknowledged only after its
  job ended, so a worker killed mid-job (SIGKILL, a lost machine) leaves it with the broker,
  which hands it to another worker (after ``queue.visibility_timeout`` on Redis; kombu's sweep
  for such messages runs every half visibility timeout, 1 to 10 seconds).
- ``worker_prefetch_multiplier = 1``: a worker holds one message per pool slot, so the others
  take the rest (long jobs do not queue up behind one busy worker).
- soft/hard time limits from ``queue.time_limit``: the soft one raises inside the job (a
  failure, retried with backoff); the hard one (10% later) ends the pool process.
- no result backend: outcomes live in the state store (``tasks``, ``job_runs``).

The message carries only the task id; the job and its trigger are read from the state store,
which makes redelivery and retries safe to merge and to inspect.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from patchwarden.queue.model import Delivery, Verdict

if TYPE_CHECKING:
    from celery import Celery

    from patchwarden.config.queue import QueueConfig

TASK_NAME = "patchwarden.run_job"
QUEUE_NAME = "patchwarden"

Dispatch = Callable[[str], Delivery]
_factory: list[Callable[[], Dispatch]] = []
_dispatch: list[Dispatch] = []


def set_dispatch(factory: Callable[[], Dispatch]) -> None:
    """What workers run for a task id; built on first use in each pool process (after the
    fork: database connections and thread pools are never shared across processes)."""
    _factory[:] = [factory]
    _dispatch.clear()


def _run(task_id: str) -> Delivery:
    if not _dispatch:
        if not _factory:
            raise RuntimeError("this process has no patchwarden dispatch (not a worker)")
        _dispatch.append(_factory[0]())
    return _dispatch[0](task_id)


def make_celery(cfg: QueueConfig, broker_url: str) -> Celery:
    from celery import Celery

    app = Celery("patchwarden", broker=broker_url, set_as_current=False)
    limit = cfg.time_limit.total_seconds()
    vis = cfg.visibility_timeout.total_seconds()
    backoff = min(60.0, cfg.retry_backoff.total_seconds())
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        # a hard time limit (or a crash) is not acknowledged: the job is delivered again and
        # its task record counts the attempt (dead after queue.max_retries)
        task_acks_on_failure_or_timeout=False,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_default_queue=QUEUE_NAME,
        task_serializer="json",
        accept_content=["json"],
        task_soft_time_limit=limit,
        task_time_limit=limit * 1.1 + 5,
        broker_transport_options={
            "visibility_timeout": vis,
            # kombu looks for messages of lost workers every interval x throttle seconds
            # (100 s by default): soon after they become visible again instead
            "unacked_restore_interval": max(1, min(10, int(vis / 2))),
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        enable_utc=True,
    )

    @app.task(bind=True, name=TASK_NAME, acks_late=True, max_retries=None)  # type: ignore[untyped-decorator]
    def run_job(self: Any, task_id: str) -> str:
        try:
            d = _run(task_id)
        except Exception as exc:  # the state store is unreachable: keep the message, later
            raise self.retry(exc=exc, countdown=backoff, max_retries=None) from None
        if d.verdict == Verdict.RETRY:
            raise self.retry(countdown=d.countdown, max_retries=None)
        return d.summary

    return app
