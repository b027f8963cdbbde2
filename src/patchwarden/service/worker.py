"""``patchwarden worker``'s side of a job: the same :class:`~patchwarden.service.process.Service`
objects (configuration, stores, the job table, notifications) without the HTTP server and
the scheduler, delivering the tasks the broker hands this process. Before each task it
brings the local advisory index to the version ``serve`` published (:mod:`app.fleet`)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from patchwarden.config.schema import Config
from patchwarden.queue.model import Delivery
from patchwarden.service.delivery import Deliverer
from patchwarden.service.process import Service

log = logging.getLogger("patchwarden.worker")


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

        from patchwarden.advisories.dbpath import resolve_db_path
        from patchwarden.app.fleet import IndexSync
        from patchwarden.store.shared import SharedContent

        self.index_path = resolve_db_path(None, config.advisories.db_path)
        self.index = IndexSync(SharedContent(self.svc.store.engine, "advisory-index", 1 << 30))

    def __call__(self, task_id: str) -> Delivery:
        try:  # the advisory index serve published, before any job that may match with it
            self.index.pull(self.index_path)
        except Exception as exc:  # an old index is better than no job: the scan says its age
            log.warning("advisory index not updated: %s", exc)
        return self.deliver(task_id)
