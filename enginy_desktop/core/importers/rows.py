"""Reading a CSV file into cleaned rows: the part of an import that needs no database.

It is kept apart (and free of SQLAlchemy) so a large import can run it in a second process while the first one
writes to SQLite: :func:`parse_worker` is that process's entry point. Small files are parsed in-process by
:func:`iter_chunks` with the same code.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import itertools
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any, TextIO

from enginy_desktop.core.fields import (
    CLEANERS,
    COMPANY_FIELDS,
    CONTACT_FIELDS,
    FieldType,
    FieldValueError,
    RecordKind,
    clean_domain,
)

from .mapping import ColumnMapping
from .report import RowIssue
from .sniff import CsvFormat

Record = tuple[int, int, list[str] | None, str]
MAX_LINE = 4 * 1024 * 1024  # bytes (characters for UTF-16 files); a CSV line of contacts is a few hundred
_EIGHT_BIT = ("utf-8", "utf-8-sig", "cp1252", "latin-1")
_LABELS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "cp1252": "Windows-1252", "latin-1": "Latin-1 (ISO-8859-1)"}


class ImportFileError(Exception):
    """The file cannot be imported at all (missing, empty, no header, wrong list kind); one line for the user."""


def _size(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n >= 100_000 else f"{n:,} bytes"


class Lines:
    """The text lines of a CSV file, for the CSV reader (iterate it once).

    * **Encodings, line by line.** A file in UTF-8, Windows-1252 or Latin-1 is decoded one line at a time: a line
      that is valid UTF-8 is read as UTF-8, any other line as Windows-1252 (Latin-1 when it holds bytes
      Windows-1252 leaves undefined). A file that mixes them (rows pasted from two exports) is therefore read
      without mojibake, and each line written in another encoding than the file's gets a warning in
      :attr:`notes`. UTF-16 files are decoded as a whole; bytes they cannot decode become U+FFFD, with a warning.
    * **NUL bytes** are removed from the line, with a warning.
    * **An oversized line** (longer than :data:`MAX_LINE`: a runaway cell, a binary file) is skipped to its end and
      replaced by one line the CSV reader refuses, so it becomes ONE rejected row; :attr:`oversized` gives the
      reason (its size) by line number.

    The file is read a block (about a megabyte) at a time; a block that is all valid in the file's encoding, with
    no NUL byte and no lone carriage return — nearly every block of nearly every file — is decoded and split in C,
    so reading stays as fast as a plain text reader. :attr:`line` counts the lines handed out so far.
    """

    BLOCK = 1 << 20

    def __init__(self, path: Path, fmt: CsvFormat) -> None:
        self.path = path
        self.fmt = fmt
        self.raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self.notes: list[RowIssue] = []
        self.oversized: dict[int, str] = {}
        self.line = 0
        self._limit = MAX_LINE
        self._main_utf8 = fmt.encoding in ("utf-8", "utf-8-sig")
        self._fallback = "latin-1" if fmt.encoding == "latin-1" else "cp1252"
        self._label = _LABELS.get(fmt.encoding, fmt.encoding_label)
        self._text: TextIO | None = None
        if fmt.encoding not in _EIGHT_BIT:
            self._text = io.TextIOWrapper(self.raw, encoding=fmt.encoding, errors="replace", newline="")
        elif self.raw.read(3) != codecs.BOM_UTF8:
            self.raw.seek(0)
        self._iter: Iterator[str] | None = None

    def tell(self) -> int:
        """Bytes of the file consumed so far (for progress; up to a block ahead of the rows)."""
        return self.raw.tell() if not self.raw.closed else 0

    def close(self) -> None:
        self._iter = None  # the block generator refers back to this object: no cycle left for the collector
        if self._text is not None:
            self._text.close()
        self.raw.close()

    def __enter__(self) -> Lines:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[str]:
        if self._iter is None:
            blocks = self._text_blocks(self._text) if self._text is not None else self._byte_blocks()
            self._iter = itertools.chain.from_iterable(blocks)
        return self._iter

    # -- oversized lines --------------------------------------------------------------------------------------
    def _skip_oversized(self, size: int, read_more: Callable[[int], Any]) -> tuple[list[str], Any]:
        """Read to the end of an oversized line; returns ([the line the CSV reader refuses], what follows it)."""
        rest: Any = None
        while True:
            more = read_more(self.BLOCK)
            if not more:
                break
            end = more.find("\n" if isinstance(more, str) else b"\n")
            if end >= 0:
                size += end + 1
                rest = more[end + 1:]
                break
            size += len(more)
        self.line += 1
        self.oversized[self.line] = (
            f"The line is {_size(size)} long, more than a row can be ({_size(self._limit)}), so it was skipped "
            "(a runaway value, or a file that is not a CSV file)."
        )
        # A value longer than the CSV reader's limit: it refuses the line as one row and carries on after it.
        return ["x" * (csv.field_size_limit() + 1) + "\n"], rest

    # -- 8-bit encodings: UTF-8, Windows-1252, Latin-1 -----------------------------------------------------------
    def _byte_blocks(self) -> Iterator[list[str]]:
        read, limit = self.raw.read, self._limit
        pending = b""
        while True:
            chunk = read(self.BLOCK)
            if not chunk:
                if pending:
                    yield self._decode_block(pending if pending.endswith((b"\n", b"\r")) else pending + b"\n")
                return
            data = pending + chunk if pending else chunk
            cut = data.rfind(b"\n") + 1
            if cut == 0:
                if len(data) >= limit:
                    marker, rest = self._skip_oversized(len(data), read)
                    yield marker
                    pending = rest or b""
                else:
                    pending = data
                continue
            pending = data[cut:]
            yield self._decode_block(data[:cut] if cut < len(data) else data)

    def _decode_block(self, block: bytes) -> list[str]:
        """The lines of ``block`` (complete lines, each ending with its line break)."""
        breaks, crs = block.count(b"\n"), block.count(b"\r")
        if b"\x00" not in block and (crs == 0 or crs == breaks) and (self._main_utf8 or block.isascii()):
            try:
                text = block.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:  # every line ends with \n or \r\n: split in C
                lines = text.splitlines(keepends=True)
                if len(lines) != breaks:  # it also split at \f, U+2028...: those stay inside values
                    lines = [line + "\n" for line in text.split("\n")[:-1]]
                self.line += len(lines)
                return lines
        return [self._decode_line(raw) for raw in block.splitlines(keepends=True)]

    def _decode_line(self, data: bytes) -> str:
        self.line += 1
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text, label = data.decode(self._fallback), _LABELS[self._fallback]
            except UnicodeDecodeError:
                text, label = data.decode("latin-1"), _LABELS["latin-1"]
            if self._main_utf8:
                self._note(f"This line is written in {label}, unlike the rest of the file (UTF-8); it was read "
                           f"as {label}.")
        else:
            if not self._main_utf8 and not data.isascii():
                self._note(f"This line is written in UTF-8, unlike the rest of the file ({self._label}); it was "
                           "read as UTF-8.")
        if "\x00" in text:
            self._note(f"The line held {text.count(chr(0))} NUL byte(s) (\\0), which were removed.")
            text = text.replace("\x00", "")
        return text

    def _note(self, reason: str) -> None:
        self.notes.append(RowIssue(self.line, "warning", reason))

    # -- UTF-16 ------------------------------------------------------------------------------------------------
    def _text_blocks(self, stream: TextIO) -> Iterator[list[str]]:
        readline, limit = stream.readline, self._limit
        while True:
            text = readline(limit)
            if not text:
                return
            if len(text) >= limit and text[-1:] not in ("\n", "\r"):
                marker, _rest = self._skip_oversized(len(text) * 2, lambda n: readline(n))
                yield marker
                continue
            self.line += 1
            if "\ufffd" in text:
                self._note("Some characters could not be decoded and were replaced by '\ufffd'.")
            if "\x00" in text:
                self._note(f"The line held {text.count(chr(0))} NUL character(s) (\\0), which were removed.")
                text = text.replace("\x00", "")
            yield [text]


# -- records ------------------------------------------------------------------------------------------------------
def _clean_headers(record: Sequence[str]) -> tuple[str, ...]:
    out: list[str] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(record):
        name = raw.replace("\ufeff", "").strip() or f"Column {i + 1}"
        key = name.casefold()
        if key in seen:
            seen[key] += 1
            name = f"{name} ({seen[key]})"
        else:
            seen[key] = 1
        out.append(name)
    return tuple(out)


@dataclass
class Batch:
    """Records as the CSV reader returned them (blank ones included), with the line each one ends on.

    ``records[i]`` is None where the reader failed (``errors[i]`` says why). The record ``i`` starts on the line
    after ``ends[i - 1]`` (after ``prev_end`` for the first one).
    """

    prev_end: int
    records: list[list[str] | None]
    ends: list[int]
    errors: dict[int, str]

    def starts(self) -> list[int]:
        return [self.prev_end + 1, *(e + 1 for e in self.ends[:-1])] if self.ends else []


class Rows:
    """Reads a CSV text stream in batches; parse errors come out as records too."""

    def __init__(self, lines: Lines, delimiter: str) -> None:
        # Lines hold at most about MAX_LINE bytes, so a file without line breaks (or a binary file) is never held
        # in memory whole; such a line comes out as one rejected row.
        self._lines = lines
        self._reader = csv.reader(lines, delimiter=delimiter)
        self._last = 0
        self.exhausted = False

    @property
    def last_line(self) -> int:
        """The line the last record taken ends on."""
        return self._last

    def take(self, n: int) -> Batch:
        """The next ``n`` records (fewer only at the end of the file)."""
        batch = Batch(self._last, [], [], {})
        records, ends = batch.records, batch.ends
        add_record, add_end = records.append, ends.append
        reader = self._reader
        k = 0
        while k < n and not self.exhausted:
            try:
                for record in reader:
                    add_record(record)
                    add_end(reader.line_num)
                    k += 1
                    if k >= n:
                        break
                else:
                    self.exhausted = True
            except csv.Error as exc:
                reason = self._lines.oversized.pop(reader.line_num, "")
                batch.errors[k] = reason or f"The CSV reader could not read this row: {exc}."
                add_record(None)
                add_end(reader.line_num)
                k += 1
        if ends:
            self._last = ends[-1]
        return batch

    def __iter__(self) -> Iterator[Record]:
        """Non-blank records one by one as ``(first line, last line, values or None, error)``."""
        while not self.exhausted:
            batch = self.take(256)
            for start, end, record, i in zip(batch.starts(), batch.ends, batch.records, itertools.count(),
                                             strict=False):
                if record is None:
                    yield start, end, None, batch.errors[i]
                elif not _is_blank(record):
                    yield start, end, record, ""


def _is_blank(record: list[str]) -> bool:
    """An empty line, or a line of separators only (``;;;;``, as spreadsheets write after the last row)."""
    return not any(record) or (len(record) == 1 and not record[0].strip())


def read_header(rows: Rows, path: Path) -> tuple[str, ...]:
    """The column names: the first record of the file (taken from ``rows``, which then continue after it)."""
    while not rows.exhausted:
        taken = rows.take(1).records
        if not taken or taken[0] is None or _is_blank(taken[0]):
            continue
        record = taken[0]
        headers = _clean_headers(record)
        if all(h.startswith("Column ") for h in headers) and not any(v.strip() for v in record):
            continue
        return headers
    raise ImportFileError(f"The file {path} has no header line (the first line must name the columns).")


# -- the plan: how a record becomes a row of the table ------------------------------------------------------------
# Company websites and domains repeat across the rows of a file (one company, many contacts): their cleaned
# values are cached; emails and LinkedIn URLs are unique per row and are not.
_REPEATING_TYPES = (FieldType.URL, FieldType.DOMAIN)


def _cached(cleaner: Callable[[str], Any]) -> Callable[[str], Any]:
    cache: dict[str, Any] = {}

    def clean(value: str) -> Any:
        try:
            return cache[value]
        except KeyError:
            pass
        if len(cache) > 100_000:
            cache.clear()
        result = cache[value] = cleaner(value)  # a FieldValueError is raised, not cached
        return result

    return clean


# A JSON string literal, non-ASCII kept (the C function behind json.dumps): names and values of custom fields.
_encode_str: Callable[[str], str] = encode_basestring
_domain_of_website = _cached(clean_domain)


def _safe_domain(website: str) -> str | None:
    try:
        return str(_domain_of_website(website))
    except FieldValueError:
        return None

# Fields an import may fill even when no column maps to them (derived from other fields, or the default source).
_DERIVED = {
    RecordKind.CONTACT: ("first_name", "last_name", "full_name", "company_domain", "source"),
    RecordKind.COMPANY: ("domain", "source"),
}


@dataclass
class Plan:
    """Which table columns an import writes and where each CSV column's value goes.

    A parsed row is a list: one value per column of ``table_cols`` (in that order), then the custom fields as
    JSON text. Only mapped and derived columns are written, so a narrow file binds few parameters per row.
    """

    kind: RecordKind
    ncols: int
    table_cols: tuple[str, ...]
    # (CSV column index, position in the row, cleaner or None for plain text, header)
    columns: list[tuple[int, int, Callable[[str], Any] | None, str]]
    custom: list[tuple[str, int]]

    @classmethod
    def build(cls, mapping: ColumnMapping) -> Plan:
        fields = CONTACT_FIELDS if mapping.kind is RecordKind.CONTACT else COMPANY_FIELDS
        by_name = {f.name: f for f in fields}
        mapped = mapping.field_columns()
        wanted = set(mapped) | set(_DERIVED[mapping.kind])
        table_cols = tuple(f.name for f in fields if f.name in wanted)
        pos = {name: i for i, name in enumerate(table_cols)}
        columns: list[tuple[int, int, Callable[[str], Any] | None, str]] = []
        for name, cols in mapped.items():
            f = by_name[name]
            cleaner: Callable[[str], Any] | None = (
                None if f.type in (FieldType.TEXT, FieldType.LONG_TEXT) else CLEANERS[f.type]
            )
            if cleaner is not None and f.type in _REPEATING_TYPES:
                cleaner = _cached(cleaner)
            columns.extend((c, pos[name], cleaner, mapping.rules[c].header) for c in cols)
        columns.sort()
        # Custom field names are JSON-encoded once here; values per row (see _parse_chunk).
        custom = [(_encode_str(name) + ":", col) for name, col in mapping.custom_columns()]
        return cls(mapping.kind, len(mapping.rules), table_cols, columns, custom)

    def pos(self, name: str) -> int:
        """Position of field ``name`` in a parsed row, or -1 when this import does not write it."""
        try:
            return self.table_cols.index(name)
        except ValueError:
            return -1


_BAD: Any = object()  # marks a value its cleaner refused (the row keeps going without it)


def _safe(cleaner: Callable[[str], Any]) -> Callable[[str], Any]:
    def clean(value: str) -> Any:
        value = value.strip()
        if not value:
            return None
        try:
            return cleaner(value)
        except FieldValueError:
            return _BAD

    return clean


@dataclass
class Parsed:
    """The cleaned rows of a chunk, column by column: ``columns[i]`` holds ``plan.table_cols[i]`` of every row.

    Columnar because the work per value is then a list comprehension over a column, several times cheaper in
    Python than the same work row by row; the writer zips the columns back into rows for SQLite.
    """

    columns: list[list[Any]]
    custom: list[str]  # JSON object text per row
    read: int = 0  # records of the batch that are rows (imported, updated or rejected)
    blank: int = 0  # blank lines of the batch

    def __len__(self) -> int:
        return len(self.custom)

    def column(self, position: int) -> list[Any] | None:
        return self.columns[position] if position >= 0 else None


def parse_chunk(plan: Plan, batch: Batch, issues: list[RowIssue]) -> Parsed:
    """Clean a batch of records; rejected rows and warnings are appended to ``issues`` with their lines."""
    ncols, width = plan.ncols, len(plan.table_cols)
    records = batch.records
    starts = batch.starts()
    good: list[list[str]]
    lines: list[int]
    blank = 0
    if (
        not batch.errors
        and ncols > 1
        and [len(r) if r is not None else -1 for r in records].count(ncols) == len(records)
        and all(map(any, records))  # type: ignore[arg-type]
    ):
        good, lines = records, starts  # type: ignore[assignment]
    else:
        good, lines = [], []
        for i, (start, end, record) in enumerate(zip(starts, batch.ends, records, strict=True)):
            if record is None:
                issues.append(RowIssue(start, "rejected", batch.errors[i]))
                continue
            if _is_blank(record):
                blank += 1
                continue
            if len(record) != ncols:
                if len(record) > ncols and not any(v.strip() for v in record[ncols:]):
                    record = record[:ncols]
                else:
                    reason = f"The row has {len(record)} values but the header has {ncols} columns"
                    if end > start:
                        reason += f" (lines {start}–{end}: a quote may be missing)"
                    issues.append(RowIssue(start, "rejected", reason + "."))
                    continue
            good.append(record)
            lines.append(start)
    n = len(good)
    raw_columns = list(zip(*good, strict=True)) if good else [() for _ in range(ncols)]
    columns: list[list[Any] | None] = [None] * width
    warnings: dict[int, list[RowIssue]] = {}

    def warn(i: int, issue: RowIssue) -> None:
        warnings.setdefault(i, []).append(issue)

    for col, pos, cleaner, header in plan.columns:
        raw = raw_columns[col]
        if cleaner is None:
            values = [v.strip() or None for v in raw]
        else:
            values = list(map(_safe(cleaner), raw))
            if _BAD in values:
                for i, v in enumerate(values):
                    if v is _BAD:
                        try:
                            cleaner(raw[i].strip())
                        except FieldValueError as exc:
                            warn(i, RowIssue(lines[i], "warning", f"{exc} The value was not imported.", header,
                                             raw[i].strip()))
                        values[i] = None
        current = columns[pos]
        if current is not None:  # a second column for the same field: the first non-empty value wins
            values = [a if a is not None else b for a, b in zip(current, values, strict=True)]
        columns[pos] = values
    cols: list[list[Any]] = [c if c is not None else [None] * n for c in columns]

    custom_parts = [
        [name + _encode_str(v.strip()) if v.strip() else None for v in raw_columns[col]] for name, col in plan.custom
    ]
    if not custom_parts:
        custom = ["{}"] * n
    elif len(custom_parts) == 1:
        custom = ["{" + part + "}" if part else "{}" for part in custom_parts[0]]
    else:
        custom = ["{" + ",".join(p for p in parts if p) + "}" for parts in zip(*custom_parts, strict=False)]

    p = plan.pos
    if plan.kind is RecordKind.CONTACT:
        first, last, full = cols[p("first_name")], cols[p("last_name")], cols[p("full_name")]
        split = [i for i, (a, b, f) in enumerate(zip(first, last, full, strict=True))
                 if f is not None and a is None and b is None]
        full = cols[p("full_name")] = [
            f if f is not None else (f"{a or ''} {b or ''}".strip() if (a or b) else None)
            for a, b, f in zip(first, last, full, strict=True)
        ]
        for i in split:  # only a full name: first word -> first name, the rest -> last name
            parts = full[i].split(None, 1)
            first[i] = parts[0]
            last[i] = parts[1] if len(parts) > 1 else None
        domain_pos, web_pos = p("company_domain"), p("website")
        ids = [full, *(cols[q] for q in (p("email"), p("linkedin_url")) if q >= 0)]
        missing = "The row has no name, no email and no LinkedIn URL."
    else:
        domain_pos, web_pos = p("domain"), p("website")
        ids = [cols[domain_pos], *(cols[q] for q in (p("name"), p("linkedin_url")) if q >= 0)]
        missing = "The row has no company name, no domain or website and no LinkedIn URL."
    if web_pos >= 0:
        cols[domain_pos] = [
            d if d is not None or w is None else _safe_domain(w)
            for d, w in zip(cols[domain_pos], cols[web_pos], strict=True)
        ]
        if plan.kind is RecordKind.COMPANY:
            ids[0] = cols[domain_pos]

    keep = list(map(any, zip(*ids, strict=True)))
    if not all(keep):
        for i in range(n):
            if not keep[i]:
                reason = missing
                if i in warnings:
                    reason += " " + " ".join(w.reason for w in warnings.pop(i))
                issues.append(RowIssue(lines[i], "rejected", reason))
        cols = [[v for v, k in zip(c, keep, strict=True) if k] for c in cols]
        custom = [v for v, k in zip(custom, keep, strict=True) if k]
    for i in sorted(warnings):
        issues.extend(warnings[i])
    issues.sort(key=lambda issue: issue.line)
    return Parsed(cols, custom, len(records) - blank, blank)


def _take_notes(lines: Lines, up_to: int) -> list[RowIssue]:
    """The line warnings of lines up to ``up_to`` (the reader decodes a block ahead of the rows)."""
    notes = lines.notes
    if not notes or notes[0].line > up_to:
        return []
    taken = [n for n in notes if n.line <= up_to]
    lines.notes = [n for n in notes if n.line > up_to]
    return taken


# -- chunks -------------------------------------------------------------------------------------------------------
# One chunk: (records read, cleaned rows, issues, bytes of the file consumed so far).
Chunk = tuple[int, Parsed, list[RowIssue], int]


def iter_chunks(
    path: Path, fmt: CsvFormat, mapping: ColumnMapping, chunk_rows: int
) -> Generator[Chunk, None, int]:
    """The file's rows after the header, cleaned, ``chunk_rows`` records at a time; returns the blank lines."""
    with Lines(path, fmt) as lines:
        records = Rows(lines, fmt.delimiter)
        read_header(records, path)
        _take_notes(lines, records.last_line)  # the header's own notes are not about a row
        plan = Plan.build(mapping)
        blank = 0
        while not records.exhausted:
            batch = records.take(chunk_rows)
            if not batch.records:
                break
            issues: list[RowIssue] = []
            parsed = parse_chunk(plan, batch, issues)
            if lines.notes:  # line-level warnings (encoding, NUL bytes) of these rows' lines, with the rows' own
                issues.extend(_take_notes(lines, records.last_line))
                issues.sort(key=lambda issue: issue.line)
            blank += parsed.blank
            yield parsed.read, parsed, issues, lines.tell()
        return blank


def parse_worker(conn: Any, path: Path, fmt: CsvFormat, mapping: ColumnMapping, chunk_rows: int) -> None:
    """Entry point of the parsing process: sends ("chunk", ...) messages, then ("end", blank lines).

    A problem is sent as ("error", message) rather than raised, so the importing process can report it.
    Sending blocks while the importer is busy with the previous chunk, which bounds memory to two chunks.
    """
    try:
        gen = iter_chunks(path, fmt, mapping, chunk_rows)
        while True:
            try:
                n, rows, issues, pos = next(gen)
            except StopIteration as stop:
                conn.send(("end", stop.value or 0))
                break
            conn.send(("chunk", n, rows, issues, pos))
    except (BrokenPipeError, EOFError, KeyboardInterrupt):
        pass  # the importer stopped listening (cancelled)
    except Exception as exc:  # reported to the importer, which turns it into ImportFileError
        with contextlib.suppress(Exception):
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        conn.close()
