"""CRM configuration per CRM (the wizard's four steps) and links between local and CRM records.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
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
        "crm_configs",
        sa.Column("crm", sa.String(length=40), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("crm", name=op.f("pk_crm_configs")),
    )
    op.create_table(
        "crm_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm", sa.String(length=40), nullable=False),
        sa.Column("object", sa.String(length=10), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("why", sa.Text(), nullable=False),
        sa.Column("candidates", sa.JSON(), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("object IN ('contact', 'company')", name=op.f("ck_crm_links_object")),
        sa.CheckConstraint(
            "outcome IN ('matched', 'new', 'ambiguous', 'unmatchable', 'chosen', 'create_new')",
            name=op.f("ck_crm_links_outcome"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_links")),
        sa.UniqueConstraint("crm", "object", "local_id", name="uq_crm_links_record"),
    )
    op.create_index("ix_crm_links_crm_id", "crm_links", ["crm", "object", "crm_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_crm_links_crm_id", table_name="crm_links")
    op.drop_table("crm_links")
    op.drop_table("crm_configs")
