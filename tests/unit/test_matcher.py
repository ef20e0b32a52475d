"""Rule semantics of the matcher (DESIGN §5): AND/OR, empty values, ambiguity, local duplicates, why it matched."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from enginy_desktop.core.matching.matcher import (
    Columns,
    Outcome,
    duplicate_risk,
    match,
)
from enginy_desktop.core.matching.normalize import Kind
from enginy_desktop.core.matching.rules import (
    AndGroup,
    CompanyPreset,
    Condition,
    ContactPreset,
    Rule,
    RuleFormatError,
    company_rule,
    contact_rule,
    field_label,
)

CONTACT = contact_rule(ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY)
NAMES_ONLY = contact_rule(ContactPreset.FIRST_LAST_COMPANY)


def person(first: str | None = None, last: str | None = None, company: str | None = None, url: str | None = None):
    return {"first_name": first, "last_name": last, "company_name": company, "linkedin_url": url}


CRM = {
    "c1": person("Jane", "Doe", "Acme Inc", "https://www.linkedin.com/in/jane-doe"),
    "c2": person("John", "Roe", "Beta"),
    "c3": person("John", "Roe", "Beta GmbH"),  # the same person twice in the CRM
    "c4": person("Ann", "Lee", "Gamma", "linkedin.com/in/ann-lee"),
}


# --- presets and rule trees --------------------------------------------------------------------------------


def test_presets_are_rule_trees() -> None:
    assert NAMES_ONLY.display == "First name + Last name + Company name"
    assert CONTACT.display == "LinkedIn URL OR First name + Last name + Company name"
    assert [len(g.conditions) for g in CONTACT.groups] == [1, 3]
    assert [c.kind for c in CONTACT.groups[1].conditions] == [Kind.PERSON_NAME, Kind.PERSON_NAME, Kind.COMPANY_NAME]
    domain = company_rule(CompanyPreset.DOMAIN, include_any_extension=True)
    assert domain.display == "Domain"
    assert domain.include_any_extension
    assert company_rule(CompanyPreset.DOMAIN_OR_NAME).display == "Domain OR Company name"


def test_presets_use_the_crm_field_names() -> None:
    rule = contact_rule(
        "linkedin_or_first_last_company",
        {"first_name": "firstname", "last_name": "lastname", "company_name": "company", "linkedin_url": "li"},
    )
    assert rule.crm_fields == ("li", "firstname", "lastname", "company")
    assert rule.local_fields == ("linkedin_url", "first_name", "last_name", "company_name")


def test_custom_preset_needs_its_rule() -> None:
    custom = Rule.of((Condition("email", "email", Kind.EMAIL),))
    assert contact_rule(ContactPreset.CUSTOM, custom=custom) is custom
    with pytest.raises(ValueError, match="custom"):
        contact_rule(ContactPreset.CUSTOM)
    # The company option "Include any domain extension" applies to a custom rule too.
    assert company_rule(CompanyPreset.CUSTOM, custom=custom, include_any_extension=True).include_any_extension


def test_rule_round_trips_through_dicts() -> None:
    rule = Rule.of(
        (Condition("email", "work_email", Kind.EMAIL, "Professional email"),),
        (Condition("first_name", "fn", Kind.PERSON_NAME), Condition("last_name", "ln", Kind.PERSON_NAME)),
        include_any_extension=True,
    )
    assert Rule.from_dict(rule.to_dict()) == rule


def test_malformed_rules_list_every_problem() -> None:
    with pytest.raises(RuleFormatError) as caught:
        Rule.from_dict(
            {
                "any_of": [
                    {"all_of": [{"local_field": 3, "crm_field": "x", "kind": "shoe_size"}]},
                    "not a group",
                ],
                "include_any_extension": "yes",
            }
        )
    problems = caught.value.problems
    assert len(problems) == 4
    assert any("shoe_size" in p for p in problems)
    assert any("local_field must be text" in p for p in problems)
    assert any("group 2" in p for p in problems)
    assert any("include_any_extension" in p for p in problems)


def test_incomplete_rules_cannot_match() -> None:
    assert Rule().problems() == ["Add at least one group of conditions."]
    rule = Rule((AndGroup(()), AndGroup((Condition("", "x"),))))
    assert rule.problems() == [
        "Group 1 has no condition: add one or remove the group.",
        "Group 2, condition 1: choose the Enginy field.",
    ]
    with pytest.raises(ValueError, match="cannot be used"):
        match(rule, {}, {})


def test_field_labels() -> None:
    assert field_label("first_name") == "First name"
    assert field_label("company_linkedin_url") == "Company LinkedIn URL"
    assert field_label("hs_lead_status") == "Hs lead status"


# --- outcomes ----------------------------------------------------------------------------------------------


def test_outcomes_and_why_it_matched() -> None:
    local = {
        1: person("jane", "DOE", "ACME"),  # names, written differently
        2: person(url="es.linkedin.com/in/Jane-Doe/"),  # LinkedIn only
        3: person("John", "Roe", "beta"),  # two CRM records
        4: person("New", "Guy", "Zed"),
        5: person("only a first name"),
        6: person("Ann", "Lee", "Gamma", "linkedin.com/in/jane-doe"),  # URL says c1, names say c4
        7: person("Jane", "Doe", "Acme", "https://www.linkedin.com/in/jane-doe/"),  # both groups, same record
    }
    result = match(CONTACT, local, CRM)
    assert result[1].outcome is Outcome.MATCHED
    assert result[1].crm_id == "c1"
    assert result[1].why == "First name + Last name + Company name"
    assert result[2].crm_id == "c1"
    assert result[2].why == "LinkedIn URL"
    assert result[3].outcome is Outcome.AMBIGUOUS
    assert result[3].candidates == ("c2", "c3")
    assert result[4].outcome is Outcome.NEW
    assert result[5].outcome is Outcome.UNMATCHABLE
    assert result[6].outcome is Outcome.AMBIGUOUS
    assert result[6].candidates == ("c1", "c4")
    assert result[7].crm_id == "c1"
    assert result[7].why == "LinkedIn URL"
    summary = result.summary
    assert (summary.matched, summary.new, summary.ambiguous, summary.unmatchable) == (3, 1, 2, 1)
    assert summary.crm_duplicates == 2  # c2 and c3 share a key
    assert list(result.links()) == [
        (1, "c1", "First name + Last name + Company name"),
        (2, "c1", "LinkedIn URL"),
        (7, "c1", "LinkedIn URL"),
    ]
    assert [m.local_id for m in result.records(Outcome.AMBIGUOUS)] == [3, 6]
    assert len(result) == 7
    assert [m.local_id for m in result] == list(local)


def test_and_needs_every_condition() -> None:
    local = {1: person("Jane", "Doe", "Other Co"), 2: person("Jane", "Doe")}
    result = match(NAMES_ONLY, local, CRM)
    assert result[1].outcome is Outcome.NEW  # two of three is no match
    assert result[2].outcome is Outcome.UNMATCHABLE  # an empty company: cannot compare safely


def test_or_needs_one_complete_group() -> None:
    # No LinkedIn URL, but the names group is complete: the record can be compared, and is new.
    result = match(CONTACT, {1: person("Zed", "Zee", "Zoo")}, CRM)
    assert result[1].outcome is Outcome.NEW
    # A URL that is not a profile (Sales Navigator) counts as empty.
    sales = person(url="https://www.linkedin.com/sales/lead/ACwAAA,NAME")
    assert match(CONTACT, {1: sales}, CRM)[1].outcome is Outcome.UNMATCHABLE


def test_empty_never_matches_empty() -> None:
    crm = {"x": person(None, None, None, None), "y": person("", " ", "", "")}
    local = {1: person(None, None, None, None), 2: person("", "", "", "https://www.linkedin.com/sales/lead/1")}
    result = match(CONTACT, local, crm)
    assert [m.outcome for m in result] == [Outcome.UNMATCHABLE, Outcome.UNMATCHABLE]
    assert result.summary.crm_duplicates == 0


def test_partial_keys_never_match_partial_keys() -> None:
    # Same first and last name, both companies empty: no match, no ambiguity, even though the tuples agree.
    crm = {"x": person("Jane", "Doe", None)}
    assert match(NAMES_ONLY, {1: person("Jane", "Doe", None)}, crm)[1].outcome is Outcome.UNMATCHABLE


def test_ambiguous_inside_one_group() -> None:
    crm = {"a": person(url="linkedin.com/in/x"), "b": person(url="https://www.linkedin.com/in/X/")}
    result = match(CONTACT, {1: person(url="linkedin.com/in/x")}, crm)
    assert result[1].outcome is Outcome.AMBIGUOUS
    assert result[1].candidates == ("a", "b")


def test_repeated_crm_ids_are_one_record() -> None:
    # Overlapping pages return the same CRM record twice: that is not ambiguity; the last copy wins.
    crm = [("a", person(url="linkedin.com/in/x")), ("a", person(url="linkedin.com/in/x", first="Jo"))]
    result = match(CONTACT, [(1, person(url="linkedin.com/in/x"))], crm)
    assert result[1].outcome is Outcome.MATCHED
    assert result[1].crm_id == "a"
    assert result.crm_ids == ["a"]


# A CRM contact may belong to several companies (its primary one and others): the record holds every name.
SEVERAL = {
    "c1": person("Jane", "Doe", ("Globex Corp", "ACME, Inc.", "Acme")),  # Acme twice once normalized
    "c2": person("John", "Roe", ("Beta",)),
    "c3": person("Ann", "Lee", ["Gamma", None, ""]),
    "c4": person("Max", "Moe", ()),
}


@pytest.mark.parametrize(("local", "outcome", "crm_id"), [
    (person("Jane", "Doe", "acme"), Outcome.MATCHED, "c1"),  # a company that is not the primary one
    (person("jane", "DOE", "Globex"), Outcome.MATCHED, "c1"),  # the primary one
    (person("Jane", "Doe", "Initech"), Outcome.NEW, None),  # a company she does not belong to
    (person("John", "Roe", "Beta GmbH"), Outcome.MATCHED, "c2"),
    (person("Ann", "Lee", "gamma"), Outcome.MATCHED, "c3"),  # empty names beside it never match
    (person("Max", "Moe", "Acme"), Outcome.NEW, None),  # no company at all
])
def test_a_crm_record_with_several_companies_matches_by_any_of_them(local: dict, outcome: Outcome,
                                                                     crm_id: str | None) -> None:
    for rule in (NAMES_ONLY, CONTACT):
        result = match(rule, {1: local}, SEVERAL)
        assert (result[1].outcome, result[1].crm_id) == (outcome, crm_id)
        assert result.crm_duplicates == 0  # one record holding a name twice is still one record
    if outcome is Outcome.MATCHED:
        assert result[1].why == "First name + Last name + Company name"


def test_several_companies_shared_by_two_crm_records_are_ambiguous() -> None:
    crm = {"a": person("Jane", "Doe", ("Globex", "Acme")), "b": person("Jane", "Doe", "Acme Inc"),
           "c": person("Jane", "Doe", ["Initech", "Acme"])}
    by_company = Rule.of((Condition("company_name", "company_name", Kind.COMPANY_NAME),))
    names_or_company = Rule((*NAMES_ONLY.groups, *by_company.groups))  # one CRM column in two groups
    local = {1: person("Jane", "Doe", "ACME"), 2: person("Jane", "Doe", "Globex"), 3: person("Jo", "Bloggs", "initech")}
    for rule in (NAMES_ONLY, names_or_company):
        result = match(rule, local, crm)
        assert result[1].outcome is Outcome.AMBIGUOUS
        assert set(result[1].candidates) == {"a", "b", "c"}
        assert result[2].crm_id == "a"
        assert result.crm_duplicates == 3
    result = match(names_or_company, local, crm)
    assert (result[3].crm_id, result[3].why) == ("c", "Company name")


def test_local_duplicates_are_grouped() -> None:
    local = {
        1: person("New", "Guy", "Zed Ltd"),
        2: person("new", "guy", "Zed"),  # same as 1 by names
        3: person(url="linkedin.com/in/newguy"),
        4: person("Other", "Guy", "Zed", "https://es.linkedin.com/in/NewGuy"),  # same as 3 by URL
        5: person("Other", "Guy", "Zed"),  # same as 4 by names, so also as 3 (transitively)
        6: person("Lonely", "One", "Zed"),
        7: person("Jane", "Doe", "Acme"),  # matched: never grouped
        8: person("Jane", "Doe", "Acme"),
    }
    result = match(CONTACT, local, CRM)
    assert result.duplicate_groups == [[0, 1], [2, 3, 4]]
    assert result[1].duplicates == (2,)
    assert result[2].duplicates == (1,)
    assert result[3].duplicates == (4, 5)
    assert result[6].duplicates == ()
    assert result[7].outcome is Outcome.MATCHED
    assert result[7].duplicates == ()
    summary = result.summary
    assert summary.new == 6
    assert summary.local_duplicates == 3
    assert summary.creates == 3
    assert match(CONTACT, local, CRM, group_duplicates=False).duplicate_groups == []


def test_company_domains_with_and_without_any_extension() -> None:
    crm = {"k1": {"domain": "enginy.ai", "name": "Enginy"}, "k2": {"domain": "gmail.com", "name": "Gmail User"}}
    local = {
        1: {"domain": "https://www.enginy.ai/about"},
        2: {"domain": "enginy.es"},
        3: {"domain": "jane@gmail.com"},  # free mail: no company identifier
        4: {"domain": None, "name": "Enginy S.L."},
    }
    plain = match(company_rule("domain"), local, crm)
    assert [m.outcome for m in plain] == [Outcome.MATCHED, Outcome.NEW, Outcome.UNMATCHABLE, Outcome.UNMATCHABLE]
    any_ext = match(company_rule("domain", include_any_extension=True), local, crm)
    assert any_ext[2].outcome is Outcome.MATCHED
    assert any_ext[2].crm_id == "k1"
    by_name = match(company_rule("domain_or_name"), local, crm)
    assert by_name[4].crm_id == "k1"
    assert by_name[4].why == "Company name"


def test_custom_rule_on_other_kinds() -> None:
    rule = Rule.of(
        (Condition("email", "work_email", Kind.EMAIL, "Professional email"),),
        (Condition("first_name", "fn", Kind.PERSON_NAME), Condition("phone", "tel", Kind.PHONE, "Phone")),
    )
    crm = {"a": {"work_email": "JANE@enginy.ai"}, "b": {"fn": "Jane", "tel": "+34 600 123 456"}}
    local = {1: {"email": "jane@enginy.ai "}, 2: {"first_name": "JANE", "phone": "0034600123456"}}
    result = match(rule, local, crm)
    assert (result[1].crm_id, result[1].why) == ("a", "Professional email")
    assert (result[2].crm_id, result[2].why) == ("b", "First name + Phone")


# --- record shapes -----------------------------------------------------------------------------------------


@dataclass
class Row:
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    linkedin_url: str | None = None


class CrmRecordLike:
    """Like the adapters' CrmRecord: properties behind ``get``."""

    def __init__(self, **props: str | None) -> None:
        self.properties = props

    def get(self, name: str) -> str | None:
        return self.properties.get(name)


