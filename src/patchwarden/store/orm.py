"""SQLAlchemy 2.0 models of the state store. Every change here needs an Alembic migration in
``migrations/versions`` (a unit test compares the two)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC.

    PostgreSQL keeps it as ``timestamptz``; SQLite keeps the UTC wall time as text (which sorts
    correctly) and the zone is attached again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTCDateTime column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    pass


class UpdateRow(Base):
    __tablename__ = "updates"
    __table_args__ = (Index("ix_updates_container_started_at", "container", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    container: Mapped[str] = mapped_column(String(255))
    from_image: Mapped[str] = mapped_column(String(1024))
    from_digest: Mapped[str | None] = mapped_column(String(255))
    to_image: Mapped[str] = mapped_column(String(1024))
    to_digest: Mapped[str | None] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    gates: Mapped[dict[str, Any]] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)


class TagDigestRow(Base):
    """What a floating tag (``name:tag``) pointed at: the digest first seen (the baseline a
    move is reported against until the references follow it) and the newest one seen."""

    __tablename__ = "tag_digests"

    image: Mapped[str] = mapped_column(String(1024), primary_key=True)  # name:tag
    baseline_digest: Mapped[str] = mapped_column(String(255))
    baseline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    digest: Mapped[str] = mapped_column(String(255))  # the newest seen
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())  # first seen != baseline
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PromotionRow(Base):
    __tablename__ = "promotions"
    __table_args__ = (Index("ix_promotions_destination_at", "destination", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    source: Mapped[str] = mapped_column(String(1024))
    destination: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(255))
    actor: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(16))
    verification: Mapped[dict[str, Any]] = mapped_column(JSON)


class BuildRow(Base):
    __tablename__ = "builds"
    __table_args__ = (Index("ix_builds_name_started_at", "name", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(255))
    destination: Mapped[str] = mapped_column(String(1024))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    base_name: Mapped[str | None] = mapped_column(String(1024))
    base_digest: Mapped[str | None] = mapped_column(String(255))
    image_digest: Mapped[str | None] = mapped_column(String(255))
    tags: Mapped[list[str]] = mapped_column(JSON)
    revision: Mapped[str | None] = mapped_column(String(64))
    due_reasons: Mapped[list[str]] = mapped_column(JSON)
    findings: Mapped[list[Any]] = mapped_column(JSON)
    fixed: Mapped[list[str]] = mapped_column(JSON)
    introduced: Mapped[list[str]] = mapped_column(JSON)
    fixable: Mapped[int | None] = mapped_column(Integer)
    steps: Mapped[list[Any]] = mapped_column(JSON)
    duration_s: Mapped[float | None] = mapped_column(Float)


class RolloutRow(Base):
    """One rollout: the digest, where it stands, and its per-environment/per-wave state (JSON,
    rewritten in one transaction before each side effect)."""

    __tablename__ = "rollouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image: Mapped[str] = mapped_column(String(1024))
    digest: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(32), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    runner: Mapped[str | None] = mapped_column(String(255))
    state: Mapped[dict[str, Any]] = mapped_column(JSON)


class RolloutStepRow(Base):
    """The audit trail of a rollout: every stage, gate, approval and rollback."""

    __tablename__ = "rollout_steps"
    __table_args__ = (Index("ix_rollout_steps_rollout_id", "rollout_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rollout_id: Mapped[int] = mapped_column(Integer, ForeignKey("rollouts.id"))
    kind: Mapped[str] = mapped_column(String(32))
    environment: Mapped[str | None] = mapped_column(String(255))
    wave: Mapped[int | None] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    outcome: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    duration_s: Mapped[float | None] = mapped_column(Float)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON)


# -- the long-running service (``patchwarden serve``) -------------------------------------


class JobRow(Base):
    """One named job and its lease: whoever holds an unexpired lease runs it, nobody else."""

    __tablename__ = "jobs"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    last_success_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class JobRunRow(Base):
    __tablename__ = "job_runs"
    __table_args__ = (Index("ix_job_runs_job_started_at", "job", "started_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str] = mapped_column(String(128))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[str] = mapped_column(Text)
    duration_s: Mapped[float | None] = mapped_column(Float)


class FleetRow(Base):
    """The newest check result of one image reference (a file location or a container)."""

    __tablename__ = "fleet"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    source: Mapped[str] = mapped_column(String(1024))
    image: Mapped[str] = mapped_column(String(1024))
    repository: Mapped[str] = mapped_column(String(1024), index=True)
    status: Mapped[str] = mapped_column(String(16))
    update_kind: Mapped[str | None] = mapped_column(String(16))
    current_tag: Mapped[str | None] = mapped_column(String(255))
    current_digest: Mapped[str | None] = mapped_column(String(255))
    candidate_tag: Mapped[str | None] = mapped_column(String(255))
    candidate_digest: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str] = mapped_column(Text)
    vulns: Mapped[dict[str, Any]] = mapped_column(JSON)
    checked_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingUpdateRow(Base):
    """An update waiting for (or given) a decision: one row per (reference, target digest)."""

    __tablename__ = "pending_updates"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    change_key: Mapped[str] = mapped_column(String(512), unique=True)
    fleet_key: Mapped[str] = mapped_column(String(512), index=True)
    container: Mapped[str | None] = mapped_column(String(255))
    image: Mapped[str] = mapped_column(String(1024))
    from_digest: Mapped[str | None] = mapped_column(String(255))
    to_image: Mapped[str] = mapped_column(String(1024))
    to_digest: Mapped[str | None] = mapped_column(String(255))
    update_kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[str | None] = mapped_column(String(128))
    result: Mapped[str | None] = mapped_column(Text)


class ApiTokenRow(Base):
    """An API token: only its SHA-256 is stored (tokens are 256-bit random strings)."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), unique=True)
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(1024))
    detail: Mapped[str] = mapped_column(Text)


