"""The export journal: per-record plan details, association and activity operations, removed associations (for
Restore) and activities already logged per CRM.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
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
        "export_records",
        sa.Column("run_item_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=400), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("lookup", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("leader_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("why", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["run_item_id"], ["run_items.id"], name=op.f("fk_export_records_run_item_id_run_items"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_export_records_run_id_runs"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("run_item_id", name=op.f("pk_export_records")),
    )
    op.create_index("ix_export_records_run_id", "export_records", ["run_id"], unique=False)
    op.create_table(
        "export_ops",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("from_crm_id", sa.String(length=64), nullable=True),
        sa.Column("to_crm_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('associate', 'primary', 'remove', 'activity')", name=op.f("ck_export_ops_kind")),
        sa.CheckConstraint("state IN ('pending', 'in_flight', 'done', 'failed', 'skipped')",
                           name=op.f("ck_export_ops_state")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_export_ops_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_ops")),
    )
    op.create_index("ix_export_ops_run_id_kind_state", "export_ops", ["run_id", "kind", "state"], unique=False)
    op.create_table(
        "removed_associations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("op_id", sa.Integer(), nullable=True),
        sa.Column("crm", sa.String(length=40), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("from_crm_id", sa.String(length=64), nullable=False),
        sa.Column("to_crm_id", sa.String(length=64), nullable=False),
        sa.Column("was_primary", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        sa.Column("types", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("removed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("restored_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint("state IN ('removing', 'removed', 'restored', 'restore_failed')",
                           name=op.f("ck_removed_associations_state")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_removed_associations_run_id_runs"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["op_id"], ["export_ops.id"], name=op.f("fk_removed_associations_op_id_export_ops"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_removed_associations")),
    )
    op.create_index("ix_removed_associations_run_id", "removed_associations", ["run_id"], unique=False)
    op.create_table(
        "activity_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crm", sa.String(length=40), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["event_id"], ["campaign_events.id"],
                                name=op.f("fk_activity_links_event_id_campaign_events"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_activity_links_run_id_runs"),
                                ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity_links")),
        sa.UniqueConstraint("crm", "event_id", name="uq_activity_links_event"),
    )


def downgrade() -> None:
    op.drop_table("activity_links")
    op.drop_index("ix_removed_associations_run_id", table_name="removed_associations")
    op.drop_table("removed_associations")
    op.drop_index("ix_export_ops_run_id_kind_state", table_name="export_ops")
    op.drop_table("export_ops")
    op.drop_index("ix_export_records_run_id", table_name="export_records")
    op.drop_table("export_records")
