"""A starting configuration built from the CRM's own fields (``enginy-desktop crm-config init``, the demo).

What the wizard would propose, chosen without a window: the identifiers of Step 1 whose fields this CRM has
(LinkedIn OR first + last + company name when it has a LinkedIn field, else first + last + company name; the
domain for companies, or the company name when it has no domain field), the Enginy fields paired by name with
writable CRM fields in Step 2 (only pairs validation accepts), the association type this CRM can express, and
Enginy users and identities paired with CRM users by e-mail in Step 4. Nothing vendor-specific: everything comes
from the adapter's declarations and fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from enginy_desktop.core import catalog
from enginy_desktop.core.crm_cache import CrmSnapshot
from enginy_desktop.core.crm_config import (
    AssociationType,
    CompanyIdentifier,
    ContactIdentifier,
    CrmConfig,
    FieldMapping,
    MappingKind,
    ObjectType,
    Problem,
    Severity,
    Step,
    validate,
)
from enginy_desktop.core.crm_wizard import WizardState
from enginy_desktop.core.matching.rules import CompanyPreset, Condition, ContactPreset, Role, Rule, role_condition

from .crm_setup import fetch_snapshot, workspace_people


@dataclass
class StarterConfig:
    """The configuration, what it holds in words (one line per step), and the warnings validation left."""

    config: CrmConfig
    summary: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    validation: dict[str, Any] = field(default_factory=dict)  # what CrmConfigService.save takes to validate it


def _identifier_errors(config: CrmConfig, identifier: ContactIdentifier | CompanyIdentifier,
                       kwargs: dict[str, Any]) -> list[Problem]:
    """The errors of Step 1 with ``identifier`` in place (the other object's identifier as configured)."""
    trial = config.copy()
    if isinstance(identifier, ContactIdentifier):
        trial.contact_identifier = identifier
    else:
        trial.company_identifier = identifier
    problems = [p for p in validate(trial, **kwargs) if p.location.step is Step.SYNC and p.severity is Severity.ERROR]
    other = ObjectType.COMPANY if isinstance(identifier, ContactIdentifier) else ObjectType.CONTACT
    return [p for p in problems if not p.location.tab.lower().startswith(other.value)]


def _custom_contact_rule(roles: dict[str, str]) -> Rule:
    """The LinkedIn URL, OR the e-mail, OR first + last + company name — each where the CRM has the fields;
    first + last name alone only when the CRM has none of the others."""
    groups: list[tuple[Condition, ...]] = [(role_condition(r, roles),) for r in (Role.LINKEDIN_URL, Role.EMAIL)
                                           if r in roles]
    names = [Role.FIRST_NAME, Role.LAST_NAME, Role.COMPANY_NAME]
    if all(r in roles for r in names):
        groups.append(tuple(role_condition(r, roles) for r in names))
    elif not groups and all(r in roles for r in names[:2]):
        groups.append(tuple(role_condition(r, roles) for r in names[:2]))
    return Rule.of(*groups)


def _custom_company_rule(roles: dict[str, str]) -> Rule:
    """The domain, OR the LinkedIn company page, OR the name — each where the CRM has the field."""
    return Rule.of(*((role_condition(r, roles, company=True),) for r in (Role.DOMAIN, Role.LINKEDIN_URL, Role.NAME)
                     if r in roles))


def build_starter_config(key: str, snapshot: CrmSnapshot, people: Any = None) -> StarterConfig:
    """The starting configuration of CRM ``key`` from its ``snapshot`` (fields, users, identifier fields)."""
    state = WizardState(key, CrmConfig(crm=key), people=people)
    state.snapshot = snapshot
    config = state.config
    if catalog.get(key).people_objects and snapshot.people_object:  # Step 2's choice: the object people go in
        config.people_object = snapshot.people_object
    kwargs = state.validation_kwargs()

    # Step 1: the first preset, in the product's order of preference, whose fields this CRM has; else a custom
    # rule of the identifier fields it has (e.g. a CRM whose contacts hold their company as a reference).
    roles = {obj: snapshot.identifier_fields_of(obj) for obj in ObjectType}
    config.contact_identifier = next(
        (ContactIdentifier(p) for p in (ContactPreset.LINKEDIN_OR_FIRST_LAST_COMPANY, ContactPreset.FIRST_LAST_COMPANY)
         if not _identifier_errors(config, ContactIdentifier(p), kwargs)),
        ContactIdentifier(ContactPreset.CUSTOM, _custom_contact_rule(roles[ObjectType.CONTACT])))
    config.company_identifier = next(
        (CompanyIdentifier(p) for p in (CompanyPreset.DOMAIN, CompanyPreset.DOMAIN_OR_NAME)
         if not _identifier_errors(config, CompanyIdentifier(p), kwargs)),
        CompanyIdentifier(CompanyPreset.CUSTOM, custom=_custom_company_rule(roles[ObjectType.COMPANY])))

    # Step 2: Enginy fields paired by name with writable CRM fields: only pairs validation accepts without a
    # warning — nobody confirms them, and a pair whose values may not convert (free text into a picklist, e.g.
    # Enginy's Source into a CRM's "Lead source") would block every record at export.
    for obj in (ObjectType.CONTACT, ObjectType.COMPANY):
        state.apply_suggestions(obj, _without_warnings(key, obj, state.export_suggestions(obj), kwargs))

    # The association type: "additional" where a contact may have several companies, else "primary".
    if not snapshot.multiple_companies:
        config.association_type = AssociationType.PRIMARY

    # Step 4: Enginy users and identities paired with CRM users by e-mail (else a unique full name).
    identities, users = state.user_suggestions()
    for identity_id, crm_user in identities.items():
        state.set_identity_user(identity_id, crm_user)
    for user_id, crm_user in users.items():
        state.set_app_user(user_id, crm_user)

    name = catalog.get(key).name
    problems = validate(config, crm_name=name, **kwargs)  # notes name the CRM, as the wizard's and export's do
    into = f" into {config.people_object}" if config.people_object else ""
    summary = [
        f"Step 1: contacts{into} matched by {_identifier_text(config.contact_identifier, roles[ObjectType.CONTACT])}; "
        f"companies by {_identifier_text(config.company_identifier, roles[ObjectType.COMPANY])}.",
        f"Step 2: {len(config.contact_mappings)} contact and {len(config.company_mappings)} company fields mapped "
        f"to {name} fields of the same name; association type: {config.association_type.label}.",
        f"Step 4: {len(config.user_mappings)} users and {len(config.identity_mappings)} identities mapped to "
        f"{name} users by e-mail.",
    ]
    return StarterConfig(config, summary, [p for p in problems if p.severity is not Severity.ERROR], kwargs)


def _without_warnings(key: str, obj: ObjectType, suggestions: list[Any], kwargs: dict[str, Any]) -> list[Any]:
    """The suggestions whose mapping row draws no problem at all from validation (warnings included)."""
    trial = CrmConfig(crm=key)
    for s in suggestions:
        trial.add_mapping(obj, FieldMapping(MappingKind.ENGINY, crm_field=s.target, source=s.source))
    flagged = {p.location.row for p in validate(trial, **{**kwargs, "crm_users": None, "identities": None,
                                                          "app_users": None})
               if p.location.step is Step.EXPORT and p.location.tab == obj.tab}
    return [s for i, s in enumerate(suggestions, 1) if i not in flagged]  # rows count from 1


def _identifier_text(identifier: ContactIdentifier | CompanyIdentifier, roles: dict[str, str]) -> str:
    if identifier.custom is not None and identifier.preset.value == "custom":
        return identifier.rule(roles).display
    return identifier.preset.label


async def starter_config(ctx: Any, key: str, *, people: str | None = None) -> StarterConfig:
    """Read CRM ``key``'s fields and users (fresh) and build its starting configuration (nothing saved);
    ``people``: the object people go in, for a CRM that offers several (Salesforce: Contacts or Leads).
    Raises what reading the CRM raises (not connected, credentials, network), each a readable sentence."""
    snapshot = await fetch_snapshot(ctx, key, people=people)
    return build_starter_config(key, snapshot, workspace_people(ctx))


__all__ = ["StarterConfig", "build_starter_config", "starter_config"]
