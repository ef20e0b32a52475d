"""Start-up migrations and database problems (DESIGN §4): create, back up and upgrade, refuse, never delete."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from enginy_desktop.core.store import (
    CorruptDatabaseError,
    DatabaseLockedError,
    NewerDatabaseError,
    Store,
    StoreError,
    alembic_config,
    head_revision,
)


def _pragma(store: Store, name: str) -> object:
    with store.engine.connect() as conn:
        return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_new_database_is_created_stamped_with_wal_and_foreign_keys(data_dir: Path) -> None:
    store = Store.open(data_dir)
    try:
        assert (data_dir / "enginy.db").is_file()
        assert _pragma(store, "journal_mode") == "wal"
        assert _pragma(store, "foreign_keys") == 1
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
        assert store.backup_path is None
    finally:
        store.close()


def test_reopening_a_current_database_changes_nothing(data_dir: Path) -> None:
    Store.open(data_dir).close()
    store = Store.open(data_dir)
    store.close()
    assert store.backup_path is None
    assert not list(data_dir.glob("enginy.db.backup-*"))


def test_older_database_is_backed_up_then_upgraded(data_dir: Path) -> None:
    db = data_dir / "enginy.db"
    cfg = alembic_config(db)
    command.upgrade(cfg, "0001")  # a database as the first release left it
    engine = create_engine(f"sqlite:///{db}")
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO integrations (key, category, enabled, settings, updated_at) "
                "VALUES ('hubspot', 'crm', 1, '{\"tier\": \"Enterprise\"}', '2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    if head_revision() == "0001":
        pytest.skip("only one migration exists")

    store = Store.open(data_dir)
    try:
        assert store.backup_path is not None
        assert store.backup_path.is_file()
        backup = sqlite3.connect(store.backup_path)
        assert backup.execute("SELECT version_num FROM alembic_version").fetchone() == ("0001",)
        assert backup.execute("SELECT key FROM integrations").fetchall() == [("hubspot",)]
        backup.close()
        with store.engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
            assert conn.execute(text("SELECT settings FROM integrations")).scalar() == '{"tier": "Enterprise"}'
    finally:
        store.close()


def test_newer_database_is_refused_and_left_untouched(data_dir: Path) -> None:
    Store.open(data_dir).close()
    db = data_dir / "enginy.db"
    con = sqlite3.connect(db)
    con.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = db.read_bytes()
    with pytest.raises(NewerDatabaseError) as err:
        Store.open(data_dir)
    assert str(db) in str(err.value)
    assert "newer version" in str(err.value)
    assert db.read_bytes() == before
    assert not list(data_dir.glob("enginy.db.backup-*"))


def test_corrupt_file_gives_a_clear_message_naming_it(data_dir: Path) -> None:
    db = data_dir / "enginy.db"
    garbage = b"this is not a database at all\x00" * 200
    db.write_bytes(garbage)
    with pytest.raises(CorruptDatabaseError) as err:
        Store.open(data_dir)
    assert str(db) in str(err.value)
    assert db.read_bytes() == garbage


def test_foreign_database_is_refused(data_dir: Path) -> None:
    con = sqlite3.connect(data_dir / "enginy.db")
    con.execute("CREATE TABLE recipes (id INTEGER PRIMARY KEY)")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="did not create"):
        Store.open(data_dir)


def test_locked_database_gives_a_clear_message(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Store.open(data_dir).close()
    import enginy_desktop.core.store as store_module

    monkeypatch.setattr(store_module, "BUSY_TIMEOUT_MS", 200)
    holder = sqlite3.connect(data_dir / "enginy.db", timeout=0.1)
    holder.execute("PRAGMA journal_mode=DELETE")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        store = Store(data_dir)
        with pytest.raises(DatabaseLockedError) as err, store.write() as session:
            session.execute(text("UPDATE integrations SET enabled = 0"))
        assert str(data_dir / "enginy.db") in str(err.value)
        store.close()
    finally:
        holder.rollback()
        holder.close()


def test_fast_head_check_agrees_with_alembic() -> None:
    from enginy_desktop.core.store import latest_revision_id

    assert latest_revision_id() == head_revision()
