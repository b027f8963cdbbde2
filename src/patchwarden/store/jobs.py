"""Job leases and job runs in the state store.

A job runs only while its runner holds the job's *lease*: a row in ``jobs`` whose
``lease_owner`` is the runner and whose ``lease_expires`` lies in the future. Taking a lease is
one conditional ``UPDATE`` (``... WHERE lease_owner IS NULL OR lease_expires < now``), atomic on
SQLite and PostgreSQL alike, so two ``serve`` processes sharing a database never run the same
job at once. The holder renews the lease while it works; a crashed holder's lease expires and
the next runner takes the job over.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from patchwarden.store.connection import transaction, wrap_error
from patchwarden.store.orm import JobRow, JobRunRow

Clock = Callable[[], datetime]


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class JobState:
    name: str
    lease_owner: str | None
    lease_expires: datetime | None
    last_started_at: datetime | None
    last_finished_at: datetime | None
    last_outcome: str | None
    last_success_at: datetime | None
    last_due_at: datetime | None

    def running(self, now: datetime) -> bool:
        return self.lease_owner is not None and (
            self.lease_expires is not None and self.lease_expires > now
        )


@dataclass(frozen=True, slots=True)
class JobRun:
    id: int
    job: str
    trigger: str
    owner: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    detail: str
    duration_s: float | None


class JobStore:
    def __init__(self, engine: Engine, clock: Clock = _now) -> None:
        self._engine = engine
        self._clock = clock

    def _session(self, doing: str) -> AbstractContextManager[Session]:
        return transaction(self._engine, doing)

    def _ensure(self, name: str) -> None:
        try:
            with Session(self._engine) as session, session.begin():
                if session.get(JobRow, name) is None:
                    session.add(JobRow(name=name))
        except IntegrityError:
            pass  # another process inserted it first
        except SQLAlchemyError as exc:
            raise wrap_error(exc, self._engine.url, "write to") from None

    def acquire(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Take ``name``'s lease for ``ttl`` if nobody holds an unexpired one."""
        self._ensure(name)
        now = self._clock()
        stmt = (
            update(JobRow)
            .where(JobRow.name == name)
            .where(
                or_(
                    JobRow.lease_owner.is_(None),
                    JobRow.lease_expires.is_(None),
                    JobRow.lease_expires < now,
                )
            )
            .values(lease_owner=owner, lease_expires=now + ttl, last_started_at=now)
        )
        with self._session("write to") as s:
            return s.execute(stmt).rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def renew(self, name: str, owner: str, ttl: timedelta) -> bool:
        """Extend a lease ``owner`` still holds; False when it was lost (expired and taken)."""
        stmt = (
            update(JobRow)
            .where(JobRow.name == name, JobRow.lease_owner == owner)
            .values(lease_expires=self._clock() + ttl)
        )
        with self._session("write to") as s:
            return s.execute(stmt).rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def release(
        self, name: str, owner: str, outcome: str, run: tuple[int, str, float] | None = None
    ) -> None:
        """Give the lease back (only if still ``owner``'s); with ``run`` = (id, detail,
        seconds) also close that run, in the same transaction."""
        now = self._clock()
        values: dict[str, object] = {
            "lease_owner": None,
            "lease_expires": None,
            "last_finished_at": now,
            "last_outcome": outcome,
        }
        if outcome == "succeeded":
            values["last_success_at"] = now
        stmt = update(JobRow).where(JobRow.name == name, JobRow.lease_owner == owner)
        with self._session("write to") as s:
            s.execute(stmt.values(**values))
            if run is not None:
                run_id, detail, seconds = run
                s.execute(
                    update(JobRunRow)
                    .where(JobRunRow.id == run_id)
                    .values(finished_at=now, outcome=outcome, detail=detail, duration_s=seconds)
                )

    def claim_due(self, name: str, due: datetime) -> bool:
        """Record ``due`` as handled unless it (or a later one) already is: True for exactly
        one caller per due time, across processes."""
        self._ensure(name)
        stmt = (
            update(JobRow)
            .where(JobRow.name == name)
            .where(or_(JobRow.last_due_at.is_(None), JobRow.last_due_at < due))
            .values(last_due_at=due)
        )
        with self._session("write to") as s:
            return s.execute(stmt).rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def state(self, name: str) -> JobState | None:
        with self._session("read") as s:
            row = s.get(JobRow, name)
            return None if row is None else _state(row)

    def states(self) -> list[JobState]:
        with self._session("read") as s:
            return [_state(r) for r in s.scalars(select(JobRow).order_by(JobRow.name))]

    # -- runs ---------------------------------------------------------------------------
    def start_run(self, job: str, trigger: str, owner: str) -> int:
        row = JobRunRow(
            job=job,
            trigger=trigger[:255],
            owner=owner,
            started_at=self._clock(),
            outcome="running",
            detail="",
        )
        with self._session("write to") as s:
            s.add(row)
            s.flush()
            return row.id

    def finish_run(self, run_id: int, outcome: str, detail: str, duration_s: float) -> None:
        stmt = (
            update(JobRunRow)
            .where(JobRunRow.id == run_id)
            .values(
                finished_at=self._clock(), outcome=outcome, detail=detail, duration_s=duration_s
            )
        )
        with self._session("write to") as s:
            s.execute(stmt)

    def run_totals(self) -> dict[tuple[str, str], tuple[int, float]]:
        """``(job, outcome) -> (runs, seconds)`` over every run recorded, by any process."""
        from sqlalchemy import func

        stmt = select(
            JobRunRow.job,
            JobRunRow.outcome,
            func.count(),
            func.coalesce(func.sum(JobRunRow.duration_s), 0.0),
        ).group_by(JobRunRow.job, JobRunRow.outcome)
        with self._session("read") as s:
            return {(j, o): (int(n), float(sec or 0.0)) for j, o, n, sec in s.execute(stmt)}

    def runs(self, job: str | None = None, limit: int = 50) -> list[JobRun]:
        stmt = select(JobRunRow)
        if job is not None:
            stmt = stmt.where(JobRunRow.job == job)
        stmt = stmt.order_by(JobRunRow.id.desc()).limit(limit)
        with self._session("read") as s:
            return [
                JobRun(
                    r.id,
                    r.job,
                    r.trigger,
                    r.owner,
                    r.started_at,
                    r.finished_at,
                    r.outcome,
                    r.detail,
                    r.duration_s,
                )
                for r in s.scalars(stmt)
            ]


def _state(r: JobRow) -> JobState:
    return JobState(
        r.name,
        r.lease_owner,
        r.lease_expires,
        r.last_started_at,
        r.last_finished_at,
        r.last_outcome,
        r.last_success_at,
        r.last_due_at,
    )
