"""The ``promotions`` table: every ``registry promote`` (source, destination, digest, who,
when, verification result).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source", sa.String(1024), nullable=False),
        sa.Column("destination", sa.String(1024), nullable=False),
        sa.Column("digest", sa.String(255), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("verification", sa.JSON(), nullable=False),
    )
    op.create_index("ix_promotions_destination_at", "promotions", ["destination", "at"])


def downgrade() -> None:
    op.drop_index("ix_promotions_destination_at", table_name="promotions")
    op.drop_table("promotions")
