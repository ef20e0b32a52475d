"""A damaged, empty, read-only or full store: one clear line, nothing changed, a way out (DESIGN §4)."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from enginy_desktop.core.importers.csv_import import import_csv
from enginy_desktop.core.store import (
    CorruptDatabaseError,
    DiskFullError,
    EmptyDatabaseError,
    Store,
    restore_latest_backup,
)

ROOT = Path(__file__).resolve().parents[2]


def _contacts_csv(path: Path, rows: int) -> Path:
    lines = ["First Name,Last Name,Email"]
    lines += [f"Ana{i},García,ana{i}@example.com" for i in range(rows)]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def _store_with_contacts(data_dir: Path, tmp_path: Path, rows: int = 3000) -> None:
    store = Store.open(data_dir)
    try:
        import_csv(store, _contacts_csv(tmp_path / "seed.csv", rows), list_name="Seed")
        store.backup(reason="manual")
    finally:
        store.close()


def _damage_a_page(db: Path) -> None:
    """Overwrite one page in the middle of the contacts table's b-tree (as a failing disk would)."""
    con = sqlite3.connect(db)
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'contacts'").fetchone()[0]
    con.close()
    pages = db.stat().st_size // page_size
    target = max(root + 1, pages // 2)
    with open(db, "r+b") as f:
        f.seek((target - 1) * page_size)
        f.write(b"\xa5" * page_size)


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_zero_byte_database_is_refused_not_replaced_by_an_empty_workspace(data_dir: Path, cli) -> None:  # type: ignore[no-untyped-def]
    db = data_dir / "enginy.db"
    db.write_bytes(b"")
    with pytest.raises(EmptyDatabaseError, match="0 bytes"):
        Store.open(data_dir)
    code, _, err = cli("integrations", "list")
    assert code == 1
    assert "0 bytes" in _one_line(err)
    assert db.stat().st_size == 0  # untouched
    assert not list(data_dir.glob("enginy.db.open-*"))


def test_a_new_database_appears_only_when_complete(data_dir: Path) -> None:
    Store.open(data_dir).close()
    names = sorted(p.name for p in data_dir.iterdir() if p.name.startswith("enginy.db"))
    assert names == ["enginy.db"]  # no temporary file, no -wal, no marker left behind


def test_damage_found_after_a_kill_then_the_backup_is_restored(data_dir: Path, tmp_path: Path, cli) -> None:  # type: ignore[no-untyped-def]
    _store_with_contacts(data_dir, tmp_path)
    # A process that has the store open is killed: its "open" marker stays behind.
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from pathlib import Path; from enginy_desktop.core.store import "
         "Store; Store.open(Path(sys.argv[1])); print('open', flush=True); time.sleep(60)", str(data_dir)],
        stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == "open"
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    holder.stdout.close()
    _damage_a_page(data_dir / "enginy.db")
    damaged = (data_dir / "enginy.db").read_bytes()

    with pytest.raises(CorruptDatabaseError) as err:
        Store.open(data_dir)
    assert "integrity check" in str(err.value)
    assert "restore-backup" in str(err.value)
    code, _, out = cli("integrations", "list")
    assert code == 1
    assert "is damaged" in _one_line(out)
    assert (data_dir / "enginy.db").read_bytes() == damaged  # never changed

    code, out, err_text = cli("restore-backup")
    assert code == 0, err_text
    assert "Restored" in out
    kept = list(data_dir.glob("enginy.db.damaged-*"))
    assert [p.read_bytes() for p in kept if not p.name.endswith(("-wal", "-shm"))] == [damaged]
    store = Store.open(data_dir)
    try:
        with store.session() as s:
            assert s.connection().exec_driver_sql("SELECT count(*) FROM contacts").scalar() == 3000
    finally:
        store.close()


def test_an_import_into_a_damaged_store_is_refused(data_dir: Path, tmp_path: Path) -> None:
    _store_with_contacts(data_dir, tmp_path)
    store = Store.open(data_dir)  # closed cleanly and checked just now: no check at open
    try:
        assert store.checked_because == ""
        _damage_a_page(data_dir / "enginy.db")
        with pytest.raises(CorruptDatabaseError, match="is damaged"):
            import_csv(store, _contacts_csv(tmp_path / "more.csv", 10), list_name="More")
    finally:
        store.close()


def test_restore_refuses_a_damaged_backup_and_changes_nothing(data_dir: Path, tmp_path: Path) -> None:
    _store_with_contacts(data_dir, tmp_path)
    backup = next(data_dir.glob("enginy.db.backup-*"))
    _damage_a_page(backup)
    before = (data_dir / "enginy.db").read_bytes()
    with pytest.raises(CorruptDatabaseError, match="damaged too"):
        restore_latest_backup(data_dir)
    assert (data_dir / "enginy.db").read_bytes() == before


