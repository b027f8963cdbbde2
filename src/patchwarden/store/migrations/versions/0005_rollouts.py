"""The ``rollouts`` and ``rollout_steps`` tables (staged rollouts).

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("image", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("runner", sa.String(255), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
    )
    op.create_index("ix_rollouts_status", "rollouts", ["status"])
    op.create_table(
        "rollout_steps",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("rollout_id", sa.Integer(), sa.ForeignKey("rollouts.id"), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("environment", sa.String(255), nullable=True),
        sa.Column("wave", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_s", sa.Float(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_rollout_steps_rollout_id", "rollout_steps", ["rollout_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_rollout_steps_rollout_id", table_name="rollout_steps")
    op.drop_table("rollout_steps")
    op.drop_index("ix_rollouts_status", table_name="rollouts")
    op.drop_table("rollouts")
