"""Per-CRM state: the saved wizard configuration and the links between local records and CRM records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

__all__ = ["LINK_OBJECTS", "LINK_OUTCOMES", "CrmConfigRecord", "CrmLink"]

LINK_OBJECTS = ("contact", "company")
# matched: one CRM record; new: none; ambiguous: several (user must choose); unmatchable: identifier incomplete;
# chosen: the user picked the CRM record of an ambiguous match; create_new: the user chose to create a new record.
LINK_OUTCOMES = ("matched", "new", "ambiguous", "unmatchable", "chosen", "create_new")


class CrmConfigRecord(Base):
    """The configuration of the four wizard steps for one CRM, as the versioned JSON document of
    ``docs/crm-config.md``. Kept when the CRM is disabled; restored when it is enabled again."""

    __tablename__ = "crm_configs"

    crm: Mapped[str] = mapped_column(String(40), primary_key=True)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class CrmLink(Base):
    """What the last sync (or export) learnt about one local record in one CRM."""

    __tablename__ = "crm_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crm: Mapped[str] = mapped_column(String(40))
    object: Mapped[str] = mapped_column(String(10))
    local_id: Mapped[int] = mapped_column(Integer)
    crm_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    outcome: Mapped[str] = mapped_column(String(16))
    why: Mapped[str] = mapped_column(Text, default="")
    candidates: Mapped[list[str]] = mapped_column(JSON, default=list)
    linked_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("crm", "object", "local_id", name="uq_crm_links_record"),
        Index("ix_crm_links_crm_id", "crm", "object", "crm_id"),
        CheckConstraint("object IN ('contact', 'company')", name="object"),
        CheckConstraint(
            "outcome IN ('matched', 'new', 'ambiguous', 'unmatchable', 'chosen', 'create_new')", name="outcome"
        ),
    )
