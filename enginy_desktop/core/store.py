"""The local SQLite store: engine, sessions and start-up migrations.

Start-up follows one safe path (DESIGN §4): a new file is created and stamped; an older file is backed up with
SQLite's backup API, then upgraded; a file written by a newer Enginy Desktop is refused and left untouched. The
user's database is never deleted. Problems reach the user as :class:`StoreError` with a message that names the
file and says what to do, never as a traceback.

Damage is looked for at open with SQLite's ``PRAGMA quick_check`` — not at every open, since it reads the whole
file (about 0.9 s for a store of 1,000,000 contacts, against a start-up budget of 1 s), but when the file was not
closed cleanly by the last process that had it open (it died or was killed: its "open" marker is left behind and
no longer locked), when the last check is more than :data:`CHECK_EVERY` old, on the first open by this version,
and before every import (:meth:`Store.check`). A damaged file is never changed: the message names the latest
backup, and :func:`restore_latest_backup` puts it in place while keeping the damaged file aside. A zero-byte
``enginy.db`` is refused (a new database is created under a temporary name and moved in place only once complete,
so Enginy Desktop never leaves one behind). A read-only folder and a full disk are one line each.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import sqlite3
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .models import Base
from .paths import DB_FILENAME, FILE_MODE, describe_os_error, secure_data_dir

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
CHECK_EVERY = timedelta(days=7)
OPEN_MARKER_PREFIX = f"{DB_FILENAME}.open-"
BACKUP_INFIX = ".backup-"
DAMAGED_INFIX = ".damaged-"
_WAY_OUT_MARK = " It has not been changed. "


class StoreError(Exception):
    """A problem with the database file that the user must read; ``str()`` is the whole message."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class DatabaseLockedError(StoreError):
    pass


class CorruptDatabaseError(StoreError):
    """The file is damaged (or is not a database). ``backup`` is the latest backup that can replace it."""

    def __init__(self, message: str, path: Path, backup: Path | None = None) -> None:
        super().__init__(message, path)
        self.backup = backup
        # What is wrong and that nothing was changed, without the command-line way out (the window offers its own).
        head, mark, _ = message.partition(_WAY_OUT_MARK)
        self.summary = head + mark.rstrip() if mark else message


class EmptyDatabaseError(CorruptDatabaseError):
    pass


class ReadOnlyStoreError(StoreError):
    pass


class DiskFullError(StoreError):
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


def backups(data_dir: Path) -> list[Path]:
    """The database's backups in ``data_dir``, newest first."""
    found = [p for p in data_dir.glob(f"{DB_FILENAME}{BACKUP_INFIX}*") if p.is_file() and p.stat().st_size > 0]
    return sorted(found, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def latest_backup(data_dir: Path) -> Path | None:
    found = backups(data_dir)
    return found[0] if found else None


def damaged_message(db_file: Path, what: str) -> str:
    """One line: what is wrong, that nothing was changed, and the way out."""
    backup = latest_backup(db_file.parent)
    if backup is not None:
        way_out = (
            f"Put its latest backup ({backup.name}) in its place with `enginy-desktop --data-dir "
            f"\"{db_file.parent}\" restore-backup` (the damaged file is kept beside it), or choose another data "
            "folder with --data-dir."
        )
    else:
        way_out = (
            "There is no backup of it in that folder: move the file aside to start a new workspace, or choose "
            "another data folder with --data-dir."
        )
    return f"The database {db_file} {what}.{_WAY_OUT_MARK}{way_out}"


def _classify(exc: BaseException, db_file: Path) -> StoreError | None:
    orig = getattr(exc, "orig", exc)
    if isinstance(orig, OSError) and not isinstance(orig, sqlite3.Error):
        if orig.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1)):
            return DiskFullError(describe_os_error(orig, db_file.parent), db_file)
        if orig.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
            return ReadOnlyStoreError(describe_os_error(orig, db_file.parent), db_file)
        return None
    text = str(orig).lower()
    if "database or disk is full" in text or "disk is full" in text:
        return DiskFullError(
            f"The disk holding {db_file} is full: the change was not saved (what was saved before is intact). "
            "Free some space and try again.",
            db_file,
        )
    if "locked" in text or "busy" in text:
        return DatabaseLockedError(
            f"The database {db_file} is locked by another program. Close other Enginy Desktop windows or "
            "commands using it and try again.",
            db_file,
        )
    if "not a database" in text or "malformed" in text or "corrupt" in text or "disk i/o" in text:
        return CorruptDatabaseError(
            damaged_message(db_file, "is damaged or is not an Enginy Desktop database"),
            db_file,
            latest_backup(db_file.parent),
        )
    if "unable to open" in text or "readonly" in text or "read-only" in text or "permission" in text:
        return ReadOnlyStoreError(
            f"The database {db_file} cannot be written: its folder is read-only or you do not have permission to "
            "write to it. Fix the permissions of the folder, or choose another data folder with --data-dir.",
            db_file,
        )
    return None


