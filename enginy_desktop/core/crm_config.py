"""The CRM configuration: the state the four-step wizard edits, its validation, and its JSON file format.

The wizard's pages render a :class:`CrmConfig` and apply the user's edits to it; nothing here knows about Qt
(STYLE: a wizard's flow is a Qt-free state object). **Update** saves it once :func:`validate` reports no error.

- Step 1, Input / Sync Mapping: :class:`ContactIdentifier` and :class:`CompanyIdentifier`, a preset or a
  custom rule tree (:mod:`enginy_desktop.core.matching.rules`).
- Step 2, Export Mapping: per object (Contacts tab, Companies tab) a list of :class:`FieldMapping` of four kinds
  (Enginy field, fixed value, export field, engagement field), each with its Overwrite flag; and the
  :class:`AssociationType` of a contact with its company.
- Step 3, Campaign Mapping (optional): each :class:`CampaignProperty` to a contact field of the CRM, or none.
- Step 4, User Mapping: Enginy identity -> CRM user, Enginy user -> CRM user, and a default owner.

:func:`validate` returns every problem at once, each with where it is (step, tab, row) and a sentence the user
can act on. The CRM's fields and users come from the adapter as plain objects; any object with the attributes
of :class:`CrmFieldLike` / :class:`CrmUserLike` fits (the adapters' ``CrmField`` and ``CrmUser`` do).

The file format (``docs/crm-config.md``) is versioned: :meth:`CrmConfig.to_json` writes it,
:meth:`CrmConfig.from_json` reads it or raises :class:`CrmConfigFileError` listing every problem, and refuses a
file from a newer version with :class:`NewerConfigVersionError`. Reading is pure: nothing changes unless the
caller stores the returned object. A store keeps one configuration per CRM key as :meth:`CrmConfig.to_dict`.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import Any, Protocol, runtime_checkable

from . import fields as field_registry
from .matching.rules import (
    CompanyPreset,
    ContactPreset,
    Rule,
    RuleFormatError,
    company_rule,
    contact_rule,
)

__all__ = [
    "CONFIG_FORMAT",
    "CONFIG_VERSION",
    "FAQ_NO_EXPORT_MAPPING",
    "PRIMARY_REMOVE_WARNING",
    "TROUBLESHOOTING_CROSS_OBJECT",
    "AssociationType",
    "CampaignProperty",
    "CompanyIdentifier",
    "ContactIdentifier",
    "CrmConfig",
    "CrmConfigFileError",
    "CrmFieldLike",
    "CrmUserLike",
    "EngagementSource",
    "EnginyFieldLike",
    "FieldMapping",
    "Location",
    "MappingKind",
    "NewerConfigVersionError",
    "ObjectType",
    "Problem",
    "Severity",
    "Step",
    "association_note",
    "errors",
    "validate",
]

CONFIG_FORMAT = "enginy-crm-config"
CONFIG_VERSION = 1

# The product text, word for word where the user needs it.
TROUBLESHOOTING_CROSS_OBJECT = (
    "Open Step 2: Export Mapping, verify that each tab only contains fields belonging to its own object type, "
    "and remove any misplaced mappings."
)
FAQ_NO_EXPORT_MAPPING = (
    "Step 1 (Input / Sync Mapping) controls how records are matched, but without Step 2 (Export Mapping) "
    "Enginy will not know which fields to push to your CRM. You must configure at least the essential field "
    "mappings before exporting."
)
PRIMARY_REMOVE_WARNING = (
    'The "Associate as Primary and remove previous associations" option is not recommended unless you are '
    "certain you want to erase all prior associations for the record. Using it can result in data loss if "
    "historical relationships exist."
)


# --- vocabulary --------------------------------------------------------------------------------------------


class ObjectType(StrEnum):
    CONTACT = "contact"
    COMPANY = "company"

    @property
    def tab(self) -> str:
        """The Step 2 tab of this object."""
        return "Contacts" if self is ObjectType.CONTACT else "Companies"

    @property
    def plural(self) -> str:
        return "contacts" if self is ObjectType.CONTACT else "companies"

    @property
    def other(self) -> ObjectType:
        return ObjectType.COMPANY if self is ObjectType.CONTACT else ObjectType.CONTACT

    @classmethod
    def parse(cls, value: Any) -> ObjectType | None:
        """``contact``/``contacts``/``company``/``companies`` (any StrEnum of those, e.g. CrmObject), or None."""
        text = str(getattr(value, "value", value) or "").strip().lower()
        return {"contact": cls.CONTACT, "contacts": cls.CONTACT, "company": cls.COMPANY, "companies": cls.COMPANY}.get(
            text
        )


class Step(IntEnum):
    SYNC = 1
    EXPORT = 2
    CAMPAIGN = 3
    USERS = 4

    @property
    def title(self) -> str:
        return {
            Step.SYNC: "Step 1: Input / Sync Mapping",
            Step.EXPORT: "Step 2: Export Mapping",
            Step.CAMPAIGN: "Step 3: Campaign Mapping",
            Step.USERS: "Step 4: User Mapping",
        }[self]


class MappingKind(StrEnum):
    ENGINY = "enginy"  # an Enginy field's value
    FIXED = "fixed"  # always the same value
    EXPORT = "export"  # a value asked in the export dialog each time
    ENGAGEMENT = "engagement"  # set from an activity when the export creates one

    @property
    def label(self) -> str:
        return {
            MappingKind.ENGINY: "Enginy field",
            MappingKind.FIXED: "Fixed field",
            MappingKind.EXPORT: "Export field",
            MappingKind.ENGAGEMENT: "Engagement field",
        }[self]


class EngagementSource(StrEnum):
    """What an engagement field receives when an export creates an activity."""

    LAST_ACTIVITY_DATE = "last_activity_date"
    LAST_ACTIVITY_CHANNEL = "last_activity_channel"
    LAST_ACTIVITY_TYPE = "last_activity_type"
    LAST_CAMPAIGN = "last_campaign"
    ACTIVITY_COUNT = "activity_count"

    @property
    def label(self) -> str:
        return {
            EngagementSource.LAST_ACTIVITY_DATE: "Last Enginy activity date",
            EngagementSource.LAST_ACTIVITY_CHANNEL: "Last activity channel (Email, LinkedIn, Call)",
            EngagementSource.LAST_ACTIVITY_TYPE: "Last activity type (e.g. Email sent, Replied)",
            EngagementSource.LAST_CAMPAIGN: "Last campaign name",
            EngagementSource.ACTIVITY_COUNT: "Number of Enginy activities",
        }[self]

    @property
    def value_type(self) -> str:
        """``date``, ``number`` or ``text``: what kind of CRM field can hold it."""
        if self is EngagementSource.LAST_ACTIVITY_DATE:
            return "date"
        return "number" if self is EngagementSource.ACTIVITY_COUNT else "text"


class AssociationType(StrEnum):
    ADDITIONAL = "additional"
    PRIMARY = "primary"
    PRIMARY_REMOVE_PREVIOUS = "primary_remove_previous"

    @property
    def label(self) -> str:
        return {
            AssociationType.ADDITIONAL: "Add as additional association",
            AssociationType.PRIMARY: "Add association as Primary",
            AssociationType.PRIMARY_REMOVE_PREVIOUS: "Associate as Primary and remove previous associations",
        }[self]


class CampaignProperty(StrEnum):
    SEQUENCE_DETAILS = "campaign_sequence_details"
    ENGAGEMENT_STATUS = "campaign_engagement_status"
    OPENS = "campaign_opens"
    CLICKS = "campaign_clicks"
    OPEN_ANALYSIS = "campaign_open_analysis"
    CLICK_ANALYSIS = "campaign_click_analysis"
    REPLY_ANALYSIS = "campaign_reply_analysis"
    SEQUENCE_STATUS = "sequence_status"

    @property
    def label(self) -> str:
        return _CAMPAIGN_LABELS[self]

    @property
    def value_type(self) -> str:
        """``number`` or ``text``."""
        return "number" if self in (CampaignProperty.OPENS, CampaignProperty.CLICKS) else "text"

    @property
    def values(self) -> tuple[str, ...]:
        """Every value the property can take when that set is closed (so a picklist can hold them), else ()."""
        if self is CampaignProperty.SEQUENCE_STATUS:
            return ("Not Started", "Ongoing", "Replied", "Finished")
        return ()


_CAMPAIGN_LABELS = {
    CampaignProperty.SEQUENCE_DETAILS: "Campaign Sequence Details",
    CampaignProperty.ENGAGEMENT_STATUS: "Campaign Engagement Status",
    CampaignProperty.OPENS: "Campaign Opens",
    CampaignProperty.CLICKS: "Campaign Clicks",
    CampaignProperty.OPEN_ANALYSIS: "Campaign Open Analysis",
    CampaignProperty.CLICK_ANALYSIS: "Campaign Click Analysis",
    CampaignProperty.REPLY_ANALYSIS: "Campaign Reply Analysis",
    CampaignProperty.SEQUENCE_STATUS: "Sequence Status",
}


# --- what validation reads from the CRM and from Enginy ----------------------------------------------------


@runtime_checkable
class CrmFieldLike(Protocol):
    """A CRM field as an adapter describes it (``adapters.base.CrmField`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> Any: ...  # text, long_text, number, boolean, date, datetime, picklist, multi_picklist…
    @property
    def options(self) -> Sequence[Any]: ...  # strings, or objects with .value and .label
    @property
    def read_only(self) -> bool: ...
    @property
    def object(self) -> Any: ...  # contact(s) / company / companies


@runtime_checkable
class CrmUserLike(Protocol):
    """A CRM user who can own records (``adapters.base.CrmUser`` fits)."""

    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def active(self) -> bool: ...


@runtime_checkable
class EnginyFieldLike(Protocol):
    """An Enginy field of contacts or companies (``core.fields.Field`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def label(self) -> str: ...
    @property
    def type(self) -> Any: ...  # text, long_text, email, phone, url, linkedin_url, domain, integer
    @property
    def object(self) -> Any: ...


# Canonical CRM field types, and the names vendors and adapters use for them.
_TYPE_SYNONYMS = {
    "string": "text", "str": "text", "varchar": "text", "textarea": "long_text", "memo": "long_text",
    "long_text": "long_text", "text": "text", "html": "long_text", "rich_text": "long_text",
    "number": "number", "int": "number", "integer": "number", "double": "number", "decimal": "number",
    "float": "number", "currency": "number", "percent": "number", "bigint": "number",
    "boolean": "boolean", "bool": "boolean", "booleancheckbox": "boolean", "checkbox": "boolean",
    "date": "date", "datetime": "datetime", "date_time": "datetime", "timestamp": "datetime",
    "picklist": "picklist", "enumeration": "picklist", "enum": "picklist", "select": "picklist",
    "radio": "picklist", "multi_picklist": "multi_picklist", "multipicklist": "multi_picklist",
    "multiselect": "multi_picklist", "set": "multi_picklist", "email": "email", "phone": "phone",
    "phonenumber": "phone", "url": "url", "website": "url", "owner": "owner", "user": "owner",
    "reference": "reference", "lookup": "reference", "id": "reference",
}  # fmt: skip


def _crm_type(field_: CrmFieldLike) -> str:
    raw = str(getattr(field_.type, "value", field_.type) or "").strip().lower()
    return _TYPE_SYNONYMS.get(raw, "other")


def _enginy_type(field_: EnginyFieldLike) -> str:
    return str(getattr(field_.type, "value", field_.type) or "text").strip().lower()


def _options(field_: CrmFieldLike) -> list[tuple[str, str]]:
    """(value, label) of each option."""
    result = []
    for opt in field_.options or ():
        if isinstance(opt, str):
            result.append((opt, opt))
        else:
            value = str(getattr(opt, "value", opt))
            result.append((value, str(getattr(opt, "label", value) or value)))
    return result


def _option_value(field_: CrmFieldLike, text: str) -> str | None:
    wanted = text.strip().casefold()
    for value, label in _options(field_):
        if value.casefold() == wanted or label.strip().casefold() == wanted:
            return value
    return None


# --- the configuration -------------------------------------------------------------------------------------


@dataclass
class ContactIdentifier:
    """Step 1, contacts: a preset, or a custom rule tree (kept while another preset is chosen)."""

    preset: ContactPreset = ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY
    custom: Rule | None = None

    def rule(self, crm_fields: Mapping[str, str] | None = None) -> Rule:
        """The rule to match with; ``crm_fields`` maps a role (``first_name``…) to the CRM's field name."""
        return contact_rule(self.preset, crm_fields, custom=self.custom or Rule())


@dataclass
class CompanyIdentifier:
    """Step 1, companies: a preset or a custom rule tree, and the option Include any domain extension."""

    preset: CompanyPreset = CompanyPreset.DOMAIN
    include_any_extension: bool = False
    custom: Rule | None = None

    def rule(self, crm_fields: Mapping[str, str] | None = None) -> Rule:
        return company_rule(
            self.preset, crm_fields, include_any_extension=self.include_any_extension, custom=self.custom or Rule()
        )


@dataclass
class FieldMapping:
    """One row of a Step 2 tab."""

    kind: MappingKind
    crm_field: str = ""
    source: str = ""  # the Enginy field (kind enginy) or the EngagementSource (kind engagement)
    value: str = ""  # the fixed value (kind fixed)
    overwrite: bool = False  # replace a value the CRM already has (else only fill an empty field)
    position: int = 0  # order in the tab; kept equal to the row's index by CrmConfig


@dataclass
class CrmConfig:
    """Everything the four steps configure for one CRM (``crm`` is its catalog key)."""

    crm: str
    contact_identifier: ContactIdentifier = field(default_factory=ContactIdentifier)
    company_identifier: CompanyIdentifier = field(default_factory=CompanyIdentifier)
    contact_mappings: list[FieldMapping] = field(default_factory=list)
    company_mappings: list[FieldMapping] = field(default_factory=list)
    association_type: AssociationType = AssociationType.ADDITIONAL
    campaign_mappings: dict[CampaignProperty, str] = field(default_factory=dict)  # absent = not mapped
    identity_mappings: dict[str, str] = field(default_factory=dict)  # Enginy identity id -> CRM user id
    user_mappings: dict[str, str] = field(default_factory=dict)  # Enginy user id -> CRM user id
    default_owner: str = ""  # CRM user id for records and activities of unmapped users and identities
    # Where people go in a CRM that offers a choice (catalog ``people_objects``, e.g. Salesforce Contacts or Leads);
    # "" is the CRM's default.
    people_object: str = ""

    # -- editing (what wizard pages call) ---------------------------------------------------------------------

    def mappings(self, object_type: ObjectType | str) -> list[FieldMapping]:
        """The rows of a Step 2 tab, in order (the list itself: edits apply to the configuration)."""
        return self.contact_mappings if ObjectType(object_type) is ObjectType.CONTACT else self.company_mappings

    def add_mapping(self, object_type: ObjectType | str, mapping: FieldMapping) -> FieldMapping:
        rows = self.mappings(object_type)
        rows.append(mapping)
        self._renumber(rows)
        return mapping

    def remove_mapping(self, object_type: ObjectType | str, index: int) -> FieldMapping:
        rows = self.mappings(object_type)
        removed = rows.pop(index)
        self._renumber(rows)
        return removed

    def move_mapping(self, object_type: ObjectType | str, index: int, new_index: int) -> None:
        rows = self.mappings(object_type)
        rows.insert(new_index, rows.pop(index))
        self._renumber(rows)

    @staticmethod
    def _renumber(rows: list[FieldMapping]) -> None:
        for i, row in enumerate(rows):
            row.position = i

    def set_campaign_mapping(self, prop: CampaignProperty | str, crm_field: str | None) -> None:
        """Map a campaign property to a CRM contact field; ``None`` or ``""`` unmaps it."""
        prop = CampaignProperty(prop)
        if crm_field:
            self.campaign_mappings[prop] = crm_field
        else:
            self.campaign_mappings.pop(prop, None)

    def owner_for_user(self, user_id: Any) -> str:
        """The CRM owner of records exported by an Enginy user: their mapped CRM user, else the default."""
        return self.user_mappings.get(str(user_id), self.default_owner)

    def owner_for_identity(self, identity_id: Any) -> str:
        """The CRM user credited with a campaign's activities: its identity's CRM user, else the default."""
        return self.identity_mappings.get(str(identity_id), self.default_owner)

    def copy(self) -> CrmConfig:
        """An independent copy: the wizard edits a copy and **Update** replaces the saved one."""
        return copy.deepcopy(self)

    # -- persistence ------------------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The versioned document of ``docs/crm-config.md`` (what a store keeps per CRM key)."""

        def rows(items: list[FieldMapping]) -> list[dict[str, Any]]:
            return [
                {
                    "kind": str(m.kind),
                    "crm_field": m.crm_field,
                    "source": m.source,
                    "value": m.value,
                    "overwrite": m.overwrite,
                    "position": i,
                }
                for i, m in enumerate(items)
            ]

        def custom(rule: Rule | None) -> dict[str, Any] | None:
            return None if rule is None else {"any_of": rule.to_dict()["any_of"]}

        return {
            "format": CONFIG_FORMAT,
            "version": CONFIG_VERSION,
            "crm": self.crm,
            "identifiers": {
                "contact": {
                    "preset": str(self.contact_identifier.preset),
                    "custom": custom(self.contact_identifier.custom),
                },
                "company": {
                    "preset": str(self.company_identifier.preset),
                    "include_any_extension": self.company_identifier.include_any_extension,
                    "custom": custom(self.company_identifier.custom),
                },
            },
            "export_mappings": {"contact": rows(self.contact_mappings), "company": rows(self.company_mappings)},
            "association_type": str(self.association_type),
            "campaign_mappings": {str(p): self.campaign_mappings.get(p) for p in CampaignProperty},
            "identity_mappings": dict(sorted(self.identity_mappings.items())),
            "user_mappings": dict(sorted(self.user_mappings.items())),
            "default_owner": self.default_owner or None,
            **({"people_object": self.people_object} if self.people_object else {}),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False) + "\n"

    @classmethod
    def from_dict(cls, data: Any, *, expected_crm: str | None = None) -> CrmConfig:
        """Read a document written by :meth:`to_dict`. Raises :class:`CrmConfigFileError` with every problem, or
        :class:`NewerConfigVersionError` for a newer format version. ``expected_crm`` refuses a file of another
        CRM (its field names would mean nothing here)."""
        return _Reader(expected_crm).read(data)

    @classmethod
    def from_json(cls, text: str | bytes, *, expected_crm: str | None = None) -> CrmConfig:
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8-sig")
            except UnicodeDecodeError:
                raise CrmConfigFileError(["The file is not text encoded as UTF-8."]) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CrmConfigFileError([f"The file is not valid JSON (line {exc.lineno}, column {exc.colno})."]) from None
        return cls.from_dict(data, expected_crm=expected_crm)


class CrmConfigFileError(ValueError):
    """A configuration file that cannot be read; ``problems`` lists every reason, ``str()`` joins them."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        intro = "This CRM configuration file cannot be imported; nothing was changed."
        super().__init__(intro + "\n" + "\n".join(f"- {p}" for p in self.problems))


class NewerConfigVersionError(CrmConfigFileError):
    def __init__(self, version: int) -> None:
        self.version = version
        super().__init__(
            [
                f"It was written by a newer Enginy Desktop (format version {version}); this version reads "
                f"format version {CONFIG_VERSION}. Update Enginy Desktop, then import it again."
            ]
        )


_TOP_KEYS = {
    "format", "version", "crm", "identifiers", "export_mappings", "association_type", "campaign_mappings",
    "identity_mappings", "user_mappings", "default_owner", "exported_at", "app_version", "people_object",
}  # fmt: skip
_ROW_KEYS = {"kind", "crm_field", "source", "value", "overwrite", "position"}


class _Reader:
    """Reads a configuration document, collecting every problem before giving up."""

    def __init__(self, expected_crm: str | None) -> None:
        self.expected_crm = expected_crm
        self.problems: list[str] = []

    def read(self, data: Any) -> CrmConfig:
        if not isinstance(data, Mapping):
            raise CrmConfigFileError(["The file does not hold a CRM configuration (a JSON object is expected)."])
        if data.get("format") != CONFIG_FORMAT:
            raise CrmConfigFileError(
                [f'This is not an Enginy CRM configuration file (its "format" must be "{CONFIG_FORMAT}").']
            )
        version = data.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise CrmConfigFileError(['"version" must be a whole number, 1 or more.'])
        if version > CONFIG_VERSION:
            raise NewerConfigVersionError(version)
        for key in sorted(set(data) - _TOP_KEYS):
            self.problems.append(f'Unknown entry "{key}".')
        crm = self._text(data, "crm", "crm", required=True)
        if self.expected_crm and crm and crm != self.expected_crm:
            self.problems.append(
                f'This configuration is for "{crm}", not "{self.expected_crm}": its field names would not match.'
            )
        config = CrmConfig(crm=crm)
        self._identifiers(data.get("identifiers"), config)
        mappings = data.get("export_mappings", {})
        if not isinstance(mappings, Mapping):
            self.problems.append('"export_mappings" must be an object with "contact" and "company" lists.')
            mappings = {}
        for key in sorted(set(mappings) - {"contact", "company"}):
            self.problems.append(f'"export_mappings" has an unknown tab "{key}" (use "contact" or "company").')
        config.contact_mappings = self._rows(mappings.get("contact", []), "contact")
        config.company_mappings = self._rows(mappings.get("company", []), "company")
        config.association_type = self._enum(
            data.get("association_type", "additional"), AssociationType, "association_type", AssociationType.ADDITIONAL
        )
        config.campaign_mappings = self._campaign(data.get("campaign_mappings", {}))
        config.identity_mappings = self._id_map(data.get("identity_mappings", {}), "identity_mappings")
        config.user_mappings = self._id_map(data.get("user_mappings", {}), "user_mappings")
        owner = data.get("default_owner")
        if owner is not None and not isinstance(owner, str | int):
            self.problems.append('"default_owner" must be a CRM user id or null.')
            owner = None
        config.default_owner = "" if owner is None else str(owner)
        config.people_object = self._people_object(data, crm)
        if self.problems:
            raise CrmConfigFileError(self.problems)
        return config

    def _people_object(self, data: Mapping[str, Any], crm: str) -> str:
        from . import catalog

        value = self._text(data, "people_object", "people_object")
        try:
            choices = [v for v, *_rest in catalog.get(crm).people_objects] if crm else []
        except catalog.UnknownIntegrationError:
            choices = []
        if value and value not in choices:
            allowed = " or ".join(f'"{c}"' for c in choices)
            self.problems.append(f'"people_object" is "{value}"; ' + (
                f"it must be {allowed}." if choices else "this CRM keeps people in one object only (leave it out)."))
            return ""
        return value

    def _text(self, data: Mapping[str, Any], key: str, where: str, *, required: bool = False) -> str:
        value = data.get(key, "")
        if value is None and not required:
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            self.problems.append(f'"{where}" must be {"non-empty " if required else ""}text.')
            return ""
        return value.strip()

    def _enum(self, value: Any, enum: type[Any], where: str, default: Any) -> Any:
        try:
            return enum(value)
        except ValueError:
            choices = ", ".join(f'"{m.value}"' for m in enum)
            self.problems.append(f'"{where}" is "{value}"; it must be one of {choices}.')
            return default

    def _rule(self, value: Any, where: str) -> Rule | None:
        if value is None:
            return None
        try:
            return Rule.from_dict(value, where)
        except RuleFormatError as exc:
            self.problems.extend(exc.problems)
            return None

    def _identifiers(self, value: Any, config: CrmConfig) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            self.problems.append('"identifiers" must be an object with "contact" and "company".')
            return
        contact = value.get("contact", {})
        if isinstance(contact, Mapping):
            config.contact_identifier = ContactIdentifier(
                self._enum(
                    contact.get("preset", ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY.value),
                    ContactPreset,
                    "identifiers.contact.preset",
                    ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY,
                ),
                self._rule(contact.get("custom"), "identifiers.contact.custom"),
            )
        else:
            self.problems.append('"identifiers.contact" must be an object.')
        company = value.get("company", {})
        if isinstance(company, Mapping):
            any_ext = company.get("include_any_extension", False)
            if not isinstance(any_ext, bool):
                self.problems.append('"identifiers.company.include_any_extension" must be true or false.')
                any_ext = False
            config.company_identifier = CompanyIdentifier(
                self._enum(
                    company.get("preset", CompanyPreset.DOMAIN.value),
                    CompanyPreset,
                    "identifiers.company.preset",
                    CompanyPreset.DOMAIN,
                ),
                any_ext,
                self._rule(company.get("custom"), "identifiers.company.custom"),
            )
        else:
            self.problems.append('"identifiers.company" must be an object.')

    def _rows(self, value: Any, tab: str) -> list[FieldMapping]:
        if not isinstance(value, list):
            self.problems.append(f'"export_mappings.{tab}" must be a list of mappings.')
            return []
        rows: list[tuple[int, int, FieldMapping]] = []
        for i, raw in enumerate(value, 1):
            where = f"export_mappings.{tab}, mapping {i}"
            if not isinstance(raw, Mapping):
                self.problems.append(f'"{where}" must be an object.')
                continue
            for key in sorted(set(raw) - _ROW_KEYS):
                self.problems.append(f'"{where}" has an unknown entry "{key}".')
            kind = self._enum(raw.get("kind"), MappingKind, f"{where}: kind", None)
            texts = {k: self._text(raw, k, f"{where}: {k}") for k in ("crm_field", "source", "value")}
            overwrite = raw.get("overwrite", False)
            if not isinstance(overwrite, bool):
                self.problems.append(f'"{where}: overwrite" must be true or false.')
                overwrite = False
            position = raw.get("position", i - 1)
            if not isinstance(position, int) or isinstance(position, bool):
                self.problems.append(f'"{where}: position" must be a whole number.')
                position = i - 1
            if kind is not None:
                mapping = FieldMapping(kind, texts["crm_field"], texts["source"], texts["value"], overwrite)
                rows.append((position, i, mapping))
        ordered = [m for _, _, m in sorted(rows, key=lambda r: (r[0], r[1]))]
        CrmConfig._renumber(ordered)
        return ordered

    def _campaign(self, value: Any) -> dict[CampaignProperty, str]:
        if not isinstance(value, Mapping):
            self.problems.append('"campaign_mappings" must be an object of property -> CRM field (or null).')
            return {}
        result = {}
        for key, crm_field in value.items():
            try:
                prop = CampaignProperty(key)
            except ValueError:
                self.problems.append(f'"campaign_mappings" has an unknown property "{key}".')
                continue
            if crm_field is None or crm_field == "":
                continue
            if not isinstance(crm_field, str):
                self.problems.append(f'"campaign_mappings.{key}" must be a CRM field name or null.')
                continue
            result[prop] = crm_field.strip()
        return result

    def _id_map(self, value: Any, where: str) -> dict[str, str]:
        if not isinstance(value, Mapping):
            self.problems.append(f'"{where}" must be an object of id -> CRM user id.')
            return {}
        result = {}
        for key, crm_user in value.items():
            if not isinstance(crm_user, str | int) or isinstance(crm_user, bool) or str(crm_user).strip() == "":
                self.problems.append(f'"{where}.{key}" must be a CRM user id.')
                continue
            result[str(key)] = str(crm_user).strip()
        return result


# --- validation --------------------------------------------------------------------------------------------


class Severity(StrEnum):
    ERROR = "error"  # the wizard cannot save; an export is refused
    WARNING = "warning"  # said before saving or exporting; the user may go on


@dataclass(frozen=True, slots=True)
class Location:
    """Where a problem is: a step, the tab in it (Contacts, Companies, Identities, Users…) and a 1-based row."""

    step: Step
    tab: str = ""
    row: int | None = None

    def __str__(self) -> str:
        parts = [self.step.title]
        if self.tab:
            parts.append(self.tab)
        if self.row is not None:
            parts.append(f"row {self.row}")
        return " › ".join(parts)


@dataclass(frozen=True, slots=True)
class Problem:
    location: Location
    message: str
    code: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"


def errors(problems: Iterable[Problem]) -> list[Problem]:
    """The problems that block saving (and exporting)."""
    return [p for p in problems if p.severity is Severity.ERROR]


class CompanyModel(Protocol):
    """How a CRM links contacts to companies: the adapter's ``Capabilities``, or the wizard's cached snapshot."""

    @property
    def multiple_companies(self) -> bool: ...

    @property
    def primary_company(self) -> bool: ...


def association_note(association_type: AssociationType, capabilities: CompanyModel | None,
                     crm_name: str = "This CRM") -> str | None:
    """What the wizard says when an association type is chosen that the CRM cannot express, or is risky.

    ``capabilities`` says whether a contact may have several companies and a primary one (None: unknown).
    """
    multiple = capabilities.multiple_companies if capabilities is not None else True
    primary = capabilities.primary_company if capabilities is not None else True
    why = str(getattr(capabilities, "companies_note", "") or "")  # the account's own reason, when it has one
    if not multiple:
        if association_type is AssociationType.ADDITIONAL:
            return (
                f"{crm_name} links a contact to one company only: exporting a contact's company replaces the "
                "company it had, as if it were made primary." + (f" {why}" if why else "")
            )
        if association_type is AssociationType.PRIMARY:
            return (
                f"{crm_name} links a contact to one company only: the new company replaces the previous one, "
                "which does not stay associated." + (f" {why}" if why else "")
            )
    elif not primary and association_type is not AssociationType.ADDITIONAL:
        return f"{crm_name} has no primary company: the company is added as an additional association" + (
            " and the previous ones are removed."
            if association_type is AssociationType.PRIMARY_REMOVE_PREVIOUS
            else "."
        )
    if association_type is AssociationType.PRIMARY_REMOVE_PREVIOUS:
        return PRIMARY_REMOVE_WARNING
    return None


_NUMBER = re.compile(r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)(?:[eE][+-]?\d+)?")
_BOOLEANS = {"true", "false", "yes", "no", "1", "0"}
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_URL = re.compile(r"https?://\S+", re.IGNORECASE)

# Which Enginy field types a CRM field type takes as they are (ok), may fail to convert record by record (maybe,
# a warning), or never takes (anything else, an error).
_ENGINY_OK = {
    "text": None,  # None: every type
    "long_text": None,
    "number": {"integer"},
    "email": {"email"},
    "phone": {"phone"},
    "url": {"url", "linkedin_url", "domain"},
}
_ENGINY_MAYBE = {
    "number": {"text"},
    "boolean": {"text", "integer"},
    "date": {"text"},
    "datetime": {"text"},
    "picklist": {"text", "long_text", "integer", "email", "phone", "url", "linkedin_url", "domain"},
    "multi_picklist": {"text", "long_text"},
    "email": {"text"},
    "phone": {"text", "integer"},
    "url": {"text"},
    "other": None,
}
_EXPORTABLE_TYPES = {
    "text", "long_text", "number", "boolean", "date", "datetime", "picklist", "multi_picklist", "email", "phone",
    "url", "owner",
}  # fmt: skip


def _fixed_value_problem(field_: CrmFieldLike, value: str, crm_users: Sequence[CrmUserLike] | None) -> str | None:
    """Why a fixed value does not fit a CRM field, or None."""
    ftype = _crm_type(field_)
    label = f"“{field_.label or field_.name}”"
    text = value.strip()
    if ftype == "number" and not _NUMBER.fullmatch(text):
        return f"{label} is a number field; “{value}” is not a number."
    if ftype == "boolean" and text.lower() not in _BOOLEANS:
        return f"{label} is a yes/no field; use true or false (not “{value}”)."
    if ftype in ("date", "datetime"):
        try:
            (date if ftype == "date" else datetime).fromisoformat(text)
        except ValueError:
            example = "2025-01-31" if ftype == "date" else "2025-01-31T09:00:00"
            return f"{label} is a date field; “{value}” is not a date like {example}."
    if ftype == "picklist" and _options(field_) and _option_value(field_, text) is None:
        return f"“{value}” is not one of the options of {label}: {_option_list(field_)}."
    if ftype == "multi_picklist" and _options(field_):
        missing = [part.strip() for part in text.split(";") if part.strip() and _option_value(field_, part) is None]
        if missing:
            return f"{', '.join(f'“{m}”' for m in missing)} not among the options of {label}: {_option_list(field_)}."
    if ftype == "email" and not _EMAIL.fullmatch(text):
        return f"{label} is an email field; “{value}” is not an email address."
    if ftype == "url" and not _URL.fullmatch(text):
        return f"{label} is a web address field; “{value}” must start with https://."
    if ftype == "owner" and crm_users is not None and text not in {str(u.id) for u in crm_users}:
        return f"{label} holds a CRM user; “{value}” is not the id of a user of the CRM."
    return None


def _option_list(field_: CrmFieldLike, limit: int = 8) -> str:
    labels = [label for _, label in _options(field_)]
    shown = ", ".join(labels[:limit])
    return shown + (f" and {len(labels) - limit} more" if len(labels) > limit else "")


class _Validator:
    def __init__(
        self,
        config: CrmConfig,
        crm_fields: Iterable[CrmFieldLike] | Mapping[Any, Iterable[CrmFieldLike]] | None,
        enginy_fields: Iterable[EnginyFieldLike] | None,
        crm_users: Sequence[CrmUserLike] | None,
        identities: Mapping[Any, str] | None,
        app_users: Mapping[Any, str] | None,
        capabilities: Any,
        identifier_fields: Mapping[Any, Mapping[str, str]] | None,
        crm_name: str,
    ) -> None:
        self.config = config
        self.crm_users = list(crm_users) if crm_users is not None else None
        self.identities = {str(k): v for k, v in identities.items()} if identities is not None else None
        self.app_users = {str(k): v for k, v in app_users.items()} if app_users is not None else None
        self.capabilities = capabilities
        self.crm_name = crm_name
        self.problems: list[Problem] = []
        self.crm: dict[ObjectType, dict[str, CrmFieldLike]] | None = None
        if crm_fields is not None:
            self.crm = {ObjectType.CONTACT: {}, ObjectType.COMPANY: {}}
            items: Iterable[Any]
            if isinstance(crm_fields, Mapping):
                items = [(ObjectType.parse(k), f) for k, fs in crm_fields.items() for f in fs]
            else:
                items = [(None, f) for f in crm_fields]
            for hint, f in items:
                obj = ObjectType.parse(getattr(f, "object", None)) or hint
                if obj is not None:
                    self.crm[obj][f.name] = f
        fields_list = list(enginy_fields) if enginy_fields is not None else _default_enginy_fields()
        self.enginy: dict[ObjectType, dict[str, EnginyFieldLike]] = {
            ObjectType.CONTACT: {},
            ObjectType.COMPANY: {},
        }
        for f in fields_list:
            obj = ObjectType.parse(getattr(f, "object", None))
            if obj is not None:
                self.enginy[obj][f.name] = f
        self.identifier_fields = {
            ObjectType.parse(k): dict(v) for k, v in (identifier_fields or {}).items() if ObjectType.parse(k)
        }

    def add(self, where: Location, message: str, code: str, severity: Severity = Severity.ERROR) -> None:
        self.problems.append(Problem(where, message, code, severity))

    # -- helpers --------------------------------------------------------------------------------------------

    def crm_label(self, obj: ObjectType, name: str) -> str:
        f = (self.crm or {}).get(obj, {}).get(name) or (self.crm or {}).get(obj.other, {}).get(name)
        return f"“{f.label}” ({name})" if f is not None and f.label and f.label != name else f"“{name}”"

    def enginy_label(self, obj: ObjectType, name: str) -> str:
        f = self.enginy[obj].get(name) or self.enginy[obj.other].get(name)
        return f"“{f.label}”" if f is not None else f"“{name}”"

    def crm_field(self, obj: ObjectType, name: str, where: Location, *, purpose: str) -> CrmFieldLike | None:
        """The CRM field of ``obj`` named ``name``; reports it missing, misplaced or read-only."""
        if self.crm is None:
            return None
        found = self.crm[obj].get(name)
        if found is None:
            if name in self.crm[obj.other]:
                advice = TROUBLESHOOTING_CROSS_OBJECT if where.step is Step.EXPORT else f"Choose a {obj.value} field."
                self.add(
                    where,
                    f"{self.crm_label(obj, name)} is a {obj.other.value} field of the CRM, {purpose}. {advice}",
                    "cross_object",
                )
            else:
                self.add(
                    where,
                    f"The CRM has no {obj.value} field “{name}” (it may have been deleted or renamed). Choose "
                    "another field.",
                    "unknown_crm_field",
                )
            return None
        return found

    # -- steps ----------------------------------------------------------------------------------------------

    def step1(self) -> None:
        where = Location(Step.SYNC, "Contact Identifier")
        ident = self.config.contact_identifier
        if ident.preset is ContactPreset.CUSTOM:
            self.custom_rule(ident.custom, ObjectType.CONTACT, where)
        else:
            self.preset_fields(ident.rule(self.identifier_fields.get(ObjectType.CONTACT)), ObjectType.CONTACT, where)
        where = Location(Step.SYNC, "Company Identifier")
        cident = self.config.company_identifier
        if cident.preset is CompanyPreset.CUSTOM:
            self.custom_rule(cident.custom, ObjectType.COMPANY, where)
        else:
            self.preset_fields(cident.rule(self.identifier_fields.get(ObjectType.COMPANY)), ObjectType.COMPANY, where)

    def custom_rule(self, rule: Rule | None, obj: ObjectType, where: Location) -> None:
        if rule is None or not rule.groups:
            self.add(
                where, "The custom mapping has no condition yet: add at least one group of conditions.", "empty_rule"
            )
            return
        for gi, group in enumerate(rule.groups, 1):
            here = Location(where.step, where.tab, gi)
            if not group.conditions:
                self.add(here, f"Group {gi} has no condition: add one or remove the group.", "empty_group")
            for ci, cond in enumerate(group.conditions, 1):
                label = f"Group {gi}, condition {ci}"
                if not cond.local_field:
                    self.add(here, f"{label}: choose the Enginy field.", "missing_enginy_field")
                elif cond.local_field not in self.enginy[obj]:
                    if cond.local_field in self.enginy[obj.other]:
                        self.add(
                            here,
                            f"{label}: {self.enginy_label(obj, cond.local_field)} is a {obj.other.value} field; "
                            f"a {obj.value} identifier compares {obj.value} fields.",
                            "cross_object",
                        )
                    else:
                        self.add(
                            here,
                            f"{label}: Enginy has no {obj.value} field “{cond.local_field}”.",
                            "unknown_enginy_field",
                        )
                if not cond.crm_field:
                    self.add(here, f"{label}: choose the CRM field.", "missing_crm_field")
                else:
                    self.crm_field(obj, cond.crm_field, here, purpose=f"but {label.lower()} compares {obj.value}s")

    def preset_fields(self, rule: Rule, obj: ObjectType, where: Location) -> None:
        if self.crm is None:
            return
        for cond in (c for g in rule.groups for c in g.conditions):
            if cond.crm_field not in self.crm[obj]:
                self.add(
                    where,
                    f"The CRM has no {obj.value} field for {cond.display} (“{cond.crm_field}”), which this "
                    "identifier compares. Choose another option, or a custom mapping.",
                    "missing_identifier_field",
                )

    def step2(self) -> None:
        for obj in ObjectType:
            rows = self.config.mappings(obj)
            seen: dict[str, int] = {}
            for row_no, m in enumerate(rows, 1):
                where = Location(Step.EXPORT, obj.tab, row_no)
                self.mapping(obj, m, where)
                if m.crm_field:
                    if m.crm_field in seen:
                        self.add(
                            where,
                            f"{self.crm_label(obj, m.crm_field)} is already mapped in row {seen[m.crm_field]}; a CRM "
                            "field can receive one value only. Remove one of the two rows.",
                            "duplicate_crm_field",
                        )
                    else:
                        seen[m.crm_field] = row_no
        note = association_note(self.config.association_type, self.capabilities, self.crm_name)
        if note:
            self.add(Location(Step.EXPORT, "Association Type"), note, "association_type", Severity.WARNING)

    def mapping(self, obj: ObjectType, m: FieldMapping, where: Location) -> None:
        purpose = f"mapped in the {obj.tab} tab"
        if m.kind is MappingKind.ENGINY:
            source = self.enginy_source(obj, m, where)
        elif m.kind is MappingKind.ENGAGEMENT:
            source = None
            if not m.source:
                self.add(where, "Choose what this engagement field receives.", "missing_source")
            elif m.source not in {s.value for s in EngagementSource}:
                known = ", ".join(s.label for s in EngagementSource)
                self.add(where, f"“{m.source}” is not an engagement value Enginy knows ({known}).", "unknown_source")
        else:
            source = None
        if m.kind is MappingKind.FIXED and not m.value.strip():
            self.add(where, "Enter the fixed value, or remove the row.", "missing_value")
        if not m.crm_field:
            self.add(where, "Choose the CRM field.", "missing_crm_field")
            return
        crm = self.crm_field(obj, m.crm_field, where, purpose=purpose)
        if crm is None:
            return
        label = self.crm_label(obj, m.crm_field)
        if crm.read_only:
            self.add(
                where, f"{label} is read-only in the CRM: Enginy cannot write it. Choose another field.", "read_only"
            )
            return
        ftype = _crm_type(crm)
        if ftype in ("owner", "reference") and m.kind in (MappingKind.ENGINY, MappingKind.ENGAGEMENT):
            what = (
                "the record's owner: it is set from Step 4: User Mapping"
                if ftype == "owner"
                else "a link to another CRM record, which Enginy cannot fill"
            )
            self.add(where, f"{label} holds {what}. Remove this row.", "type_mismatch")
            return
        if m.kind is MappingKind.FIXED and m.value.strip():
            problem = _fixed_value_problem(crm, m.value, self.crm_users)
            if problem:
                self.add(where, problem, "type_mismatch")
        elif m.kind is MappingKind.EXPORT and ftype not in _EXPORTABLE_TYPES:
            self.add(
                where,
                f"{label} is a field whose value cannot be typed in the export dialog. Choose another "
                "field, or a fixed value.",
                "type_mismatch",
            )
        elif m.kind is MappingKind.ENGINY and source is not None:
            self.enginy_type(source, crm, ftype, where)
        elif m.kind is MappingKind.ENGAGEMENT and m.source in {s.value for s in EngagementSource}:
            self.engagement_type(EngagementSource(m.source), crm, ftype, where)

    def enginy_source(self, obj: ObjectType, m: FieldMapping, where: Location) -> EnginyFieldLike | None:
        if not m.source:
            self.add(where, "Choose the Enginy field.", "missing_source")
            return None
        found = self.enginy[obj].get(m.source)
        if found is None:
            if m.source in self.enginy[obj.other]:
                self.add(
                    where,
                    f"{self.enginy_label(obj, m.source)} is a {obj.other.value} field mapped in the {obj.tab} tab. "
                    + TROUBLESHOOTING_CROSS_OBJECT,
                    "cross_object",
                )
            else:
                self.add(
                    where,
                    f"Enginy has no {obj.value} field “{m.source}”. Choose another field.",
                    "unknown_enginy_field",
                )
        return found

    def enginy_type(self, source: EnginyFieldLike, crm: CrmFieldLike, ftype: str, where: Location) -> None:
        etype = _enginy_type(source)
        ok = _ENGINY_OK.get(ftype, set())
        if ok is None or etype in ok:
            return
        maybe = _ENGINY_MAYBE.get(ftype, set())
        label = f"“{crm.label or crm.name}”"
        if maybe is None or etype in maybe:
            hint = f" ({_option_list(crm)})" if ftype in ("picklist", "multi_picklist") and _options(crm) else ""
            self.add(
                where,
                f"{label} is a {ftype.replace('_', ' ')} field{hint}; records whose “{source.label}” cannot be "
                "converted to it will fail with a clear reason at export.",
                "type_risk",
                Severity.WARNING,
            )
            return
        self.add(
            where,
            f"“{source.label}” ({etype.replace('_', ' ')}) cannot go into {label}, a {ftype.replace('_', ' ')} "
            "field. Choose a matching field.",
            "type_mismatch",
        )

    def engagement_type(self, source: EngagementSource, crm: CrmFieldLike, ftype: str, where: Location) -> None:
        fits = {
            "date": {"date", "datetime", "text", "long_text"},
            "number": {"number", "text", "long_text"},
            "text": {"text", "long_text", "picklist"},
        }[source.value_type]
        if ftype not in fits:
            self.add(
                where,
                f"“{crm.label or crm.name}” is a {ftype.replace('_', ' ')} field; {source.label} needs a "
                f"{source.value_type} field.",
                "type_mismatch",
            )

    def step3(self) -> None:
        obj = ObjectType.CONTACT
        export_rows = {m.crm_field: i for i, m in enumerate(self.config.contact_mappings, 1) if m.crm_field}
        seen: dict[str, CampaignProperty] = {}
        for prop in CampaignProperty:
            crm_field = self.config.campaign_mappings.get(prop)
            if not crm_field:
                continue
            where = Location(Step.CAMPAIGN, prop.label)
            label = self.crm_label(obj, crm_field)
            if crm_field in seen:
                self.add(
                    where,
                    f"{label} already receives {seen[crm_field].label}; map each property to its own field.",
                    "duplicate_crm_field",
                )
            seen.setdefault(crm_field, prop)
            if crm_field in export_rows:
                self.add(
                    where,
                    f"{label} is also mapped in Step 2: Export Mapping (Contacts, row {export_rows[crm_field]}); a "
                    "CRM field can receive one value only.",
                    "duplicate_crm_field",
                )
            crm = self.crm_field(obj, crm_field, where, purpose="but campaign properties are written to contacts")
            if crm is None:
                continue
            if crm.read_only:
                self.add(where, f"{label} is read-only in the CRM: Enginy cannot write it.", "read_only")
                continue
            ftype = _crm_type(crm)
            if prop.value_type == "number":
                if ftype not in ("number", "text", "long_text"):
                    self.add(
                        where,
                        f"{prop.label} is a number; {label} is a {ftype.replace('_', ' ')} field.",
                        "type_mismatch",
                    )
            elif ftype in ("picklist", "multi_picklist"):
                if prop.values:
                    missing = [v for v in prop.values if _option_value(crm, v) is None]
                    if missing:
                        self.add(
                            where,
                            f"{label} lacks the option{'s' if len(missing) > 1 else ''} "
                            f"{', '.join(missing)}, which {prop.label} can take.",
                            "type_mismatch",
                        )
                else:
                    self.add(
                        where,
                        f"{prop.label} takes values like “{_example(prop)}” that a picklist cannot list in advance; "
                        f"exports fail for values {label} lacks. A text field is safer.",
                        "type_risk",
                        Severity.WARNING,
                    )
            elif ftype not in ("text", "long_text"):
                self.add(where, f"{prop.label} is text; {label} is a {ftype.replace('_', ' ')} field.", "type_mismatch")

    def step4(self) -> None:
        users = {str(u.id): u for u in self.crm_users} if self.crm_users is not None else None

        def check_user(crm_user: str, where: Location, whose: str) -> None:
            if users is None:
                return
            user = users.get(crm_user)
            if user is None:
                self.add(
                    where,
                    f"{whose} is mapped to a CRM user (id {crm_user}) who is no longer in the CRM. "
                    "Choose another user.",
                    "unknown_crm_user",
                )
            elif not getattr(user, "active", True):
                self.add(
                    where,
                    f"{whose} is mapped to {user.name}, who is deactivated in the CRM.",
                    "inactive_crm_user",
                    Severity.WARNING,
                )

        fallback = "the default owner" if self.config.default_owner else "the CRM's own default (the connected user)"
        for tab, mapping, known, noun, effect in (
            (
                "Identities",
                self.config.identity_mappings,
                self.identities,
                "identity",
                "its campaigns' activities are attributed to",
            ),
            ("Users", self.config.user_mappings, self.app_users, "user", "records they export are owned by"),
        ):
            order = list(known) if known is not None else sorted(mapping)
            rows = {key: i for i, key in enumerate(order, 1)}
            for key, crm_user in mapping.items():
                name = known.get(key) if known is not None else None
                where = Location(Step.USERS, tab, rows.get(key))
                if known is not None and name is None:
                    self.add(
                        where,
                        f"The Enginy {noun} {key} no longer exists; its mapping is ignored.",
                        f"unknown_{noun}",
                        Severity.WARNING,
                    )
                    continue
                check_user(crm_user, where, f"“{name}”" if name else f"The {noun} {key}")
            if known is not None:
                for key, name in known.items():
                    if key not in mapping:
                        self.add(
                            Location(Step.USERS, tab, rows[key]),
                            f"“{name}” is not mapped to a CRM user: {effect} {fallback}.",
                            f"unmapped_{noun}",
                            Severity.WARNING,
                        )
        if self.config.default_owner:
            check_user(self.config.default_owner, Location(Step.USERS, "Default owner"), "The default owner")

    def export_ready(self, objects: Iterable[ObjectType]) -> None:
        for obj in objects:
            if not self.config.mappings(obj):
                self.add(
                    Location(Step.EXPORT, obj.tab),
                    f"There is no export mapping for {obj.plural}. " + FAQ_NO_EXPORT_MAPPING,
                    "no_export_mapping",
                )


def _example(prop: CampaignProperty) -> str:
    return {
        CampaignProperty.SEQUENCE_DETAILS: "1st Email, 2nd Email, LinkedIn Connection Request",
        CampaignProperty.ENGAGEMENT_STATUS: "Message Sent (1/3) - Email",
    }.get(prop, "Yes (1st Message, 3rd Message)")


def _default_enginy_fields() -> list[EnginyFieldLike]:
    """The workspace's own field registry."""
    return [*field_registry.fields_for("contact"), *field_registry.fields_for("company")]


def validate(
    config: CrmConfig,
    *,
    crm_fields: Iterable[CrmFieldLike] | Mapping[Any, Iterable[CrmFieldLike]] | None = None,
    enginy_fields: Iterable[EnginyFieldLike] | None = None,
    crm_users: Sequence[CrmUserLike] | None = None,
    identities: Mapping[Any, str] | None = None,
    app_users: Mapping[Any, str] | None = None,
    capabilities: Any = None,
    identifier_fields: Mapping[Any, Mapping[str, str]] | None = None,
    export: Iterable[ObjectType | str] = (),
    crm_name: str = "This CRM",
) -> list[Problem]:
    """Every problem of ``config``, errors and warnings, in step order.

    - ``crm_fields``: the CRM's fields of both objects (each says its object), or a mapping object -> fields;
      None skips the checks that need them (unknown, misplaced, read-only fields, types).
    - ``enginy_fields``: the Enginy fields of contacts and companies; defaults to the workspace registry.
    - ``crm_users``; ``identities`` and ``app_users`` (id -> name, in display order) for Step 4.
    - ``capabilities``: the adapter's, for what the association type can express.
    - ``identifier_fields``: per object, role -> CRM field name of the presets (from the adapter).
    - ``export``: the objects about to be exported; each needs at least one export mapping (FAQ Q2).
    """
    v = _Validator(
        config, crm_fields, enginy_fields, crm_users, identities, app_users, capabilities, identifier_fields, crm_name
    )
    v.step1()
    v.step2()
    v.export_ready(ObjectType(o) for o in export)
    v.step3()
    v.step4()
    order = {step: i for i, step in enumerate(Step)}
    return sorted(v.problems, key=lambda p: order[p.location.step])
