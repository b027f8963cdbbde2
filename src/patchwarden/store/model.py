"""The record of one live container update, rollback or recovery, as callers see it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

from patchwarden.core.live import LiveAction, LiveOutcome
from patchwarden.store.errors import InvalidRecordError

OUTCOMES: Final = frozenset(o.value for o in LiveOutcome)
ACTIONS: Final = frozenset(a.value for a in LiveAction)


@dataclass(frozen=True)
class UpdateRecord:
    """One row of the ``updates`` table.

    ``id`` is None until :meth:`patchwarden.store.Store.record` stores it. Datetimes must be
    timezone-aware; the store keeps and returns them in UTC.
    """

    id: int | None
    started_at: datetime
    finished_at: datetime | None
    container: str
    from_image: str
    from_digest: str | None
    to_image: str
    to_digest: str | None
    outcome: str  # a LiveOutcome value
    reason: str
    gates: dict[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    action: str = LiveAction.UPDATE  # a LiveAction value


def _utc(name: str, value: datetime) -> datetime:
    if not isinstance(value, datetime):
        raise InvalidRecordError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecordError(
            f"{name} must be timezone-aware",
            "use datetime.now(UTC) rather than datetime.now() or utcnow()",
        )
    return value.astimezone(UTC)


def validate(rec: UpdateRecord) -> UpdateRecord:
    """``rec`` with datetimes in UTC, or an :class:`InvalidRecordError` naming what is wrong."""
    if rec.id is not None:
        raise InvalidRecordError(f"record already has id {rec.id}; it was stored before")
    if rec.outcome not in OUTCOMES:
        raise InvalidRecordError(
            f"invalid outcome {rec.outcome!r}: expected one of {', '.join(sorted(OUTCOMES))}"
        )
    if rec.action not in ACTIONS:
        raise InvalidRecordError(
            f"invalid action {rec.action!r}: expected one of {', '.join(sorted(ACTIONS))}"
        )
    if not rec.container:
        raise InvalidRecordError("container must not be empty")
    if rec.duration_s is not None and rec.duration_s < 0:
        raise InvalidRecordError(f"duration_s must not be negative, got {rec.duration_s}")
    if not isinstance(rec.gates, dict):
        raise InvalidRecordError(f"gates must be a dict, not {type(rec.gates).__name__}")
    try:
        json.dumps(rec.gates, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"gates must be JSON-serialisable: {exc}") from None
    started = _utc("started_at", rec.started_at)
    finished = None if rec.finished_at is None else _utc("finished_at", rec.finished_at)
    return UpdateRecord(
        id=None,
        started_at=started,
        finished_at=finished,
        container=rec.container,
        from_image=rec.from_image,
        from_digest=rec.from_digest,
        to_image=rec.to_image,
        to_digest=rec.to_digest,
        outcome=rec.outcome,
        reason=rec.reason,
        gates=dict(rec.gates),
        duration_s=rec.duration_s,
        action=rec.action,
    )


@dataclass(frozen=True, slots=True)
class TagBaseline:
    image: str  # name:tag
    digest: str  # the digest the references were last known to follow
    since: datetime
    latest: str  # the newest digest seen
    changed_at: datetime | None  # when ``latest`` first differed from ``digest``
