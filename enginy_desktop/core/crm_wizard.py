"""The CRM wizard's state: what its four pages render and edit, and every question they ask (Qt-free).

A :class:`WizardState` holds the saved :class:`~enginy_desktop.core.crm_config.CrmConfig` and the copy being
edited, the CRM's fields and users (:class:`~enginy_desktop.core.crm_cache.CrmSnapshot`, None until loaded), and
the workspace's identities and users. Pages read it to render, call its methods (or the configuration's own
editing methods) to apply the user's edits, and ask it whether a step can be left (:meth:`blocking`), what to
show next to a row (:meth:`problems`), which fields a picker offers (:meth:`enginy_choices`,
:meth:`crm_choices`), which editor a fixed value needs (:meth:`editor_for`), and what to suggest
(:meth:`export_suggestions`…). :class:`RuleDraft` is the Custom Mapping pop-up's state.

Nothing here knows about Qt, so every rule the wizard follows is tested without a window.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import catalog
from . import fields as field_registry
from .automap import Suggestion, suggest_pairs, suggest_users
from .crm_cache import CrmFieldInfo, CrmSnapshot, CrmUserInfo
from .crm_config import (
    AssociationType,
    CampaignProperty,
    CrmConfig,
    EngagementSource,
    FieldMapping,
    MappingKind,
    ObjectType,
    Problem,
    Severity,
    Step,
    association_note,
    validate,
)
from .crm_config.field_types import crm_type_of  # the one place CRM type names are read: editor and validation agree
from .matching.matcher import DuplicateRisk
from .matching.normalize import Kind
from .matching.rules import (
    AndGroup,
    CompanyPreset,
    Condition,
    ContactPreset,
    Rule,
)

__all__ = [
    "CAMPAIGN_HELP",
    "COMPANY_PRESET_HELP",
    "CONTACT_PRESET_HELP",
    "KIND_HELP",
    "ConditionDraft",
    "EditorSpec",
    "FieldChoice",
    "RiskCheck",
    "RiskView",
    "RuleDraft",
    "WizardState",
    "condition_kind",
    "rule_summary",
]

# --- the product text, where the pages explain the options -------------------------------------------------

CONTACT_PRESET_HELP = {
    ContactPreset.FIRST_LAST_COMPANY: "A contact matches when all three fields are the same in both Enginy and the "
    "CRM.",
    ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY: "A contact matches if the LinkedIn profile URL is the same or all "
    "three name/company fields match.",
    ContactPreset.CUSTOM: "Opens a pop-up where you define custom conditions using AND/OR logic (for example, match "
    "by First Name AND Last Name, OR by Professional Email).",
}
COMPANY_PRESET_HELP = {
    CompanyPreset.DOMAIN: "Matches on the company domain (e.g., enginy.ai).",
    CompanyPreset.DOMAIN_OR_NAME: "Matches if either the domain or the company name is the same.",
    CompanyPreset.CUSTOM: "Opens a pop-up where you define custom conditions (for example, match by Domain OR "
    "Company LinkedIn URL).",
}
INCLUDE_ANY_EXTENSION_HELP = "Treat .com, .es, .org, etc. as equivalent: enginy.ai, enginy.es and enginy.com match."

KIND_TITLES = {
    MappingKind.ENGINY: "Enginy Fields",
    MappingKind.FIXED: "Fixed Fields",
    MappingKind.EXPORT: "Export Fields",
    MappingKind.ENGAGEMENT: "Engagement Fields",
}
KIND_HELP = {
    MappingKind.ENGINY: "Standard fields from your contact or company lists (e.g., Phone Number, Job Title). Click "
    "+ to add a mapping: select the Enginy field first, then the corresponding CRM field. Check Overwrite if you "
    "want new data to replace existing values in the CRM.",
    MappingKind.FIXED: "Fields that always export with the same static value. For example, set a CRM field called "
    "“Source” to “Enginy” so every exported record is tagged with its origin.",
    MappingKind.EXPORT: "Fields whose value you configure specifically at the time of export.",
    MappingKind.ENGAGEMENT: "Fields that are populated when an Activity is created in the CRM (for example, an "
    "email-sent event or a call log).",
}
OVERWRITE_HELP = (
    "When checked, the value in Enginy replaces whatever value currently exists in the corresponding CRM field "
    "during export. When unchecked, the existing CRM value is preserved and only empty fields are populated."
)
CROSS_OBJECT_WARNING = (
    "Do not map a Company field in the Contacts tab, or a Contact field in the Companies tab. Doing so may cause "
    "export errors."
)
ASSOCIATION_HELP = {
    AssociationType.ADDITIONAL: "Adds the association without changing existing ones.",
    AssociationType.PRIMARY: "Sets the new association as the primary relationship.",
    AssociationType.PRIMARY_REMOVE_PREVIOUS: "Sets the new association as primary and deletes all previous "
    "associations.",
}
FAQ_PRIMARY_REMOVE = (
    "This option deletes all existing associations for the record before setting the new one as primary. If you "
    "have historical relationships or multiple valid associations in your CRM, using this option can result in "
    "data loss. Use it only when you are certain the new association should be the sole relationship."
)
CAMPAIGN_HELP: dict[CampaignProperty, tuple[str, str]] = {
    CampaignProperty.SEQUENCE_DETAILS: (
        "The steps included in the campaign.",
        "1st Email, 2nd Email, LinkedIn Connection Request, 1st LinkedIn",
    ),
    CampaignProperty.ENGAGEMENT_STATUS: (
        "The current status of each lead in the campaign.",
        "Added to Campaign · Message Sent (1/3) - Email · Message Replied (3/3) - LinkedIn",
    ),
    CampaignProperty.OPENS: ("Total number of times a lead has opened one or more emails in the campaign.", "3"),
    CampaignProperty.CLICKS: ("Total number of times a lead has clicked a link in campaign emails.", "1"),
    CampaignProperty.OPEN_ANALYSIS: (
        "Indicates per-message whether the contact opened that specific email.",
        "No · Yes (1st Message) · Yes (2nd Message)",
    ),
    CampaignProperty.CLICK_ANALYSIS: (
        "Indicates per-message whether the contact clicked a link in that specific email.",
        "No · Yes (1st Message)",
    ),
    CampaignProperty.REPLY_ANALYSIS: (
        "Indicates per-message whether the lead replied to each automated message.",
        "No · Yes (1st Message) · Yes (2nd Message)",
    ),
    CampaignProperty.SEQUENCE_STATUS: (
        "The overall status of the campaign sequence for the lead.",
        "Not Started · Ongoing · Replied · Finished",
    ),
}

_TYPE_LABELS = {
    "text": "text",
    "long_text": "long text",
    "number": "number",
    "boolean": "yes/no",
    "date": "date",
    "datetime": "date and time",
    "picklist": "picklist",
    "multi_picklist": "multiple choice",
    "email": "email",
    "phone": "phone",
    "url": "web address",
    "owner": "CRM user",
    "reference": "record link",
    "other": "other",
    # Enginy's own types
    "integer": "number",
    "linkedin_url": "LinkedIn URL",
    "domain": "domain",
}


def type_label(type_name: str) -> str:
    return _TYPE_LABELS.get(type_name, type_name.replace("_", " "))


# --- field choices -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldChoice:
    """One entry of a field picker. ``foreign``: the field belongs to the other object (picking it in this tab
    is the mistake the troubleshooting table describes, so the row is then marked)."""

    name: str
    label: str
    type: str  # readable type ("text", "picklist"…)
    object: ObjectType
    foreign: bool = False
    read_only: bool = False

    @property
    def text(self) -> str:
        """What the picker shows and searches: label, internal name and type."""
        tags = [self.name, self.type]
        if self.foreign:
            tags.append(f"{self.object.value} field")
        if self.read_only:
            tags.append("read-only")
        return f"{self.label}  ·  {'  ·  '.join(tags)}"


@dataclass(frozen=True, slots=True)
class EditorSpec:
    """Which editor a value for a CRM field needs: ``kind`` is text, long_text, number, boolean, date, datetime,
    picklist, multi_picklist, owner, email, phone or url; ``options`` are (value, label) for picklists and users."""

    kind: str = "text"
    options: tuple[tuple[str, str], ...] = ()
    placeholder: str = ""


_EDITOR_PLACEHOLDERS = {
    "text": "Value, e.g. Enginy",
    "long_text": "Value",
    "number": "A number, e.g. 10",
    "email": "name@example.com",
    "phone": "+34 600 000 000",
    "url": "https://…",
}


# --- identifiers -------------------------------------------------------------------------------------------


def condition_kind(field_: Any) -> Kind:
    """How a custom condition on an Enginy field normalizes values, from the field's name and type."""
    name = str(getattr(field_, "name", field_))
    ftype = str(getattr(getattr(field_, "type", ""), "value", getattr(field_, "type", "")))
    obj = ObjectType.parse(getattr(field_, "object", None))
    if name in ("first_name", "last_name", "full_name"):
        return Kind.PERSON_NAME
    if name == "company_name" or (obj is ObjectType.COMPANY and name == "name"):
        return Kind.COMPANY_NAME
    return {
        "email": Kind.EMAIL,
        "linkedin_url": Kind.LINKEDIN_URL,
        "domain": Kind.DOMAIN,
        "url": Kind.DOMAIN,  # a website is compared by its domain
        "phone": Kind.PHONE,
    }.get(ftype, Kind.TEXT)


