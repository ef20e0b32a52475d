"""The configuration model: the vocabulary of the four wizard steps and the :class:`CrmConfig` they edit.

- Step 1, Input / Sync Mapping: :class:`ContactIdentifier` and :class:`CompanyIdentifier`, a preset or a
  custom rule tree (:mod:`enginy_desktop.core.matching.rules`).
- Step 2, Export Mapping: per object (Contacts tab, Companies tab) a list of :class:`FieldMapping` of four kinds
  (Enginy field, fixed value, export field, engagement field), each with its Overwrite flag; and the
  :class:`AssociationType` of a contact with its company.
- Step 3, Campaign Mapping (optional): each :class:`CampaignProperty` to a contact field of the CRM, or none.
- Step 4, User Mapping: Enginy identity -> CRM user, Enginy user -> CRM user, and a default owner.

The wizard's pages render a :class:`CrmConfig` and apply the user's edits to it; nothing here knows about Qt.
Its file format lives in :mod:`.file_format` (``to_dict``/``from_json`` hand over to it).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any

from ..matching.rules import CompanyPreset, ContactPreset, Rule, company_rule, contact_rule

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
    # The format is :mod:`.file_format`'s; it imports this module, so these methods import it when called.

    def to_dict(self) -> dict[str, Any]:
        """The versioned document of ``docs/crm-config.md`` (what a store keeps per CRM key)."""
        from .file_format import config_document

        return config_document(self)

    def to_json(self) -> str:
        from .file_format import config_json

        return config_json(self)

    @classmethod
    def from_dict(cls, data: Any, *, expected_crm: str | None = None) -> CrmConfig:
        """Read a document written by :meth:`to_dict`. Raises :class:`CrmConfigFileError` with every problem, or
        :class:`NewerConfigVersionError` for a newer format version. ``expected_crm`` refuses a file of another
        CRM (its field names would mean nothing here)."""
        from .file_format import read_document

        return read_document(data, expected_crm=expected_crm)

    @classmethod
    def from_json(cls, text: str | bytes, *, expected_crm: str | None = None) -> CrmConfig:
        from .file_format import read_json

        return read_json(text, expected_crm=expected_crm)
