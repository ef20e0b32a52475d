"""The export journal's own tables (migration 0005), beside the runs' ``run_items`` (DESIGN §6 "Runs").

An export run journals:

- each **record** (contact or company) as a ``run_items`` row (planned action, state, CRM id, error) with an
  :class:`ExportRecord` holding what the plan decided for it: the properties to send, the field-level
  before -> after, why it is blocked, the identifier that finds it again in the CRM (``lookup``) and, for a
  local duplicate, the record it is merged into;
- each **operation** that is not a record write as an :class:`ExportOp`: an association to add or make primary,
  an association to remove, an activity to log; with its own state, written before and after its request;
- each **removed association** as a :class:`RemovedAssociation`, written *before* the removal is sent, so that
  **Restore removed associations** knows everything a run removed, even one that was killed mid-request;
- each **activity** logged in a CRM as an :class:`ActivityLink` (CRM, campaign event -> CRM activity id), so that
  exporting again never logs the same event twice.

``docs/export.md`` describes the states and why a resumed run neither duplicates nor loses anything.
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

__all__ = ["OP_KINDS", "OP_STATES", "ActivityLink", "ExportOp", "ExportRecord", "RemovedAssociation"]

# associate: add the contact's company association; primary: add it as primary; remove: remove one association;
# activity: log one campaign event as a CRM activity.
OP_KINDS = ("associate", "primary", "remove", "activity")
OP_STATES = ("pending", "in_flight", "done", "failed", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class ExportRecord(Base):
    """What an export plan decided for one record (one per ``run_items`` row of an export)."""

    __tablename__ = "export_records"

    run_item_id: Mapped[int] = mapped_column(ForeignKey("run_items.id", ondelete="CASCADE"), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(String(400), default="")  # "Jane Doe <jane@acme.com>"
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # CRM field -> value to send
    # [[field, before, after, effect], ...]: the preview's before -> after, kept for the report
    changes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    lookup: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # unique CRM field -> value, for re-checks
    outcome: Mapped[str] = mapped_column(String(20), default="")  # created, updated, unchanged, merged, blocked…
    code: Mapped[str] = mapped_column(String(40), default="")  # why blocked or failed, for grouping
    leader_id: Mapped[int | None] = mapped_column(Integer)  # local id of the record this one is merged into
    company_id: Mapped[int | None] = mapped_column(Integer)  # a contact's local company
    why: Mapped[str] = mapped_column(Text, default="")  # how it matched

    __table_args__ = (Index("ix_export_records_run_id", "run_id"),)


class ExportOp(Base):
    """One association or activity of an export run, journaled before and after its request."""

    __tablename__ = "export_ops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(12))
    contact_id: Mapped[int | None] = mapped_column(Integer)  # local contact
    company_id: Mapped[int | None] = mapped_column(Integer)  # local company (associate, primary)
    event_id: Mapped[int | None] = mapped_column(Integer)  # campaign event (activity)
    from_crm_id: Mapped[str | None] = mapped_column(String(64))  # the contact's CRM id, once known
    to_crm_id: Mapped[str | None] = mapped_column(String(64))  # the company's CRM id, once known
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    crm_id: Mapped[str | None] = mapped_column(String(64))  # the activity's CRM id
    error: Mapped[str | None] = mapped_column(Text)
    code: Mapped[str] = mapped_column(String(40), default="")
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_export_ops_run_id_kind_state", "run_id", "kind", "state"),
        CheckConstraint(_in("kind", OP_KINDS), name="kind"),
        CheckConstraint(_in("state", OP_STATES), name="state"),
    )


class RemovedAssociation(Base):
    """An association that "Associate as Primary and remove previous associations" removed (or was removing
    when the run stopped), with what it was, for **Restore removed associations**."""

    __tablename__ = "removed_associations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    op_id: Mapped[int | None] = mapped_column(ForeignKey("export_ops.id", ondelete="SET NULL"))
    crm: Mapped[str] = mapped_column(String(40))
    contact_id: Mapped[int | None] = mapped_column(Integer)  # local contact
    from_crm_id: Mapped[str] = mapped_column(String(64))  # the contact in the CRM
    to_crm_id: Mapped[str] = mapped_column(String(64))  # the company it was associated with
    was_primary: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    types: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"id", "category", "label"}] as read
    # removing: journaled, request sent or about to be; removed: confirmed; restored; restore_failed
    state: Mapped[str] = mapped_column(String(16), default="removing")
    removed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    restored_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index("ix_removed_associations_run_id", "run_id"),
        CheckConstraint(_in("state", ("removing", "removed", "restored", "restore_failed")), name="state"),
    )


class ActivityLink(Base):
    """A campaign event logged as an activity in a CRM: exporting again never logs it twice."""

    __tablename__ = "activity_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    crm: Mapped[str] = mapped_column(String(40))
    event_id: Mapped[int] = mapped_column(ForeignKey("campaign_events.id", ondelete="CASCADE"))
    crm_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(10))  # email, call, note
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("crm", "event_id", name="uq_activity_links_event"),)