def test_records_can_be_dataclasses_get_objects_pairs_or_columns() -> None:
    crm_objects = [(key, CrmRecordLike(**props)) for key, props in CRM.items()]
    local_rows = [(1, Row("Jane", "Doe", "Acme")), (2, Row(linkedin_url="linkedin.com/in/ann-lee"))]
    by_rows = match(CONTACT, local_rows, crm_objects)
    columns = Columns(
        ids=[1, 2],
        values={"first_name": ["Jane", None], "last_name": ["Doe", None], "company_name": ["Acme", None],
                "linkedin_url": [None, "linkedin.com/in/ann-lee"]},
    )  # fmt: skip
    by_columns = match(CONTACT, columns, iter(CRM.items()))
    for result in (by_rows, by_columns):
        assert [(m.crm_id, m.why) for m in result] == [
            ("c1", "First name + Last name + Company name"),
            ("c4", "LinkedIn URL"),
        ]
    with pytest.raises(ValueError, match="has 1 values for 2 records"):
        Columns(ids=[1, 2], values={"first_name": ["x"]})


def test_missing_column_is_empty() -> None:
    result = match(CONTACT, Columns(ids=[1], values={}), CRM)
    assert result[1].outcome is Outcome.UNMATCHABLE


# --- duplicate risk ----------------------------------------------------------------------------------------


