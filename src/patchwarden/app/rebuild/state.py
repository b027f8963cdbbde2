"""What one rebuild has done so far: the state its steps share, and the stop they raise."""

from __future__ import annotations

import time

from patchwarden.app.rebuild.gates import ScanDiff
from patchwarden.app.rebuild.model import Outcome, Step


class BuildState:
    """Filled in step by step; ``current`` names the step an error is reported against."""

    def __init__(self) -> None:
        self.current = "start"
        self.steps: list[Step] = []
        self.image: str | None = None
        self.digest: str | None = None
        self.base_digest: str | None = None
        self.revision: str | None = None
        self.scan: ScanDiff | None = None
        self.tags: list[str] = []
        self.signature: str | None = None


class Stop(Exception):
    """A test or a gate ends the build: nothing is pushed; not an error."""

    def __init__(self, outcome: Outcome, reason: str) -> None:
        super().__init__(reason)
        self.outcome, self.reason = outcome, reason


def since(t: float) -> float:
    return time.monotonic() - t
