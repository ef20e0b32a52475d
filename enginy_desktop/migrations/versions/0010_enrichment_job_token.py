"""Enrichment requests keep a provider's whole job token: a two-phase provider (match first, pay second) journals
the ids it will pay for between its two calls, longer than the 200 characters of an asynchronous job id.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enrichment_requests") as batch:
        batch.alter_column("job_id", existing_type=sa.String(length=200), type_=sa.Text(), existing_nullable=True)


def downgrade() -> None:
    with op.batch_alter_table("enrichment_requests") as batch:
        batch.alter_column("job_id", existing_type=sa.Text(), type_=sa.String(length=200), existing_nullable=True)