def test_duplicate_risk_recommends_linkedin_for_contacts() -> None:
    local = {
        1: person("Jane", "Doe", "Acme Europe", "https://www.linkedin.com/in/jane-doe"),  # new by names only
        2: person(url="linkedin.com/in/ann-lee"),  # unmatchable by names only
        3: person("John", "Roe", "Beta"),  # ambiguous
        4: person("Jane", "Doe", "Acme"),
    }
    risk = duplicate_risk(NAMES_ONLY, local, CRM, object_type="contact")
    assert (risk.current.ambiguous, risk.current.unmatchable, risk.current.new) == (1, 1, 1)
    assert risk.rescued == 1  # contact 1 would be created again although it is c1
    assert risk.suggested_rule is not None
    assert risk.suggested_rule.display.startswith("LinkedIn URL OR")
    assert risk.suggested is not None
    assert risk.suggested.matched == 3
    assert risk.risky
    assert risk.at_risk == 3
    assert risk.message == (
        "1 contact matches several CRM records; 1 contact cannot be compared (an identifier field is empty); "
        "1 contact would be created again although it is in the CRM. Review and tighten the Contact "
        "Identifier in Step 1. Consider using the LinkedIn profile URL option."
    )


def test_duplicate_risk_recommends_any_extension_for_companies() -> None:
    crm = {"k1": {"domain": "enginy.ai"}}
    local = {1: {"domain": "enginy.es"}, 2: {"domain": "other.com"}}
    risk = duplicate_risk(company_rule("domain"), local, crm, object_type="company")
    assert risk.rescued == 1
    assert risk.suggested_rule is not None
    assert risk.suggested_rule.include_any_extension
    assert risk.message.endswith("Consider enabling Include any domain extension.")
    assert "1 company would be created again" in risk.message


