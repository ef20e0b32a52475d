"""Alembic environment: runs on the connection the store hands over (batch mode, as SQLite needs)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from enginy_desktop.core.models import Base

config = context.config
target_metadata = Base.metadata


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    # Development use (``alembic revision --autogenerate``) with sqlalchemy.url set.
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "sqlite://")
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    raise SystemExit("Offline migrations are not supported; the app migrates its own database at start-up.")
run_migrations()
