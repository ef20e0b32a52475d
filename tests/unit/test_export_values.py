"""Conversion of Enginy values to CRM field types and the field-level rules of an export (DESIGN §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from enginy_desktop.adapters.base import CrmField, CrmObject, FieldOption, FieldType
from enginy_desktop.core.export.values import (
    ConversionError,
    Effect,
    Mode,
    decide,
    decide_owner,
    is_empty,
    parse_number,
    same_value,
    to_crm,
)


def f(kind: FieldType, name: str = "x", label: str = "X", options: tuple[tuple[str, str], ...] = ()) -> CrmField:
    return CrmField(name, label, kind, CrmObject.CONTACTS, tuple(FieldOption(v, lab) for v, lab in options))


TEXT = f(FieldType.TEXT, "jobtitle", "Job Title")
NUMBER = f(FieldType.NUMBER, "employees", "Employees")
BOOL = f(FieldType.BOOLEAN, "optin", "Opt-in")
DATE = f(FieldType.DATE, "start", "Start date")
DATETIME = f(FieldType.DATETIME, "last", "Last activity")
PICK = f(FieldType.PICKLIST, "stage", "Lifecycle stage", (("lead", "Lead"), ("customer", "Customer")))
MULTI = f(FieldType.MULTI_PICKLIST, "tags", "Tags", (("a", "Alpha"), ("b", "Beta"), ("c", "Gamma")))
EMAIL = f(FieldType.EMAIL, "email", "Email")
URL = f(FieldType.URL, "website", "Website")
PHONE = f(FieldType.PHONE, "phone", "Phone")
OWNER = f(FieldType.OWNER, "hubspot_owner_id", "Owner")


# -- emptiness -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [None, "", "   ", "\t\n", float("nan"), [], (), {}])
def test_empty_values(value: object) -> None:
    assert is_empty(value)
    for field in (TEXT, NUMBER, BOOL, DATE, DATETIME, PICK, MULTI, EMAIL, URL, PHONE, OWNER):
        assert to_crm(field, value) is None


@pytest.mark.parametrize("value", [0, "0", False, "false", " x "])
def test_not_empty(value: object) -> None:
    assert not is_empty(value)


# -- numbers ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("1234", "1234"), (1234, "1234"), ("1,234", "1234"), ("1,234,567", "1234567"), ("1.234.567", "1234567"),
        ("1 234", "1234"), ("1 234,5", "1234.5"), ("12.5", "12.5"), ("12,5", "12.5"), ("1.234,56", "1234.56"),
        ("1,234.56", "1234.56"), ("$1,200", "1200"), ("1200 €", "1200"), ("-3", "-3"), ("+7", "7"),
        ("1e3", "1000"), ("0.10", "0.1"), (2.5, "2.5"), (3.0, "3"), (Decimal("4.50"), "4.5"), (".5", "0.5"),
    ],
)  # fmt: skip
def test_numbers(raw: object, sent: str) -> None:
    assert to_crm(NUMBER, raw) == sent


@pytest.mark.parametrize("raw", ["abc", "12a", "1,2,3", "--1", "1.2.3", True, "inf", float("inf"), "NaN"])
def test_not_numbers(raw: object) -> None:
    with pytest.raises(ConversionError) as info:
        to_crm(NUMBER, raw)
    assert "“Employees”" in str(info.value)
    assert info.value.field == "employees"


def test_parse_number_none_for_blank() -> None:
    assert parse_number("  ") is None
    assert parse_number("$") is None


# -- booleans --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [(True, "true"), (False, "false"), ("Yes", "true"), ("no", "false"), ("1", "true"), ("0", "false"),
     (1, "true"), (0, "false"), ("TRUE", "true"), ("off", "false"), ("Sí", "true")],
)  # fmt: skip
def test_booleans(raw: object, sent: str) -> None:
    assert to_crm(BOOL, raw) == sent


@pytest.mark.parametrize("raw", ["maybe", 2, "yes please"])
def test_not_booleans(raw: object) -> None:
    with pytest.raises(ConversionError, match="yes/no"):
        to_crm(BOOL, raw)


def test_boolean_with_labelled_options() -> None:
    field = f(FieldType.BOOLEAN, "vip", "VIP", (("true", "Enrolled"), ("false", "Not enrolled")))
    assert to_crm(field, "Enrolled") == "true"
    assert to_crm(field, "not enrolled") == "false"


# -- dates -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("2025-01-31", "2025-01-31"), ("2025/01/31", "2025-01-31"), ("31/01/2025", "2025-01-31"),
        ("01/31/2025", "2025-01-31"), ("05/05/2025", "2025-05-05"), ("31.01.2025", "2025-01-31"),
        ("31 Jan 2025", "2025-01-31"), ("January 31, 2025", "2025-01-31"), ("31st January 2025", "2025-01-31"),
        ("2025-01-31T23:30:00Z", "2025-01-31"), ("2025-01-31T23:30:00-05:00", "2025-02-01"),
        (date(2025, 1, 31), "2025-01-31"), (datetime(2025, 1, 31, 10, 0), "2025-01-31"),
        ("1738281600000", "2025-01-31"),
        ("3 enero 2025", "2025-01-03"),
    ],
)  # fmt: skip
def test_dates(raw: object, sent: str) -> None:
    assert to_crm(DATE, raw) == sent


@pytest.mark.parametrize("raw", ["02/03/2025", "2025-02-30", "tomorrow", "31 Foo 2025", "13/13/2025", "1/2/25"])
def test_not_dates(raw: str) -> None:
    with pytest.raises(ConversionError, match="not a date like 2025-01-31"):
        to_crm(DATE, raw)


@pytest.mark.parametrize(
    ("raw", "sent"),
    [
        ("2025-01-31", "2025-01-31T00:00:00.000Z"), ("2025-01-31T09:15:00", "2025-01-31T09:15:00.000Z"),
        ("2025-01-31T09:15:00+01:00", "2025-01-31T08:15:00.000Z"), ("2025-01-31T09:15:00.123456Z",
                                                                     "2025-01-31T09:15:00.123Z"),
        (datetime(2025, 1, 31, 9, 15, tzinfo=timezone(timedelta(hours=2))), "2025-01-31T07:15:00.000Z"),
        (date(2025, 1, 31), "2025-01-31T00:00:00.000Z"),
    ],
)  # fmt: skip
def test_datetimes(raw: object, sent: str) -> None:
    assert to_crm(DATETIME, raw) == sent


def test_not_datetime() -> None:
    with pytest.raises(ConversionError, match="date and time"):
        to_crm(DATETIME, "soon")


# -- picklists -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("raw", "sent"), [("Lead", "lead"), ("lead", "lead"), (" CUSTOMER ", "customer")])
def test_picklist_labels_become_values(raw: str, sent: str) -> None:
    assert to_crm(PICK, raw) == sent


def test_picklist_unknown_option_names_the_options() -> None:
    with pytest.raises(ConversionError) as info:
        to_crm(PICK, "Evangelist")
    assert str(info.value) == "“Lifecycle stage” has no option “Evangelist”; its options are Lead, Customer."


def test_picklist_without_known_options_passes_text() -> None:
    assert to_crm(f(FieldType.PICKLIST), "Anything") == "Anything"


def test_multi_picklist() -> None:
    # several options cross the CRM contract as a tuple of option values (each adapter writes its own format)
    assert to_crm(MULTI, "Alpha; beta") == ("a", "b")
    assert to_crm(MULTI, "Alpha, Gamma, Alpha") == ("a", "c")
    assert to_crm(MULTI, ["b", "Gamma"]) == ("b", "c")
    assert to_crm(MULTI, " ; ") is None
    with pytest.raises(ConversionError, match="“Delta”"):
        to_crm(MULTI, "Alpha;Delta")


# -- text kinds ------------------------------------------------------------------------------------------------


def test_text_keeps_value_and_converts_types() -> None:
    assert to_crm(TEXT, "  CEO ") == "CEO"
    assert to_crm(TEXT, 42) == "42"
    assert to_crm(TEXT, 2.50) == "2.5"
    assert to_crm(TEXT, True) == "true"
    assert to_crm(TEXT, date(2025, 1, 2)) == "2025-01-02"
    assert to_crm(TEXT, datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2025-01-02T03:04:05.000Z"
    assert to_crm(f(FieldType.LONG_TEXT), "line 1\nline 2\n") == "line 1\nline 2\n"


def test_email() -> None:
    assert to_crm(EMAIL, " Jane.Doe@Example.COM ") == "jane.doe@example.com"
    assert to_crm(EMAIL, "mailto:a@b.io") == "a@b.io"
    with pytest.raises(ConversionError, match="not an email address"):
        to_crm(EMAIL, "jane at example")


def test_url() -> None:
    assert to_crm(URL, "https://enginy.ai/x?y=1") == "https://enginy.ai/x?y=1"
    assert to_crm(URL, "enginy.ai") == "https://enginy.ai"
    with pytest.raises(ConversionError, match="web address"):
        to_crm(URL, "not a url")


def test_phone() -> None:
    assert to_crm(PHONE, " +34 600 000 000 ") == "+34 600 000 000"
    with pytest.raises(ConversionError, match="no digits"):
        to_crm(PHONE, "call me")


def test_owner_checked_against_users() -> None:
    assert to_crm(OWNER, "101", users={"101", "102"}) == "101"
    assert to_crm(OWNER, "999") == "999"
    with pytest.raises(ConversionError, match="not a user of the CRM"):
        to_crm(OWNER, "999", users={"101"})


# -- comparison ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "crm", "new", "same"),
    [
        (NUMBER, "5.0", "5", True), (NUMBER, "5", "6", False), (DATE, "2025-01-31", "2025-01-31", True),
        (DATETIME, "2025-01-31T00:00:00Z", "2025-01-31T00:00:00.000Z", True),
        (DATETIME, "1738281600000", "2025-01-31T00:00:00.000Z", True), (BOOL, "True", "true", True),
        (MULTI, ("b", "a"), ("a", "b"), True), (MULTI, ("a",), ("a", "b"), False),
        (MULTI, ["b", "a"], ("a", "b"), True), (MULTI, (), None, True), (PICK, "Lead", "lead", True),
        (EMAIL, "A@B.io", "a@b.io", True), (TEXT, "CEO ", "CEO", True), (TEXT, "ceo", "CEO", False),
        (TEXT, None, None, True), (TEXT, "", None, True), (TEXT, "x", None, False), (TEXT, None, "x", False),
        (NUMBER, "abc", "5", False), (DATE, "garbage", "2025-01-01", False),
    ],
)  # fmt: skip
def test_same_value(field: CrmField, crm: object, new: object, same: bool) -> None:
    assert same_value(field, crm, new) is same


# -- the rules -------------------------------------------------------------------------------------------------


def test_create_sends_every_non_empty_value() -> None:
    d = decide(TEXT, Mode.CREATE, "CEO", "ignored", overwrite=False)
    assert (d.effect, d.before, d.after, d.writes) == (Effect.SET, None, "CEO", True)
    d = decide(TEXT, Mode.CREATE, None, overwrite=True)
    assert (d.effect, d.writes) == (Effect.EMPTY, False)


@pytest.mark.parametrize("overwrite", [True, False])
def test_update_fills_an_empty_crm_field(overwrite: bool) -> None:
    for current in (None, "", "  "):
        d = decide(TEXT, Mode.UPDATE, "CEO", current, overwrite=overwrite)
        assert (d.effect, d.before, d.after) == (Effect.FILL, None, "CEO")


def test_update_with_overwrite_replaces() -> None:
    d = decide(TEXT, Mode.UPDATE, "CEO", "CTO", overwrite=True)
    assert (d.effect, d.before, d.after, d.writes) == (Effect.OVERWRITE, "CTO", "CEO", True)


def test_update_without_overwrite_keeps_the_crm_value() -> None:
    d = decide(TEXT, Mode.UPDATE, "CEO", "CTO", overwrite=False)
    assert (d.effect, d.before, d.after, d.writes) == (Effect.KEEP, "CTO", "CTO", False)


@pytest.mark.parametrize("overwrite", [True, False])
def test_update_same_value_writes_nothing(overwrite: bool) -> None:
    d = decide(NUMBER, Mode.UPDATE, "5", "5.0", overwrite=overwrite)
    assert (d.effect, d.writes) == (Effect.SAME, False)


@pytest.mark.parametrize("mode", list(Mode))
@pytest.mark.parametrize("overwrite", [True, False])
@pytest.mark.parametrize("current", [None, "CTO"])
def test_an_empty_value_never_blanks(mode: Mode, overwrite: bool, current: str | None) -> None:
    d = decide(TEXT, mode, None, current, overwrite=overwrite)
    assert d.effect is Effect.EMPTY
    assert not d.writes
    if mode is Mode.UPDATE:
        assert d.after == current


def test_owner_rules() -> None:
    assert decide_owner(Mode.CREATE, "101").after == "101"
    assert decide_owner(Mode.CREATE, "101").effect is Effect.SET
    assert decide_owner(Mode.CREATE, None).effect is Effect.EMPTY
    assert decide_owner(Mode.UPDATE, "101", None).effect is Effect.FILL
    assert decide_owner(Mode.UPDATE, "101", "").effect is Effect.FILL
    kept = decide_owner(Mode.UPDATE, "101", "202")
    assert (kept.effect, kept.after, kept.writes) == (Effect.KEEP, "202", False)
    assert decide_owner(Mode.UPDATE, "101", "101").effect is Effect.SAME
    assert decide_owner(Mode.UPDATE, "", "202").effect is Effect.EMPTY
