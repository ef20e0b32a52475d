"""The default waterfall keeps, per data point, the providers never to ask for it (unticked in Enrichment settings
or saved from the Enrich dialog), next to their order.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrichment_defaults") as batch:
        batch.add_column(sa.Column("excluded", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))


def downgrade() -> None:
    with op.batch_alter_table("enrichment_defaults") as batch:
        batch.drop_column("excluded")
