"""Stored SBOMs of the images ``serve`` knows, and what they matched at the last match.

An advisory refresh re-matches these without pulling a layer again.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "image_sboms",
        sa.Column("digest", sa.String(255), primary_key=True),
        sa.Column("image", sa.String(1024), nullable=False),
        sa.Column("os", sa.JSON(), nullable=True),
        sa.Column("packages", sa.JSON(), nullable=False),
        sa.Column("package_count", sa.Integer(), nullable=False),
        sa.Column("findings", sa.JSON(), nullable=True),
        sa.Column("new_findings", sa.JSON(), nullable=True),
        sa.Column("scanned_at", TS, nullable=False),
        sa.Column("matched_at", TS, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("image_sboms")
