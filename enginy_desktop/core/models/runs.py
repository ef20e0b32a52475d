"""Runs (sync, export, enrichment) and their journal (DESIGN §4, §6).

A :class:`Run` is one execution shown in the Runs page's history: what it did (``kind``), to which CRM (or
provider), for which list, its state, its options, and its counters (``{"matched": 812, "new": 40, …}``).
``list_name`` keeps the list's name as it was, so the history still reads well after the list is renamed or
deleted (``list_id`` then becomes NULL).

:class:`RunItem` is the journal: one row per record and run, written before a request and updated after it, so
a cancelled, crashed or killed run can resume without duplicates. The index ``ix_run_items_run_id_state`` serves
"the items of run X in state Y" (what a resume and a report read).

``owner_pid`` and ``owner_host`` say which process runs it: at start-up, a run still marked running whose process
is gone is marked **interrupted** (it can then be resumed), while a run of another live process (the command line
next to the window) is left alone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
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
    "ITEM_OBJECTS",
    "ITEM_STATES",
    "RUN_KINDS",
    "RUN_STATES",
    "Run",
    "RunItem",
    "RunLease",
]

RUN_KINDS = ("sync", "export", "enrichment", "ai", "import")
# queued: created, not started; running; cancelling: the user asked to stop, the batch in flight finishes;
# cancelled / failed / finished: ended; interrupted: its process ended while it ran (crash, kill, power cut).
RUN_STATES = ("queued", "running", "cancelling", "cancelled", "failed", "finished", "interrupted")
ITEM_OBJECTS = ("contact", "company")
# pending: planned; in_flight: a request was sent and its answer not yet recorded; done / failed / skipped.
ITEM_STATES = ("pending", "in_flight", "done", "failed", "skipped")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Run(Base):
    __tablename__ = "runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    crm: Mapped[str | None] = mapped_column(String(40))  # catalog key of the CRM (or provider)
    list_id: Mapped[int | None] = mapped_column(ForeignKey("lists.id", ondelete="SET NULL"))
    list_name: Mapped[str] = mapped_column(String(200), default="", server_default=text("''"))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    counters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_host: Mapped[str | None] = mapped_column(String(255))

    __table_args__ = (
        CheckConstraint(_in("kind", RUN_KINDS), name="kind"),
        CheckConstraint(_in("state", RUN_STATES), name="state"),
        # The history, newest first, per kind; and the start-up look for runs left running.
        Index("ix_runs_kind_created_at", "kind", "created_at"),
        Index("ix_runs_state", "state"),
    )


class RunItem(Base):
    """One record of a run: its planned action and what became of it."""

    __tablename__ = "run_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    object: Mapped[str] = mapped_column(String(10))
    local_id: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(20))  # planned: create, update, unchanged, match, skip…
    state: Mapped[str] = mapped_column(String(12), default="pending")
    crm_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    attempt: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        UniqueConstraint("run_id", "object", "local_id", name="uq_run_items_record"),
        Index("ix_run_items_run_id_state", "run_id", "state"),
        CheckConstraint(_in("object", ITEM_OBJECTS), name="object"),
        CheckConstraint(_in("state", ITEM_STATES), name="state"),
    )


class RunLease(Base):
    """The one active run of a list and a CRM (or provider): taken in the same transaction as the run starts,
    given up when it ends. ``key`` names what is held (``hubspot/list/7``); ``owner_*`` say which process holds it
    and ``heartbeat_at`` when that process last said it was alive, so a crashed process's lease is taken over
    (its pid is gone, or it has not beaten for a while) instead of blocking the list for ever."""

    __tablename__ = "run_leases"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    owner_pid: Mapped[int] = mapped_column(Integer)
    owner_host: Mapped[str] = mapped_column(String(255))
    owner_label: Mapped[str] = mapped_column(String(40), default="command line", server_default=text("'command line'"))
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (Index("ix_run_leases_run_id", "run_id"),)
