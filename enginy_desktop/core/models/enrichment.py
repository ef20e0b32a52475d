"""Enrichment (DESIGN §13): the provenance of enriched values, the per-provider cache, the request journal of
enrichment runs, and the default waterfall order.

- :class:`EnrichedValue` — one row per record field that an enrichment wrote: which provider, when, its confidence
  or verification status, and the run. The list shows it; ``lists NAME --json`` carries it.
- :class:`EnrichmentCacheEntry` — what a provider answered for one input (the normalised identity of a person or
  company) and one data point, found or not, across runs: the same lookup is never paid twice.
- :class:`EnrichmentRequest` — the journal of one run's requests to providers: written *in flight* before a
  request is sent and *done* with its answer (the cache rows and values land in the same transaction), so a run
  resumed after a crash knows what was asked; an asynchronous provider's job id is kept as soon as it is known.
- :class:`EnrichmentDefault` — the waterfall saved per data point: the providers' order, and those never to ask for
  it (``excluded``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow

__all__ = ["EnrichedValue", "EnrichmentCacheEntry", "EnrichmentDefault", "EnrichmentRequest"]


class EnrichedValue(Base):
    __tablename__ = "enriched_values"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_kind: Mapped[str] = mapped_column(String(10))  # contact | company
    record_id: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(60))
    data_point: Mapped[str] = mapped_column(String(30))
    provider: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    confidence: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")
    found_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    run_id: Mapped[int | None] = mapped_column(ForeignKey("runs.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("record_kind", "record_id", "field", name="uq_enriched_values_field"),)


class EnrichmentCacheEntry(Base):
    __tablename__ = "enrichment_cache"

    provider: Mapped[str] = mapped_column(String(40), primary_key=True)
    identity: Mapped[str] = mapped_column(String(1000), primary_key=True)
    data_point: Mapped[str] = mapped_column(String(30), primary_key=True)
    found: Mapped[bool] = mapped_column(Boolean)
    value: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[str] = mapped_column(String(40), default="")
    status: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class EnrichmentRequest(Base):
    __tablename__ = "enrichment_requests"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(40))
    record_ids: Mapped[list[int]] = mapped_column(JSON, default=list)
    points: Mapped[list[str]] = mapped_column(JSON, default=list)
    state: Mapped[str] = mapped_column(String(12), default="in_flight")  # in_flight | done | failed
    job_id: Mapped[str | None] = mapped_column(Text)  # an async job id, or a two-phase provider's token
    credits: Mapped[float] = mapped_column(Float, default=0.0)
    found: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # data point -> values found
    asked: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # data point -> records asked
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_enrichment_requests_run_id_state", "run_id", "state"),)


class EnrichmentDefault(Base):
    __tablename__ = "enrichment_defaults"

    data_point: Mapped[str] = mapped_column(String(30), primary_key=True)
    providers: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Providers unticked for this data point: a run started from the saved waterfall does not ask them for it.
    excluded: Mapped[list[str]] = mapped_column(JSON, default=list, server_default=text("'[]'"))
