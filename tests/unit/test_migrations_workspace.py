"""The migration chain and ``create_all`` (used for a new database) must build the same workspace schema."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core.models import Base
from enginy_desktop.core.store import Store, alembic_config, head_revision

WORKSPACE_TABLES = {
    "app_users",
    "identities",
    "companies",
    "contacts",
    "lists",
    "list_memberships",
    "campaigns",
    "campaign_steps",
    "campaign_leads",
    "campaign_events",
}


def _migrated_db(tmp_path: Path, target: str = "head") -> Path:
    db = tmp_path / "chain.db"
    command.upgrade(alembic_config(db), target)
    return db


def _split_top_level(body: str) -> list[str]:
    items, depth, cur = [], 0, []
    for ch in body:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            items.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    items.append("".join(cur).strip())
    return items


def _schema(db: Path) -> dict[str, object]:
    """Tables as (ordered columns, set of constraints); indexes by their SQL; whitespace normalized."""
    con = sqlite3.connect(db)
    try:
        out: dict[str, object] = {}
        for kind, name, sql in con.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE name NOT LIKE 'sqlite_%' AND name != 'alembic_version'"
        ):
            sql = re.sub(r"\s+", " ", sql or "")
            if kind == "table":
                body = sql[sql.index("(") + 1 : sql.rindex(")")]
                parts = _split_top_level(body)
                columns = [p for p in parts if not p.startswith("CONSTRAINT")]
                constraints = sorted(p for p in parts if p.startswith("CONSTRAINT"))
                out[name] = (kind, columns, constraints)
            else:
                out[name] = (kind, sql)
        return out
    finally:
        con.close()


def test_workspace_revision_is_in_the_chain() -> None:
    assert int(head_revision()) >= 2


def test_chain_matches_models_by_autogenerate(tmp_path: Path) -> None:
    db = _migrated_db(tmp_path)
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_chain_matches_create_all_table_by_table(tmp_path: Path) -> None:
    chain = _migrated_db(tmp_path)
    fresh_dir = tmp_path / "fresh"
    fresh_dir.mkdir()
    Store.open(fresh_dir).close()
    a, b = _schema(chain), _schema(fresh_dir / "enginy.db")
    assert set(a) >= WORKSPACE_TABLES
    assert a == b


def test_upgrade_from_0001_keeps_integrations_and_downgrade_removes_workspace(tmp_path: Path) -> None:
    db = _migrated_db(tmp_path, "0001")
    con = sqlite3.connect(db)
    con.execute(
        "INSERT INTO integrations (key, category, enabled, settings, updated_at) "
        "VALUES ('hubspot', 'crm', 1, '{}', '2026-01-01 00:00:00')"
    )
    con.commit()
    con.close()
    command.upgrade(alembic_config(db), "head")
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT key FROM integrations").fetchall() == [("hubspot",)]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables >= WORKSPACE_TABLES
    finally:
        con.close()
    command.downgrade(alembic_config(db), "0001")
    con = sqlite3.connect(db)
    try:
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert not (WORKSPACE_TABLES & tables)
        assert "integrations" in tables
    finally:
        con.close()


def test_at_most_one_current_user_is_held_by_sqlite(data_dir: Path) -> None:
    store = Store.open(data_dir)
    try:
        with store.write() as s:
            s.execute(
                text(
                    "INSERT INTO app_users (name, email, is_current, created_at) VALUES "
                    "('Ana', 'ana@x.com', 1, '2026-01-01'), ('Bo', 'bo@x.com', 0, '2026-01-01'), "
                    "('Cy', 'cy@x.com', 0, '2026-01-01')"
                )
            )
        with pytest.raises(IntegrityError), store.write() as s:
            s.execute(text("UPDATE app_users SET is_current = 1 WHERE email = 'bo@x.com'"))
    finally:
        store.close()


def test_list_names_are_unique_ignoring_case(data_dir: Path) -> None:
    insert = "INSERT INTO lists (name, kind, created_at, updated_at)"
    store = Store.open(data_dir)
    try:
        with store.write() as s:
            s.execute(text(f"{insert} VALUES ('Leads', 'contacts', 'x', 'x')"))
        with pytest.raises(IntegrityError), store.write() as s:
            s.execute(text(f"{insert} VALUES ('LEADS', 'contacts', 'x', 'x')"))
    finally:
        store.close()
