"""Start a Celery worker for ``patchwarden worker``: the prefork pool (one process per
``--concurrency`` slot, so a soft/hard time limit can stop a job), the patchwarden queue only,
and the dispatch each pool process builds for itself after the fork."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from patchwarden.queue.celery_app import QUEUE_NAME, Dispatch, set_dispatch

if TYPE_CHECKING:
    from celery import Celery


def run_worker(
    app: Celery,
    dispatch: Callable[[], Dispatch],
    *,
    concurrency: int = 1,
    name: str | None = None,
    loglevel: str = "INFO",
) -> int:
    """Run until SIGTERM (warm shutdown: running jobs finish) or SIGQUIT; the exit status."""
    set_dispatch(dispatch)
    worker = app.Worker(
        hostname=name or f"patchwarden@{socket.gethostname()}",
        pool="prefork",
        concurrency=concurrency,
        queues=[QUEUE_NAME],
        loglevel=loglevel,
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        optimization="fair",
    )
    worker.start()
    return int(worker.exitcode or 0)
