"""The executor seam: where a job request goes. In process (``service.runner.JobRunner``,
the default) or to the worker fleet (:class:`patchwarden.queue.executor.CeleryExecutor`);
``app.wiring.build_executor`` chooses. The same job code runs in both."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol


class JobTrigger(Protocol):
    """What a job request carries (``service.runner.Trigger`` is one)."""

    @property
    def kind(self) -> str: ...
    @property
    def detail(self) -> str: ...
    @property
    def repositories(self) -> frozenset[str] | None: ...


class Executor(Protocol):
    def submit(self, job: str, trigger: Any) -> object:
        """Run ``job`` for ``trigger`` (a :class:`JobTrigger`) soon, at least once."""
        ...

    def busy(self) -> list[str]:
        """Jobs running in this process."""
        ...

    def stop(self, timeout: float = 30.0) -> bool:
        """Refuse new requests; True when nothing of this process is left running."""
        ...


def trigger_dict(t: JobTrigger) -> dict[str, Any]:
    repos = None if t.repositories is None else sorted(t.repositories)
    return {"kind": t.kind, "detail": t.detail, "repositories": repos}


class Verdict(StrEnum):
    DONE = "done"  # acknowledge the message (the task succeeded, ended before, or is dead)
    RETRY = "retry"  # send it again after ``countdown`` seconds


@dataclass(frozen=True, slots=True)
class Delivery:
    verdict: Verdict
    summary: str
    countdown: float = 0.0
