"""Run leases: one active run per list and CRM, across processes (the window and command lines).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "run_leases",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("owner_pid", sa.Integer(), nullable=False),
        sa.Column("owner_host", sa.String(length=255), nullable=False),
        sa.Column("owner_label", sa.String(length=40), server_default=sa.text("'command line'"), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_run_leases_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_run_leases")),
    )
    op.create_index("ix_run_leases_run_id", "run_leases", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_run_leases_run_id", table_name="run_leases")
    op.drop_table("run_leases")
