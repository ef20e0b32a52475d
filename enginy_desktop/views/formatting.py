"""Numbers, counts and moments as the user reads them: one place, so every screen says "1,240 contacts",
"1 warning" and the same short date and time.

Numbers and dates follow the user's locale (1,240 / 1.240); Qt's "C" locale (no language set, e.g. in a bare
container) formats like US English. Stored moments are UTC and are shown in the user's time zone.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from PySide6.QtCore import QDateTime, QLocale


def locale() -> QLocale:
    loc = QLocale()
    if loc.language() == QLocale.Language.C:
        return QLocale(QLocale.Language.English, QLocale.Country.UnitedStates)
    return loc


def number(n: int | float) -> str:
    """1240 -> "1,240" (no decimals)."""
    if isinstance(n, float):
        return locale().toString(n, "f", 0)
    return locale().toString(int(n))


def decimal(x: float, places: int = 1) -> str:
    """2.5 -> "2.5", 2.0 -> "2", 1234.5 -> "1,234.5" (at most ``places`` decimals, none when whole)."""
    loc = locale()
    text = loc.toString(float(x), "f", places)
    point = loc.decimalPoint()
    if point in text:
        text = text.rstrip("0").rstrip(point)
    return text


def amount(n: int | float) -> str:
    """1240 -> "1,240"; a fractional one keeps up to two decimals: 12.5 -> "12.5" (an enrichment's credits)."""
    if isinstance(n, float) and not n.is_integer():
        loc = locale()
        return loc.toString(n, "f", 2).rstrip("0").rstrip(loc.decimalPoint())
    return number(int(n))


def count_text(n: int, one: str, many: str | None = None) -> str:
    """``count_text(1, "warning")`` -> "1 warning"; ``(1240, "company", "companies")`` -> "1,240 companies"."""
    return f"{number(n)} {one if n == 1 else (many or one + 's')}"


def duration(seconds: float) -> str:
    """How long something took or will take, roughly: "less than a second", "42 seconds", "3 minutes"."""
    if seconds < 1:
        return "less than a second"
    if seconds < 90:
        s = round(seconds)
        return f"{s} second{'s' if s != 1 else ''}"
    m = round(seconds / 60)
    return f"{m} minute{'s' if m != 1 else ''}"


def file_size(n: int) -> str:
    """A file's size in bytes as "12 KB" (at least 1) or "3.4 MB"."""
    if n < 1024 * 1024:
        return f"{max(1, round(n / 1024))} KB"
    return f"{n / 1024 / 1024:.1f} MB"


def when(moment: datetime | None) -> str:
    """A stored moment (UTC) in the user's time zone and locale, short form; "" for none."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    qt = QDateTime.fromSecsSinceEpoch(int(moment.timestamp())).toLocalTime()
    loc = locale()
    return loc.toString(qt, loc.dateTimeFormat(QLocale.FormatType.ShortFormat))


# Engine messages are shared with the command line and may carry the command to type; the window names its own
# buttons and pages instead, so those hints are rewritten or taken out of what it shows.
_RESUME = re.compile(r"([Rr])esume (?:it )?with:?\s+`?enginy-desktop resume \d+`?")
_CLI_HINTS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"\s*\((?:or )?(?:run |use |type )?`enginy-desktop[^`]*`[^)]*\)"), ""),  # " (or run `…`)"
    (re.compile(r",?\s+(?:or )?(?:with|run|use|type)\s+`enginy-desktop[^`]*`"), ""),  # " or with `…`"
    (re.compile(r"\s*`enginy-desktop[^`]*`"), ""),
)


def window_text(message: str | None) -> str:
    """``message`` without the command-line instructions it may carry (for the window's labels and dialogs)."""
    original = message or ""
    text = _RESUME.sub(lambda m: f"{m.group(1)}esume it from the Runs page", original)
    for pattern, replacement in _CLI_HINTS:
        text = pattern.sub(replacement, text)
    if text == original:
        return original  # nothing to take out (a heading keeps its own punctuation)
    text = re.sub(r"\s+([,.;:)])", r"\1", text).strip()
    return text + "." if text and text[-1].isalnum() else text
