"""Runs (sync, export, enrichment) and their journal.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

RUN_KINDS = "kind IN ('sync', 'export', 'enrichment')"
RUN_STATES = "state IN ('queued', 'running', 'cancelling', 'cancelled', 'failed', 'finished', 'interrupted')"
ITEM_OBJECTS = "object IN ('contact', 'company')"
ITEM_STATES = "state IN ('pending', 'in_flight', 'done', 'failed', 'skipped')"


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("crm", sa.String(length=40), nullable=True),
        sa.Column("list_id", sa.Integer(), nullable=True),
        sa.Column("list_name", sa.String(length=200), server_default=sa.text("''"), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("counters", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner_pid", sa.Integer(), nullable=True),
        sa.Column("owner_host", sa.String(length=255), nullable=True),
        sa.CheckConstraint(RUN_KINDS, name=op.f("ck_runs_kind")),
        sa.CheckConstraint(RUN_STATES, name=op.f("ck_runs_state")),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], name=op.f("fk_runs_list_id_lists"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )
    op.create_index("ix_runs_kind_created_at", "runs", ["kind", "created_at"], unique=False)
    op.create_index("ix_runs_state", "runs", ["state"], unique=False)
    op.create_table(
        "run_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("object", sa.String(length=10), nullable=False),
        sa.Column("local_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("crm_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(ITEM_OBJECTS, name=op.f("ck_run_items_object")),
        sa.CheckConstraint(ITEM_STATES, name=op.f("ck_run_items_state")),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_items_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_run_items")),
        sa.UniqueConstraint("run_id", "object", "local_id", name="uq_run_items_record"),
    )
    op.create_index("ix_run_items_run_id_state", "run_items", ["run_id", "state"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_items_run_id_state", table_name="run_items")
    op.drop_table("run_items")
    op.drop_index("ix_runs_state", table_name="runs")
    op.drop_index("ix_runs_kind_created_at", table_name="runs")
    op.drop_table("runs")
