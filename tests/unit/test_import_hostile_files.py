"""Hostile CSV files: mixed encodings, a runaway cell, NUL bytes — read correctly or rejected once, and said."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import text

from enginy_desktop.core.importers.csv_import import import_csv, preview
from enginy_desktop.core.store import Store

NAMES = ["José Núñez", "Zoë Müller", "François Lefèvre", "Iñaki Ibáñez", "Ana", "Ömer Çelik"]


@pytest.fixture
def store(data_dir: Path):  # type: ignore[no-untyped-def]
    s = Store.open(data_dir)
    yield s
    s.close()


def _names(store: Store) -> list[str]:
    with store.session() as s:
        return [r[0] for r in s.execute(text("SELECT full_name FROM contacts ORDER BY email"))]


def _report(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("main", ["utf-8", "cp1252"])
def test_a_file_mixing_utf8_and_windows_1252_lines_is_read_line_by_line(
    store: Store, tmp_path: Path, main: str
) -> None:
    other = "cp1252" if main == "utf-8" else "utf-8"
    lines = [b"Name,Email\n"]
    expected, odd_lines = [], []
    for i in range(3000):  # every seventh line in the other encoding
        name = NAMES[i % len(NAMES)]
        encoding = other if i % 7 == 3 else main
        lines.append(f"{name},p{i:05d}@x.com\n".encode(encoding))
        expected.append(name)
        if encoding != main and not name.isascii():
            odd_lines.append(i + 2)
    path = tmp_path / "mixed.csv"
    path.write_bytes(b"".join(lines))
    report = tmp_path / "report.csv"

    pv = preview(path)
    main_label, label = ("UTF-8", "Windows-1252") if main == "utf-8" else ("Windows-1252", "UTF-8")
    assert pv.format.encoding_label == f"{main_label}, with lines in {label}"
    assert {row[0] for row in pv.rows} <= set(NAMES)
    result = import_csv(store, path, list_name="Mixed", report_path=report)
    assert (result.imported, result.rejected) == (3000, 0)
    assert _names(store) == expected  # no mojibake (Ã©), no U+FFFD
    warned = [i.line for i in result.issues if i.status == "warning"]
    assert warned == odd_lines
    assert result.warnings == len(odd_lines)
    rows = _report(report)
    assert [int(r["line"]) for r in rows] == odd_lines
    assert all(f"written in {label}" in r["reason"] for r in rows)


def test_one_oversized_cell_is_one_rejected_row(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A 5 MB cell against a 1 MB row limit (the same as a 50 MB cell against the real 4 MB one, faster).
    monkeypatch.setattr("enginy_desktop.core.importers.rows.MAX_LINE", 1 << 20)
    path = tmp_path / "big.csv"
    with open(path, "wb") as f:
        f.write(b"Name,Email,Notes\nAna,ana@x.com,short\n")
        f.write(b"Luis,luis@x.com," + b"x" * 5_000_000 + b"\n")
        f.write(b"Eva,eva@x.com,short\n")
        f.write(b'Max,max@x.com,"' + b"y" * 3_000_000 + b'"\n')
        f.write(b"Zoe,zoe@x.com,last\n")
    result = import_csv(store, path, list_name="Big")
    assert (result.rows_read, result.imported, result.rejected) == (5, 3, 2)
    rejected = [i for i in result.issues if i.status == "rejected"]
    assert [i.line for i in rejected] == [3, 5]
    assert "5.0 MB long" in rejected[0].reason
    assert "3.0 MB long" in rejected[1].reason
    with store.session() as s:
        assert [r[0] for r in s.execute(text("SELECT email FROM contacts ORDER BY id"))] == [
            "ana@x.com", "eva@x.com", "zoe@x.com"]


def test_nul_bytes_are_removed_with_a_warning(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "nul.csv"
    path.write_bytes(b"Name,Email,Title\nAna\x00 Garc\xc3\xada,ana@x.com,CEO\x00\x00\nLuis,luis@x.com,CTO\n")
    result = import_csv(store, path, list_name="Nul")
    assert (result.imported, result.rejected) == (2, 0)
    [warning] = [i for i in result.issues if i.status == "warning"]
    assert warning.line == 2
    assert "3 NUL" in warning.reason
    with store.session() as s:
        stored = s.execute(text("SELECT full_name, job_title FROM contacts ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [("Ana García", "CEO"), ("Luis", "CTO")]
    with store.session() as s:
        assert s.execute(text("SELECT count(*) FROM contacts WHERE instr(full_name || job_title, char(0)) > 0")
                         ).scalar() == 0


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_endings_and_line_breaks_inside_values(store: Store, tmp_path: Path, eol: str) -> None:
    body = eol.join([
        "Name,Email,Notes",
        'Ana,ana@x.com,"two' + eol + 'lines"',
        "Luis,luis@x.com,form\x0cfeed and\u2028separator",
        "Eva,eva@x.com,plain",
    ]) + eol
    path = tmp_path / "eol.csv"
    path.write_bytes(body.encode("utf-8"))
    result = import_csv(store, path, list_name="E")
    assert (result.imported, result.rejected, result.warnings) == (3, 0, 0)
    with store.session() as s:
        notes = [n for (n,) in s.execute(text("SELECT notes FROM contacts ORDER BY id"))]
    assert notes == ["two" + eol + "lines", "form\x0cfeed and\u2028separator", "plain"]
