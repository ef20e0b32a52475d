"""Every table of the store. Import a model module here so Alembic and the tests see its tables."""

from .base import Base, utcnow
from .integrations import IntegrationState

__all__ = ["Base", "IntegrationState", "utcnow"]
