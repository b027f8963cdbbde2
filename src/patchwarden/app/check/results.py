"""Results of ``check``: one per reference, plus what discovery skipped."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from patchwarden.policy.model import UpdateLevel
from patchwarden.refs.model import Reference, Skipped

if TYPE_CHECKING:
    from patchwarden.app.check.vulns import Assessment


class Status(StrEnum):
    UP_TO_DATE = "up-to-date"
    OUTDATED = "outdated"
    ERROR = "error"
    SKIPPED = "skipped"
    BLOCKED = "blocked"  # refused by the trust gate (signature, allowed registries)


@dataclass(frozen=True, slots=True)
class Version:
    tag: str | None
    digest: str | None


@dataclass(frozen=True, slots=True)
class CheckResult:
    reference: Reference
    status: Status
    current: Version
    candidate: Version | None
    update: UpdateLevel | None
    reason: str
    transient: bool = False  # an error worth retrying later
    vulns: Assessment | None = None  # with check --vulns
    trust: dict[str, Any] | None = None  # the trust gate's decision on the candidate


@dataclass(frozen=True, slots=True)
class CheckReport:
    results: tuple[CheckResult, ...]
    skipped: tuple[Skipped, ...]
    requests: dict[str, int]

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status == status)
