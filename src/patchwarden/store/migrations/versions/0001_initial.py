"""The ``updates`` table.

Migrations do not import the models: they describe the schema as it was at their revision.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "updates",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("container", sa.String(255), nullable=False),
        sa.Column("from_image", sa.String(1024), nullable=False),
        sa.Column("from_digest", sa.String(255), nullable=True),
        sa.Column("to_image", sa.String(1024), nullable=False),
        sa.Column("to_digest", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("gates", sa.JSON(), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=True),
    )
    op.create_index("ix_updates_container_started_at", "updates", ["container", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_updates_container_started_at", table_name="updates")
    op.drop_table("updates")
