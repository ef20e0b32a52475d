"""Integrations: enabled flag and non-secret settings, with the one-active-CRM index.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
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
        "integrations",
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("category", sa.String(length=40), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("connected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_integrations")),
    )
    op.create_index(
        "uq_integrations_one_active_crm",
        "integrations",
        ["category"],
        unique=True,
        sqlite_where=sa.text("category = 'crm' AND enabled = 1"),
    )


def downgrade() -> None:
    op.drop_index("uq_integrations_one_active_crm", table_name="integrations")
    op.drop_table("integrations")
