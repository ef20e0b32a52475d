"""The configuration's file format (``docs/crm-config.md``): the versioned JSON document a store keeps per CRM
key and a user exports or imports.

:func:`config_document` / :func:`config_json` write it; :func:`read_document` / :func:`read_json` read it or
raise :class:`CrmConfigFileError` listing every problem, and refuse a document from a newer version with
:class:`NewerConfigVersionError`. Reading is pure: nothing changes unless the caller stores the returned object.
``CrmConfig.to_dict``/``to_json``/``from_dict``/``from_json`` are these functions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..matching.rules import CompanyPreset, ContactPreset, Rule, RuleFormatError
from .model import (
    AssociationType,
    CampaignProperty,
    CompanyIdentifier,
    ContactIdentifier,
    CrmConfig,
    FieldMapping,
    MappingKind,
)

CONFIG_FORMAT = "enginy-crm-config"
CONFIG_VERSION = 1


def config_document(config: CrmConfig) -> dict[str, Any]:
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
        "crm": config.crm,
        "identifiers": {
            "contact": {
                "preset": str(config.contact_identifier.preset),
                "custom": custom(config.contact_identifier.custom),
            },
            "company": {
                "preset": str(config.company_identifier.preset),
                "include_any_extension": config.company_identifier.include_any_extension,
                "custom": custom(config.company_identifier.custom),
            },
        },
        "export_mappings": {"contact": rows(config.contact_mappings), "company": rows(config.company_mappings)},
        "association_type": str(config.association_type),
        "campaign_mappings": {str(p): config.campaign_mappings.get(p) for p in CampaignProperty},
        "identity_mappings": dict(sorted(config.identity_mappings.items())),
        "user_mappings": dict(sorted(config.user_mappings.items())),
        "default_owner": config.default_owner or None,
        **({"people_object": config.people_object} if config.people_object else {}),
    }


def config_json(config: CrmConfig) -> str:
    return json.dumps(config_document(config), indent=2, ensure_ascii=False) + "\n"


def read_document(data: Any, *, expected_crm: str | None = None) -> CrmConfig:
    """Read a document written by :func:`config_document`; see ``CrmConfig.from_dict``."""
    return _Reader(expected_crm).read(data)


def read_json(text: str | bytes, *, expected_crm: str | None = None) -> CrmConfig:
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CrmConfigFileError(["The file is not text encoded as UTF-8."]) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CrmConfigFileError([f"The file is not valid JSON (line {exc.lineno}, column {exc.colno})."]) from None
    return read_document(data, expected_crm=expected_crm)


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
        from .. import catalog

        value = self._text(data, "people_object", "people_object")
        try:
            choices = [v for v, *_rest in catalog.get(crm).people_objects] if crm else []
        except catalog.UnknownIntegrationError:
            choices = []
        if value and value not in choices:
            allowed = " or ".join(f'"{c}"' for c in choices)
            self.problems.append(
                f'"people_object" is "{value}"; '
                + (f"it must be {allowed}." if choices else "this CRM keeps people in one object only (leave it out).")
            )
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