def test_duplicate_risk_when_already_tight() -> None:
    local = {1: person("Jane", "Doe", "Acme")}
    risk = duplicate_risk(CONTACT, local, CRM, object_type="contact")
    assert risk.suggested_rule is None
    assert not risk.risky
    assert risk.message == ""
    with pytest.raises(ValueError, match="object_type"):
        duplicate_risk(CONTACT, local, CRM, object_type="deal")


# --- properties --------------------------------------------------------------------------------------------

names = st.sampled_from(["Jane", "jane", "JANE", "John", "Ann", "Zoë", "Zoe", "", None])
companies = st.sampled_from(["Acme", "ACME Inc.", "Beta GmbH", "beta", "", None])
urls = st.sampled_from(
    ["linkedin.com/in/a", "https://es.linkedin.com/in/A/", "linkedin.com/in/b", "linkedin.com/sales/lead/1", "", None]
)
records = st.builds(person, names, names, companies, urls)
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _keys(record: dict) -> set:
    """The complete normalized keys a record has under CONTACT."""
    probe = match(CONTACT, {0: record}, {})
    if probe[0].outcome is Outcome.UNMATCHABLE:
        return set()
    from enginy_desktop.core.matching.normalize import normalize_company_name as c
    from enginy_desktop.core.matching.normalize import normalize_linkedin_url as u
    from enginy_desktop.core.matching.normalize import normalize_person_name as p

    keys = set()
    if u(record["linkedin_url"]):
        keys.add(("url", u(record["linkedin_url"])))
    name_key = (p(record["first_name"]), p(record["last_name"]), c(record["company_name"]))
    if None not in name_key:
        keys.add(("names", name_key))
    return keys


