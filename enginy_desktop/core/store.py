"""The local SQLite store: engine, sessions and start-up migrations.

Start-up follows one safe path (DESIGN §4): a new file is created and stamped; an older file is backed up with
SQLite's backup API, then upgraded; a file written by a newer Enginy Desktop is refused and left untouched. The
user's database is never deleted. Problems reach the user as :class:`StoreError` with a message that names the
file and says what to do, never as a traceback.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .models import Base

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000


class StoreError(Exception):
    """A problem with the database file that the user must read; ``str()`` is the whole message."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class DatabaseLockedError(StoreError):
    pass


class CorruptDatabaseError(StoreError):
    pass


class NewerDatabaseError(StoreError):
    pass


def _migrations_dir() -> str:
    return str(resources.files("enginy_desktop") / "migrations")


def alembic_config(db_file: Path | None = None) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", _migrations_dir())
    if db_file is not None:
        cfg.set_main_option("sqlalchemy.url", f"sqlite:///{db_file}")
    return cfg


def head_revision() -> str:
    """The newest migration, as Alembic computes it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    return head


def latest_revision_id() -> str:
    """The newest migration by file name (``NNNN_*.py`` with revision ``"NNNN"``), without importing Alembic.

    Start-up uses it to skip loading Alembic when the database is already current; a test keeps it equal to
    :func:`head_revision`.
    """
    versions = resources.files("enginy_desktop") / "migrations" / "versions"
    ids = [p.name[:4] for p in versions.iterdir() if p.name[:4].isdigit() and p.name.endswith(".py")]
    return max(ids)


def _make_engine(db_file: Path) -> Engine:
    engine = create_engine(
        f"sqlite:///{db_file}",
        connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event emit BEGIN itself (pysqlite's implicit transactions are unreliable).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # IMMEDIATE takes the write lock up front, so concurrent writers wait (busy_timeout) instead of
        # failing half-way through a read-then-write unit of work.
        conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("immediate") else "BEGIN")

    return engine


def _classify(exc: BaseException, db_file: Path) -> StoreError | None:
    text = str(getattr(exc, "orig", exc)).lower()
    if "locked" in text or "busy" in text:
        return DatabaseLockedError(
            f"The database {db_file} is locked by another program. Close other Enginy Desktop windows or "
            "commands using it and try again.",
            db_file,
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text or "disk i/o" in text:
        return CorruptDatabaseError(
            f"The database {db_file} is damaged or is not an Enginy Desktop database. It has not been changed. "
            "Restore it from a backup (files named enginy.db.backup-… in the same folder), or move it aside to "
            "start with a new one.",
            db_file,
        )
    if "unable to open" in text or "readonly" in text or "permission" in text:
        return StoreError(
            f"The database {db_file} cannot be opened for writing. Check that the folder exists and that you "
            "have permission to write to it.",
            db_file,
        )
    return None


class Store:
    """The open database. One short session per unit of work; views get detached objects or dataclasses."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / "enginy.db"
        self.engine = _make_engine(self.path)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(immediate=True), expire_on_commit=False
        )
        self.backup_path: Path | None = None

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (and create or migrate) the store in ``data_dir``; raises :class:`StoreError` for the user."""
        store = cls(data_dir)
        try:
            store.migrate()
        except StoreError:
            store.close()
            raise
        except (DBAPIError, sqlite3.Error) as exc:
            store.close()
            classified = _classify(exc, store.path)
            if classified is None:
                raise
            raise classified from None
        return store

    # -- migrations ------------------------------------------------------------------------------------------
    def migrate(self) -> None:
        with self.engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
            current = (
                conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
                if "alembic_version" in tables
                else None
            )
        if current is not None and current == latest_revision_id():
            return  # the common case: nothing to do, and no need to load Alembic
        from alembic import command
        from alembic.script import ScriptDirectory

        head = head_revision()
        script = ScriptDirectory.from_config(alembic_config())
        if current is None:
            if tables - {"alembic_version"}:
                raise StoreError(
                    f"The file {self.path} holds tables that Enginy Desktop did not create. It has not been "
                    "changed. Choose another data folder with --data-dir.",
                    self.path,
                )
            log.info("Creating a new database at %s", self.path)
            with self.engine.begin() as conn:
                Base.metadata.create_all(conn)
                cfg = alembic_config(self.path)
                cfg.attributes["connection"] = conn
                command.stamp(cfg, head)
            return
        if current == head:
            return
        try:
            script.get_revision(current)
        except Exception:  # alembic raises several types for an unknown revision
            raise NewerDatabaseError(
                f"The database {self.path} was written by a newer version of Enginy Desktop (schema {current}). "
                "It has not been changed. Install the latest Enginy Desktop to open it.",
                self.path,
            ) from None
        self.backup_path = self.backup(reason=f"before-{head}")
        log.info("Upgrading database %s from %s to %s (backup: %s)", self.path, current, head, self.backup_path)
        with self.engine.begin() as conn:
            cfg = alembic_config(self.path)
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")

    def backup(self, reason: str = "manual") -> Path:
        """Copy the database with SQLite's online backup API; returns the new file's path."""
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.backup-{stamp}-{reason}")
        n = 1
        while target.exists():
            n += 1
            target = self.path.with_name(f"{self.path.name}.backup-{stamp}-{reason}-{n}")
        src = sqlite3.connect(self.path)
        try:
            dst = sqlite3.connect(target)
            try:
                src.backup(dst)
            finally:
                dst.close()
        finally:
            src.close()
        return target

    # -- sessions --------------------------------------------------------------------------------------------
    @contextmanager
    def session(self) -> Iterator[Session]:
        """A read (or read-mostly) unit of work; committed on success, rolled back on error."""
        with self._translate_errors(), self._sessions.begin() as session:
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A unit of work that writes: takes SQLite's write lock at BEGIN (waiting up to the busy timeout)."""
        with self._translate_errors(), self._write_sessions.begin() as session:
            yield session

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as exc:
            classified = _classify(exc, self.path)
            if classified is None:
                raise
            raise classified from exc

    def close(self) -> None:
        self.engine.dispose()
