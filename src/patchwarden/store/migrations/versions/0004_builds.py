"""The ``builds`` table: one row per ``rebuild`` of an image the team builds itself.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "builds",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("destination", sa.String(1024), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("base_name", sa.String(1024), nullable=True),
        sa.Column("base_digest", sa.String(255), nullable=True),
        sa.Column("image_digest", sa.String(255), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("revision", sa.String(64), nullable=True),
        sa.Column("due_reasons", sa.JSON(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=False),
        sa.Column("fixed", sa.JSON(), nullable=False),
        sa.Column("introduced", sa.JSON(), nullable=False),
        sa.Column("fixable", sa.Integer(), nullable=True),
        sa.Column("steps", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_builds_name_started_at", "builds", ["name", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_builds_name_started_at", table_name="builds")
    op.drop_table("builds")
