"""AI columns (definitions, results with their prompt version, answer cache), the TheirStack import journal, and the
run kinds ``ai`` and ``import``.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('sync', 'export', 'enrichment')"
NEW_KINDS = "kind IN ('sync', 'export', 'enrichment', 'ai', 'import')"


def _set_run_kinds(old: str, new: str) -> None:
    """Change the CHECK of ``runs.kind`` in place. Rebuilding ``runs`` (Alembic's batch mode) would drop the table,
    and with foreign keys on, SQLite deletes what references it (the journals of every past run) in cascade. A
    CHECK change that every stored row satisfies is the case SQLite documents for editing the schema text
    (https://www.sqlite.org/lang_altertable.html, "making other kinds of table schema changes")."""
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'runs'").scalar()
    if not isinstance(sql, str) or old not in sql:
        raise RuntimeError("The runs table does not have the expected run kinds; not changing it.")
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar() or 0)
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        bind.exec_driver_sql("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'runs'",
                             (sql.replace(old, new),))
        bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _set_run_kinds(OLD_KINDS, NEW_KINDS)
    op.create_table(
        "ai_columns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prompt", sa.Text(), nullable=False),
        sa.Column("output_type", sa.String(length=20), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("temperature", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["list_id"], ["lists.id"], name=op.f("fk_ai_columns_list_id_lists"),
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_columns")),
        sa.UniqueConstraint("list_id", "name", name=op.f("uq_ai_columns_list_id")),
    )
    op.create_index(op.f("ix_ai_columns_list_id"), "ai_columns", ["list_id"], unique=False)
    op.create_table(
        "ai_results",
        sa.Column("column_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("cache_key", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["column_id"], ["ai_columns.id"], name=op.f("fk_ai_results_column_id_ai_columns"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_ai_results_run_id_runs"), ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("column_id", "record_id", name=op.f("pk_ai_results")),
    )
    op.create_table(
        "ai_cache",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_ai_cache")),
    )
    op.create_table(
        "import_pages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("offset", sa.Integer(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("added", sa.Integer(), nullable=False),
        sa.Column("duplicates", sa.Integer(), nullable=False),
        sa.Column("credits", sa.Integer(), nullable=False),
        sa.Column("company_ids", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["runs.id"], name=op.f("fk_import_pages_run_id_runs"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_pages")),
        sa.UniqueConstraint("run_id", "offset", name=op.f("uq_import_pages_run_id")),
    )
    op.create_index(op.f("ix_import_pages_run_id"), "import_pages", ["run_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_import_pages_run_id"), table_name="import_pages")
    op.drop_table("import_pages")
    op.drop_table("ai_cache")
    op.drop_table("ai_results")
    op.drop_index(op.f("ix_ai_columns_list_id"), table_name="ai_columns")
    op.drop_table("ai_columns")
    op.execute("DELETE FROM runs WHERE kind IN ('ai', 'import')")
    _set_run_kinds(NEW_KINDS, OLD_KINDS)
