"""Import contacts or companies from a CSV file into a list of the local workspace.

The file is streamed, never loaded: rows are read, cleaned and written in chunks with plain ``executemany``
statements on the store's connection, all inside ONE write transaction. So a cancelled (or failed) import leaves
nothing behind — not even the new list — unless ``keep_partial=True`` asks to keep the chunks already written.

The rules for bad rows (the user-facing version is in ``docs/import.md``):

* a row with a different number of values than the header is **rejected** (extra values that are all empty
  are tolerated: spreadsheets often add trailing separators);
* a contact row without a name, an email and a LinkedIn URL (a company row without a name, a domain, a website
  and a LinkedIn URL) is **rejected**;
* a value that its field cannot hold (an invalid email, a malformed web or LinkedIn address, a domain that is
  not one, a number that is not a number) is **dropped with a warning**, and the row is imported without it;
* a file mixing UTF-8 and Windows-1252 lines is decoded **line by line** (``rows.Lines``); each line in the other
  encoding than the file's gets a **warning**; NUL bytes are removed with a **warning**; in a UTF-16 file, bytes
  that cannot be decoded are replaced by U+FFFD and the row gets a **warning**;
* a row the CSV reader cannot parse (for example a value longer than the reader's limit) is **rejected**; a line
  longer than ``rows.MAX_LINE`` is skipped to its end as **one** rejected row that gives its size.

Blank lines are not rows. Every row read is counted once: ``rows_read == imported + updated + rejected``.
Every rejected row and every warning is reported with its line number and reason (:class:`RowIssue`), and is
streamed to the report CSV when ``report_path`` is given.

Duplicates are looked for inside the target list only: a contact row with the email (else the LinkedIn URL) of
a contact already in the list updates that contact ("updated"); a company row with the domain (else LinkedIn URL,
else name) of a company in the list updates it. An update writes the row's non-empty values and never blanks a
field. Contacts are linked to a company by domain (else by name), and the company is created when missing; a
companies import reuses a company Enginy already knows by the same key instead of creating a second one.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import sys
import time
from collections.abc import Callable, Generator, Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from sqlite3 import Cursor
from typing import Any, Protocol

from enginy_desktop.core.collector import collector_paused
from enginy_desktop.core.fields import COMPANY_FIELDS, RecordKind, name_key
from enginy_desktop.core.store import Store

from .mapping import ColumnMapping, MappingError, load_mapping_specs
from .report import ReportWriter, RowIssue
from .rows import Chunk, ImportFileError, Lines, Parsed, Rows, iter_chunks, parse_worker, read_header
from .rows import Plan as _Plan
from .sniff import CsvFormat, sniff_file

log = logging.getLogger(__name__)

__all__ = [
    "CURRENT_USER",
    "ColumnMapping",
    "CsvFormat",
    "ImportFileError",
    "ImportProgress",
    "ImportResult",
    "MappingError",
    "Preview",
    "RowIssue",
    "import_csv",
    "preview",
]

CHUNK_ROWS = 5000
MAX_ISSUES_KEPT = 10_000
PREVIEW_ROWS = 20
IMPORT_CACHE_KIB = 64 * 1024  # SQLite page cache for the import's connection: index updates stay in memory
# From this size on, with a second core, the file is parsed in a second process while this one writes (about
# 1.5x faster on two cores, and the importing process keeps more time for the window); below it, starting that
# process costs more than it saves.
PARALLEL_MIN_BYTES = 8 * 1024 * 1024
PARALLEL_MIN_CPUS = 2


class _CurrentUser:
    def __repr__(self) -> str:
        return "CURRENT_USER"


CURRENT_USER: Any = _CurrentUser()
"""``owner_id`` default: the Enginy user marked current (none -> records without owner)."""


class _Cancelled(Exception):
    pass


class CancelToken(Protocol):
    def is_set(self) -> bool: ...


Cancel = Callable[[], bool] | CancelToken


def _cancel_fn(cancel: Cancel | None) -> Callable[[], bool]:
    if cancel is None:
        return lambda: False
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return is_set
    return cancel  # type: ignore[return-value]



@dataclass(frozen=True, slots=True)
class ImportProgress:
    rows_done: int
    bytes_done: int
    bytes_total: int
    imported: int
    updated: int
    rejected: int

    @property
    def fraction(self) -> float:
        return min(1.0, self.bytes_done / self.bytes_total) if self.bytes_total else 1.0


@dataclass
class ImportResult:
    path: Path
    kind: RecordKind
    list_id: int | None
    list_name: str
    format: CsvFormat
    rows_read: int = 0
    imported: int = 0
    updated: int = 0
    rejected: int = 0
    warnings: int = 0
    blank_lines: int = 0
    companies_created: int = 0
    cancelled: bool = False
    kept_partial: bool = False
    issues: list[RowIssue] = field(default_factory=list)
    issues_truncated: bool = False
    report_path: Path | None = None
    seconds: float = 0.0

    @property
    def committed(self) -> bool:
        """Whether anything of this import is in the store."""
        return not self.cancelled or self.kept_partial

    def summary(self) -> str:
        what = "contacts" if self.kind is RecordKind.CONTACT else "companies"
        head = (
            f"{self.rows_read:,} row{'s' if self.rows_read != 1 else ''} read: {self.imported:,} imported, "
            f"{self.updated:,} updated, {self.rejected:,} rejected ({self.warnings:,} "
            f"warning{'s' if self.warnings != 1 else ''}) into the {what} list '{self.list_name}'."
        )
        if self.cancelled:
            head += (
                " Cancelled: the rows imported so far were kept."
                if self.kept_partial
                else " Cancelled: nothing was imported (the list is unchanged)."
            )
        return head

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "object": self.kind.list_kind,
            "list_id": self.list_id,
            "list": self.list_name,
            "format": self.format.as_json(),
            "rows_read": self.rows_read,
            "imported": self.imported,
            "updated": self.updated,
            "rejected": self.rejected,
            "warnings": self.warnings,
            "blank_lines": self.blank_lines,
            "companies_created": self.companies_created,
            "cancelled": self.cancelled,
            "kept_partial": self.kept_partial,
            "report": str(self.report_path) if self.report_path else None,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class Preview:
    """What the import dialog shows before importing: the first rows, how the file was read, a mapping."""

    path: Path
    format: CsvFormat
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]  # padded or cut to the header's width, for display
    mapping: ColumnMapping
    total_bytes: int

    def column_samples(self, index: int, n: int = 3) -> list[str]:
        return [r[index] for r in self.rows if r[index].strip()][:n]


# -- reading ------------------------------------------------------------------------------------------------------
def _check_file(path: Path) -> int:
    path = Path(path)
    if not path.exists():
        raise ImportFileError(f"The file {path} does not exist.")
    if not path.is_file():
        raise ImportFileError(f"{path} is not a file.")
    try:
        size = path.stat().st_size
        with open(path, "rb"):
            pass
    except OSError as exc:
        raise ImportFileError(f"The file {path} cannot be read: {exc.strerror or exc}.") from None
    if size == 0:
        raise ImportFileError(f"The file {path} is empty.")
    return size


def preview(
    path: Path,
    kind: RecordKind | str = RecordKind.CONTACT,
    *,
    max_rows: int = PREVIEW_ROWS,
    mapping: ColumnMapping | dict[str, object] | Path | None = None,
    fmt: CsvFormat | None = None,
) -> Preview:
    """The first ``max_rows`` rows, the detected format and a mapping (suggested, or ``mapping`` applied)."""
    kind = RecordKind(kind)
    path = Path(path)
    size = _check_file(path)
    fmt = fmt or sniff_file(path)
    with Lines(path, fmt) as lines:
        rows = Rows(lines, fmt.delimiter)
        headers = read_header(rows, path)
        shown: list[tuple[str, ...]] = []
        for _start, _end, record, _error in rows:
            if record is None:
                continue
            padded = (list(record) + [""] * len(headers))[: len(headers)]
            shown.append(tuple(padded))
            if len(shown) >= max_rows:
                break
    return Preview(path, fmt, headers, tuple(shown), _resolve_mapping(kind, headers, mapping), size)


def _resolve_mapping(
    kind: RecordKind, headers: Sequence[str], mapping: ColumnMapping | dict[str, object] | Path | None
) -> ColumnMapping:
    if mapping is None:
        return ColumnMapping.suggest(kind, headers)
    if isinstance(mapping, ColumnMapping):
        if mapping.kind is not kind:
            raise MappingError(f"This mapping is for {mapping.kind.list_kind}, not {kind.list_kind}.")
        if [h.casefold() for h in mapping.headers] == [h.casefold() for h in headers]:
            return mapping
        return ColumnMapping.from_specs(kind, headers, {r.header: r.spec for r in mapping.rules})
    if isinstance(mapping, Path):
        return ColumnMapping.from_specs(kind, headers, load_mapping_specs(mapping, kind))
    return ColumnMapping.from_specs(kind, headers, mapping)


# -- writing ------------------------------------------------------------------------------------------------------
def _placeholders(n: int) -> str:
    return ",".join("?" * n)


def _lookup(cur: Cursor, sql: str, params_head: Sequence[Any], keys: Sequence[Any]) -> dict[Any, int]:
    """key -> id for ``keys`` (in slices under SQLite's variable limit); the lowest id wins a key."""
    out: dict[Any, int] = {}
    keys = list(keys)
    for i in range(0, len(keys), 900):
        part = keys[i : i + 900]
        for key, rid in cur.execute(sql.format(_placeholders(len(part))), (*params_head, *part)):
            if key not in out or rid < out[key]:
                out[key] = rid
    return out


class _Seen:
    """Hashes of the keys a table (or a list) may already hold: a key whose hash is absent is certainly new.

    Only keys whose hash is present are looked up in SQLite, so a clean file costs no lookups at all, and the
    filter takes a few dozen bytes per key instead of the key itself.
    """

    __slots__ = ("hashes",)

    def __init__(self) -> None:
        self.hashes: set[int] = set()

    def load(self, cur: Cursor, sql: str, params: Sequence[Any] = ()) -> None:
        add = self.hashes.add
        for (key,) in cur.execute(sql, params):
            if key is not None:
                add(hash(key))

    def maybe(self, key: Any) -> bool:
        return hash(key) in self.hashes

    def add(self, key: Any) -> None:
        self.hashes.add(hash(key))


_COMPANY_COLUMNS = tuple(f.name for f in COMPANY_FIELDS)


class _Writer:
    """Writes cleaned rows of one import on the raw connection of the open write transaction."""

    def __init__(
        self, cur: Cursor, plan: _Plan, list_id: int, owner_id: int | None, source: str, now: str
    ) -> None:
        self.cur, self.plan, self.kind, self.list_id = cur, plan, plan.kind, list_id
        self.owner_id, self.source, self.now = owner_id, source, now
        self.imported = self.updated = self.companies_created = 0
        self.next_contact = cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM contacts").fetchone()[0]
        self.next_company = cur.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM companies").fetchone()[0]
        self.next_position = cur.execute(
            "SELECT COALESCE(MAX(position), -1) + 1 FROM list_memberships WHERE list_id = ?", (list_id,)
        ).fetchone()[0]
        # SQL below is built from the fixed field registry and table names, never from file content.
        cols = list(plan.table_cols)
        sets = ", ".join(f"{n} = COALESCE(?, {n})" for n in cols)
        if self.kind is RecordKind.CONTACT:
            self.table = "contacts"
            extra = ["custom_fields", "owner_id", "company_id", "created_at", "updated_at", "id"]
            self.update_sql = (
                f"UPDATE contacts SET {sets}, custom_fields = json_patch(custom_fields, ?), "  # noqa: S608
                "company_id = COALESCE(?, company_id), updated_at = ? WHERE id = ?"
            )
            self.list_columns: tuple[str, ...] = ("email", "linkedin_url")
        else:
            self.table = "companies"
            extra = ["custom_fields", "name_key", "owner_id", "created_at", "updated_at", "id"]
            self.update_sql = (
                f"UPDATE companies SET {sets}, custom_fields = json_patch(custom_fields, ?), "  # noqa: S608
                "name_key = COALESCE(?, name_key), updated_at = ? WHERE id = ?"
            )
            self.list_columns = ("domain", "linkedin_url", "name_key")
        self.insert_sql = (
            f"INSERT INTO {self.table} ({', '.join(cols + extra)}) "  # noqa: S608
            f"VALUES ({_placeholders(len(cols) + len(extra))})"
        )
        self.company_insert = (
            "INSERT INTO companies (name, domain, website, linkedin_url, source, name_key, custom_fields, "
            "owner_id, created_at, updated_at, id) VALUES (?, ?, ?, ?, ?, ?, '{}', ?, ?, ?, ?)"
        )
        self.membership_insert = "INSERT INTO list_memberships (list_id, record_id, position) VALUES (?, ?, ?)"

        # Keys already in the list (dedupe) and companies already known (linking / reuse), as hash filters.
        self.in_list = {c: _Seen() for c in self.list_columns}
        for column, seen in self.in_list.items():
            seen.load(
                cur,
                f"SELECT t.{column} FROM list_memberships m JOIN {self.table} t "  # noqa: S608
                "ON t.id = m.record_id WHERE m.list_id = ?",
                (list_id,),
            )
        self.companies = {c: _Seen() for c in ("domain", "linkedin_url", "name_key")}
        for column, seen in self.companies.items():
            if self.kind is RecordKind.COMPANY or column != "linkedin_url":
                seen.load(cur, f"SELECT {column} FROM companies")  # noqa: S608
        self._company_cache: dict[tuple[str, str], int] = {}

    def _known_companies(self, column: str, keys: set[Any]) -> dict[Any, int]:
        seen = self.companies[column]
        candidates = sorted(k for k in keys if seen.maybe(k))
        if not candidates:
            return {}
        sql = f"SELECT {column}, id FROM companies WHERE {column} IN ({{}})"  # noqa: S608
        return _lookup(self.cur, sql, (), candidates)

    def _lookup_in_list(self, column: str, candidates: set[Any]) -> dict[Any, int]:
        """key -> id of the records of the list with that key, for keys the hash filter could not rule out."""
        if not candidates:
            return {}
        sql = (
            # CROSS JOIN keeps SQLite on the key's index first (it would otherwise scan the whole list).
            f"SELECT t.{column}, t.id FROM {self.table} t CROSS JOIN list_memberships m "  # noqa: S608
            f"ON m.list_id = ? AND m.record_id = t.id WHERE t.{column} IN ({{}})"
        )
        return _lookup(self.cur, sql, (self.list_id,), sorted(candidates))

    def write(self, parsed: Parsed) -> None:
        if len(parsed):
            if self.kind is RecordKind.CONTACT:
                self._write_contacts(parsed)
            else:
                self._write_companies(parsed)

    def _candidates(self, seen: _Seen, values: list[Any] | None) -> set[Any]:
        if values is None:
            return set()
        hashes = seen.hashes
        return {v for v in values if v is not None and hash(v) in hashes}

    # -- companies that contacts link to --
    def _company_ids(self, parsed: Parsed) -> list[int | None]:
        """Per row, the company it belongs to (by domain, else by name), creating the missing ones."""
        p = self.plan.pos
        n = len(parsed)
        domains = parsed.columns[p("company_domain")]
        names = parsed.column(p("company_name")) or [None] * n
        keys: list[tuple[str, str] | None] = [
            ("d", d) if d is not None else (("n", nk) if (nk := name_key(c)) else None)
            for d, c in zip(domains, names, strict=True)
        ]
        cache = self._company_cache
        if len(cache) > 200_000:
            cache.clear()
        wanted = {k for k in keys if k is not None and k not in cache}
        for prefix, column in (("d", "domain"), ("n", "name_key")):
            some = {k[1] for k in wanted if k[0] == prefix}
            if some:
                cache.update(((prefix, k), i) for k, i in self._known_companies(column, some).items())
        webs = parsed.column(p("website")) or [None] * n
        linkedins = parsed.column(p("company_linkedin_url")) or [None] * n
        new: list[tuple[Any, ...]] = []
        # Rows with a domain first: a company they create is then found by name by the rows without one.
        todo = [i for i, k in enumerate(keys) if k is not None and k not in cache]
        todo.sort(key=lambda i: keys[i][0] != "d")  # type: ignore[index]
        for i in todo:
            key = keys[i]
            if key is None or key in cache:
                continue
            cid = self.next_company
            self.next_company += 1
            cache[key] = cid
            nk = name_key(names[i])
            if nk:
                cache.setdefault(("n", nk), cid)
                self.companies["name_key"].add(nk)
            new.append((names[i], domains[i], webs[i], linkedins[i], self.source, nk, self.owner_id, self.now,
                        self.now, cid))
            if domains[i]:
                self.companies["domain"].add(domains[i])
        if new:
            self.cur.executemany(self.company_insert, new)
            self.companies_created += len(new)
        get = cache.get
        return [get(k) if k is not None else None for k in keys]

    def _write_contacts(self, parsed: Parsed) -> None:
        p = self.plan.pos
        n = len(parsed)
        company_ids = self._company_ids(parsed)
        emails, lis = parsed.column(p("email")), parsed.column(p("linkedin_url"))
        seen_e, seen_l = self.in_list["email"], self.in_list["linkedin_url"]
        by_email = self._lookup_in_list("email", self._candidates(seen_e, emails))
        by_li = self._lookup_in_list("linkedin_url", self._candidates(seen_l, lis))
        e_values = [e for e in emails if e is not None] if emails is not None else []
        l_values = [v for v in lis if v is not None] if lis is not None else []
        sources = parsed.columns[p("source")]
        if None in sources:
            parsed.columns[p("source")] = [s if s is not None else self.source for s in sources]
        owner, now, list_id = self.owner_id, self.now, self.list_id
        if not by_email and not by_li and len(set(e_values)) == len(e_values) and len(set(l_values)) == len(l_values):
            # Every row is new (the usual case): build the statements' rows column-wise, in C.
            ids = range(self.next_contact, self.next_contact + n)
            inserts = zip(*parsed.columns, parsed.custom, repeat(owner, n), company_ids, repeat(now, n),
                          repeat(now, n), ids, strict=True)
            members = list(zip(repeat(list_id, n), ids, range(self.next_position, self.next_position + n),
                               strict=True))
            self.next_contact += n
            self.next_position += n
            seen_e.hashes.update(map(hash, e_values))
            seen_l.hashes.update(map(hash, l_values))
            self.imported += n
            self._flush(inserts, members, [])
            return
        # Some rows update a contact of the list (or an earlier row of this chunk): row by row.
        rows = [list(t) for t in zip(*parsed.columns, parsed.custom, strict=True)]
        inserts_l, members_l, updates = [], [], []
        for i, v in enumerate(rows):
            email = emails[i] if emails is not None else None
            li = lis[i] if lis is not None else None
            rid = (by_email.get(email) if email else None) or (by_li.get(li) if li else None)
            if rid is not None:
                v.extend((company_ids[i], now, rid))
                updates.append(v)
            else:
                rid = self.next_contact
                self.next_contact += 1
                v.extend((owner, company_ids[i], now, now, rid))
                inserts_l.append(v)
                members_l.append((list_id, rid, self.next_position))
                self.next_position += 1
            if email:
                by_email.setdefault(email, rid)
                seen_e.add(email)
            if li:
                by_li.setdefault(li, rid)
                seen_l.add(li)
        self.imported += len(inserts_l)
        self.updated += len(updates)
        self._flush(inserts_l, members_l, updates)

    def _write_companies(self, parsed: Parsed) -> None:
        p = self.plan.pos
        n = len(parsed)
        domains = parsed.columns[p("domain")]
        lis = parsed.column(p("linkedin_url")) or [None] * n
        names = [name_key(v) for v in parsed.column(p("name")) or [None] * n]
        sources = parsed.columns[p("source")]
        keys: list[tuple[str, Any]] = [
            ("domain", d) if d else (("linkedin_url", li) if li else ("name_key", nk))
            for d, li, nk in zip(domains, lis, names, strict=True)
        ]
        in_list: dict[tuple[str, Any], int] = {}
        known: dict[tuple[str, Any], int] = {}
        for column in ("domain", "linkedin_url", "name_key"):
            wanted = {k for c, k in keys if c == column and k is not None}
            if not wanted:
                continue
            found = self._lookup_in_list(column, self._candidates(self.in_list[column], list(wanted)))
            in_list.update(((column, k), i) for k, i in found.items())
            rest = wanted - set(found)
            known.update(((column, k), i) for k, i in self._known_companies(column, rest).items())
        rows = [list(t) for t in zip(*parsed.columns, parsed.custom, strict=True)]
        inserts, members, updates = [], [], []
        owner, now, source = self.owner_id, self.now, self.source
        p_source = p("source")
        for i, v in enumerate(rows):
            key, nk = keys[i], names[i]
            rid = in_list.get(key)
            if rid is not None:
                v.extend((nk, now, rid))
                updates.append(v)
                self.updated += 1
                continue
            rid = known.get(key)
            if rid is not None:
                v.extend((nk, now, rid))
                updates.append(v)
            else:
                rid = self.next_company
                self.next_company += 1
                if sources[i] is None:
                    v[p_source] = source
                v.extend((nk, owner, now, now, rid))
                inserts.append(v)
                known[key] = rid
                for column, value in (("domain", domains[i]), ("linkedin_url", lis[i]), ("name_key", nk)):
                    if value:
                        self.companies[column].add(value)
            members.append((self.list_id, rid, self.next_position))
            self.next_position += 1
            in_list[key] = rid
            if key[1] is not None:
                self.in_list[key[0]].add(key[1])
            self.imported += 1
        self._flush(inserts, members, updates)

    def _flush(self, inserts: Iterable[Any], members: list[Any], updates: list[Any]) -> None:
        cur = self.cur
        if inserts:
            cur.executemany(self.insert_sql, inserts)
        if members:
            cur.executemany(self.membership_insert, members)
        if updates:  # after the inserts: a later row of this chunk may update a record inserted by an earlier one
            cur.executemany(self.update_sql, updates)


def _now_text() -> str:
    # The text SQLAlchemy's SQLite DateTime type writes and reads back.
    return time.strftime("%Y-%m-%d %H:%M:%S.000000", time.gmtime())


def _target_list(cur: Cursor, name: str, kind: RecordKind, create: bool, now: str) -> int:
    row = cur.execute("SELECT id, kind FROM lists WHERE name = ?", (name,)).fetchone()
    if row is not None:
        if row[1] != kind.list_kind:
            raise ImportFileError(
                f"The list '{name}' holds {row[1]}; import {kind.list_kind} into a {kind.list_kind} list."
            )
        return int(row[0])
    if not create:
        raise ImportFileError(f"There is no list named '{name}'.")
    cur.execute(
        "INSERT INTO lists (name, kind, created_at, updated_at) VALUES (?, ?, ?, ?)",
        (name, kind.list_kind, now, now),
    )
    return int(cur.lastrowid or 0)


def import_csv(
    store: Store,
    path: Path,
    *,
    kind: RecordKind | str = RecordKind.CONTACT,
    list_name: str,
    mapping: ColumnMapping | dict[str, object] | Path | None = None,
    fmt: CsvFormat | None = None,
    create_list: bool = True,
    owner_id: int | None = CURRENT_USER,
    source: str | None = None,
    progress: Callable[[ImportProgress], None] | None = None,
    cancel: Cancel | None = None,
    keep_partial: bool = False,
    report_path: Path | None = None,
    chunk_rows: int = CHUNK_ROWS,
    parallel: bool | None = None,
) -> ImportResult:
    """Import ``path`` into the list ``list_name`` (created when missing and ``create_list``).

    ``mapping``: a :class:`ColumnMapping`, a dict header -> rule, a mapping JSON file, or None for the suggested
    mapping. ``cancel`` (a callable or an Event) is checked between chunks; a cancelled import is rolled back
    entirely unless ``keep_partial``. ``progress`` is called after every chunk. ``parallel`` parses in a second
    process (default: files of 8 MB and more, on machines with 2 cores or more). Raises
    :class:`ImportFileError` or :class:`MappingError` before writing anything when the file or the mapping
    cannot be used.
    """
    started = time.perf_counter()
    kind = RecordKind(kind)
    path = Path(path)
    list_name = list_name.strip()
    if not list_name:
        raise ImportFileError("Choose a list to import into (the list name is empty).")
    total = _check_file(path)
    fmt = fmt or sniff_file(path)
    is_cancelled = _cancel_fn(cancel)
    source = (source or f"CSV import: {path.name}")[:100]

    # A damaged store is found before anything is written into it, not when a query reaches the bad page.
    store.check()
    result = ImportResult(path, kind, None, list_name, fmt, report_path=report_path)
    with Lines(path, fmt) as lines:
        headers = read_header(Rows(lines, fmt.delimiter), path)
    resolved = _resolve_mapping(kind, headers, mapping)
    plan = _Plan.build(resolved)
    if parallel is None:
        # A frozen build starts a child by running its own executable: off by default there (see the docstring
        # of _chunks_from_process); pass parallel=True once the entry point calls freeze_support().
        parallel = (
            total >= PARALLEL_MIN_BYTES
            and (os.cpu_count() or 1) >= PARALLEL_MIN_CPUS
            and not getattr(sys, "frozen", False)
        )
    use_process = parallel
    chunks = _chunks_in_process(path, fmt, resolved, chunk_rows) if not use_process else (
        _chunks_from_process(path, fmt, resolved, chunk_rows)
    )
    report = ReportWriter(report_path) if report_path else None

    def record_issues(found: list[RowIssue]) -> None:
        for issue in found:
            if issue.status == "rejected":
                result.rejected += 1
            else:
                result.warnings += 1
        room = MAX_ISSUES_KEPT - len(result.issues)
        if room > 0:
            result.issues.extend(found[:room])
        if len(found) > max(room, 0):
            result.issues_truncated = True
        if report is not None:
            report.write(found)

    try:
        with contextlib.suppress(_Cancelled), collector_paused(), store.write() as session:
            cur = session.connection().connection.driver_connection.cursor()  # type: ignore[union-attr]
            cache_before = cur.execute("PRAGMA cache_size").fetchone()[0]
            cur.execute(f"PRAGMA cache_size = -{IMPORT_CACHE_KIB}")
            try:
                now = _now_text()
                list_id = _target_list(cur, list_name, kind, create_list, now)
                result.list_id = list_id
                if owner_id is CURRENT_USER:
                    row = cur.execute("SELECT id FROM app_users WHERE is_current = 1").fetchone()
                    owner_id = row[0] if row else None
                writer = _Writer(cur, plan, list_id, owner_id, source, now)
                try:
                    while True:
                        if is_cancelled():
                            raise _Cancelled
                        try:
                            n, parsed, issues, position = next(chunks)
                        except StopIteration as stop:
                            result.blank_lines = int(stop.value or 0)
                            break
                        result.rows_read += n
                        writer.write(parsed)
                        result.imported, result.updated = writer.imported, writer.updated
                        record_issues(issues)
                        if progress is not None:
                            progress(
                                ImportProgress(
                                    result.rows_read, min(position, total), total,
                                    result.imported, result.updated, result.rejected,
                                )
                            )
                except _Cancelled:
                    result.cancelled = True
                    if not keep_partial:
                        raise
                    result.kept_partial = True
                result.companies_created = writer.companies_created
                cur.execute("UPDATE lists SET updated_at = ? WHERE id = ?", (_now_text(), list_id))
            finally:
                cur.execute(f"PRAGMA cache_size = {cache_before}")
    except BaseException:
        # The import was undone as a whole (a full disk, a damaged store, an interruption): so is its report.
        if report is not None:
            report.close()
            with contextlib.suppress(OSError):
                report.path.unlink()
        raise
    finally:
        chunks.close()
        if report is not None:
            report.close()
    if result.cancelled and not result.kept_partial:
        result.list_id = None
        result.companies_created = 0
    result.seconds = time.perf_counter() - started
    log.info("CSV import of %s: %s", path.name, result.summary())
    return result


def _chunks_in_process(
    path: Path, fmt: CsvFormat, mapping: ColumnMapping, chunk_rows: int
) -> Generator[Chunk, None, int]:
    return (yield from iter_chunks(path, fmt, mapping, chunk_rows))


def _chunks_from_process(
    path: Path, fmt: CsvFormat, mapping: ColumnMapping, chunk_rows: int
) -> Generator[Chunk, None, int]:
    """The chunks of :func:`iter_chunks`, parsed by a child process (``spawn``: safe beside Qt's threads).

    A frozen build must call ``multiprocessing.freeze_support()`` first thing in its entry point.
    """
    ctx = multiprocessing.get_context("spawn")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=parse_worker, args=(sender, path, fmt, mapping, chunk_rows), name="enginy-csv-parse", daemon=True
    )
    proc.start()
    sender.close()
    try:
        while True:
            try:
                message = receiver.recv()
            except EOFError:
                raise ImportFileError(
                    f"Reading {path.name} stopped unexpectedly (the reading process ended with code "
                    f"{proc.exitcode}). Nothing was imported."
                ) from None
            if message[0] == "chunk":
                yield message[1], message[2], message[3], message[4]
            elif message[0] == "end":
                return int(message[1])
            else:
                raise ImportFileError(f"{path.name} could not be read: {message[1]}")
    finally:
        receiver.close()
        if proc.is_alive():
            proc.terminate()
        proc.join(5)
