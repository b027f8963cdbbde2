"""Task deliveries of the worker fleet (``queue.broker_url``) in the state store.

The broker (Celery over Redis) delivers a task *at least once*: a worker that dies mid-job
leaves its message unacknowledged and the broker hands it to another worker. This table turns
that into *once*: a delivery may run the job only after :meth:`TaskStore.begin` moved the task
to ``running`` under its lease (one conditional ``UPDATE``, atomic on SQLite and PostgreSQL);
a delivery of a task that already ended is acknowledged without running it again, and one whose
lease is still held by a live worker waits. A task that failed ``queue.max_retries`` times
ends in the dead-letter list (state ``dead``).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import Engine, and_, or_, select, update
from sqlalchemy.orm import Session

from patchwarden.store.connection import transaction
from patchwarden.store.orm import TaskRow

Clock = Callable[[], datetime]


class TaskState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    DEAD = "dead"


class Begin(StrEnum):
    RUN = "run"  # this delivery runs the job
    DONE = "done"  # the task already ended: acknowledge, do nothing
    BUSY = "busy"  # another live worker runs it: try again later


@dataclass(frozen=True, slots=True)
class Task:
    id: str
    job: str
    trigger: dict[str, Any]
    state: TaskState
    attempts: int
    owner: str | None
    lease_expires: datetime | None
    run_id: int | None
    created_at: datetime
    updated_at: datetime
    detail: str


@dataclass(frozen=True, slots=True)
class Started:
    outcome: Begin
    task: Task | None
    wait: float = 0.0  # BUSY: seconds until the other worker's lease runs out
    previous_run: int | None = None  # RUN after a takeover: the run the lost worker left open


def _now() -> datetime:
    return datetime.now(UTC)


def _task(r: TaskRow) -> Task:
    return Task(
        r.id,
        r.job,
        dict(r.trigger),
        TaskState(r.state),
        r.attempts,
        r.owner,
        r.lease_expires,
        r.run_id,
        r.created_at,
        r.updated_at,
        r.detail,
    )


class TaskStore:
    def __init__(self, engine: Engine, clock: Clock = _now) -> None:
        self._engine = engine
        self._clock = clock

    def _session(self, doing: str) -> AbstractContextManager[Session]:
        return transaction(self._engine, doing)

    def enqueue(
        self,
        job: str,
        trigger: dict[str, Any],
        merge: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]],
    ) -> tuple[str, bool]:
        """A task for ``job``: a still-queued one of the same scope (``repositories``) absorbs
        ``trigger`` (returns its id, False), else a new one is recorded (its id, True) and
        the caller sends it to the broker."""
        now = self._clock()
        with self._session("write to") as s:
            queued = s.scalars(
                select(TaskRow)
                .where(TaskRow.job == job, TaskRow.state == TaskState.QUEUED.value)
                .order_by(TaskRow.created_at)
                .limit(50)
            )
            scope = trigger.get("repositories")
            waiting = next((t for t in queued if t.trigger.get("repositories") == scope), None)
            if waiting is not None:
                merged = merge(dict(waiting.trigger), trigger)
                stmt = (
                    update(TaskRow)
                    .where(TaskRow.id == waiting.id, TaskRow.state == TaskState.QUEUED.value)
                    .values(trigger=merged, updated_at=now)
                )
                if s.execute(stmt).rowcount == 1:  # type: ignore[attr-defined]
                    return waiting.id, False
            tid = uuid.uuid4().hex
            s.add(
                TaskRow(
                    id=tid,
                    job=job,
                    trigger=trigger,
                    state=TaskState.QUEUED.value,
                    attempts=0,
                    created_at=now,
                    updated_at=now,
                    detail="",
                )
            )
            return tid, True

    def begin(self, task_id: str, owner: str, lease: timedelta) -> Started:
        """Claim ``task_id`` for this delivery (see the module docstring)."""
        now = self._clock()
        free = or_(
            TaskRow.state.in_([TaskState.QUEUED.value, TaskState.RETRYING.value]),
            and_(
                TaskRow.state == TaskState.RUNNING.value,
                or_(TaskRow.lease_expires < now, TaskRow.owner == owner),
            ),
        )
        with self._session("write to") as s:
            before = s.get(TaskRow, task_id)
            if before is None:
                return Started(Begin.DONE, None)
            previous = before.run_id if before.state == TaskState.RUNNING.value else None
            stmt = (
                update(TaskRow)
                .where(TaskRow.id == task_id, free)
                .values(
                    state=TaskState.RUNNING.value,
                    owner=owner,
                    lease_expires=now + lease,
                    attempts=TaskRow.attempts + 1,
                    updated_at=now,
                )
            )
            claimed = s.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
        task = self.get(task_id)
        if task is None:
            return Started(Begin.DONE, None)
        if claimed:
            return Started(Begin.RUN, task, previous_run=previous)
        if task.state == TaskState.RUNNING and task.lease_expires is not None:
            return Started(Begin.BUSY, task, max(0.5, (task.lease_expires - now).total_seconds()))
        return Started(Begin.DONE, task)

    def _mine(self, task_id: str, owner: str, **values: Any) -> bool:
        values["updated_at"] = self._clock()
        stmt = update(TaskRow).where(TaskRow.id == task_id, TaskRow.owner == owner)
        with self._session("write to") as s:
            return s.execute(stmt.values(**values)).rowcount == 1  # type: ignore[attr-defined, no-any-return]

    def renew(self, task_id: str, owner: str, lease: timedelta) -> bool:
        return self._mine(task_id, owner, lease_expires=self._clock() + lease)

    def attach_run(self, task_id: str, owner: str, run_id: int) -> None:
        self._mine(task_id, owner, run_id=run_id)

    def finish(self, task_id: str, owner: str, state: TaskState, detail: str) -> bool:
        """End this delivery: ``succeeded``, ``dead`` (the dead-letter list) or ``retrying``
        (the lease is given up; the next delivery claims it). False when the lease was lost."""
        return self._mine(
            task_id, owner, state=state.value, detail=detail[:4000], lease_expires=None
        )

    def requeue(self, task_id: str) -> Task | None:
        """Take a dead task out of the dead-letter list (the caller sends it again)."""
        stmt = (
            update(TaskRow)
            .where(TaskRow.id == task_id, TaskRow.state == TaskState.DEAD.value)
            .values(state=TaskState.QUEUED.value, attempts=0, owner=None, updated_at=self._clock())
        )
        with self._session("write to") as s:
            if s.execute(stmt).rowcount != 1:  # type: ignore[attr-defined]
                return None
        return self.get(task_id)

    def get(self, task_id: str) -> Task | None:
        with self._session("read") as s:
            row = s.get(TaskRow, task_id)
            return None if row is None else _task(row)

    def list(self, state: TaskState | None = None, limit: int = 100) -> list[Task]:
        stmt = select(TaskRow)
        if state is not None:
            stmt = stmt.where(TaskRow.state == state.value)
        stmt = stmt.order_by(TaskRow.updated_at.desc()).limit(limit)
        with self._session("read") as s:
            return [_task(r) for r in s.scalars(stmt)]

    def counts(self) -> dict[str, int]:
        from sqlalchemy import func

        stmt = select(TaskRow.state, func.count()).group_by(TaskRow.state)
        with self._session("read") as s:
            return {state: n for state, n in s.execute(stmt)}

    def counts_by_job(self) -> dict[tuple[str, str], int]:
        """``(job, state) -> tasks``: what every worker of the fleet did and does."""
        from sqlalchemy import func

        stmt = select(TaskRow.job, TaskRow.state, func.count()).group_by(TaskRow.job, TaskRow.state)
        with self._session("read") as s:
            return {(job, state): n for job, state, n in s.execute(stmt)}
