"""Tables of ``patchwarden serve``: job leases and runs, the fleet, pending updates, API tokens,
the audit log and sent notifications.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("lease_owner", sa.String(128), nullable=True),
        sa.Column("lease_expires", TS, nullable=True),
        sa.Column("last_started_at", TS, nullable=True),
        sa.Column("last_finished_at", TS, nullable=True),
        sa.Column("last_outcome", sa.String(16), nullable=True),
        sa.Column("last_success_at", TS, nullable=True),
        sa.Column("last_due_at", TS, nullable=True),
    )
    op.create_table(
        "job_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("job", sa.String(64), nullable=False),
        sa.Column("trigger", sa.String(255), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_job_runs_job_started_at", "job_runs", ["job", "started_at"])
    op.create_table(
        "fleet",
        sa.Column("key", sa.String(512), primary_key=True),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("image", sa.String(1024), nullable=False),
        sa.Column("repository", sa.String(1024), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("update_kind", sa.String(16), nullable=True),
        sa.Column("current_tag", sa.String(255), nullable=True),
        sa.Column("current_digest", sa.String(255), nullable=True),
        sa.Column("candidate_tag", sa.String(255), nullable=True),
        sa.Column("candidate_digest", sa.String(255), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("vulns", sa.JSON(), nullable=False),
        sa.Column("checked_at", TS, nullable=False),
    )
    op.create_index("ix_fleet_repository", "fleet", ["repository"])
    op.create_table(
        "pending_updates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("change_key", sa.String(512), nullable=False, unique=True),
        sa.Column("fleet_key", sa.String(512), nullable=False),
        sa.Column("container", sa.String(255), nullable=True),
        sa.Column("image", sa.String(1024), nullable=False),
        sa.Column("from_digest", sa.String(255), nullable=True),
        sa.Column("to_image", sa.String(1024), nullable=False),
        sa.Column("to_digest", sa.String(255), nullable=True),
        sa.Column("update_kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("decided_at", TS, nullable=True),
        sa.Column("decided_by", sa.String(128), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
    )
    op.create_index("ix_pending_updates_fleet_key", "pending_updates", ["fleet_key"])
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False, unique=True),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(1024), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.create_table(
        "notifications",
        sa.Column("dedup_key", sa.String(512), primary_key=True),
        sa.Column("event", sa.String(32), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("sent_at", TS, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_tokens")
    op.drop_index("ix_pending_updates_fleet_key", table_name="pending_updates")
    op.drop_table("pending_updates")
    op.drop_index("ix_fleet_repository", table_name="fleet")
    op.drop_table("fleet")
    op.drop_index("ix_job_runs_job_started_at", table_name="job_runs")
    op.drop_table("job_runs")
    op.drop_table("jobs")
