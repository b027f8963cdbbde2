"""What a job kind takes and returns: JSON-able parameters in, a result record out (so any
executor, the in-process runner or a task queue, can carry both)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Params = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class JobResult:
    """``summary``: one line for the job run and the logs; ``changes``: side effects made
    (pull requests opened, containers updated, images pushed, tags deleted, alerts raised);
    ``data``: the details, JSON-able."""

    summary: str
    changes: int = 0
    data: dict[str, Any] = field(default_factory=dict)
