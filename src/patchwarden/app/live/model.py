"""What a live update produces and consumes: results, candidates, hook results, the store seam."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.core.ref import ImageRef
from patchwarden.engine.info import ContainerInfo

if TYPE_CHECKING:  # the store package loads SQLAlchemy
    from patchwarden.store.model import UpdateRecord


class RecordStore(Protocol):
    """Where live results are kept (:class:`patchwarden.store.Store`; a memory fake in tests)."""

    def record(self, rec: UpdateRecord) -> UpdateRecord: ...
    def history(self, container: str | None = None, limit: int = 100) -> list[UpdateRecord]: ...


class ContainerLocks(Protocol):
    """One lock per container of one engine (:mod:`patchwarden.store.locks`): ``hold(name)``
    yields None once the lock is held (released on exit), or, without waiting, a description
    of the run that holds it."""

    def hold(self, name: str) -> AbstractContextManager[str | None]: ...


class LocalLocks:
    """Locks within this process only: what an updater has when its store offers none."""

    def __init__(self, owner: str = "another update in this process") -> None:
        self.owner = owner
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    @contextlib.contextmanager
    def hold(self, name: str) -> Iterator[str | None]:
        with self._mutex:
            busy = name in self._held
            self._held.add(name)
        if busy:
            yield self.owner
            return
        try:
            yield None
        finally:
            with self._mutex:
                self._held.discard(name)


def busy_reason(holder: str) -> str:
    """Why a container was left alone: another run holds its lock."""
    return (
        f"another patchwarden run is acting on it: {holder}; skipped (not waited for), "
        "run again once that run is over"
    )


@dataclass(frozen=True, slots=True)
class LiveResult:
    container: str
    from_image: str
    from_digest: str | None
    to_image: str
    to_digest: str | None
    outcome: LiveOutcome
    reason: str
    gates: dict[str, Any] = field(default_factory=dict)
    action: LiveAction = LiveAction.UPDATE


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the policy decided for one container: an image to move to, or why not."""

    image: ImageRef | None  # repository:tag@digest to move to; None: nothing to do
    outcome: LiveOutcome | None  # up-to-date | skipped | failed when image is None
    reason: str


CandidateFn = Callable[[ContainerInfo, ImageRef], Candidate]

# Told each step of a live procedure as it happens: (container name, step text).
StepFn = Callable[[str, str], None]


class StepLog(list[str]):
    """The steps of one container's procedure (kept in its record), each also told to
    ``on_step`` as it happens, so a user watching sees progress rather than silence."""

    def __init__(self, container: str, on_step: StepFn | None, first: str | None = None) -> None:
        super().__init__()
        self._container, self._on_step = container, on_step
        if first is not None:
            self.append(first)

    def append(self, step: str) -> None:
        super().append(step)
        if self._on_step is not None:
            self._on_step(self._container, step)


@dataclass(frozen=True, slots=True)
class HookResult:
    phase: str  # pre-update | post-update
    command: str
    exit_code: int | None  # None: did not finish in time, or could not be run
    output: str  # the last lines
    timeout: float
    duration_s: float
    error: str = ""  # the engine refused to run it

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.error

    @property
    def summary(self) -> str:
        if self.error:
            what = f"could not run: {self.error}"
        elif self.exit_code is None:
            what = f"timed out after {self.timeout:g}s"
        else:
            what = f"exited {self.exit_code}"
        return f"{what}: {self.output}" if self.output and not self.ok else what


def untouched(
    name: str,
    image: str,
    digest: str | None,
    outcome: LiveOutcome,
    reason: str,
    action: LiveAction = LiveAction.UPDATE,
) -> LiveResult:
    """A result that leaves the container as it is."""
    return LiveResult(name, image, digest, image, digest, outcome, reason, {}, action)
