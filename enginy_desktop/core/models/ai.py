"""AI columns (DESIGN §14) and TheirStack imports (DESIGN §15): their definitions, results, cache and journal.

* :class:`AiColumn` — one AI column of a list: its name (the custom field its values are stored under), the
  prompt template, the output type and its options, the model and temperature, and ``version``, bumped whenever
  something that changes the answer changes (prompt, output, model, temperature).
* :class:`AiResult` — the value one record got from one column, with the column version (the prompt version) and
  the model that produced it: what the list shows beside the value and what a re-run skips.
* :class:`AiCache` — answers by ``key`` = hash of (model, temperature, the rendered prompt, the output schema), so
  the same question is never paid for twice, whichever column or run asks it.
* :class:`ImportPage` — the journal of a TheirStack import: one row per page requested (offset, companies
  returned, credits spent, state), so a resumed import carries on where it stopped without paying twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

__all__ = ["AiCache", "AiColumn", "AiResult", "ImportPage"]


class AiColumn(Base):
    __tablename__ = "ai_columns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("lists.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    prompt: Mapped[str] = mapped_column(Text)
    output_type: Mapped[str] = mapped_column(String(20))
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    model: Mapped[str] = mapped_column(String(100))
    temperature: Mapped[float] = mapped_column(Float, default=0.0)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("list_id", "name"),)


class AiResult(Base):
    __tablename__ = "ai_results"

    column_id: Mapped[int] = mapped_column(ForeignKey("ai_columns.id", ondelete="CASCADE"), primary_key=True)
    record_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer)
    model: Mapped[str] = mapped_column(String(100))
    cache_key: Mapped[str] = mapped_column(String(64))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AiCache(Base):
    __tablename__ = "ai_cache"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    model: Mapped[str] = mapped_column(String(100))
    answer: Mapped[str] = mapped_column(Text)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ImportPage(Base):
    __tablename__ = "import_pages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"), index=True)
    offset: Mapped[int] = mapped_column(Integer)
    size: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(12))  # in_flight | done | failed
    returned: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    credits: Mapped[int] = mapped_column(Integer, default=0)
    company_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    error: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    __table_args__ = (UniqueConstraint("run_id", "offset"),)