@SETTINGS
@given(st.lists(records, max_size=8), st.lists(records, max_size=8), records)
def test_an_unrelated_crm_record_never_changes_a_match(local: list, crm: list, extra: dict) -> None:
    local_map = dict(enumerate(local))
    crm_map = {f"c{i}": r for i, r in enumerate(crm)}
    before = match(CONTACT, local_map, crm_map)
    extra_keys = _keys(extra)
    with_extra = match(CONTACT, local_map, {**crm_map, "extra": extra})
    for pos, record in local_map.items():
        if _keys(record) & extra_keys:
            continue  # related: it may change
        # Its match stays; only which other new records it is grouped with may change, when one of those
        # is related and now finds the extra record.
        old, new = before[pos], with_extra[pos]
        assert (new.outcome, new.crm_id, new.why, new.candidates) == (old.outcome, old.crm_id, old.why, old.candidates)


@SETTINGS
@given(st.lists(records, max_size=10), st.lists(records, max_size=10))
def test_empty_never_matches_and_outcomes_are_consistent(local: list, crm: list) -> None:
    result = match(CONTACT, dict(enumerate(local)), {f"c{i}": r for i, r in enumerate(crm)})
    for pos, record in enumerate(local):
        m = result[pos]
        if not _keys(record):
            assert m.outcome is Outcome.UNMATCHABLE
        if m.outcome is Outcome.MATCHED:
            assert _keys(record) & _keys(crm[int(str(m.crm_id)[1:])])
        if m.outcome is Outcome.AMBIGUOUS:
            assert len(m.candidates) >= 2
            assert all(_keys(record) & _keys(crm[int(str(c)[1:])]) for c in m.candidates)


