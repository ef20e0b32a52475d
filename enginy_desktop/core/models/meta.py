"""Facts about the store itself (not about the user's data): the data folder's identity, the last integrity
check, which one-off conversions have run. A small key -> text table."""

from __future__ import annotations

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

__all__ = ["StoreMeta"]


class StoreMeta(Base):
    __tablename__ = "store_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
