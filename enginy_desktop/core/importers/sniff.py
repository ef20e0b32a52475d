"""How a CSV file is written: its text encoding and its delimiter, guessed from the first megabyte.

Encodings, in the order they are tried: a byte-order mark decides (UTF-8, UTF-16 LE, UTF-16 BE); UTF-16 without a
mark is recognised by its zero bytes; then UTF-8; then Windows-1252 (what Excel on Windows writes), or Latin-1
when the sample holds bytes Windows-1252 leaves undefined (Latin-1 decodes every byte). The 8-bit encodings are
then applied line by line (``rows.Lines``): a file that mixes UTF-8 and Windows-1252 lines is read without
mojibake, the file's encoding being the one most of its lines use, and each line in the other one is reported.

The delimiter is the one of ``,`` ``;`` tab ``|`` that splits the first records into the same number of columns
most consistently (Spanish Excel writes ``;``).
"""

from __future__ import annotations

import codecs
import csv
import io
from dataclasses import dataclass
from pathlib import Path

SAMPLE_BYTES = 1 << 20
DELIMITERS = (",", ";", "\t", "|")
DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Bytes with no character in Windows-1252.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


@dataclass(frozen=True, slots=True)
class CsvFormat:
    """``encoding`` is a Python codec name; ``encoding_label`` and ``delimiter_label`` are for people."""

    encoding: str
    encoding_label: str
    delimiter: str

    @property
    def delimiter_label(self) -> str:
        return DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter))

    def as_json(self) -> dict[str, str]:
        return {
            "encoding": self.encoding,
            "encoding_label": self.encoding_label,
            "delimiter": self.delimiter,
            "delimiter_label": self.delimiter_label,
        }


def detect_encoding(sample: bytes) -> tuple[str, str]:
    """(codec, label) for a file starting with ``sample``."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig", "UTF-8 with BOM"
    if sample.startswith(codecs.BOM_UTF16_LE):
        return "utf-16", "UTF-16 LE"
    if sample.startswith(codecs.BOM_UTF16_BE):
        return "utf-16", "UTF-16 BE"
    head = sample[:4096]
    if len(head) >= 4 and head.count(0) * 3 >= len(head):
        even_zeros = head[0::2].count(0)
        odd_zeros = head[1::2].count(0)
        if odd_zeros > even_zeros * 2:
            return "utf-16-le", "UTF-16 LE"
        if even_zeros > odd_zeros * 2:
            return "utf-16-be", "UTF-16 BE"
    try:
        # Not final: a multi-byte character cut by the end of the sample is fine.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
    except UnicodeDecodeError:
        fallback = ("cp1252", "Windows-1252") if _CP1252_UNDEFINED.isdisjoint(sample) else (
            "latin-1", "Latin-1 (ISO-8859-1)")
        # Lines are decoded one by one (rows.Lines): the file's encoding is the one most of its lines use.
        utf8, other = _count_utf8_lines(sample)
        if utf8 > other:
            return "utf-8", f"UTF-8, with lines in {fallback[1]}"
        if utf8:
            return fallback[0], f"{fallback[1]}, with lines in UTF-8"
        return fallback
    return "utf-8", "UTF-8"


def _count_utf8_lines(sample: bytes) -> tuple[int, int]:
    """(non-ASCII lines that are valid UTF-8, non-ASCII lines that are not) in the sample's complete lines."""
    utf8 = other = 0
    for line in sample.split(b"\n")[:-1]:
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other += 1
        else:
            utf8 += 1
    return utf8, other


def sniff_delimiter(text: str) -> str:
    """The delimiter that splits the first records of ``text`` most consistently; comma if none splits."""
    lines = text.splitlines(keepends=True)
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end mid-line
    lines = lines[:200]
    best, best_score = ",", (0, 0.0, 0)
    for delimiter in DELIMITERS:
        counts: list[int] = []
        try:
            for record in csv.reader(lines, delimiter=delimiter):
                if record:
                    counts.append(len(record))
                if len(counts) >= 50:
                    break
        except csv.Error:
            continue
        if not counts:
            continue
        mode = max(set(counts), key=lambda n: (counts.count(n), n))
        score = (1 if mode > 1 else 0, counts.count(mode) / len(counts), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def decode_sample(sample: bytes, encoding: str) -> str:
    return codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)


def sniff_bytes(sample: bytes) -> CsvFormat:
    encoding, label = detect_encoding(sample)
    return CsvFormat(encoding, label, sniff_delimiter(decode_sample(sample, encoding)))


def sniff_file(path: Path) -> CsvFormat:
    with open(path, "rb") as f:
        return sniff_bytes(f.read(SAMPLE_BYTES))


def open_text(
    path: Path, encoding: str, errors: str = "replace"
) -> tuple[io.BufferedReader, io.TextIOWrapper]:
    """The binary file (for progress in bytes) and a text reader over it that never raises on bad bytes."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller together with the wrapper
    return raw, io.TextIOWrapper(raw, encoding=encoding, errors=errors, newline="")