few_names = st.sampled_from(["Jane", "JANE", "Ann", None])  # few: local and CRM records often share a name
few_urls = st.sampled_from(["linkedin.com/in/a", "https://es.linkedin.com/in/A/", None])
several_records = st.builds(person, few_names, few_names, st.lists(companies, max_size=3).map(tuple), few_urls)


@SETTINGS
@given(st.lists(st.builds(person, few_names, few_names, companies, few_urls), max_size=6),
       st.lists(several_records, max_size=6))
def test_a_crm_record_with_several_companies_is_found_by_each_of_them(local: list, crm: list) -> None:
    """As if the CRM record stood once per company name: found by any, counted once."""
    result = match(CONTACT, dict(enumerate(local)), {f"c{i}": r for i, r in enumerate(crm)})
    for pos, record in enumerate(local):
        keys = _keys(record)
        found = {f"c{i}" for i, r in enumerate(crm)
                 if any(keys & _keys({**r, "company_name": name}) for name in r["company_name"] or (None,))}
        m = result[pos]
        if not keys:
            assert m.outcome is Outcome.UNMATCHABLE
        elif len(found) == 1:
            assert (m.outcome, m.crm_id) == (Outcome.MATCHED, found.pop())
        elif found:
            assert (m.outcome, set(m.candidates)) == (Outcome.AMBIGUOUS, found)
        else:
            assert m.outcome is Outcome.NEW