@contextlib.contextmanager
def _read_only(*paths: Path) -> Iterator[None]:
    """Really read-only: chmod for a normal user; for root (who ignores modes) the immutable attribute."""
    if os.geteuid() != 0:
        modes = {p: p.stat().st_mode for p in paths}
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        try:
            yield
        finally:
            for p, m in modes.items():
                p.chmod(stat.S_IMODE(m))
        return
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", *map(str, paths)]).returncode != 0:
        pytest.skip("cannot make a folder read-only for root here (no chattr +i)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", *map(str, paths)], check=False)


@pytest.mark.parametrize("command", [("integrations", "list"), ("lists",), ("restore-backup", "--list")])
def test_read_only_data_folder_is_one_line_on_every_command(data_dir: Path, cli, command) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("integrations", "list")
    assert code == 0, err
    logs = data_dir / "logs"
    with _read_only(data_dir, logs, logs / "enginy-desktop.log", data_dir / "enginy.db"):
        code, _, err = cli(*command)
    if command[0] == "restore-backup":  # reads only: works on a read-only folder
        assert code == 0, err
        return
    assert code == 1
    line = _one_line(err)
    assert "read-only" in line
    assert str(data_dir) in line


def test_full_disk_during_an_import_is_one_line_and_keeps_what_was_there(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from enginy_desktop.core.logsetup import configure_logging, stop_logging

    _store_with_contacts(data_dir, tmp_path, rows=200)
    # The log lives on a full device (real ENOSPC on every write); the database may not grow (real SQLITE_FULL).
    configure_logging(data_dir)
    stop_logging()
    log_file = data_dir / "logs" / "enginy-desktop.log"
    log_file.unlink()
    log_file.symlink_to("/dev/full")
    configure_logging(data_dir)
    store = Store.open(data_dir)
    pages = sqlite3.connect(data_dir / "enginy.db").execute("PRAGMA page_count").fetchone()[0]
    event.listen(store.engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count = {pages + 8}"))
    store.engine.dispose()
    try:
        report = data_dir / "reports" / "import-big.csv"
        with pytest.raises(DiskFullError, match="full") as err:
            import_csv(store, _contacts_csv(tmp_path / "big.csv", 20_000), list_name="Big", report_path=report)
        assert "\n" not in str(err.value)
        assert not report.exists()  # the import was undone as a whole, and so was its report
        logging.getLogger("enginy_desktop.test").warning("one more line for the full log")
        with store.session() as s:
            assert s.connection().exec_driver_sql("SELECT count(*) FROM contacts").scalar() == 200
    finally:
        store.close()
        stop_logging()
    err_text = capsys.readouterr().err
    assert "Logging error" not in err_text
    assert "Traceback" not in err_text
    assert err_text.count("The log file cannot be written") == 1


def test_files_are_private_to_the_user(data_dir: Path, tmp_path: Path) -> None:
    if os.name != "posix":
        pytest.skip("file modes are POSIX")
    previous_umask = os.umask(0o022)  # as a library user's process would have it (the CLI sets 077 itself)
    try:
        _check_files_are_private(data_dir, tmp_path)
    finally:
        os.umask(previous_umask)


def _check_files_are_private(data_dir: Path, tmp_path: Path) -> None:
    # A folder as an older version left it: 0755 folders, 0644 files.
    Store.open(data_dir).close()
    (data_dir / "logs").mkdir(exist_ok=True)
    (data_dir / "logs" / "enginy-desktop.log").write_text("old log\n")
    (data_dir / "reports").mkdir(exist_ok=True)
    (data_dir / "reports" / "import-old.csv").write_text("line,status\n")
    (data_dir / "notes.txt").write_text("the user's own file\n")
    for p in (data_dir, data_dir / "logs", data_dir / "reports"):
        p.chmod(0o755)
    for p in (data_dir / "enginy.db", data_dir / "logs" / "enginy-desktop.log", data_dir / "reports" / "import-old.csv",
              data_dir / "notes.txt"):
        p.chmod(0o644)

    store = Store.open(data_dir)
    try:
        store.backup(reason="manual")
        report = data_dir / "reports" / "import-new.csv"
        import_csv(store, _contacts_csv(tmp_path / "x.csv", 3).parent.joinpath("x.csv"), list_name="X",
                   report_path=report)
        with store.session() as s:  # the -wal and -shm exist while the store is open
            s.connection().exec_driver_sql("SELECT 1")
            for side in ("enginy.db-wal", "enginy.db-shm"):
                if (data_dir / side).exists():
                    assert stat.S_IMODE((data_dir / side).stat().st_mode) == 0o600, side
    finally:
        store.close()
    from enginy_desktop.core.logsetup import configure_logging, stop_logging

    configure_logging(data_dir)
    logging.getLogger("enginy_desktop.test").warning("a line")
    stop_logging()
    for p in data_dir.rglob("*"):
        if p.name == "notes.txt":
            assert stat.S_IMODE(p.stat().st_mode) == 0o644  # not the app's: left alone
            continue
        want = 0o700 if p.is_dir() else 0o600
        assert stat.S_IMODE(p.stat().st_mode) == want, p
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
