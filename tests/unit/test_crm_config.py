"""The CRM configuration model: validation messages (every kind of problem), JSON round trip, refused files."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from enginy_desktop.adapters.base import (
    Capabilities,
    CrmField,
    CrmObject,
    CrmUser,
    FieldOption,
    FieldType,
    RateLimit,
)
from enginy_desktop.core.crm_config import (
    CONFIG_FORMAT,
    CONFIG_VERSION,
    FAQ_NO_EXPORT_MAPPING,
    PRIMARY_REMOVE_WARNING,
    TROUBLESHOOTING_CROSS_OBJECT,
    AssociationType,
    CampaignProperty,
    CompanyIdentifier,
    ContactIdentifier,
    CrmConfig,
    CrmConfigFileError,
    FieldMapping,
    Location,
    MappingKind,
    NewerConfigVersionError,
    ObjectType,
    Problem,
    Severity,
    Step,
    association_note,
    errors,
    validate,
)
from enginy_desktop.core.matching.normalize import Kind
from enginy_desktop.core.matching.rules import AndGroup, CompanyPreset, Condition, ContactPreset, Rule

C, CO = CrmObject.CONTACTS, CrmObject.COMPANIES
CRM_FIELDS = [
    CrmField("firstname", "First name", FieldType.TEXT, C),
    CrmField("lastname", "Last name", FieldType.TEXT, C),
    CrmField("company", "Company name", FieldType.TEXT, C),
    CrmField("email", "Email", FieldType.EMAIL, C),
    CrmField("jobtitle", "Job title", FieldType.TEXT, C),
    CrmField("hs_linkedin_url", "LinkedIn URL", FieldType.URL, C),
    CrmField("lead_source", "Lead source", FieldType.PICKLIST, C,
             (FieldOption("enginy", "Enginy"), FieldOption("web", "Web"))),
    CrmField("tags", "Tags", FieldType.MULTI_PICKLIST, C, (FieldOption("a", "Alpha"), FieldOption("b", "Beta"))),
    CrmField("score", "Score", FieldType.NUMBER, C),
    CrmField("vip", "VIP", FieldType.BOOLEAN, C),
    CrmField("met_on", "Met on", FieldType.DATE, C),
    CrmField("last_touch", "Last Enginy activity", FieldType.DATETIME, C),
    CrmField("createdate", "Create date", FieldType.DATETIME, C, read_only=True),
    CrmField("hubspot_owner_id", "Contact owner", FieldType.OWNER, C),
    CrmField("associatedcompanyid", "Primary company", FieldType.REFERENCE, C),
    CrmField("blob", "Attachment", FieldType.OTHER, C),
    CrmField("website", "Website", FieldType.URL, C),
    CrmField("enginy_status", "Enginy status", FieldType.TEXT, C),
    CrmField("enginy_sequence", "Sequence status", FieldType.PICKLIST, C,
             tuple(FieldOption(v.lower(), v) for v in ("Not Started", "Ongoing", "Replied", "Finished"))),
    CrmField("enginy_opens", "Opens", FieldType.NUMBER, C),
    CrmField("domain", "Company domain name", FieldType.TEXT, CO),
    CrmField("name", "Company name", FieldType.TEXT, CO),
    CrmField("industry", "Industry", FieldType.PICKLIST, CO, (FieldOption("SOFTWARE", "Software"),)),
    CrmField("numberofemployees", "Number of employees", FieldType.NUMBER, CO),
    CrmField("linkedin_company_page", "LinkedIn company page", FieldType.URL, CO),
]  # fmt: skip
USERS = [CrmUser("7", "ann@acme.com", "Ann", "Lee"), CrmUser("8", "bob@acme.com", "Bob", "Roe", active=False)]
IDENTIFIERS = {
    "contact": {"first_name": "firstname", "last_name": "lastname", "company_name": "company",
                "linkedin_url": "hs_linkedin_url"},
    "company": {"domain": "domain", "name": "name"},
}  # fmt: skip


def good_config() -> CrmConfig:
    config = CrmConfig("hubspot", company_identifier=CompanyIdentifier(CompanyPreset.DOMAIN, True))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "jobtitle", "job_title", overwrite=True))
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "lead_source", value="Enginy"))
    config.add_mapping("contact", FieldMapping(MappingKind.EXPORT, "met_on"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGAGEMENT, "last_touch", "last_activity_date"))
    config.add_mapping("company", FieldMapping(MappingKind.ENGINY, "numberofemployees", "employee_count"))
    config.set_campaign_mapping(CampaignProperty.SEQUENCE_STATUS, "enginy_sequence")
    config.set_campaign_mapping(CampaignProperty.ENGAGEMENT_STATUS, "enginy_status")
    config.set_campaign_mapping(CampaignProperty.OPENS, "enginy_opens")
    config.identity_mappings["1"] = "7"
    config.user_mappings["1"] = "7"
    config.default_owner = "7"
    return config


def check(config: CrmConfig, **kw: object) -> list[Problem]:
    kw.setdefault("crm_fields", CRM_FIELDS)
    kw.setdefault("crm_users", USERS)
    kw.setdefault("identifier_fields", IDENTIFIERS)
    return validate(config, **kw)  # type: ignore[arg-type]


def only(problems: list[Problem], code: str) -> Problem:
    found = [p for p in problems if p.code == code]
    assert len(found) == 1, problems
    return found[0]


# --- a valid configuration ---------------------------------------------------------------------------------


def test_a_good_configuration_has_no_problem() -> None:
    problems = check(good_config(), identities={"1": "Jane (LinkedIn)"}, app_users={"1": "Ann"}, export=["contact"])
    assert problems == []


def test_location_and_problem_read_as_sentences() -> None:
    where = Location(Step.EXPORT, "Contacts", 3)
    assert str(where) == "Step 2: Export Mapping › Contacts › row 3"
    assert str(Location(Step.SYNC)) == "Step 1: Input / Sync Mapping"
    assert str(Problem(where, "Choose the CRM field.", "missing_crm_field")) == (
        "Step 2: Export Mapping › Contacts › row 3: Choose the CRM field."
    )


# --- Step 2: misplaced, unknown, read-only, duplicated fields ----------------------------------------------


def test_company_field_in_contacts_tab_uses_the_troubleshooting_text() -> None:
    config = good_config()
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "industry", "job_title"))
    problem = only(check(config), "cross_object")
    assert problem.location == Location(Step.EXPORT, "Contacts", 5)
    assert problem.severity is Severity.ERROR
    assert problem.message == (
        "“Industry” (industry) is a company field of the CRM, mapped in the Contacts tab. "
        + TROUBLESHOOTING_CROSS_OBJECT
    )
    assert TROUBLESHOOTING_CROSS_OBJECT == (
        "Open Step 2: Export Mapping, verify that each tab only contains fields belonging to its own object type, "
        "and remove any misplaced mappings."
    )


def test_contact_field_in_companies_tab_both_ways() -> None:
    config = good_config()
    config.add_mapping("company", FieldMapping(MappingKind.ENGINY, "jobtitle", "industry"))  # a contact CRM field
    config.add_mapping("company", FieldMapping(MappingKind.ENGINY, "name", "job_title"))  # a contact Enginy field
    problems = [p for p in check(config) if p.code == "cross_object"]
    assert [(p.location.tab, p.location.row) for p in problems] == [("Companies", 2), ("Companies", 3)]
    assert problems[0].message.startswith(
        "“Job title” (jobtitle) is a contact field of the CRM, mapped in the Companies"
    )
    assert problems[1].message.startswith("“Job title” is a contact field mapped in the Companies tab. Open Step 2")


def test_unknown_and_read_only_crm_fields() -> None:
    config = good_config()
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "gone_field", "email"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "createdate", "email"))
    problems = check(config)
    assert only(problems, "unknown_crm_field").message == (
        "The CRM has no contact field “gone_field” (it may have been deleted or renamed). Choose another field."
    )
    read_only = only(problems, "read_only")
    assert read_only.location.row == 6
    assert (
        read_only.message
        == "“Create date” (createdate) is read-only in the CRM: Enginy cannot write it. Choose another field."
    )


def test_a_crm_field_mapped_twice() -> None:
    config = good_config()
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "jobtitle", value="CEO"))
    problem = only(check(config), "duplicate_crm_field")
    assert problem.location == Location(Step.EXPORT, "Contacts", 5)
    assert problem.message == (
        "“Job title” (jobtitle) is already mapped in row 1; a CRM field can receive one value only. Remove one of "
        "the two rows."
    )


def test_unknown_enginy_field_and_missing_pieces() -> None:
    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "jobtitle", "shoe_size"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "", ""))
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "lead_source", value="  "))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGAGEMENT, "last_touch", ""))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGAGEMENT, "enginy_status", "mood"))
    problems = check(config)
    assert (
        only(problems, "unknown_enginy_field").message
        == "Enginy has no contact field “shoe_size”. Choose another field."
    )
    assert [(p.location.row, p.message) for p in problems if p.code.startswith("missing")] == [
        (2, "Choose the Enginy field."),
        (2, "Choose the CRM field."),
        (3, "Enter the fixed value, or remove the row."),
        (4, "Choose what this engagement field receives."),
    ]
    assert only(problems, "unknown_source").message.startswith("“mood” is not an engagement value Enginy knows")


# --- Step 2: types -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("crm_field", "value", "message"),
    [
        ("lead_source", "Partner", "“Partner” is not one of the options of “Lead source”: Enginy, Web."),
        ("tags", "Alpha; Gamma", "“Gamma” not among the options of “Tags”: Alpha, Beta."),
        ("score", "high", "“Score” is a number field; “high” is not a number."),
        ("vip", "maybe", "“VIP” is a yes/no field; use true or false (not “maybe”)."),
        ("met_on", "31/01/2025", "“Met on” is a date field; “31/01/2025” is not a date like 2025-01-31."),
        ("last_touch", "yesterday",
         "“Last Enginy activity” is a date field; “yesterday” is not a date like 2025-01-31T09:00:00."),
        ("email", "not-an-email", "“Email” is an email field; “not-an-email” is not an email address."),
        ("website", "enginy.ai", "“Website” is a web address field; “enginy.ai” must start with https://."),
        ("hubspot_owner_id", "99", "“Contact owner” holds a CRM user; “99” is not the id of a user of the CRM."),
    ],
)  # fmt: skip
def test_fixed_values_must_fit_the_field(crm_field: str, value: str, message: str) -> None:
    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, crm_field, value=value))
    problem = only(check(config), "type_mismatch")
    assert (problem.location.row, problem.message) == (1, message)


@pytest.mark.parametrize(
    ("crm_field", "value"),
    [("lead_source", "Enginy"), ("lead_source", "web"), ("tags", "alpha;Beta"), ("score", "-12.5"), ("vip", "Yes"),
     ("met_on", "2025-01-31"), ("last_touch", "2025-01-31T09:00:00"), ("hubspot_owner_id", "7"), ("jobtitle", "x")],
)  # fmt: skip
def test_fitting_fixed_values(crm_field: str, value: str) -> None:
    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, crm_field, value=value))
    assert check(config) == []


def test_enginy_field_types() -> None:
    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "score", "email"))  # email -> number: never
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "vip", "job_title"))  # text -> boolean: maybe
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "hubspot_owner_id", "email"))  # owner: Step 4
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "associatedcompanyid", "company_name"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "website", "website"))  # url -> url: fine
    config.add_mapping("company", FieldMapping(MappingKind.ENGINY, "industry", "industry"))  # text -> picklist
    problems = check(config)
    assert [(p.location.tab, p.location.row, p.severity, p.message) for p in problems] == [
        ("Contacts", 1, Severity.ERROR,
         "“Email” (email) cannot go into “Score”, a number field. Choose a matching field."),
        ("Contacts", 2, Severity.WARNING,
         "“VIP” is a boolean field; records whose “Job title” cannot be converted to it will fail with a clear "
         "reason at export."),
        ("Contacts", 3, Severity.ERROR,
         "“Contact owner” (hubspot_owner_id) holds the record's owner: it is set from Step 4: User Mapping. "
         "Remove this row."),
        ("Contacts", 4, Severity.ERROR,
         "“Primary company” (associatedcompanyid) holds a link to another CRM record, which Enginy cannot fill. "
         "Remove this row."),
        ("Companies", 1, Severity.WARNING,
         "“Industry” is a picklist field (Software); records whose “Industry” cannot be converted to it will fail "
         "with a clear reason at export."),
    ]  # fmt: skip


def test_export_and_engagement_field_types() -> None:
    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.EXPORT, "blob"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGAGEMENT, "score", "last_activity_date"))
    config.add_mapping("contact", FieldMapping(MappingKind.ENGAGEMENT, "enginy_opens", "activity_count"))
    problems = check(config)
    assert [(p.location.row, p.message) for p in problems] == [
        (1, "“Attachment” (blob) is a field whose value cannot be typed in the export dialog. Choose another "
            "field, or a fixed value."),
        (2, "“Score” is a number field; Last Enginy activity date needs a date field."),
    ]  # fmt: skip


# --- Step 1 ------------------------------------------------------------------------------------------------


def test_custom_identifier_problems() -> None:
    config = good_config()
    config.contact_identifier = ContactIdentifier(
        ContactPreset.CUSTOM,
        Rule(
            (
                AndGroup((Condition("email", "email", Kind.EMAIL),)),
                AndGroup(()),
                AndGroup((Condition("name", "firstname"), Condition("first_name", "industry"))),
                AndGroup((Condition("", "nope"),)),
            )
        ),
    )
    config.company_identifier = CompanyIdentifier(CompanyPreset.CUSTOM)
    problems = [p for p in check(config) if p.location.step is Step.SYNC]
    assert [(p.location.tab, p.location.row, p.code) for p in problems] == [
        ("Contact Identifier", 2, "empty_group"),
        ("Contact Identifier", 3, "cross_object"),
        ("Contact Identifier", 3, "cross_object"),
        ("Contact Identifier", 4, "missing_enginy_field"),
        ("Contact Identifier", 4, "unknown_crm_field"),
        ("Company Identifier", None, "empty_rule"),
    ]
    assert problems[0].message == "Group 2 has no condition: add one or remove the group."
    assert problems[1].message == (
        "Group 3, condition 1: “Company name” is a company field; a contact identifier compares contact fields."
    )
    assert problems[2].message == (
        "“Industry” (industry) is a company field of the CRM, but group 3, condition 2 compares contacts. "
        "Choose a contact field."
    )
    assert problems[5].message == "The custom mapping has no condition yet: add at least one group of conditions."


def test_preset_needs_its_crm_fields() -> None:
    fields = [f for f in CRM_FIELDS if f.name != "hs_linkedin_url"]
    problem = only(check(good_config(), crm_fields=fields), "missing_identifier_field")
    assert problem.location == Location(Step.SYNC, "Contact Identifier")
    assert problem.message == (
        "The CRM has no contact field for LinkedIn URL (“hs_linkedin_url”), which this identifier compares. "
        "Choose another option, or a custom mapping."
    )
    config = good_config()
    config.contact_identifier.preset = ContactPreset.FIRST_LAST_COMPANY
    assert check(config, crm_fields=fields) == []


# --- export readiness (FAQ Q2) -----------------------------------------------------------------------------


def test_no_export_mapping_refuses_the_export_with_the_faq() -> None:
    config = good_config()
    config.company_mappings.clear()
    assert check(config, export=["contact"]) == []
    problem = only(check(config, export=["contact", ObjectType.COMPANY]), "no_export_mapping")
    assert problem.location == Location(Step.EXPORT, "Companies")
    assert problem.message == "There is no export mapping for companies. " + FAQ_NO_EXPORT_MAPPING
    assert FAQ_NO_EXPORT_MAPPING.startswith("Step 1 (Input / Sync Mapping) controls how records are matched")


# --- association type --------------------------------------------------------------------------------------


def caps(multiple: bool, primary: bool) -> Capabilities:
    return Capabilities({}, upsert=False, multiple_companies=multiple, primary_company=primary, search_in=False,
                        rate_limit=RateLimit(10, 1))  # fmt: skip


def test_association_type_notes() -> None:
    assert association_note(AssociationType.ADDITIONAL, caps(True, True)) is None
    assert association_note(AssociationType.PRIMARY_REMOVE_PREVIOUS, caps(True, True)) == PRIMARY_REMOVE_WARNING
    single = association_note(AssociationType.PRIMARY, caps(False, False), "Pipedrive")
    assert single is not None
    assert single.startswith("Pipedrive links a contact to one company only")
    assert "no primary company" in (association_note(AssociationType.PRIMARY, caps(True, False)) or "")
    config = good_config()
    config.association_type = AssociationType.ADDITIONAL
    problem = only(check(config, capabilities=caps(False, False), crm_name="Pipedrive"), "association_type")
    assert problem.severity is Severity.WARNING
    assert problem.location == Location(Step.EXPORT, "Association Type")


# --- Step 3 ------------------------------------------------------------------------------------------------


def test_campaign_mapping_problems() -> None:
    config = good_config()
    config.set_campaign_mapping(CampaignProperty.CLICKS, "jobtitle")  # also an export mapping
    config.set_campaign_mapping(CampaignProperty.REPLY_ANALYSIS, "enginy_status")  # twice
    config.set_campaign_mapping(CampaignProperty.OPEN_ANALYSIS, "lead_source")  # open-ended values in a picklist
    config.set_campaign_mapping(CampaignProperty.SEQUENCE_DETAILS, "score")  # text into a number
    config.set_campaign_mapping(CampaignProperty.CLICK_ANALYSIS, "industry")  # a company field
    config.set_campaign_mapping(CampaignProperty.SEQUENCE_STATUS, "tags")  # a picklist without the values
    problems = [p for p in check(config) if p.location.step is Step.CAMPAIGN]
    assert [(p.location.tab, p.code, p.severity) for p in problems] == [
        ("Campaign Sequence Details", "type_mismatch", Severity.ERROR),
        ("Campaign Clicks", "duplicate_crm_field", Severity.ERROR),
        ("Campaign Open Analysis", "duplicate_crm_field", Severity.ERROR),
        ("Campaign Open Analysis", "type_risk", Severity.WARNING),
        ("Campaign Click Analysis", "cross_object", Severity.ERROR),
        ("Campaign Reply Analysis", "duplicate_crm_field", Severity.ERROR),
        ("Sequence Status", "type_mismatch", Severity.ERROR),
    ]
    messages = {(p.location.tab, p.code): p.message for p in problems}
    assert messages[("Campaign Clicks", "duplicate_crm_field")] == (
        "“Job title” (jobtitle) is also mapped in Step 2: Export Mapping (Contacts, row 1); a CRM field can "
        "receive one value only."
    )
    assert messages[("Campaign Reply Analysis", "duplicate_crm_field")] == (
        "“Enginy status” (enginy_status) already receives Campaign Engagement Status; map each property to its own "
        "field."
    )
    assert messages[("Sequence Status", "type_mismatch")] == (
        "“Tags” (tags) lacks the options Not Started, Ongoing, Replied, Finished, which Sequence Status can take."
    )
    assert messages[("Campaign Sequence Details", "type_mismatch")] == (
        "Campaign Sequence Details is text; “Score” (score) is a number field."
    )


def test_the_eight_campaign_properties() -> None:
    assert [p.label for p in CampaignProperty] == [
        "Campaign Sequence Details", "Campaign Engagement Status", "Campaign Opens", "Campaign Clicks",
        "Campaign Open Analysis", "Campaign Click Analysis", "Campaign Reply Analysis", "Sequence Status",
    ]  # fmt: skip
    config = CrmConfig("hubspot")
    config.set_campaign_mapping("campaign_opens", "enginy_opens")
    config.set_campaign_mapping("campaign_opens", None)
    assert config.campaign_mappings == {}


# --- Step 4 ------------------------------------------------------------------------------------------------


def test_user_mapping_problems() -> None:
    config = good_config()
    config.default_owner = ""
    config.identity_mappings = {"1": "99", "3": "7"}
    config.user_mappings = {"1": "8"}
    problems = check(
        config, identities={"1": "Jane (LinkedIn)", "2": "Sales mailbox"}, app_users={"1": "Ann", "2": "Bo"}
    )
    assert [(str(p.location), p.severity.value, p.message) for p in problems] == [
        ("Step 4: User Mapping › Identities › row 1", "error",
         "“Jane (LinkedIn)” is mapped to a CRM user (id 99) who is no longer in the CRM. Choose another user."),
        ("Step 4: User Mapping › Identities", "warning",
         "The Enginy identity 3 no longer exists; its mapping is ignored."),
        ("Step 4: User Mapping › Identities › row 2", "warning",
         "“Sales mailbox” is not mapped to a CRM user: its campaigns' activities are attributed to the CRM's own "
         "default (the connected user)."),
        ("Step 4: User Mapping › Users › row 1", "warning",
         "“Ann” is mapped to Bob Roe, who is deactivated in the CRM."),
        ("Step 4: User Mapping › Users › row 2", "warning",
         "“Bo” is not mapped to a CRM user: records they export are owned by the CRM's own default (the connected "
         "user)."),
    ]  # fmt: skip
    config.default_owner = "42"
    problems = check(config, identities={"1": "Jane"}, app_users={})
    unknown = [p for p in problems if p.code == "unknown_crm_user"]
    assert [p.location for p in unknown] == [
        Location(Step.USERS, "Identities", 1),
        Location(Step.USERS, "Default owner"),
    ]
    assert unknown[1].message == (
        "The default owner is mapped to a CRM user (id 42) who is no longer in the CRM. Choose another user."
    )


def test_owners_fall_back_to_the_default() -> None:
    config = good_config()
    config.default_owner = "9"
    assert config.owner_for_user(1) == "7"
    assert config.owner_for_user(2) == "9"
    assert config.owner_for_identity("1") == "7"
    assert config.owner_for_identity(5) == "9"


def test_errors_filter_and_checks_without_crm_data() -> None:
    config = good_config()
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "industry", "job_title"))
    # Without the CRM's fields, only what the configuration itself says can be checked.
    assert validate(config) == []
    problems = check(config, identities={"1": "Jane", "2": "Sales"})
    assert [p.code for p in errors(problems)] == ["cross_object"]


def test_enginy_fields_can_be_given() -> None:
    @dataclass(frozen=True)
    class EF:
        name: str
        label: str
        type: str
        object: str

    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.ENGINY, "score", "points"))
    assert check(config, enginy_fields=[EF("points", "Points", "integer", "contact")]) == []
    assert only(check(config, enginy_fields=[]), "unknown_enginy_field")


def test_crm_fields_may_come_per_object() -> None:
    @dataclass(frozen=True)
    class PlainField:  # no object of its own: the mapping key says it
        name: str
        label: str
        type: str
        options: tuple = ()
        read_only: bool = False
        object: str = ""

    config = CrmConfig("hubspot")
    config.add_mapping("contact", FieldMapping(MappingKind.FIXED, "rating", value="high"))
    problems = validate(config, crm_fields={"contacts": [PlainField("rating", "Rating", "double")]})
    assert only(problems, "type_mismatch").message == "“Rating” is a number field; “high” is not a number."


# --- editing -----------------------------------------------------------------------------------------------


def test_editing_keeps_positions_and_copies_are_independent() -> None:
    config = good_config()
    config.move_mapping("contact", 3, 0)
    assert [m.crm_field for m in config.contact_mappings] == ["last_touch", "jobtitle", "lead_source", "met_on"]
    assert [m.position for m in config.contact_mappings] == [0, 1, 2, 3]
    removed = config.remove_mapping(ObjectType.CONTACT, 1)
    assert removed.crm_field == "jobtitle"
    assert [m.position for m in config.mappings("contact")] == [0, 1, 2]
    draft = config.copy()
    draft.contact_mappings[0].overwrite = True
    draft.identity_mappings["2"] = "7"
    assert not config.contact_mappings[0].overwrite
    assert "2" not in config.identity_mappings


def test_identifier_rules_follow_the_crm_field_names() -> None:
    config = good_config()
    rule = config.contact_identifier.rule(IDENTIFIERS["contact"])
    assert rule.crm_fields == ("hs_linkedin_url", "firstname", "lastname", "company")
    company = config.company_identifier.rule(IDENTIFIERS["company"])
    assert company.include_any_extension
    assert company.crm_fields == ("domain",)


# --- JSON --------------------------------------------------------------------------------------------------


def full_config() -> CrmConfig:
    config = good_config()
    config.contact_identifier = ContactIdentifier(
        ContactPreset.FIRST_LAST_COMPANY,  # the custom rule is kept while a preset is chosen
        Rule.of(
            (Condition("email", "email", Kind.EMAIL, "Professional email"),),
            (
                Condition("first_name", "firstname", Kind.PERSON_NAME),
                Condition("last_name", "lastname", Kind.PERSON_NAME),
            ),
        ),
    )
    config.company_identifier = CompanyIdentifier(
        CompanyPreset.CUSTOM, True, Rule.of((Condition("domain", "domain", Kind.DOMAIN),),
                                            (Condition("linkedin_url", "linkedin_company_page", Kind.LINKEDIN_URL),))
    )  # fmt: skip
    config.association_type = AssociationType.PRIMARY
    return config


def test_json_round_trip() -> None:
    config = full_config()
    text = config.to_json()
    data = json.loads(text)
    assert data["format"] == CONFIG_FORMAT == "enginy-crm-config"
    assert data["version"] == CONFIG_VERSION == 1
    assert data["identifiers"]["company"] == {
        "preset": "custom",
        "include_any_extension": True,
        "custom": {"any_of": [
            {"all_of": [{"local_field": "domain", "crm_field": "domain", "kind": "domain"}]},
            {"all_of": [{"local_field": "linkedin_url", "crm_field": "linkedin_company_page", "kind": "linkedin_url"}]},
        ]},
    }  # fmt: skip
    assert data["export_mappings"]["contact"][1] == {
        "kind": "fixed", "crm_field": "lead_source", "source": "", "value": "Enginy", "overwrite": False, "position": 1,
    }  # fmt: skip
    assert data["campaign_mappings"]["campaign_clicks"] is None
    assert set(data["campaign_mappings"]) == {p.value for p in CampaignProperty}
    back = CrmConfig.from_json(text)
    assert back == config
    assert back.to_json() == text
    assert CrmConfig.from_dict(config.to_dict()) == config


def test_minimal_file_takes_the_defaults() -> None:
    config = CrmConfig.from_json('{"format": "enginy-crm-config", "version": 1, "crm": "zoho"}')
    assert config == CrmConfig("zoho")
    assert config.contact_identifier.preset is ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY
    assert config.association_type is AssociationType.ADDITIONAL


def test_rows_are_read_in_position_order() -> None:
    data = full_config().to_dict()
    rows = data["export_mappings"]["contact"]
    rows[0]["position"], rows[3]["position"] = 9, -1
    config = CrmConfig.from_dict(data)
    assert [m.crm_field for m in config.contact_mappings] == ["last_touch", "lead_source", "met_on", "jobtitle"]
    assert [m.position for m in config.contact_mappings] == [0, 1, 2, 3]


def test_invalid_file_lists_every_problem() -> None:
    data = full_config().to_dict()
    data["association_type"] = "glue"
    data["identifiers"]["company"]["include_any_extension"] = "yes"
    data["identifiers"]["contact"]["custom"]["any_of"][0]["all_of"][0]["kind"] = "shoe_size"
    data["export_mappings"]["contact"][0]["kind"] = "enginy_field"
    data["export_mappings"]["contact"][1]["overwrite"] = "no"
    data["export_mappings"]["contact"][2]["colour"] = "red"
    data["export_mappings"]["deals"] = []
    data["campaign_mappings"]["campaign_mood"] = "x"
    data["user_mappings"] = {"1": None}
    data["surprise"] = 1
    with pytest.raises(CrmConfigFileError) as caught:
        CrmConfig.from_json(json.dumps(data))
    problems = caught.value.problems
    assert problems == [
        'Unknown entry "surprise".',
        "identifiers.contact.custom, group 1, condition 1: kind 'shoe_size' is not one of person_name, "
        "company_name, email, linkedin_url, domain, phone, text.",
        '"identifiers.company.include_any_extension" must be true or false.',
        '"export_mappings" has an unknown tab "deals" (use "contact" or "company").',
        '"export_mappings.contact, mapping 1: kind" is "enginy_field"; it must be one of "enginy", "fixed", '
        '"export", "engagement".',
        '"export_mappings.contact, mapping 2: overwrite" must be true or false.',
        '"export_mappings.contact, mapping 3" has an unknown entry "colour".',
        '"association_type" is "glue"; it must be one of "additional", "primary", "primary_remove_previous".',
        '"campaign_mappings" has an unknown property "campaign_mood".',
        '"user_mappings.1" must be a CRM user id.',
    ]
    assert str(caught.value).startswith("This CRM configuration file cannot be imported; nothing was changed.\n- ")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "The file is not valid JSON (line 1, column 2)."),
        (b"\xff\xfe{}", "The file is not text encoded as UTF-8."),
        ("[1, 2]", "The file does not hold a CRM configuration (a JSON object is expected)."),
        ('{"format": "other", "version": 1}', 'This is not an Enginy CRM configuration file (its "format" must be '
                                              '"enginy-crm-config").'),
        ('{"format": "enginy-crm-config", "version": "1"}', '"version" must be a whole number, 1 or more.'),
        ('{"format": "enginy-crm-config", "version": 0, "crm": "x"}', '"version" must be a whole number, 1 or more.'),
        ('{"format": "enginy-crm-config", "version": 1}', '"crm" must be non-empty text.'),
    ],
)  # fmt: skip
def test_unreadable_files_are_refused(text: str | bytes, problem: str) -> None:
    with pytest.raises(CrmConfigFileError) as caught:
        CrmConfig.from_json(text)
    assert caught.value.problems == [problem]


def test_newer_version_is_refused_clearly() -> None:
    data = full_config().to_dict()
    data["version"] = 2
    data["something_new"] = {"whatever": True}  # a newer file may hold anything: the version speaks first
    with pytest.raises(NewerConfigVersionError) as caught:
        CrmConfig.from_json(json.dumps(data))
    assert caught.value.version == 2
    assert caught.value.problems == [
        "It was written by a newer Enginy Desktop (format version 2); this version reads format version 1. Update "
        "Enginy Desktop, then import it again."
    ]


def test_file_of_another_crm_is_refused() -> None:
    text = full_config().to_json()
    assert CrmConfig.from_json(text, expected_crm="hubspot").crm == "hubspot"
    with pytest.raises(CrmConfigFileError) as caught:
        CrmConfig.from_json(text, expected_crm="salesforce")
    assert caught.value.problems == [
        'This configuration is for "hubspot", not "salesforce": its field names would not match.'
    ]


def test_refusing_a_file_changes_nothing() -> None:
    current = full_config()
    before = current.to_json()
    with pytest.raises(CrmConfigFileError):
        current = CrmConfig.from_json('{"format": "enginy-crm-config", "version": 1, "crm": "hubspot", "x": 1}')
    assert current.to_json() == before


def test_the_documented_example_is_a_valid_file() -> None:
    """docs/crm-config.md shows a complete file: it must read as written."""
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "crm-config.md").read_text("utf-8")
    example = doc.split("```json\n", 1)[1].split("```", 1)[0]
    config = CrmConfig.from_json(example)
    assert config.crm == "hubspot"
    assert [m.kind for m in config.contact_mappings] == list(MappingKind)
    assert config.campaign_mappings[CampaignProperty.SEQUENCE_STATUS] == "enginy_sequence_status"