# -- "open" markers: was the file closed cleanly? --------------------------------------------------------------------
if sys.platform == "win32":  # pragma: no cover - Windows
    import msvcrt

    def _try_lock(fd: int) -> bool:
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True

else:
    import fcntl

    def _try_lock(fd: int) -> bool:
        # flock, not lockf: its locks belong to the open file, so a second Store in the same process sees them.
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return False
        return True


class _OpenMarker:
    """A file ``enginy.db.open-…`` kept locked while this process has the store open, removed at close.

    A marker found unlocked belongs to a process that ended without closing the store (crash, kill, power
    cut): the next open runs the integrity check.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / f"{OPEN_MARKER_PREFIX}{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_EXCL, FILE_MODE)
        _try_lock(self.fd)

    def release(self) -> None:
        if self.fd < 0:
            return
        with contextlib.suppress(OSError):
            os.close(self.fd)
        self.fd = -1
        with contextlib.suppress(OSError):
            self.path.unlink()

    @staticmethod
    def stale(data_dir: Path) -> list[Path]:
        """Markers of processes that are gone (their lock is free)."""
        found = []
        for path in data_dir.glob(f"{OPEN_MARKER_PREFIX}*"):
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                continue
            try:
                if _try_lock(fd):
                    found.append(path)
            finally:
                os.close(fd)  # releases the lock just taken
        return found


def quick_check(db_file: Path) -> str:
    """SQLite's ``PRAGMA quick_check`` on the file: "" when sound, else its first findings (one line)."""
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)
    try:
        rows = [r[0] for r in con.execute("PRAGMA quick_check(3)")]
    finally:
        con.close()
    if rows == ["ok"]:
        return ""
    return "; ".join(str(r).replace("\n", " ") for r in rows)[:300]