class NotificationRow(Base):
    """One alert per change: the dedup key is claimed before the alert is sent."""

    __tablename__ = "notifications"

    dedup_key: Mapped[str] = mapped_column(String(512), primary_key=True)
    event: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    error: Mapped[str | None] = mapped_column(Text)


class SbomRow(Base):
    """The packages of one image (by manifest digest) and its findings at the last match:
    ``findings`` maps a vulnerability id to its brief; ``new_findings`` lists the ids the last
    advisory refresh added (each with when it was first seen)."""

    __tablename__ = "image_sboms"

    digest: Mapped[str] = mapped_column(String(255), primary_key=True)
    image: Mapped[str] = mapped_column(String(1024))
    os: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    packages: Mapped[list[Any]] = mapped_column(JSON)
    package_count: Mapped[int] = mapped_column(Integer)
    findings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    new_findings: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    scanned_at: Mapped[datetime] = mapped_column(UTCDateTime())
    matched_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # the advisory index version ``findings`` were matched against (app.refresh.index_version)
    index_version: Mapped[str | None] = mapped_column(String(64))


class TaskRow(Base):
    """One job handed to the workers (queue.broker_url): its delivery state, the lease of the
    worker running it, attempts, and why it ended in the dead-letter list."""

    __tablename__ = "tasks"
    __table_args__ = (Index("ix_tasks_job_state", "job", "state"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    job: Mapped[str] = mapped_column(String(64))
    trigger: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(16))  # queued running succeeded retrying dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    owner: Mapped[str | None] = mapped_column(String(128))
    lease_expires: Mapped[datetime | None] = mapped_column(UTCDateTime())
    run_id: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    detail: Mapped[str] = mapped_column(Text, default="")


class EffectRow(Base):
    """A side effect (a pushed tag, an updated container, an opened PR, a notification) claimed
    before it is carried out, so a retried or re-delivered job never repeats it."""

    __tablename__ = "effects"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # claimed done
    owner: Mapped[str] = mapped_column(String(128))
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[str] = mapped_column(Text, default="")


class SharedContentRow(Base):
    """Content-addressed work shared by every worker: a scan per image digest and advisory
    index version, layer facts per layer digest, the advisory index per version."""

    __tablename__ = "shared_content"

    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