def rule_summary(rule: Rule) -> str:
    """``First name AND Last name, OR Email`` (empty for a rule without conditions). Conditions still missing a
    field are left out."""
    groups = []
    for g in rule.groups:
        names = [c.display for c in g.conditions if c.local_field and c.crm_field]
        if names:
            groups.append(" AND ".join(names))
    return ", OR ".join(groups)


@dataclass
class ConditionDraft:
    local_field: str = ""
    crm_field: str = ""


class RuleDraft:
    """The Custom Mapping pop-up's state: OR-groups of AND-conditions being edited, for one object.

    Groups and conditions may be incomplete while the user edits; :meth:`problems` says what is missing and
    :meth:`to_rule` builds the rule (conditions take their kind and label from the Enginy field).
    """

    def __init__(self, object_type: ObjectType, groups: Sequence[Sequence[ConditionDraft]] = (), *,
                 enginy_fields: Sequence[Any] | None = None) -> None:  # fmt: skip
        self.object_type = ObjectType(object_type)
        self.groups: list[list[ConditionDraft]] = [list(g) for g in groups]
        fields = enginy_fields if enginy_fields is not None else field_registry.fields_for(self.object_type.value)
        self.enginy = {
            f.name: f for f in fields if ObjectType.parse(getattr(f, "object", None)) in (None, self.object_type)
        }

    @classmethod
    def from_rule(cls, object_type: ObjectType, rule: Rule | None, **kw: Any) -> RuleDraft:
        groups = [
            [ConditionDraft(c.local_field, c.crm_field) for c in g.conditions] for g in (rule.groups if rule else ())
        ]
        draft = cls(object_type, groups, **kw)
        if not draft.groups:
            draft.add_group()
        return draft

    # -- editing ---------------------------------------------------------------------------------------------
    def add_group(self) -> int:
        """A new OR-group with one empty condition; returns its index."""
        self.groups.append([ConditionDraft()])
        return len(self.groups) - 1

    def remove_group(self, index: int) -> None:
        del self.groups[index]

    def add_condition(self, group: int) -> int:
        self.groups[group].append(ConditionDraft())
        return len(self.groups[group]) - 1

    def remove_condition(self, group: int, index: int) -> None:
        del self.groups[group][index]

    def set_condition(self, group: int, index: int, *, local_field: str | None = None,
                      crm_field: str | None = None) -> None:  # fmt: skip
        cond = self.groups[group][index]
        if local_field is not None:
            cond.local_field = local_field
        if crm_field is not None:
            cond.crm_field = crm_field

    # -- reading ---------------------------------------------------------------------------------------------
    def to_rule(self, include_any_extension: bool = False) -> Rule:
        groups = []
        for g in self.groups:
            conds = []
            for c in g:
                f = self.enginy.get(c.local_field)
                kind = condition_kind(f) if f is not None else Kind.TEXT
                label = f.label if f is not None else ""
                conds.append(Condition(c.local_field, c.crm_field, kind, label))
            groups.append(AndGroup(tuple(conds)))
        return Rule(tuple(groups), include_any_extension)

    def problems(self) -> list[str]:
        """What keeps the mapping from being used, one sentence each (empty when it can be used)."""
        problems = self.to_rule().problems()
        for gi, g in enumerate(self.groups, 1):
            keys = [(c.local_field, c.crm_field) for c in g if c.local_field and c.crm_field]
            if len(set(keys)) < len(keys):
                problems.append(f"Group {gi} compares the same pair of fields twice: remove one condition.")
            for ci, c in enumerate(g, 1):
                if c.local_field and c.local_field not in self.enginy:
                    problems.append(f"Group {gi}, condition {ci}: “{c.local_field}” is not a {self.object_type.value} "
                                    "field of Enginy.")  # fmt: skip
        return problems

    def group_problems(self, group: int) -> list[str]:
        prefix = f"Group {group + 1}"
        return [p for p in self.problems() if p.startswith(prefix + " ") or p.startswith(prefix + ",")]

    @property
    def summary(self) -> str:
        return rule_summary(self.to_rule())