def _create_database(db_file: Path) -> None:
    """Create a new, stamped database under a temporary name and move it in place only when complete, so a
    crash or a full disk never leaves a zero-byte or half-made ``enginy.db`` behind."""
    from alembic import command

    tmp = db_file.with_name(f"{db_file.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    engine = _make_engine(tmp)
    try:
        with engine.begin() as conn:
            Base.metadata.create_all(conn)
            cfg = alembic_config(tmp)
            cfg.attributes["connection"] = conn
            command.stamp(cfg, head_revision())
            conn.exec_driver_sql(
                "INSERT INTO store_meta (key, value) VALUES ('folder_id', ?), ('last_quick_check', ?)",
                (uuid.uuid4().hex, datetime.now(UTC).isoformat()),
            )
        engine.dispose()  # the last connection checkpoints and removes the -wal and -shm files
        try:
            os.link(tmp, db_file)  # never replaces a database another process created meanwhile
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not db_file.exists():
                os.replace(tmp, db_file)
    finally:
        engine.dispose()
        for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
            with contextlib.suppress(OSError):
                leftover.unlink()


def _copy_database(source: Path, target: Path) -> None:
    """Copy a database with SQLite's online backup API into the new file ``target`` (created 0600)."""
    src = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
    try:
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
        finally:
            dst.close()
    finally:
        src.close()


def restore_latest_backup(data_dir: Path, backup: Path | None = None) -> tuple[Path, Path | None]:
    """Put ``backup`` (default: the latest) in place of ``enginy.db``; returns (backup used, where the replaced
    file was kept). The backup is checked first; the replaced file and its -wal/-shm are renamed, never deleted.
    """
    db_file = data_dir / DB_FILENAME
    backup = backup or latest_backup(data_dir)
    if backup is None:
        raise StoreError(f"There is no backup of {db_file} in {data_dir}.", db_file)
    try:
        problem = quick_check(backup)
    except sqlite3.Error as exc:
        problem = str(exc)
    if problem:
        raise CorruptDatabaseError(
            f"The backup {backup} is damaged too ({problem}). Nothing was changed.", db_file
        )
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    kept: Path | None = None
    try:
        if db_file.exists():
            kept = db_file.with_name(f"{db_file.name}{DAMAGED_INFIX}{stamp}")
            os.replace(db_file, kept)
            for suffix in ("-wal", "-shm"):
                side = db_file.with_name(db_file.name + suffix)
                if side.exists():
                    os.replace(side, kept.with_name(kept.name + suffix))
        tmp = db_file.with_name(f"{db_file.name}.restoring-{uuid.uuid4().hex[:8]}")
        _copy_database(backup, tmp)
        os.replace(tmp, db_file)
    except OSError as exc:
        raise StoreError(describe_os_error(exc, data_dir), db_file) from None
    log.warning("Restored %s from %s (the replaced file is kept as %s)", db_file, backup, kept)
    return backup, kept


class Store:
    """The open database. One short session per unit of work; views get detached objects or dataclasses."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.path = data_dir / DB_FILENAME
        self.engine = _make_engine(self.path)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(immediate=True), expire_on_commit=False
        )
        self.backup_path: Path | None = None
        self.checked_because = ""  # why the integrity check ran at open ("" when it did not)
        self._marker: _OpenMarker | None = None

    @classmethod
    def open(cls, data_dir: Path) -> Store:
        """Open (and create, check or migrate) the store in ``data_dir``; raises :class:`StoreError` for the
        user."""
        db_file = data_dir / DB_FILENAME
        try:
            secure_data_dir(data_dir)
            if db_file.exists() and db_file.stat().st_size == 0:
                raise EmptyDatabaseError(
                    damaged_message(db_file, "is empty (0 bytes): it was cut short, for example by a full disk or "
                                    "an interrupted copy, so it would open as an empty workspace"),
                    db_file,
                    latest_backup(data_dir),
                )
            stale = _OpenMarker.stale(data_dir)
            marker = _OpenMarker(data_dir)
        except OSError as exc:
            classified = _classify(exc, db_file)
            if classified is None:
                raise StoreError(describe_os_error(exc, data_dir), db_file) from None
            raise classified from None
        store = cls(data_dir)
        store._marker = marker
        try:
            if not db_file.exists():
                _create_database(db_file)
            else:
                store._check_at_open(unclean=bool(stale))
            store.migrate()
            if store.checked_because:
                store._set_meta("last_quick_check", datetime.now(UTC).isoformat())
        except StoreError:
            store.close()
            raise
        except (DBAPIError, sqlite3.Error, OSError) as exc:
            store.close()
            classified = _classify(exc, store.path)
            if classified is None:
                raise
            raise classified from None
        for path in stale:  # the check passed (or was not needed): forget the dead processes' markers
            with contextlib.suppress(OSError):
                path.unlink()
        return store

    # -- integrity -------------------------------------------------------------------------------------------
    def _check_at_open(self, unclean: bool) -> None:
        if unclean:
            reason = "the last program using it did not close it (it stopped or was killed)"
        else:
            last = self._get_meta("last_quick_check")
            if last is None:
                reason = "first open by this version"
            else:
                try:
                    when = datetime.fromisoformat(last)
                except ValueError:
                    when = datetime.min.replace(tzinfo=UTC)
                reason = "" if datetime.now(UTC) - when < CHECK_EVERY else "scheduled check"
        if reason:
            log.info("Checking %s (%s)", self.path, reason)
            self.checked_because = reason
            self.check()

    def check(self) -> None:
        """Run SQLite's ``quick_check`` now; raises :class:`CorruptDatabaseError` (one line) when it fails."""
        try:
            problem = quick_check(self.path)
        except sqlite3.DatabaseError as exc:
            classified = _classify(exc, self.path)
            if classified is None:
                raise
            if not isinstance(classified, CorruptDatabaseError):
                raise classified from None
            problem = str(exc)
        if problem:
            log.error("Integrity check of %s failed: %s", self.path, problem)
            raise CorruptDatabaseError(
                damaged_message(self.path, f"is damaged (SQLite's integrity check found: {problem})"),
                self.path,
                latest_backup(self.data_dir),
            )

    def _get_meta(self, key: str) -> str | None:
        try:
            with self.engine.connect() as conn:
                value = conn.execute(text("SELECT value FROM store_meta WHERE key = :k"), {"k": key}).scalar()
        except OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if value is None else str(value)

    def _set_meta(self, key: str, value: str) -> None:
        with self.write() as session:
            session.execute(
                text("INSERT INTO store_meta (key, value) VALUES (:k, :v) "
                     "ON CONFLICT(key) DO UPDATE SET value = excluded.value"),
                {"k": key, "v": value},
            )

    def meta(self, key: str) -> str | None:
        """A fact about this store (see ``core.models.meta``)."""
        return self._get_meta(key)

    def set_meta(self, key: str, value: str) -> None:
        self._set_meta(key, value)

    def folder_id(self) -> str:
        """This data folder's identity: a random id made once, kept in the database (so it moves with it)."""
        value = self._get_meta("folder_id")
        if value is None:
            with self.write() as session:
                session.execute(
                    text("INSERT OR IGNORE INTO store_meta (key, value) VALUES ('folder_id', :v)"),
                    {"v": uuid.uuid4().hex},
                )
            value = self._get_meta("folder_id")
        assert value is not None
        return value

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
            log.info("Creating the tables of a new database at %s", self.path)
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
        _copy_database(self.path, target)
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
        except (DBAPIError, sqlite3.DatabaseError) as exc:
            classified = _classify(exc, self.path)
            if classified is None:
                raise
            raise classified from exc

    def close(self) -> None:
        self.engine.dispose()
        if self._marker is not None:
            self._marker.release()
            self._marker = None
