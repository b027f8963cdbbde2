"""Rollout records: one row per rollout (its state as JSON) and its audit steps.

Every write is one committed transaction, so a process killed at any moment leaves the last
state it wrote, never half of one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.core.timing import span
from patchwarden.store.errors import InvalidRecordError, StoreError
from patchwarden.store.orm import RolloutRow, RolloutStepRow

T = TypeVar("T")


@dataclass(frozen=True)
class RolloutRecord:
    id: int
    image: str
    digest: str
    status: str
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    runner: str | None
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class StepRecord:
    id: int
    rollout_id: int
    kind: str
    environment: str | None
    wave: int | None
    name: str
    outcome: str
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    detail: dict[str, Any] = field(default_factory=dict)


def _json(doc: dict[str, Any], what: str) -> dict[str, Any]:
    try:
        json.dumps(doc, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidRecordError(f"{what} must be JSON-serialisable: {exc}") from None
    return doc


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise InvalidRecordError("datetimes must be timezone-aware")
    return value.astimezone(UTC)


class RolloutStore:
    def __init__(self, engine: Engine, wrap: Any) -> None:
        self._engine = engine
        self._wrap = wrap  # (exc, url, doing) -> StoreError

    def _fail(self, exc: SQLAlchemyError, doing: str) -> StoreError:
        error: StoreError = self._wrap(exc, self._engine.url, doing)
        return error

    def create(self, image: str, digest: str, state: dict[str, Any], now: datetime) -> int:
        row = RolloutRow(
            image=image,
            digest=digest,
            status="pending",
            created_at=_aware(now),
            updated_at=_aware(now),
            finished_at=None,
            runner=None,
            state=_json(state, "rollout state"),
        )
        try:
            with Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                return int(row.id)
        except SQLAlchemyError as exc:
            raise self._fail(exc, "write to") from None

    def save(
        self,
        rollout_id: int,
        *,
        status: str,
        state: dict[str, Any],
        now: datetime,
        finished: bool = False,
    ) -> None:
        values: dict[str, Any] = {
            "status": status,
            "state": _json(state, "rollout state"),
            "updated_at": _aware(now),
            "finished_at": _aware(now) if finished else None,
        }
        self._update(rollout_id, values)

    def set_runner(self, rollout_id: int, runner: str | None) -> None:
        """Who runs the rollout now (``host:pid``), or None when nobody does."""
        self._update(rollout_id, {"runner": runner})

    def claim(self, rollout_id: int, expected: str | None, runner: str) -> bool:
        """Become the rollout's runner if ``expected`` still is (compare-and-set)."""
        stmt = (
            update(RolloutRow)
            .where(RolloutRow.id == rollout_id)
            .where(
                RolloutRow.runner.is_(None) if expected is None else RolloutRow.runner == expected
            )
            .values(runner=runner)
        )
        try:
            with Session(self._engine) as session, session.begin():
                return bool(session.execute(stmt).rowcount)  # type: ignore[attr-defined]
        except SQLAlchemyError as exc:
            raise self._fail(exc, "write to") from None

    def _update(self, rollout_id: int, values: dict[str, Any]) -> None:
        try:
            with span("store.save"), Session(self._engine) as session, session.begin():
                session.execute(
                    update(RolloutRow).where(RolloutRow.id == rollout_id).values(values)
                )
        except SQLAlchemyError as exc:
            raise self._fail(exc, "write to") from None

    def get(self, rollout_id: int) -> RolloutRecord | None:
        rows = self._rollouts(select(RolloutRow).where(RolloutRow.id == rollout_id))
        return rows[0] if rows else None

    def latest(self, statuses: set[str] | None = None) -> RolloutRecord | None:
        stmt = select(RolloutRow)
        if statuses:
            stmt = stmt.where(RolloutRow.status.in_(sorted(statuses)))
        rows = self._rollouts(stmt.order_by(RolloutRow.id.desc()).limit(1))
        return rows[0] if rows else None

    def recent(self, limit: int = 50) -> list[RolloutRecord]:
        return self._rollouts(select(RolloutRow).order_by(RolloutRow.id.desc()).limit(limit))

    def add_step(
        self,
        rollout_id: int,
        *,
        kind: str,
        name: str,
        outcome: str,
        started_at: datetime,
        finished_at: datetime | None,
        environment: str | None = None,
        wave: int | None = None,
        detail: dict[str, Any] | None = None,
    ) -> int:
        duration = None
        if finished_at is not None:
            duration = round(max(0.0, (finished_at - started_at).total_seconds()), 3)
        row = RolloutStepRow(
            rollout_id=rollout_id,
            kind=kind,
            environment=environment,
            wave=wave,
            name=name,
            outcome=outcome,
            started_at=_aware(started_at),
            finished_at=_aware(finished_at) if finished_at else None,
            duration_s=duration,
            detail=_json(dict(detail or {}), "step detail"),
        )
        try:
            with span("store.step"), Session(self._engine) as session, session.begin():
                session.add(row)
                session.flush()
                return int(row.id)
        except SQLAlchemyError as exc:
            raise self._fail(exc, "write to") from None

    def steps(self, rollout_id: int) -> list[StepRecord]:
        stmt = (
            select(RolloutStepRow)
            .where(RolloutStepRow.rollout_id == rollout_id)
            .order_by(RolloutStepRow.id)
        )
        return self._read(stmt, _step)

    def _rollouts(self, stmt: Any) -> list[RolloutRecord]:
        return self._read(stmt, _rollout)

    def _read(self, stmt: Any, convert: Callable[[Any], T]) -> list[T]:
        try:
            with Session(self._engine) as session:
                return [convert(r) for r in session.scalars(stmt)]
        except SQLAlchemyError as exc:
            raise self._fail(exc, "read") from None


def _columns(row: Any, record: type[T], **override: Any) -> T:
    """``record`` from the row's columns of the same names (the JSON column copied)."""
    names = [f.name for f in fields(record)]  # type: ignore[arg-type]
    return record(**{n: getattr(row, n) for n in names if n not in override}, **override)


def _step(row: RolloutStepRow) -> StepRecord:
    return _columns(row, StepRecord, detail=dict(row.detail or {}))


def _rollout(row: RolloutRow) -> RolloutRecord:
    return _columns(row, RolloutRecord, state=dict(row.state or {}))
