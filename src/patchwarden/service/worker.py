"""``patchwarden worker``'s side of a job: the same :class:`~patchwarden.service.process.Service`
objects (configuration, stores, the job table, notifications) without the HTTP server and
the scheduler, delivering the tasks the broker hands this process."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from patchwarden.config.schema import Config
from patchwarden.queue.model import Delivery
from patchwarden.service.delivery import Deliverer
from patchwarden.service.process import Service


class WorkerHost:
    def __init__(self, config: Config, paths: Sequence[Path], state: str | None) -> None:
        self.svc = Service(config, paths, state=state)
        self.deliver = Deliverer(
            self.svc.tasks,
            self.svc.jobs,
            self.svc.handlers,
            config.queue,
            owner=self.svc.owner,
            on_finish=self.svc._finished,
        )

    def __call__(self, task_id: str) -> Delivery:
        return self.deliver(task_id)
