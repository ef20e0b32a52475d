"""Per-integration state: enabled flag and non-secret settings. Secrets live in the keyring, never here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class IntegrationState(Base):
    __tablename__ = "integrations"

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    category: Mapped[str] = mapped_column(String(40))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("0"))
    # Non-secret connection settings (base URL, region, tier, client id...). Secret fields never go here.
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    connected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    __table_args__ = (
        # The one-CRM rule, held by SQLite itself: at most one enabled row in the CRM category, whichever
        # process or code path writes it.
        Index(
            "uq_integrations_one_active_crm",
            "category",
            unique=True,
            sqlite_where=text("category = 'crm' AND enabled = 1"),
        ),
    )
