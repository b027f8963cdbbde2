"""Scan results keyed by image digest and advisory index version: the version of the index
each stored SBOM's findings were matched against (NULL: not known, matched before this column
existed, or never matched).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("image_sboms") as batch:
        batch.add_column(sa.Column("index_version", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("image_sboms") as batch:
        batch.drop_column("index_version")
