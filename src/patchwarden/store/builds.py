"""The record of one ``rebuild`` run of one declared build, and its table mapping."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any, Final

from patchwarden.store.errors import InvalidRecordError
from patchwarden.store.orm import BuildRow

BUILD_OUTCOMES: Final = frozenset({"pushed", "stopped", "failed"})


@dataclass(frozen=True)
class BuildRecord:
    """One row of the ``builds`` table.

    ``outcome``: ``pushed`` (every step passed, the image is in the registry), ``stopped`` (a
    test or gate stopped it before the push: the registry is unchanged), ``failed`` (an error).
    ``findings`` holds ``[id, package, severity, status]`` of the new image's scan; ``fixable``
    counts those with a fixed version (what makes the next ``rebuild --check`` due).
    """

    id: int | None
    name: str
    destination: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    reason: str
    base_name: str | None = None
    base_digest: str | None = None
    image_digest: str | None = None
    tags: list[str] = field(default_factory=list)
    revision: str | None = None
    due_reasons: list[str] = field(default_factory=list)
    findings: list[Any] = field(default_factory=list)
    fixed: list[str] = field(default_factory=list)
    introduced: list[str] = field(default_factory=list)
    fixable: int | None = None
    steps: list[Any] = field(default_factory=list)
    duration_s: float | None = None


_JSON_FIELDS = ("tags", "due_reasons", "findings", "fixed", "introduced", "steps")


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidRecordError(f"{name} must be timezone-aware")
    return value.astimezone(UTC)


def validate_build(rec: BuildRecord) -> BuildRecord:
    if rec.id is not None:
        raise InvalidRecordError(f"build record already has id {rec.id}; it was stored before")
    if rec.outcome not in BUILD_OUTCOMES:
        raise InvalidRecordError(
            f"invalid build outcome {rec.outcome!r}: expected one of "
            f"{', '.join(sorted(BUILD_OUTCOMES))}"
        )
    if not rec.name or not rec.destination:
        raise InvalidRecordError("build name and destination must not be empty")
    for name in _JSON_FIELDS:
        try:
            json.dumps(getattr(rec, name), allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidRecordError(f"{name} must be JSON-serialisable: {exc}") from None
    finished = None if rec.finished_at is None else _aware("finished_at", rec.finished_at)
    return replace(rec, started_at=_aware("started_at", rec.started_at), finished_at=finished)


def to_row(rec: BuildRecord) -> BuildRow:
    values = {f.name: getattr(rec, f.name) for f in fields(rec) if f.name != "id"}
    return BuildRow(**values)


def from_row(row: BuildRow) -> BuildRecord:
    values = {f.name: getattr(row, f.name) for f in fields(BuildRecord)}
    return BuildRecord(**values)
