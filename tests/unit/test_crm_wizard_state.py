"""The CRM wizard's Qt-free parts: name-similarity suggestions, the CRM fields cache, the wizard state and the
Custom Mapping draft."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from enginy_desktop.core.automap import similarity, suggest_pairs, suggest_users
from enginy_desktop.core.crm_cache import (
    CrmFieldInfo,
    CrmSnapshot,
    CrmSnapshotCache,
    CrmUserInfo,
    FieldOptionInfo,
    guess_identifier_fields,
)
from enginy_desktop.core.crm_config import (
    AssociationType,
    CampaignProperty,
    CrmConfig,
    MappingKind,
    ObjectType,
    Step,
)
from enginy_desktop.core.crm_wizard import RuleDraft, WizardState, condition_kind, rule_summary
from enginy_desktop.core.matching.normalize import Kind
from enginy_desktop.core.matching.rules import CompanyPreset, ContactPreset
from enginy_desktop.core.services.crm_setup import People, RiskList


def F(name: str, label: str, type_: str = "text", obj: str = "contact", **kw: object) -> CrmFieldInfo:  # noqa: N802
    return CrmFieldInfo(name, label, type_, obj, **kw)  # type: ignore[arg-type]


FIELDS = (
    F("firstname", "First Name"),
    F("lastname", "Last Name"),
    F("email", "Email", "email"),
    F("jobtitle", "Job Title"),
    F("company", "Company Name"),
    F("hs_linkedin_url", "LinkedIn URL"),
    F("phone", "Phone Number", "phone"),
    F("lifecyclestage", "Lifecycle Stage", "picklist",
      options=(FieldOptionInfo("lead", "Lead"), FieldOptionInfo("customer", "Customer"))),
    F("hs_tags", "Tags", "multi_picklist", options=(FieldOptionInfo("a", "A"), FieldOptionInfo("b", "B"))),
    F("hubspot_owner_id", "Contact owner", "owner"),
    F("createdate", "Create Date", "datetime", read_only=True),
    F("enginy_opens", "Enginy Campaign Opens", "number"),
    F("name", "Company name", obj="company"),
    F("domain", "Company Domain Name", obj="company"),
    F("numberofemployees", "Number of Employees", "number", obj="company"),
    F("industry", "Industry", "picklist", obj="company", options=(FieldOptionInfo("TECH", "Technology"),)),
)  # fmt: skip
USERS = (
    CrmUserInfo("1", "jane@acme.com", "Jane", "Sales"),
    CrmUserInfo("2", "bob@acme.com", "Bob", "Ops"),
    CrmUserInfo("3", "old@acme.com", "Old", "Timer", active=False),
)


def snapshot(**kw: object) -> CrmSnapshot:
    return CrmSnapshot.build("hubspot", FIELDS, USERS, **kw)  # type: ignore[arg-type]


def state(**kw: object) -> WizardState:
    people = People(
        identities={"10": "Jane LinkedIn", "11": "Jane mail"},
        users={"20": "Jane Sales", "21": "Bob Ops"},
        user_emails={"20": "jane@acme.com", "21": "bob@elsewhere.com"},
        identity_emails={"11": "jane@acme.com"},
    )
    return WizardState("hubspot", CrmConfig("hubspot"), people=people, snapshot=snapshot(), **kw)  # type: ignore[arg-type]


# -- automap -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("job_title", "Job title"), ("jobtitle", "Job Title")),
        (("employee_count", "Employees"), ("numberofemployees", "Number of Employees")),
        (("linkedin_url", "LinkedIn URL"), ("hs_linkedin_url", "LinkedIn URL")),
        (("mobile", "Mobile phone"), ("mobilephone", "Mobile Phone Number")),
        (("company_name", "Company name"), ("company", "Company Name")),
    ],
)
def test_similar_names_score_high(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert similarity(*a, *b) >= 0.9


def test_unrelated_names_score_low() -> None:
    assert similarity("seniority", "Seniority", "hs_lead_status", "Lead Status") < 0.5
    assert similarity("notes", "Notes", "linkedinbio", "LinkedIn Bio") < 0.5


def test_suggest_pairs_is_one_to_one_and_skips_taken() -> None:
    sources = [SimpleNamespace(name="first_name", label="First name"), SimpleNamespace(name="email", label="Email")]
    targets = [SimpleNamespace(name="firstname", label="First Name"), SimpleNamespace(name="email", label="Email")]
    pairs = suggest_pairs(sources, targets, taken_targets={"email"})
    assert [(p.source, p.target) for p in pairs] == [("first_name", "firstname")]


def test_suggest_users_by_email_then_unique_name() -> None:
    people = {"a": ("Someone", "JANE@acme.com"), "b": ("Bob Ops", ""), "c": ("Old Timer", "old@acme.com")}
    assert suggest_users(people, USERS) == {"a": "1", "b": "2"}  # a deactivated user is never proposed


# -- the cache -----------------------------------------------------------------------------------------------


def test_snapshot_round_trips_through_the_cache(tmp_path: Path) -> None:
    cache = CrmSnapshotCache(tmp_path)
    snap = snapshot()
    cache.save(snap)
    again = cache.load("hubspot")
    assert again == snap
    assert again.crm_field("contact", "lifecyclestage").options[1].label == "Customer"
    assert again.identifier_fields_of("contact")["first_name"] == "firstname"
    assert not list(tmp_path.joinpath("cache").glob(".crm-cache-*"))  # no temporary file left behind


def test_a_damaged_or_newer_cache_is_ignored(tmp_path: Path) -> None:
    cache = CrmSnapshotCache(tmp_path)
    cache.directory.mkdir()
    cache.path("hubspot").write_text("{not json", "utf-8")
    assert cache.load("hubspot") is None
    data = snapshot().to_dict()
    data["version"] = 99
    cache.path("hubspot").write_text(json.dumps(data), "utf-8")
    assert cache.load("hubspot") is None


def test_identifier_fields_from_the_adapter_win_over_guesses() -> None:
    said = CrmSnapshot.build("hubspot", FIELDS, USERS, identifier_fields={"contacts": {"email": "hs_email"}})
    assert said.identifier_fields_of("contact") == {"email": "hs_email"}
    assert said.identifier_fields_of("company")["domain"] == "domain"  # guessed: the adapter said nothing
    assert said.identifier_fields_guessed
    guesses = guess_identifier_fields(FIELDS)
    assert guesses["contact"] == {
        "first_name": "firstname", "last_name": "lastname", "company_name": "company",
        "linkedin_url": "hs_linkedin_url", "email": "email",
    }  # fmt: skip
    assert guesses["company"] == {"domain": "domain", "name": "name"}


def test_snapshot_age() -> None:
    old = CrmSnapshot("hubspot", fetched_at=datetime.now(UTC) - timedelta(hours=2))
    assert 7100 < old.age_seconds() < 7300


# -- the state -----------------------------------------------------------------------------------------------


def test_dirty_follows_edits_and_saving() -> None:
    st = state()
    assert not st.dirty
    st.set_contact_preset(ContactPreset.FIRST_LAST_COMPANY)
    assert st.dirty
    st.set_contact_preset(ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY)
    assert not st.dirty
    st.config.association_type = AssociationType.PRIMARY
    st.mark_saved()
    assert not st.dirty
    assert st.saved.association_type is AssociationType.PRIMARY
    assert st.saved is not st.config


def test_identifier_summaries_use_the_crm_fields() -> None:
    st = state()
    assert st.identifier_summary(ObjectType.CONTACT) == "LinkedIn URL, OR First name AND Last name AND Company name"
    assert st.current_rule(ObjectType.CONTACT).crm_fields == ("hs_linkedin_url", "firstname", "lastname", "company")
    st.set_company_preset(CompanyPreset.DOMAIN_OR_NAME)
    st.set_include_any_extension(True)
    assert st.identifier_summary(ObjectType.COMPANY) == "Domain, OR Company name"
    assert st.current_rule(ObjectType.COMPANY).include_any_extension
    assert not st.blocking(st.problems())


def test_rule_draft_builds_the_custom_rule() -> None:
    st = state()
    draft = st.draft_for(ObjectType.CONTACT)  # starts from the option chosen now
    assert draft.summary == "LinkedIn URL, OR First name AND Last name AND Company name"
    draft = RuleDraft.from_rule(ObjectType.CONTACT, None)
    assert len(draft.groups) == 1
    assert draft.problems() == [
        "Group 1, condition 1: choose the Enginy field.",
        "Group 1, condition 1: choose the CRM field.",
    ]
    draft.set_condition(0, 0, local_field="first_name", crm_field="firstname")
    draft.set_condition(0, draft.add_condition(0), local_field="last_name", crm_field="lastname")
    g = draft.add_group()
    draft.set_condition(g, 0, local_field="email", crm_field="email")
    assert draft.problems() == []
    assert draft.summary == "First name AND Last name, OR Email"
    rule = draft.to_rule()
    assert [c.kind for c in rule.groups[0].conditions] == [Kind.PERSON_NAME, Kind.PERSON_NAME]
    assert rule.groups[1].conditions[0].kind is Kind.EMAIL
    empty = draft.add_group()
    draft.remove_condition(empty, 0)
    assert "Group 3 has no condition: add one or remove the group." in draft.problems()
    assert draft.group_problems(2) == ["Group 3 has no condition: add one or remove the group."]
    draft.remove_group(empty)
    st.set_custom_rule(ObjectType.CONTACT, draft.to_rule())
    assert st.config.contact_identifier.preset is ContactPreset.CUSTOM
    assert st.identifier_summary(ObjectType.CONTACT) == "First name AND Last name, OR Email"
    assert not st.blocking(st.problems())


def test_condition_kinds() -> None:
    from enginy_desktop.core.fields import get_field

    assert condition_kind(get_field("company", "name")) is Kind.COMPANY_NAME
    assert condition_kind(get_field("company", "website")) is Kind.DOMAIN
    assert condition_kind(get_field("contact", "linkedin_url")) is Kind.LINKEDIN_URL
    assert condition_kind(get_field("contact", "job_title")) is Kind.TEXT
    assert rule_summary(RuleDraft.from_rule(ObjectType.CONTACT, None).to_rule()) == ""


def test_choices_offer_the_other_objects_fields_last_and_tagged() -> None:
    st = state()
    crm = st.crm_choices(ObjectType.CONTACT)
    names = [c.name for c in crm]
    assert "createdate" not in names  # read-only: cannot be written
    assert names[-4:] == ["name", "domain", "numberofemployees", "industry"]
    assert all(c.foreign for c in crm[-4:])
    assert not any(c.foreign for c in crm[:-4])
    assert crm[names.index("lifecyclestage")].text == "Lifecycle Stage  ·  lifecyclestage  ·  picklist, 2 options"
    assert "company field" in crm[-1].text
    enginy = st.enginy_choices(ObjectType.CONTACT)
    assert enginy[0].name == "first_name"
    assert not enginy[0].foreign
    assert {"industry", "employee_count"} <= {c.name for c in enginy if c.foreign}
    assert "website" not in {c.name for c in enginy if c.foreign}  # a contact field of that name exists


def test_a_company_field_in_the_contacts_tab_cannot_be_saved() -> None:
    st = state()
    i = st.add_row(ObjectType.CONTACT, MappingKind.ENGINY, source="first_name", crm_field="domain")
    problems = st.row_problems(st.problems(), ObjectType.CONTACT)[i]
    assert [p.code for p in problems] == ["cross_object"]
    assert "Open Step 2: Export Mapping, verify that each tab only contains fields" in problems[0].message
    assert st.first_blocked_step() is Step.EXPORT


def test_editors_follow_the_crm_field_type() -> None:
    st = state()
    assert st.editor_for(ObjectType.CONTACT, "lifecyclestage").options == (("lead", "Lead"), ("customer", "Customer"))
    assert st.editor_for(ObjectType.CONTACT, "hs_tags").kind == "multi_picklist"
    assert st.editor_for(ObjectType.CONTACT, "hubspot_owner_id").options[0] == ("2", "Bob Ops <bob@acme.com>")
    assert st.editor_for(ObjectType.CONTACT, "enginy_opens").kind == "number"
    assert st.editor_for(ObjectType.CONTACT, "").kind == "text"
    assert st.editor_for(ObjectType.COMPANY, "industry").kind == "picklist"


def test_rows_move_within_their_kind() -> None:
    st = state()
    a = st.add_row(ObjectType.CONTACT, MappingKind.ENGINY, source="first_name", crm_field="firstname")
    st.add_row(ObjectType.CONTACT, MappingKind.FIXED, crm_field="jobtitle")
    c = st.add_row(ObjectType.CONTACT, MappingKind.ENGINY, source="email", crm_field="email")
    assert st.move_row_within_kind(ObjectType.CONTACT, c, -1) == a
    assert [m.source for m in st.config.contact_mappings] == ["email", "", "first_name"]
    assert st.move_row_within_kind(ObjectType.CONTACT, 0, -1) is None
    assert st.add_row(ObjectType.CONTACT, MappingKind.ENGAGEMENT) == 3
    assert st.config.contact_mappings[3].source == "last_activity_date"


def test_export_suggestions_keep_only_what_validation_accepts() -> None:
    st = state()
    found = {(s.source, s.target) for s in st.export_suggestions(ObjectType.CONTACT)}
    assert {("first_name", "firstname"), ("job_title", "jobtitle"), ("email", "email")} <= found
    assert not any(t == "hubspot_owner_id" for _, t in found)
    assert st.apply_suggestions(ObjectType.CONTACT, st.export_suggestions(ObjectType.CONTACT)) == len(found)
    assert not st.blocking(st.problems())
    assert st.export_suggestions(ObjectType.CONTACT) == []  # nothing left to propose
    companies = {(s.source, s.target) for s in st.export_suggestions(ObjectType.COMPANY)}
    assert ("employee_count", "numberofemployees") in companies


def test_campaign_and_user_suggestions() -> None:
    st = state()
    assert st.campaign_suggestions() == {CampaignProperty.OPENS: "enginy_opens"}
    identities, users = st.user_suggestions()
    assert identities == {"11": "1"}
    assert users == {"20": "1", "21": "2"}  # Bob by his unique name
    st.set_app_user("20", "1")
    st.set_app_user("21", None)
    assert st.unmapped() == (["10", "11"], ["21"])
    assert st.user_label("3") == "Old Timer <old@acme.com> (deactivated)"


def test_duplicate_risk_view_of_the_latest_check() -> None:
    from enginy_desktop.core.matching.matcher import duplicate_risk
    from enginy_desktop.core.sync import RiskReport

    st = state()
    assert st.duplicate_risk(ObjectType.CONTACT).state == "empty"
    st.risk_lists[ObjectType.CONTACT] = [RiskList(7, "Prospects", "contacts", 2), RiskList(8, "Old", "contacts", 1)]
    assert st.chosen_risk_list(ObjectType.CONTACT).id == 7
    assert st.duplicate_risk(ObjectType.CONTACT).text.startswith("Press Check to compare “Prospects” with HubSpot")
    st.set_contact_preset(ContactPreset.FIRST_LAST_COMPANY)
    local = {
        1: {"first_name": "Ana", "last_name": "Ruiz", "company_name": "Acme", "linkedin_url": "linkedin.com/in/ana"},
        2: {"first_name": "Leo", "last_name": "Diaz", "company_name": "Beta", "linkedin_url": "linkedin.com/in/leo"},
    }
    crm = {
        "a": {"firstname": "Ana", "lastname": "Ruiz", "company": "ACME Inc.", "hs_linkedin_url": ""},
        "b": {"firstname": "Leo", "lastname": "Díaz", "company": "Gamma", "hs_linkedin_url": "linkedin.com/in/leo"},
    }
    rule = st.current_rule(ObjectType.CONTACT)
    roles = st.identifier_roles(ObjectType.CONTACT)
    risk = duplicate_risk(rule, local, crm, object_type="contact", crm_fields=roles)
    report = RiskReport("contact", rule.display, risk, "", 1, "scan")
    st.set_risk(ObjectType.CONTACT, 7, st.rule_key(ObjectType.CONTACT), report)
    assert st.risk_is_current(ObjectType.CONTACT)
    view = st.duplicate_risk(ObjectType.CONTACT)
    assert view.state == "risk"
    assert view.text.startswith("On “Prospects” (2 contacts): 1 contact would be created again although it is in")
    assert "Consider using the LinkedIn profile URL option." in view.text
    st.set_contact_preset(ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY)  # another identifier: out of date
    assert not st.risk_is_current(ObjectType.CONTACT)
    assert st.duplicate_risk(ObjectType.CONTACT).text.startswith("The identifier changed since the last check")
    rule = st.current_rule(ObjectType.CONTACT)
    risk = duplicate_risk(rule, local, crm, object_type="contact", crm_fields=roles)
    report = RiskReport("contact", rule.display, risk, "", 1, "scan")
    st.set_risk(ObjectType.CONTACT, 7, st.rule_key(ObjectType.CONTACT), report)
    view = st.duplicate_risk(ObjectType.CONTACT)
    assert view.state == "ok"
    assert view.text == (
        "On “Prospects” (2 contacts): no duplicate risk found — 2 match one HubSpot record, 0 would be new.")
    st.risk_list[ObjectType.CONTACT] = 8  # another list: not checked yet
    assert st.duplicate_risk(ObjectType.CONTACT).text.startswith("Press Check to compare “Old”")
    st.set_risk(ObjectType.CONTACT, 8, st.rule_key(ObjectType.CONTACT), error="HubSpot is not connected.")
    assert st.duplicate_risk(ObjectType.CONTACT).text == "The check on “Old” could not run: HubSpot is not connected."
