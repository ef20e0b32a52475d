"""The local workspace: contacts, companies, lists, campaigns with their activity, identities and users.

Lists hold either contacts or companies (``kind``); a membership row points at a record of that kind by id
(``record_id`` is not a foreign key because it refers to one of two tables; the workspace service deletes the
memberships of a record it deletes). Membership ``position`` is the list's natural order; the index
``ix_list_memberships_list_position`` makes counting a list and paging it by position index-only, which is
what opening a 1,000,000-row list needs.

Campaign activity is kept as raw events (added / sent / opened / clicked / replied per step); the campaign
properties exported to a CRM are derived from them by :mod:`enginy_desktop.core.campaigns`, never stored.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

__all__ = [
    "CHANNELS",
    "EVENT_TYPES",
    "IDENTITY_KINDS",
    "LIST_KINDS",
    "STEP_KINDS",
    "AppUser",
    "Campaign",
    "CampaignEvent",
    "CampaignLead",
    "CampaignStep",
    "Company",
    "Contact",
    "ContactList",
    "Identity",
    "ListMembership",
]

LIST_KINDS = ("contacts", "companies")
STEP_KINDS = ("email", "linkedin_message", "linkedin_connection_request", "call")
EVENT_TYPES = ("added", "sent", "opened", "clicked", "replied")
CHANNELS = ("email", "linkedin", "call")
IDENTITY_KINDS = ("linkedin", "email")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AppUser(Base):
    """An Enginy user of this workspace; owns the records they import or export (Step 4 Users Mapping)."""

    __tablename__ = "app_users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), unique=True)
    is_current: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        # At most one current user, held by SQLite itself like the one-CRM rule.
        Index("uq_app_users_one_current", "is_current", unique=True, sqlite_where=text("is_current = 1")),
    )


class Identity(Base):
    """A profile that runs campaigns: a LinkedIn profile (address = profile URL) or an email sender."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (
        CheckConstraint(_in("kind", IDENTITY_KINDS), name="kind"),
        UniqueConstraint("kind", "address"),
    )


class Company(Base):
    __tablename__ = "companies"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str | None] = mapped_column(String(300))
    # casefolded, whitespace-collapsed name: how contacts find their company when no domain is known.
    name_key: Mapped[str | None] = mapped_column(String(300), index=True)
    domain: Mapped[str | None] = mapped_column(String(255), index=True)
    website: Mapped[str | None] = mapped_column(String(500))
    linkedin_url: Mapped[str | None] = mapped_column(String(500), index=True)
    industry: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[str | None] = mapped_column(String(50))
    employee_count: Mapped[int | None] = mapped_column(Integer)
    country: Mapped[str | None] = mapped_column(String(100))
    city: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    description: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id", ondelete="SET NULL"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    revenue: Mapped[str | None] = mapped_column(String(100))  # added by enrichment


class Contact(Base):
    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    last_name: Mapped[str | None] = mapped_column(String(200))
    full_name: Mapped[str | None] = mapped_column(String(400))
    # Stored trimmed and lowercased; the list-internal dedupe key of an import.
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    phone: Mapped[str | None] = mapped_column(String(50))
    mobile: Mapped[str | None] = mapped_column(String(50))
    job_title: Mapped[str | None] = mapped_column(String(300))
    seniority: Mapped[str | None] = mapped_column(String(100))
    department: Mapped[str | None] = mapped_column(String(100))
    # Stored canonical (https://www.linkedin.com/in/slug); the other dedupe key of an import.
    linkedin_url: Mapped[str | None] = mapped_column(String(500), index=True)
    company_name: Mapped[str | None] = mapped_column(String(300))
    company_domain: Mapped[str | None] = mapped_column(String(255))
    company_linkedin_url: Mapped[str | None] = mapped_column(String(500))
    location: Mapped[str | None] = mapped_column(String(300))
    city: Mapped[str | None] = mapped_column(String(100))
    country: Mapped[str | None] = mapped_column(String(100))
    website: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    source: Mapped[str | None] = mapped_column(String(100))
    custom_fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict, server_default=text("'{}'"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("app_users.id", ondelete="SET NULL"), index=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    # Added by enrichment (last, as the migration adds them): the e-mail's verification status as the provider
    # that checked it said it (valid, accept_all…), and the company's firmographics as found for the contact (a
    # contact may have no company record).
    email_status: Mapped[str | None] = mapped_column(String(40))
    company_industry: Mapped[str | None] = mapped_column(String(200))
    company_size: Mapped[str | None] = mapped_column(String(50))
    company_revenue: Mapped[str | None] = mapped_column(String(100))


class ContactList(Base):
    """A named list of contacts or of companies (``kind``)."""

    __tablename__ = "lists"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200, collation="NOCASE"), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Bumped whenever the list or one of its records changes through the workspace service or an import;
    # cached sort orders of the list are keyed by it.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (CheckConstraint(_in("kind", LIST_KINDS), name="kind"),)


class ListMembership(Base):
    """One record in one list; ``record_id`` is a contact id or a company id according to the list's kind."""

    __tablename__ = "list_memberships"

    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        # Count and page a list in its natural order from the index alone (covering: record_id included).
        Index("ix_list_memberships_list_position", "list_id", "position", "record_id", unique=True),
        # Which lists hold a record (deleting a record, "in lists" column).
        Index("ix_list_memberships_record_id", "record_id"),
    )


class Campaign(Base):
    """A sequence of steps run by one identity for a set of leads."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200, collation="NOCASE"), unique=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="RESTRICT"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class CampaignStep(Base):
    __tablename__ = "campaign_steps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    # 1-based order of the step in its campaign.
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(40))

    __table_args__ = (
        UniqueConstraint("campaign_id", "position"),
        CheckConstraint(_in("kind", STEP_KINDS), name="kind"),
    )


class CampaignLead(Base):
    __tablename__ = "campaign_leads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id", ondelete="CASCADE"), index=True)
    added_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("campaign_id", "contact_id"),)


class CampaignEvent(Base):
    """Something that happened to a lead: added, or a step sent / opened / clicked / replied."""

    __tablename__ = "campaign_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("campaign_leads.id", ondelete="CASCADE"))
    step_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign_steps.id", ondelete="CASCADE"), index=True
    )
    type: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    channel: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        # Importing the same events log twice records each event once.
        UniqueConstraint("lead_id", "step_id", "type", "occurred_at"),
        CheckConstraint(_in("type", EVENT_TYPES), name="type"),
        CheckConstraint(f"channel IS NULL OR {_in('channel', CHANNELS)}", name="channel"),
    )
