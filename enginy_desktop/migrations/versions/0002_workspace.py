"""Local workspace: contacts, companies, lists, campaigns and their activity, identities and Enginy users.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Must produce exactly the schema of ``core/models/workspace.py`` (a new database is made with ``create_all``);
``tests/unit/test_migrations_workspace.py`` compares the two.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _timestamps(*names: str) -> list[sa.Column]:
    return [sa.Column(name, sa.DateTime(timezone=True), nullable=False) for name in names]


def upgrade() -> None:
    op.create_table(
        "app_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("is_current", sa.Boolean(), server_default=sa.text("0"), nullable=False),
        *_timestamps("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_app_users")),
        sa.UniqueConstraint("email", name=op.f("uq_app_users_email")),
    )
    op.create_index(
        "uq_app_users_one_current",
        "app_users",
        ["is_current"],
        unique=True,
        sqlite_where=sa.text("is_current = 1"),
    )
    op.create_table(
        "identities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=500), nullable=False),
        *_timestamps("created_at"),
        sa.CheckConstraint("kind IN ('linkedin', 'email')", name=op.f("ck_identities_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_identities")),
        sa.UniqueConstraint("kind", "address", name=op.f("uq_identities_kind")),
    )
    op.create_table(
        "lists",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200, collation="NOCASE"), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        *_timestamps("created_at", "updated_at"),
        sa.CheckConstraint("kind IN ('contacts', 'companies')", name=op.f("ck_lists_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lists")),
        sa.UniqueConstraint("name", name=op.f("uq_lists_name")),
    )
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200, collation="NOCASE"), nullable=False),
        sa.Column("identity_id", sa.Integer(), nullable=False),
        *_timestamps("created_at"),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["identities.id"],
            name=op.f("fk_campaigns_identity_id_identities"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("name", name=op.f("uq_campaigns_name")),
    )
    op.create_index(op.f("ix_campaigns_identity_id"), "campaigns", ["identity_id"], unique=False)
    op.create_table(
        "companies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("name_key", sa.String(length=300), nullable=True),
        sa.Column("domain", sa.String(length=255), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("linkedin_url", sa.String(length=500), nullable=True),
        sa.Column("industry", sa.String(length=200), nullable=True),
        sa.Column("size", sa.String(length=50), nullable=True),
        sa.Column("employee_count", sa.Integer(), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("custom_fields", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        *_timestamps("created_at", "updated_at"),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["app_users.id"], name=op.f("fk_companies_owner_id_app_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_companies")),
    )
    for column in ("domain", "linkedin_url", "name_key", "owner_id"):
        op.create_index(op.f(f"ix_companies_{column}"), "companies", [column], unique=False)
    op.create_table(
        "list_memberships",
        sa.Column("list_id", sa.Integer(), nullable=False),
        sa.Column("record_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["list_id"], ["lists.id"], name=op.f("fk_list_memberships_list_id_lists"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("list_id", "record_id", name=op.f("pk_list_memberships")),
    )
    op.create_index(
        "ix_list_memberships_list_position",
        "list_memberships",
        ["list_id", "position", "record_id"],
        unique=True,
    )
    op.create_index("ix_list_memberships_record_id", "list_memberships", ["record_id"], unique=False)
    op.create_table(
        "campaign_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.CheckConstraint(
            "kind IN ('email', 'linkedin_message', 'linkedin_connection_request', 'call')",
            name=op.f("ck_campaign_steps_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_steps_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_steps")),
        sa.UniqueConstraint("campaign_id", "position", name=op.f("uq_campaign_steps_campaign_id")),
    )
    op.create_table(
        "contacts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_name", sa.String(length=200), nullable=True),
        sa.Column("last_name", sa.String(length=200), nullable=True),
        sa.Column("full_name", sa.String(length=400), nullable=True),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("phone", sa.String(length=50), nullable=True),
        sa.Column("mobile", sa.String(length=50), nullable=True),
        sa.Column("job_title", sa.String(length=300), nullable=True),
        sa.Column("seniority", sa.String(length=100), nullable=True),
        sa.Column("department", sa.String(length=100), nullable=True),
        sa.Column("linkedin_url", sa.String(length=500), nullable=True),
        sa.Column("company_name", sa.String(length=300), nullable=True),
        sa.Column("company_domain", sa.String(length=255), nullable=True),
        sa.Column("company_linkedin_url", sa.String(length=500), nullable=True),
        sa.Column("location", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("country", sa.String(length=100), nullable=True),
        sa.Column("website", sa.String(length=500), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=100), nullable=True),
        sa.Column("custom_fields", sa.JSON(), server_default=sa.text("'{}'"), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        *_timestamps("created_at", "updated_at"),
        sa.ForeignKeyConstraint(
            ["company_id"],
            ["companies.id"],
            name=op.f("fk_contacts_company_id_companies"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["owner_id"], ["app_users.id"], name=op.f("fk_contacts_owner_id_app_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contacts")),
    )
    for column in ("company_id", "email", "linkedin_url", "owner_id"):
        op.create_index(op.f(f"ix_contacts_{column}"), "contacts", [column], unique=False)
    op.create_table(
        "campaign_leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        *_timestamps("added_at"),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["campaigns.id"],
            name=op.f("fk_campaign_leads_campaign_id_campaigns"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_campaign_leads_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_leads")),
        sa.UniqueConstraint("campaign_id", "contact_id", name=op.f("uq_campaign_leads_campaign_id")),
    )
    op.create_index(op.f("ix_campaign_leads_contact_id"), "campaign_leads", ["contact_id"], unique=False)
    op.create_table(
        "campaign_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.Integer(), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "channel IS NULL OR channel IN ('email', 'linkedin', 'call')",
            name=op.f("ck_campaign_events_channel"),
        ),
        sa.CheckConstraint(
            "type IN ('added', 'sent', 'opened', 'clicked', 'replied')", name=op.f("ck_campaign_events_type")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"],
            ["campaign_leads.id"],
            name=op.f("fk_campaign_events_lead_id_campaign_leads"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["step_id"],
            ["campaign_steps.id"],
            name=op.f("fk_campaign_events_step_id_campaign_steps"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_events")),
        sa.UniqueConstraint(
            "lead_id", "step_id", "type", "occurred_at", name=op.f("uq_campaign_events_lead_id")
        ),
    )
    op.create_index(op.f("ix_campaign_events_step_id"), "campaign_events", ["step_id"], unique=False)


def downgrade() -> None:
    for table in (
        "campaign_events",
        "campaign_leads",
        "contacts",
        "campaign_steps",
        "list_memberships",
        "companies",
        "campaigns",
        "lists",
        "identities",
        "app_users",
    ):
        op.drop_table(table)
