"""The update history a live update writes and reads: results as records, one thread at a time."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

from patchwarden.app.live.model import LiveResult, RecordStore
from patchwarden.core.live import LiveOutcome
from patchwarden.core.ref import ImageRef, parse_reference
from patchwarden.core.timing import span
from patchwarden.engine.info import ContainerInfo
from patchwarden.errors import UsageError


class History:
    """The record store behind a lock, so that concurrent updates use it in turn."""

    def __init__(self, store: RecordStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()

    def records(self, name: str, limit: int) -> list[Any]:
        """``name``'s records, newest first."""
        with self._lock:
            return self.store.history(name, limit=limit)

    def record(self, r: LiveResult, started: datetime, duration: float) -> None:
        from patchwarden.store.model import UpdateRecord

        rec = UpdateRecord(
            id=None,
            started_at=started,
            finished_at=self.clock(),
            container=r.container,
            from_image=r.from_image,
            from_digest=r.from_digest,
            to_image=r.to_image,
            to_digest=r.to_digest,
            outcome=r.outcome,
            reason=r.reason,
            gates=r.gates,
            duration_s=round(duration, 3),
            action=r.action,
        )
        with self._lock, span("store.history"):
            self.store.record(rec)

    def previous(self, name: str, info: ContainerInfo) -> ImageRef:
        """The image ``name`` ran before it was last updated away from a digest other than
        the one it runs now: what a rollback without ``--to`` goes back to."""
        for rec in self.records(name, 200):
            known = info.known_digests
            if (
                rec.outcome == LiveOutcome.UPDATED
                and rec.from_digest
                and rec.from_digest not in known
            ):
                base = parse_reference(rec.from_image)
                return base.with_digest(rec.from_digest)
        raise UsageError(
            f"no earlier digest of {name} in the history",
            "pass --to DIGEST, or see `patchwarden engine history`",
        )
