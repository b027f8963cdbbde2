"""Where ``check`` remembers what floating tags pointed at: the state store, not the cache.

A tag such as ``python:3.12-slim`` that moved is reported against the digest first seen for
it (its baseline) on every run until the references pin the new digest: a CI job with a fresh
cache directory, or ``--no-cache``, still sees it. Baselines are read once per run, on first
use (a run with no floating tag never opens the store); what the run saw is written back in
one transaction at its end.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from patchwarden.errors import PatchwardenError

if TYPE_CHECKING:
    from patchwarden.store import Store
    from patchwarden.store.model import TagBaseline


class TagMemory(Protocol):
    problem: str | None  # why drift is not tracked in this run, if it is not

    def baseline(self, image: str) -> TagBaseline | None:
        """What ``name:tag`` was first seen pointing at, and whether and when it moved."""
        ...

    def observe(self, image: str, digest: str) -> None: ...

    def flush(self) -> None: ...


class StoreTagMemory:
    """:class:`TagMemory` on the state store. A store that cannot be opened or written does
    not fail the check: drift is then not tracked and :attr:`problem` says why."""

    def __init__(
        self, open_store: Callable[[], Store], now: Callable[[], datetime] | None = None
    ) -> None:
        self._open = open_store
        self._now = now or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._store: Store | None = None
        self._baselines: dict[str, TagBaseline] | None = None
        self._seen: dict[str, str] = {}
        self.problem: str | None = None

    def _load(self) -> dict[str, TagBaseline]:
        with self._lock:
            if self._baselines is None:
                try:
                    self._store = self._open()
                    self._baselines = self._store.tag_baselines()
                except PatchwardenError as exc:
                    self.problem = f"digest drift of floating tags is not tracked: {exc}"
                    self._baselines = {}
            return self._baselines

    def baseline(self, image: str) -> TagBaseline | None:
        return self._load().get(image)

    def observe(self, image: str, digest: str) -> None:
        with self._lock:
            self._seen[image] = digest

    def flush(self) -> None:
        with self._lock:
            seen, self._seen = self._seen, {}
            store = self._store
        if store is None or not seen:
            return
        try:
            store.observe_tags(seen, self._now())
        except PatchwardenError as exc:
            self.problem = f"digest drift of floating tags is not tracked: {exc}"