# --- duplicate risk ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RiskCheck:
    """The latest duplicate-risk check of an identifier: on which list, for which identifier (``rule_key``), and
    its ``report`` (a ``core.sync.RiskReport``) or why it could not run."""

    list_id: int
    list_name: str
    rule_key: str
    report: Any = None
    error: str = ""


@dataclass(frozen=True, slots=True)
class RiskView:
    """What Step 1 says about one identifier on the current data: ``state`` is ok, risk, empty or unknown."""

    state: str
    text: str
    risk: DuplicateRisk | None = None


# --- the state ---------------------------------------------------------------------------------------------


@dataclass
class WizardState:
    """Everything the wizard's pages render and edit. ``config`` is the copy being edited; ``saved`` what the
    store holds. ``snapshot`` is the CRM's fields and users (None until loaded); ``people`` the workspace's
    identities and users (see :func:`enginy_desktop.core.services.crm_setup.workspace_people`)."""

    crm: str
    saved: CrmConfig
    people: Any = None
    snapshot: CrmSnapshot | None = None
    enginy_fields: list[Any] = field(default_factory=list)
    risk_lists: dict[ObjectType, list[Any]] = field(default_factory=dict)  # object -> crm_setup.RiskList, largest first
    risk_list: dict[ObjectType, int] = field(default_factory=dict)  # the list chosen for the check (default: first)
    risks: dict[ObjectType, RiskCheck] = field(default_factory=dict)  # the latest check of each identifier
    config: CrmConfig = field(init=False)

    def __post_init__(self) -> None:
        self.saved = self.saved.copy()
        self.config = self.saved.copy()
        if not self.enginy_fields:
            self.enginy_fields = [*field_registry.fields_for("contact"), *field_registry.fields_for("company")]
        if self.people is None:
            from .services.crm_setup import People

            self.people = People()

    @property
    def crm_name(self) -> str:
        return catalog.get(self.crm).name

    # -- saving ----------------------------------------------------------------------------------------------
    @property
    def dirty(self) -> bool:
        """Whether the edited copy differs from what is saved."""
        return self.config.to_dict() != self.saved.to_dict()

    def mark_saved(self) -> None:
        self.saved = self.config.copy()

    def validation_kwargs(self) -> dict[str, Any]:
        """What :func:`crm_config.validate` (and ``CrmConfigService.save``) take beyond the configuration."""
        snap = self.snapshot
        return {
            "crm_fields": list(snap.fields) if snap is not None else None,
            "crm_users": list(snap.users) if snap is not None else None,
            "enginy_fields": self.enginy_fields,
            "identities": self.people.identities,
            "app_users": self.people.users,
            "capabilities": snap.capabilities if snap is not None else None,
            "identifier_fields": dict(snap.identifier_fields) if snap is not None else None,
        }

    def problems(self) -> list[Problem]:
        return validate(self.config, crm_name=self.crm_name, **self.validation_kwargs())

    @staticmethod
    def in_step(problems: Iterable[Problem], step: Step, tab: str | None = None) -> list[Problem]:
        return [p for p in problems if p.location.step is step and (tab is None or p.location.tab == tab)]

    @staticmethod
    def blocking(problems: Iterable[Problem], step: Step | None = None) -> list[Problem]:
        """The errors (of ``step``, or of every step) that keep the wizard from going on or saving."""
        return [p for p in problems if p.severity is Severity.ERROR and (step is None or p.location.step is step)]

    def first_blocked_step(self, problems: Iterable[Problem] | None = None) -> Step | None:
        blocked = self.blocking(self.problems() if problems is None else problems)
        return min((p.location.step for p in blocked), default=None)

    # -- Step 1 ----------------------------------------------------------------------------------------------
    def set_contact_preset(self, preset: ContactPreset | str) -> None:
        self.config.contact_identifier.preset = ContactPreset(preset)

    def set_company_preset(self, preset: CompanyPreset | str) -> None:
        self.config.company_identifier.preset = CompanyPreset(preset)

    def set_include_any_extension(self, on: bool) -> None:
        self.config.company_identifier.include_any_extension = bool(on)

    def set_custom_rule(self, object_type: ObjectType, rule: Rule) -> None:
        """Use ``rule`` as the custom identifier of ``object_type`` (and select Custom Mapping)."""
        if ObjectType(object_type) is ObjectType.CONTACT:
            self.config.contact_identifier.custom = Rule(rule.groups)
            self.config.contact_identifier.preset = ContactPreset.CUSTOM
        else:
            self.config.company_identifier.custom = Rule(rule.groups)
            self.config.company_identifier.preset = CompanyPreset.CUSTOM

    def identifier_roles(self, object_type: ObjectType) -> dict[str, str]:
        return self.snapshot.identifier_fields_of(object_type) if self.snapshot is not None else {}

    def current_rule(self, object_type: ObjectType) -> Rule:
        """The rule the identifier of ``object_type`` matches with (an empty rule for an empty custom one)."""
        roles = self.identifier_roles(object_type)
        if ObjectType(object_type) is ObjectType.CONTACT:
            return self.config.contact_identifier.rule(roles)
        return self.config.company_identifier.rule(roles)

    def custom_rule(self, object_type: ObjectType) -> Rule | None:
        ident = self.config.contact_identifier if ObjectType(object_type) is ObjectType.CONTACT else (
            self.config.company_identifier)  # fmt: skip
        return ident.custom

    def identifier_summary(self, object_type: ObjectType) -> str:
        return rule_summary(self.current_rule(object_type))

    def custom_summary(self, object_type: ObjectType) -> str:
        rule = self.custom_rule(object_type)
        return rule_summary(rule) if rule is not None else ""

    def draft_for(self, object_type: ObjectType) -> RuleDraft:
        """The pop-up's starting point: the saved custom rule, else the conditions of the option chosen now."""
        obj = ObjectType(object_type)
        rule = self.custom_rule(obj)
        if rule is None or not rule.groups:
            rule = self.current_rule(obj)
        return RuleDraft.from_rule(obj, rule, enginy_fields=self.enginy_choices_fields(obj))

    def enginy_choices_fields(self, object_type: ObjectType) -> list[Any]:
        return [f for f in self.enginy_fields if ObjectType.parse(f.object) is ObjectType(object_type)]

    # -- the duplicate-risk check (run by core.sync.check_duplicate_risk on a list; shown here) ---------------
    def chosen_risk_list(self, object_type: ObjectType) -> Any | None:
        """The list the check of ``object_type`` runs on: the one chosen, else the first (the largest)."""
        lists = self.risk_lists.get(ObjectType(object_type), [])
        wanted = self.risk_list.get(ObjectType(object_type))
        return next((x for x in lists if x.id == wanted), lists[0] if lists else None)

    def rule_key(self, object_type: ObjectType) -> str:
        """Identifies the identifier as it is now (a check of another identifier is out of date)."""
        return json.dumps(self.current_rule(object_type).to_dict(), sort_keys=True)

    def risk_is_current(self, object_type: ObjectType) -> bool:
        check = self.risks.get(ObjectType(object_type))
        chosen = self.chosen_risk_list(object_type)
        return (check is not None and chosen is not None and check.list_id == chosen.id
                and check.rule_key == self.rule_key(object_type))  # fmt: skip

    def set_risk(self, object_type: ObjectType, list_id: int, rule_key: str, report: Any = None,
                 error: str = "") -> None:  # fmt: skip
        lst = next((x for x in self.risk_lists.get(ObjectType(object_type), []) if x.id == list_id), None)
        name = lst.name if lst is not None else str(list_id)
        self.risks[ObjectType(object_type)] = RiskCheck(list_id, name, rule_key, report, error)

    def duplicate_risk(self, object_type: ObjectType) -> RiskView:
        """What Step 1 says about the identifier of ``object_type`` on the chosen list, in words."""
        obj = ObjectType(object_type)
        noun = obj.plural
        if self.current_rule(obj).problems():
            return RiskView("unknown", "Finish the custom mapping to check it on your data.")
        chosen = self.chosen_risk_list(obj)
        if chosen is None:
            return RiskView("empty", f"Your workspace has no {noun} yet: import a list to check this identifier "
                                     "on real data.")  # fmt: skip
        check = self.risks.get(obj)
        if check is None or check.list_id != chosen.id:
            return RiskView("unknown", f"Press Check to compare “{chosen.name}” with {self.crm_name} using this "
                                       "identifier.")  # fmt: skip
        if check.rule_key != self.rule_key(obj):
            return RiskView("unknown", f"The identifier changed since the last check: press Check to compare "
                                       f"“{chosen.name}” again.")  # fmt: skip
        if check.error:
            return RiskView("unknown", f"The check on “{check.list_name}” could not run: {check.error}")
        risk = check.report.risk
        total = risk.current.total
        where = f"On “{check.list_name}” ({total:,} {obj.value if total == 1 else noun}): "
        if risk.risky:
            return RiskView("risk", where + risk.message, risk)
        s = risk.current
        return RiskView(
            "ok",
            where + f"no duplicate risk found — {s.matched:,} match one {self.crm_name} record, {s.new:,} would be "
            "new.",
            risk,
        )

    # -- Step 2 ----------------------------------------------------------------------------------------------
    def enginy_choices(self, object_type: ObjectType) -> list[FieldChoice]:
        """The tab's own Enginy fields, then the other object's fields whose names the tab does not have."""
        obj = ObjectType(object_type)
        own = self.enginy_choices_fields(obj)
        names = {f.name for f in own}
        other = [f for f in self.enginy_choices_fields(obj.other) if f.name not in names]
        return [self._enginy_choice(f, obj, False) for f in own] + [
            self._enginy_choice(f, obj.other, True) for f in other
        ]

    @staticmethod
    def _enginy_choice(f: Any, obj: ObjectType, foreign: bool) -> FieldChoice:
        ftype = str(getattr(f.type, "value", f.type))
        return FieldChoice(f.name, f.label, type_label(ftype), obj, foreign)

    def crm_choices(self, object_type: ObjectType, *, writable: bool = True, foreign: bool = True) -> list[FieldChoice]:
        """The CRM fields of the tab's object (writable ones only, unless told), then — when ``foreign`` — the
        other object's fields whose names this object does not have."""
        if self.snapshot is None:
            return []
        obj = ObjectType(object_type)
        own = [f for f in self.snapshot.fields_of(obj) if not (writable and f.read_only)]
        choices = [self._crm_choice(f, obj, False) for f in own]
        if foreign:
            names = {f.name for f in self.snapshot.fields_of(obj)}
            choices += [
                self._crm_choice(f, obj.other, True)
                for f in self.snapshot.fields_of(obj.other)
                if f.name not in names and not (writable and f.read_only)
            ]
        return choices

    @staticmethod
    def _crm_choice(f: CrmFieldInfo, obj: ObjectType, foreign: bool) -> FieldChoice:
        kind = crm_type_of(f)
        label = type_label(kind)
        if kind in ("picklist", "multi_picklist") and f.options:
            label += f", {len(f.options)} options"
        return FieldChoice(f.name, f.label, label, obj, foreign, f.read_only)

    def crm_field(self, object_type: ObjectType, name: str) -> CrmFieldInfo | None:
        return self.snapshot.crm_field(object_type, name) if self.snapshot is not None else None

    def editor_for(self, object_type: ObjectType, crm_field: str) -> EditorSpec:
        """The editor of a fixed value for ``crm_field`` (plain text while the field is unknown)."""
        f = self.crm_field(object_type, crm_field) if crm_field else None
        if f is None:
            return EditorSpec("text", placeholder=_EDITOR_PLACEHOLDERS["text"])
        kind = crm_type_of(f)
        if kind in ("picklist", "multi_picklist"):
            if not f.options:
                return EditorSpec("text", placeholder="Value as the CRM spells it")
            return EditorSpec(kind, tuple((o.value, o.label) for o in f.options))
        if kind == "owner":
            return EditorSpec("owner", tuple((u.id, u.display) for u in self.user_choices()))
        if kind in ("reference", "other"):
            kind = "text"
        return EditorSpec(kind, placeholder=_EDITOR_PLACEHOLDERS.get(kind, ""))

    def add_row(self, object_type: ObjectType, kind: MappingKind, *, source: str = "", crm_field: str = "") -> int:
        """A new row of ``kind`` at the end of its tab; returns its index. Engagement rows start with the last
        activity date; rows are new data, so Overwrite starts unchecked (the product's safe default)."""
        kind = MappingKind(kind)
        if kind is MappingKind.ENGAGEMENT and not source:
            source = EngagementSource.LAST_ACTIVITY_DATE.value
        self.config.add_mapping(object_type, FieldMapping(kind, crm_field=crm_field, source=source))
        return len(self.config.mappings(object_type)) - 1

    def move_row_within_kind(self, object_type: ObjectType, index: int, step: int) -> int | None:
        """Move a row up (``step`` -1) or down (+1) past the neighbouring row of the same kind; returns its new
        index, or None at the edge."""
        rows = self.config.mappings(object_type)
        kind = rows[index].kind
        same = [i for i, r in enumerate(rows) if r.kind is kind]
        pos = same.index(index) + step
        if not 0 <= pos < len(same):
            return None
        target = same[pos]
        # Swap with that neighbour: rows of other kinds in between keep their places.
        self.config.move_mapping(object_type, index, target)
        back = target + 1 if target < index else target - 1
        if back != index:
            self.config.move_mapping(object_type, back, index)
        return target

    def row_problems(self, problems: Iterable[Problem], object_type: ObjectType) -> dict[int, list[Problem]]:
        """Problems of the tab's rows, by 0-based row index."""
        tab = ObjectType(object_type).tab
        result: dict[int, list[Problem]] = {}
        for p in problems:
            if p.location.step is Step.EXPORT and p.location.tab == tab and p.location.row is not None:
                result.setdefault(p.location.row - 1, []).append(p)
        return result

    def export_suggestions(self, object_type: ObjectType) -> list[Suggestion]:
        """Enginy fields of the tab not yet mapped, paired by name with writable CRM fields not yet used, keeping
        only the pairs validation accepts (types that fit, fields that exist)."""
        obj = ObjectType(object_type)
        if self.snapshot is None:
            return []
        rows = self.config.mappings(obj)
        taken_s = {r.source for r in rows if r.kind is MappingKind.ENGINY}
        taken_t = {r.crm_field for r in rows if r.crm_field}
        if obj is ObjectType.CONTACT:
            taken_t |= {v for v in self.config.campaign_mappings.values() if v}
        targets = [
            f for f in self.snapshot.fields_of(obj) if not f.read_only and crm_type_of(f) not in ("owner", "reference")
        ]
        pairs = suggest_pairs(self.enginy_choices_fields(obj), targets, taken_sources=taken_s, taken_targets=taken_t)
        if not pairs:
            return []
        trial = CrmConfig(crm=self.config.crm)
        for s in pairs:
            trial.add_mapping(obj, FieldMapping(MappingKind.ENGINY, crm_field=s.target, source=s.source))
        kwargs = {**self.validation_kwargs(), "crm_users": None, "identities": None, "app_users": None}
        bad = {
            p.location.row
            for p in validate(trial, **kwargs)
            if p.location.step is Step.EXPORT and p.location.tab == obj.tab and p.severity is Severity.ERROR
        }
        return [s for i, s in enumerate(pairs, 1) if i not in bad]

    def apply_suggestions(self, object_type: ObjectType, suggestions: Iterable[Suggestion]) -> int:
        """Add the confirmed suggestions as Enginy-field rows; returns how many were added."""
        n = 0
        for s in suggestions:
            self.add_row(object_type, MappingKind.ENGINY, source=s.source, crm_field=s.target)
            n += 1
        return n

    def association_note(self) -> str | None:
        return association_note(self.config.association_type, self.snapshot, self.crm_name)

    # -- Step 3 ----------------------------------------------------------------------------------------------
    def campaign_choices(self) -> list[FieldChoice]:
        return self.crm_choices(ObjectType.CONTACT, foreign=False)

    def campaign_suggestions(self) -> dict[CampaignProperty, str]:
        """Unmapped campaign properties paired by name with contact fields no row uses yet."""
        if self.snapshot is None:
            return {}
        taken = {m.crm_field for m in self.config.contact_mappings if m.crm_field}
        taken |= {v for v in self.config.campaign_mappings.values() if v}
        props = [_Named(p.value, p.label) for p in CampaignProperty if p not in self.config.campaign_mappings]
        targets = [f for f in self.snapshot.fields_of(ObjectType.CONTACT) if not f.read_only]
        return {CampaignProperty(s.source): s.target for s in suggest_pairs(props, targets, taken_targets=taken)}

    # -- Step 4 ----------------------------------------------------------------------------------------------
    def user_choices(self) -> list[CrmUserInfo]:
        """CRM users who can own records: active ones by name, then deactivated ones."""
        if self.snapshot is None:
            return []
        return sorted(self.snapshot.users, key=lambda u: (not u.active, u.name.casefold()))

    def user_label(self, user_id: str) -> str:
        user = self.snapshot.user(user_id) if self.snapshot is not None else None
        return user.display if user is not None else f"CRM user {user_id}"

    def set_identity_user(self, identity_id: str, crm_user: str | None) -> None:
        _set(self.config.identity_mappings, identity_id, crm_user)

    def set_app_user(self, user_id: str, crm_user: str | None) -> None:
        _set(self.config.user_mappings, user_id, crm_user)

    def set_default_owner(self, crm_user: str | None) -> None:
        self.config.default_owner = crm_user or ""

    def unmapped(self) -> tuple[list[str], list[str]]:
        """(identity ids, user ids) not mapped to a CRM user."""
        return (
            [i for i in self.people.identities if i not in self.config.identity_mappings],
            [u for u in self.people.users if u not in self.config.user_mappings],
        )

    def user_suggestions(self) -> tuple[dict[str, str], dict[str, str]]:
        """Unmapped identities and users paired with CRM users by email (else by a unique full name)."""
        if self.snapshot is None:
            return {}, {}
        ids, users = self.unmapped()
        identities = {i: (self.people.identities[i], self.people.identity_emails.get(i, "")) for i in ids}
        people = {u: (self.people.users[u], self.people.user_emails.get(u, "")) for u in users}
        return suggest_users(identities, self.snapshot.users), suggest_users(people, self.snapshot.users)


@dataclass(frozen=True, slots=True)
class _Named:
    name: str
    label: str


def _set(mapping: dict[str, str], key: str, value: str | None) -> None:
    if value:
        mapping[str(key)] = str(value)
    else:
        mapping.pop(str(key), None)
