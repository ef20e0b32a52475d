"""Validation: every check of the four steps, and the product text it says word for word.

:func:`validate` returns every problem at once, each with where it is (step, tab, row) and a sentence the user
can act on; :func:`errors` keeps those that block saving. **Update** saves a configuration once it reports no
error, and an export is refused while one stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from .. import fields as field_registry
from ..matching.rules import CompanyPreset, ContactPreset, Rule
from .field_types import (
    _ENGINY_MAYBE,
    _ENGINY_OK,
    _EXPORTABLE_TYPES,
    CrmFieldLike,
    CrmUserLike,
    EnginyFieldLike,
    _enginy_type,
    _fixed_value_problem,
    _option_list,
    _option_value,
    _options,
    crm_type_of,
)
from .model import (
    AssociationType,
    CampaignProperty,
    CrmConfig,
    EngagementSource,
    FieldMapping,
    MappingKind,
    ObjectType,
    Step,
)
from .problems import Location, Problem, Severity

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


class CompanyModel(Protocol):
    """How a CRM links contacts to companies: the adapter's ``Capabilities``, or the wizard's cached snapshot."""

    @property
    def multiple_companies(self) -> bool: ...

    @property
    def primary_company(self) -> bool: ...


def association_note(
    association_type: AssociationType, capabilities: CompanyModel | None, crm_name: str = "This CRM"
) -> str | None:
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
        ftype = crm_type_of(crm)
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
            ftype = crm_type_of(crm)
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
