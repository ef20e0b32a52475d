"""Values and the field-level rules of an export (DESIGN §6), as pure functions.

Two jobs, both without I/O:

- **Conversion** (:func:`to_crm`): an Enginy value (text, number, date…) becomes the canonical value of the CRM
  field's type (:data:`~enginy_desktop.adapters.base.Value`) — numbers without thousands separators, booleans
  ``true``/``false``, dates ``YYYY-MM-DD``, date-times in UTC with milliseconds, picklist labels turned into the
  option's value, several options as a tuple. Each adapter turns canonical values into its own wire format. A
  value that cannot be converted raises :class:`ConversionError` with a sentence naming the field and the
  value; the export fails that record before any request.
- **Rules** (:func:`decide`): what an export writes into one field of one record. On create every non-empty
  value is sent. On update, with **Overwrite** the Enginy value replaces the CRM value; without it the value is
  written only where the CRM field is empty. An empty Enginy value never blanks a CRM field. Fixed, export,
  campaign and engagement values follow the same rules; the owner has its own (:func:`decide_owner`).

The CRM field is any object with ``name``, ``label``, ``type`` (:class:`~enginy_desktop.adapters.base.FieldType`
or its value), ``options`` (objects with ``value`` and ``label``) — the adapters' ``CrmField`` fits.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from enginy_desktop.adapters.base import Value, as_options

__all__ = [
    "ConversionError",
    "Effect",
    "FieldDecision",
    "Mode",
    "canonical_type",
    "decide",
    "decide_owner",
    "display",
    "is_empty",
    "same_value",
    "to_crm",
]


class ConversionError(ValueError):
    """An Enginy value that the CRM field cannot hold; ``str()`` is the reason shown in the report."""

    def __init__(self, reason: str, *, field: str = "", value: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field
        self.value = value


class Mode(StrEnum):
    CREATE = "create"
    UPDATE = "update"


class Effect(StrEnum):
    """What the export does to one field of one record (the preview's before -> after)."""

    SET = "set"  # create: the value is sent
    FILL = "fill"  # update: the CRM field was empty and receives the value
    OVERWRITE = "overwrite"  # update with Overwrite: the CRM value is replaced
    KEEP = "keep"  # update without Overwrite: the CRM has another value, which is kept
    SAME = "same"  # update: the CRM already has this value
    EMPTY = "empty"  # the Enginy value is empty: nothing is written (never blanks the CRM field)

    @property
    def writes(self) -> bool:
        return self in (Effect.SET, Effect.FILL, Effect.OVERWRITE)


@dataclass(frozen=True, slots=True)
class FieldDecision:
    effect: Effect
    before: Value | None  # the CRM's value (None on create, or when empty)
    after: Value | None  # the value sent, when ``effect.writes``; else what the CRM keeps

    @property
    def writes(self) -> bool:
        return self.effect.writes


# -- helpers ---------------------------------------------------------------------------------------------------

_TYPE_NAMES = {
    "text": "text", "long_text": "long_text", "number": "number", "boolean": "boolean", "date": "date",
    "datetime": "datetime", "picklist": "picklist", "multi_picklist": "multi_picklist", "email": "email",
    "phone": "phone", "url": "url", "owner": "owner", "reference": "reference",
}  # fmt: skip


def canonical_type(field: Any) -> str:
    """The field's type as one of the adapters' ``FieldType`` values (``other`` when unknown)."""
    return _canonical_of(field.type)


@functools.lru_cache(maxsize=256)
def _canonical_of(type_: Any) -> str:  # called for every value of an export: once per type is enough
    raw = str(getattr(type_, "value", type_) or "").strip().lower()
    return _TYPE_NAMES.get(raw, "other")


def is_empty(value: object) -> bool:
    """None, an empty or blank string, NaN, or an empty collection."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, list | tuple | set | frozenset | dict):
        return not value
    return False


def _label(field: Any) -> str:
    label = str(getattr(field, "label", "") or "")
    name = str(getattr(field, "name", "") or "")
    return f"“{label or name}”"


def display(value: object, limit: int = 60) -> str:
    text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fail(field: Any, value: object, why: str) -> ConversionError:
    return ConversionError(
        f"{_label(field)} {why}", field=str(getattr(field, "name", "") or ""), value=display(value)
    )


# -- numbers ---------------------------------------------------------------------------------------------------

_CURRENCY = "$€£¥₹"
_GROUPED_COMMA = re.compile(r"[+-]?\d{1,3}(,\d{3})+")
_GROUPED_DOT = re.compile(r"[+-]?\d{1,3}(\.\d{3}){2,}")
_GROUPED_SPACE = re.compile(r"[+-]?\d{1,3}([  ]\d{3})+([.,]\d+)?")
_PLAIN = re.compile(r"[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?")


def parse_number(text: str) -> Decimal | None:
    """A number written the ways people write them: ``1234``, ``1,234``, ``1.234.567``, ``1 234,5``, ``12.5``,
    ``12,5``, ``$1,200``, ``1e3``; None when it is not one. A single comma with other than three digits after
    it is a decimal comma (``12,5``); ``1,234`` is one thousand two hundred thirty-four."""
    t = text.strip().strip(_CURRENCY).strip()
    if not t:
        return None
    if "," in t and "." in t:
        # Both separators: the last one is the decimal point.
        t = t.replace(".", "").replace(",", ".") if t.rfind(",") > t.rfind(".") else t.replace(",", "")
    elif _GROUPED_SPACE.fullmatch(t):
        t = t.replace(" ", "").replace(" ", "").replace(",", ".")
    elif _GROUPED_COMMA.fullmatch(t):
        t = t.replace(",", "")
    elif _GROUPED_DOT.fullmatch(t):
        t = t.replace(".", "")
    elif t.count(",") == 1 and "." not in t:
        t = t.replace(",", ".")
    if not _PLAIN.fullmatch(t):
        return None
    try:
        number = Decimal(t)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _format_number(number: Decimal) -> str:
    if number == number.to_integral_value():
        return str(int(number))
    return format(number.normalize(), "f")


# -- dates -----------------------------------------------------------------------------------------------------

_MONTHS = {
    name: i
    for i, names in enumerate(
        (
            ("jan", "january", "ene", "enero"),
            ("feb", "february", "febrero"),
            ("mar", "march", "marzo"),
            ("apr", "april", "abr", "abril"),
            ("may", "mayo"),
            ("jun", "june", "junio"),
            ("jul", "july", "julio"),
            ("aug", "august", "ago", "agosto"),
            ("sep", "sept", "september", "septiembre"),
            ("oct", "october", "octubre"),
            ("nov", "november", "noviembre"),
            ("dec", "december", "dic", "diciembre"),
        ),
        1,
    )
    for name in names
}
_SLASHED = re.compile(r"(\d{1,4})[/.-](\d{1,2})[/.-](\d{1,4})")
_DAY_MONTH_YEAR = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?\s+([a-z]+)\.?,?\s+(\d{4})")
_MONTH_DAY_YEAR = re.compile(r"([a-z]+)\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})")


def _parse_date_text(text: str) -> date | datetime | None:
    """ISO dates and date-times, epoch milliseconds, ``31/01/2025`` when unambiguous, ``31 Jan 2025``,
    ``January 31, 2025``; None otherwise."""
    t = text.strip()
    if not t:
        return None
    if re.fullmatch(r"-?\d{10,}", t):  # epoch milliseconds (as some CRMs and spreadsheets export dates)
        try:
            return datetime.fromtimestamp(int(t) / 1000, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    iso = t.replace("Z", "+00:00").replace("z", "+00:00")
    try:
        if len(iso) == 10:
            return date.fromisoformat(iso)
        return datetime.fromisoformat(iso)
    except ValueError:
        pass
    low = t.lower()
    m = _SLASHED.fullmatch(low)
    if m:
        a, b, c = (int(g) for g in m.groups())
        if len(m.group(1)) == 4:  # 2025/01/31
            year, month, day = a, b, c
        elif len(m.group(3)) == 4:  # 31/01/2025 or 01/31/2025: only when it cannot be read both ways
            year = c
            if a > 12 >= b:
                day, month = a, b
            elif b > 12 >= a:
                month, day = a, b
            elif a == b:
                day = month = a
            else:
                return None
        else:
            return None
        try:
            return date(year, month, day)
        except ValueError:
            return None
    for pattern, order in ((_DAY_MONTH_YEAR, "dmy"), (_MONTH_DAY_YEAR, "mdy")):
        m = pattern.fullmatch(low)
        if m:
            first, second, year_s = m.groups()
            day_s, month_s = (first, second) if order == "dmy" else (second, first)
            month_n = _MONTHS.get(month_s)
            if month_n is None:
                return None
            try:
                return date(int(year_s), month_n, int(day_s))
            except ValueError:
                return None
    return None


def _as_moment(value: object) -> date | datetime | None:
    if isinstance(value, datetime | date):
        return value
    return _parse_date_text(str(value))


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _format_datetime(moment: datetime) -> str:
    m = _utc(moment)
    return m.strftime("%Y-%m-%dT%H:%M:%S.") + f"{m.microsecond // 1000:03d}Z"


# -- conversion ------------------------------------------------------------------------------------------------

_EMAIL = re.compile(r"[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+")
_URL = re.compile(r"https?://[^\s/?#]+\.[^\s/?#]+\S*", re.IGNORECASE)
_BARE_HOST = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,}(?:[/?#]\S*)?", re.IGNORECASE)
_TRUE = {"true", "yes", "y", "1", "on", "si", "sí", "x", "checked"}
_FALSE = {"false", "no", "n", "0", "off", "unchecked"}


def _options(field: Any) -> list[tuple[str, str]]:
    out = []
    for opt in getattr(field, "options", ()) or ():
        if isinstance(opt, str):
            out.append((opt, opt))
        else:
            value = str(getattr(opt, "value", opt))
            out.append((value, str(getattr(opt, "label", value) or value)))
    return out


def _option(field: Any, text: str) -> str | None:
    wanted = text.strip().casefold()
    opts = _options(field)
    for value, _ in opts:
        if value.casefold() == wanted:
            return value
    for value, label in opts:
        if label.strip().casefold() == wanted:
            return value
    return None


def _option_list(field: Any, limit: int = 8) -> str:
    labels = [label for _, label in _options(field)]
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


def _split_multi(value: object) -> list[str]:
    if isinstance(value, list | tuple | set | frozenset):
        parts = [str(v) for v in value]
    else:
        text = str(value)
        parts = text.split(";") if ";" in text else text.split(",")
    return [p.strip() for p in parts if p.strip()]


def to_crm(field: Any, value: object, *, users: Collection[str] | None = None) -> Value | None:
    """The canonical value to send for ``value`` into ``field``; None when the value is empty.

    Raises :class:`ConversionError` when the value cannot go into the field. ``users`` (CRM user ids) checks
    values for owner fields when given.
    """
    if is_empty(value):
        return None
    kind = canonical_type(field)
    if kind == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, int | float | Decimal):
            if value in (0, 1):
                return "true" if value else "false"
            raise _fail(field, value, f"is a yes/no field; “{display(value)}” is neither.")
        low = str(value).strip().casefold()
        if low in _TRUE:
            return "true"
        if low in _FALSE:
            return "false"
        option = _option(field, str(value))  # a checkbox field may label its options ("Yes"/"No")
        if option is not None:
            return option
        raise _fail(field, value, f"is a yes/no field; “{display(value)}” is neither yes nor no.")
    if kind == "number":
        if isinstance(value, bool):
            raise _fail(field, value, "is a number field; a yes/no value is not a number.")
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isinf(value):
                raise _fail(field, value, "is a number field; an infinite value cannot be sent.")
            return _format_number(Decimal(repr(value)))
        number = value if isinstance(value, Decimal) else parse_number(str(value))
        if number is None or not number.is_finite():
            raise _fail(field, value, f"is a number field; “{display(value)}” is not a number.")
        return _format_number(number)
    if kind == "date":
        moment = _as_moment(value)
        if moment is None:
            raise _fail(field, value, f"is a date field; “{display(value)}” is not a date like 2025-01-31.")
        if isinstance(moment, datetime):
            moment = _utc(moment).date() if moment.tzinfo is not None else moment.date()
        return moment.isoformat()
    if kind == "datetime":
        moment = _as_moment(value)
        if moment is None:
            raise _fail(
                field, value, f"is a date and time field; “{display(value)}” is not a date like 2025-01-31T09:00."
            )
        if not isinstance(moment, datetime):
            moment = datetime.combine(moment, time(0, 0), tzinfo=UTC)
        return _format_datetime(moment)
    if kind == "picklist":
        text = str(value).strip()
        option = _option(field, text)
        if option is None:
            if not _options(field):
                return text  # a picklist whose options the CRM did not list: let it decide
            raise _fail(field, value, f"has no option “{display(text)}”; its options are {_option_list(field)}.")
        return option
    if kind == "multi_picklist":
        chosen: list[str] = []
        missing: list[str] = []
        for part in _split_multi(value):
            option = _option(field, part) if _options(field) else part
            if option is None:
                missing.append(part)
            elif option not in chosen:
                chosen.append(option)
        if missing:
            names = ", ".join(f"“{display(m)}”" for m in missing)
            raise _fail(field, value, f"has no option {names}; its options are {_option_list(field)}.")
        return tuple(chosen) if chosen else None
    text = _text(value)
    if kind == "email":
        candidate = text.strip().lower()
        if candidate == text:
            candidate = text  # the same string, not a copy of it (100,000 addresses are a lot of copies)
        if candidate.startswith("mailto:"):
            candidate = candidate[7:]
        if not _EMAIL.fullmatch(candidate):
            raise _fail(field, value, f"is an email field; “{display(text)}” is not an email address.")
        return candidate
    if kind == "phone":
        if not any(ch.isdigit() for ch in text):
            raise _fail(field, value, f"is a phone field; “{display(text)}” has no digits.")
        return text.strip()
    if kind == "url":
        candidate = text.strip()
        if _URL.fullmatch(candidate):
            return candidate
        if _BARE_HOST.fullmatch(candidate):
            return "https://" + candidate
        raise _fail(field, value, f"is a web address field; “{display(text)}” is not a web address.")
    if kind == "owner":
        candidate = text.strip()
        if users is not None and candidate not in users:
            raise _fail(field, value, f"holds a CRM user; “{display(candidate)}” is not a user of the CRM.")
        return candidate
    return text.strip() if kind in ("text", "reference", "other") else text


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return _format_number(Decimal(repr(value))) if math.isfinite(value) else str(value)
    if isinstance(value, Decimal):
        return _format_number(value)
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


# -- comparison ------------------------------------------------------------------------------------------------


def same_value(field: Any, crm_value: object, value: Value | None) -> bool:
    """Whether the CRM's current value equals the converted ``value`` as the field's type sees it.

    Numbers compare as numbers (``5.0`` = ``5``), dates and date-times as moments, multi-picklists as sets,
    emails case-insensitively, text after trimming; an empty CRM value equals only an empty value.
    """
    if is_empty(crm_value) or is_empty(value):
        return is_empty(crm_value) and is_empty(value)
    kind = canonical_type(field)
    if kind == "multi_picklist" or isinstance(value, tuple | list) or isinstance(crm_value, tuple | list):
        return set(_split_multi(crm_value)) == set(_split_multi(value))
    assert isinstance(value, str)
    current = str(crm_value)
    if current == value:
        return True
    try:
        if kind == "number":
            a, b = parse_number(current), parse_number(value)
            return a is not None and b is not None and a == b
        if kind in ("date", "datetime"):
            return to_crm(field, current) == to_crm(field, value)
        if kind == "boolean":
            return to_crm(field, current) == to_crm(field, value)
        if kind == "picklist":
            return current.strip().casefold() == value.strip().casefold()
    except ConversionError:
        return False
    if kind == "email":
        return current.strip().casefold() == value.strip().casefold()
    return current.strip() == value.strip()


# -- the rules -------------------------------------------------------------------------------------------------


def decide(field: Any, mode: Mode, value: Value | None, current: object = None, *, overwrite: bool) -> FieldDecision:
    """What the export does to ``field`` of one record, given the converted Enginy ``value`` and the CRM's
    ``current`` value (ignored on create).

    - empty ``value``: nothing is written, whatever the mode (an empty Enginy value never blanks a CRM field);
    - create: the value is sent;
    - update, CRM field empty: the value is written (fill);
    - update, same value: nothing to write;
    - update, another value: replaced with Overwrite, kept without.
    """
    before = None if mode is Mode.CREATE or is_empty(current) else _canonical(current)
    if value is None:
        return FieldDecision(Effect.EMPTY, before, before)
    if mode is Mode.CREATE:
        return FieldDecision(Effect.SET, None, value)
    if before is None:
        return FieldDecision(Effect.FILL, None, value)
    if same_value(field, before, value):
        return FieldDecision(Effect.SAME, before, before)
    if overwrite:
        return FieldDecision(Effect.OVERWRITE, before, value)
    return FieldDecision(Effect.KEEP, before, before)


def _canonical(value: object) -> Value:
    return as_options(value) if isinstance(value, list | tuple | set | frozenset) else str(value)


def decide_owner(mode: Mode, owner: str | None, current: object = None) -> FieldDecision:
    """The record owner (Step 4, Users Mapping): set on create; on update only when the CRM has no owner."""
    before = None if mode is Mode.CREATE or is_empty(current) else str(current)
    if not owner:
        return FieldDecision(Effect.EMPTY, before, before)
    if mode is Mode.CREATE:
        return FieldDecision(Effect.SET, None, owner)
    if before is None:
        return FieldDecision(Effect.FILL, None, owner)
    if before == owner:
        return FieldDecision(Effect.SAME, before, before)
    return FieldDecision(Effect.KEEP, before, before)


def first_non_empty(values: Iterable[object]) -> object:
    for v in values:
        if not is_empty(v):
            return v
    return None


def join_reasons(reasons: Sequence[str]) -> str:
    return " ".join(r if r.endswith(".") else r + "." for r in reasons)
