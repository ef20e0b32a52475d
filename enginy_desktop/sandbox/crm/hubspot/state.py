"""The HubSpot sandbox's state: records, properties, owners, associations, tokens, limits and the request log.

Everything the HTTP layer (:mod:`enginy_desktop.sandbox.crm.hubspot.api`) does goes through
:class:`HubSpotSandbox`, and tests may call it directly to arrange or inspect state. The HTTP layer runs on one
event loop; inspect the state from another thread only between requests (or use the admin API).
"""

from __future__ import annotations

import base64
import json
import random
import re
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from ...kit.emulator import Emulator, EmulatorConfig, GatewayRequest
from ...kit.errors import ErrorKind, VendorError
from ...kit.limits import Budget, RateLimit, RollingWindow
from ...kit.store import Record, RecordStore
from ...kit.tokens import AuthCode, OAuthProblem, RefreshInfo, TokenInfo, TokenProblem, TokenStore, pkce_ok
from .data import (
    CREATED_PROPERTY,
    DEFAULT_PROPERTIES,
    DEFAULT_TYPE,
    ENGAGEMENTS,
    FIELD_TYPES,
    HUBSPOT_ASSOCIATION_TYPES,
    MODIFIED_PROPERTY,
    OBJECT_TYPE_IDS,
    OWNER_NAMES,
    OWNER_TEAMS,
    PRIMARY_COMPANY_TO_CONTACT,
    PRIMARY_CONTACT_TO_COMPANY,
    PROPERTY_GROUPS,
    REQUIRED_ON_CREATE,
    SINGULAR,
    STANDARD_PROPERTIES,
    UNLABELED_CONTACT_TO_COMPANY,
    AssociationType,
    sample_companies,
    sample_contacts,
    slug,
)

__all__ = ["DEFAULT_TOKEN", "AuthCode", "HubSpotError", "HubSpotSandbox", "HubSpotSandboxConfig", "Record",
           "RefreshInfo", "TokenInfo", "iso", "not_found", "oauth_error", "parse_timestamp", "validation_error"]

DEFAULT_TOKEN = "pat-sandbox-0000-enginy-local"
SEED_EPOCH_MS = 1_735_689_600_000  # 2025-01-01T00:00:00Z: seeded records are created after it, a minute apart
PROPERTY_EPOCH = "2019-08-06T02:41:52.000Z"  # when the standard properties were "created"
AUTH_DOCS = "https://developers.hubspot.com/docs/methods/auth/oauth-overview"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PROPERTY_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SEARCH_PATH = re.compile(r"^/crm/(?:objects/2026-03|v3/objects)/[^/]+/search/?$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def iso(ms: int) -> str:
    """Epoch milliseconds -> HubSpot's ISO 8601 form, ``2025-01-01T00:00:00.000Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_timestamp(value: str) -> int | None:
    """Epoch milliseconds or ISO 8601 (date or date-time) -> epoch ms; None when unparseable."""
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp() * 1000)


# --- errors ------------------------------------------------------------------------------------------------------


class HubSpotError(VendorError):
    """An error answered with HubSpot's error body (``status``, ``message``, ``correlationId``, ``category``…)."""

    def __init__(
        self,
        status: int,
        category: str,
        message: str,
        *,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, list[str]] | None = None,
        sub_category: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status, message, headers=headers)
        self.category = category
        self.errors = errors
        self.context = context
        self.sub_category = sub_category
        self.extra = extra or {}

    def payload(self, emulator: Emulator) -> Any:
        assert isinstance(emulator, HubSpotSandbox)
        return self.body(emulator.correlation_id())

    def body(self, correlation_id: str) -> dict[str, Any]:
        out: dict[str, Any] = {"status": "error", "message": self.message, "correlationId": correlation_id,
                               "category": self.category}
        if self.sub_category:
            out["subCategory"] = self.sub_category
        if self.errors is not None:
            out["errors"] = self.errors
        if self.context is not None:
            out["context"] = self.context
        out.update(self.extra)
        return out

    def standard_error(self, context: dict[str, list[str]] | None = None) -> dict[str, Any]:
        """The per-input ``StandardError`` of a 207 batch response."""
        ctx = dict(self.context or {})
        ctx.update(context or {})
        return {"status": "error", "category": self.category, "message": self.message, "context": ctx,
                "errors": self.errors or [], "links": {}}


def validation_error(message: str, **kw: Any) -> HubSpotError:
    return HubSpotError(400, "VALIDATION_ERROR", message, **kw)


def property_errors(problems: list[dict[str, Any]], portal_id: int) -> HubSpotError:
    """HubSpot's "Property values were not valid" error, with the problems both JSON-quoted (as HubSpot puts
    them in the message) and as structured ``errors``."""
    quoted = [
        {"isValid": False, "message": p["message"], "error": p["code"], "name": p["name"],
         "localizedErrorMessage": p["message"], "portalId": portal_id}
        for p in problems
    ]
    details = [
        {"message": p["message"], "code": p["code"], "context": {"propertyName": [p["name"]]}}
        for p in problems
    ]
    return validation_error(f"Property values were not valid: {json.dumps(quoted, separators=(',', ':'))}",
                            errors=details)


def not_found(message: str = "resource not found") -> HubSpotError:
    return HubSpotError(404, "OBJECT_NOT_FOUND", message)


# --- configuration -----------------------------------------------------------------------------------------------


@dataclass
class HubSpotSandboxConfig(EmulatorConfig):
    """How the sandbox behaves. Defaults follow HubSpot Professional (190 requests per 10 s per token).
    The settings every emulator has (``random_seed``, ``faults``, clocks, body and nesting limits, the control
    token) come from :class:`~enginy_desktop.sandbox.kit.emulator.EmulatorConfig`."""

    tokens: tuple[str, ...] = (DEFAULT_TOKEN,)  # private-app tokens that are always valid (until a TTL fault)
    portal_id: int = 24681357
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(190, 10.0))  # None: unlimited
    daily_limit: int | None = 625_000  # per private-app token per UTC day; None: unlimited
    search_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(4, 1.0))
    search_counts_toward_interval: bool = False  # HubSpot's search has its own limit and no interval headers
    seed_contacts: int = 0
    seed_companies: int | None = None  # None: one company per ten contacts (at least one when seeding)
    associate_ratio: float = 0.7  # share of seeded contacts with a primary company
    owners: int = 8
    batch_limit: int = 100  # inputs per object batch call
    association_batch_limit: int = 100  # inputs per association batch create/archive/labels call
    association_read_limit: int = 1000  # inputs per association batch read (HubSpot since 2025-02-10)
    # "partial": a batch answers 207 with the valid inputs applied and one error per failed input;
    # "all": any invalid input fails the whole batch with one 400/409 and nothing is written.
    batch_errors: Literal["partial", "all"] = "partial"
    # HubSpot answers a requested property that has no value as null, which the published schema does not
    # allow; off by default so responses validate, on to rehearse the real behaviour.
    null_for_missing_properties: bool = False
    oauth_clients: Mapping[str, str] | None = None  # client_id -> client_secret; None accepts any client
    oauth_scopes: tuple[str, ...] = (
        "oauth", "crm.objects.contacts.read", "crm.objects.contacts.write", "crm.objects.companies.read",
        "crm.objects.companies.write", "crm.objects.owners.read", "crm.schemas.contacts.read",
        "crm.schemas.companies.read", "sales-email-read",
    )
    access_token_lifetime_s: float = 1800.0  # HubSpot OAuth access tokens live 30 minutes
    account_type: str = "STANDARD"
    time_zone: str = "Europe/Madrid"
    company_currency: str = "EUR"
    ui_domain: str = "app.hubspot.com"
    data_hosting_location: str = "eu1"


# --- records -----------------------------------------------------------------------------------------------------


# --- the sandbox -------------------------------------------------------------------------------------------------


class HubSpotSandbox(Emulator):
    """State and behaviour of one emulated HubSpot portal."""

    vendor = "HubSpot"
    tokens: TokenStore
    public_paths = ("/oauth/",)  # the OAuth endpoints check their own credentials
    config: HubSpotSandboxConfig

    def __init__(self, config: HubSpotSandboxConfig | None = None) -> None:
        super().__init__(config or HubSpotSandboxConfig())
        cfg = self.config
        self.tokens = TokenStore(
            static=cfg.tokens, static_kind="private_app", clock=cfg.clock, faults=lambda: self.config.faults,
            access_lifetime_s=cfg.access_token_lifetime_s, default_scopes=cfg.oauth_scopes,
            user_id=lambda: self.owners[0]["userId"] if self.owners else 0, clients=cfg.oauth_clients,
            make_token=self.random_token)
        self.reset()

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def reset(self, *, seed: bool = True) -> None:
        """Forget every record, association, custom property, issued token and counter; then seed again."""
        cfg = self.config
        self._rng = random.Random(cfg.random_seed)
        self.faults.reseed(cfg.random_seed + 1)
        self.store = RecordStore(
            OBJECT_TYPE_IDS, now_ms=self.now_ms, first_id=1001,
            stamp=lambda rec, now, created: self._stamp(rec, now, created=created),
            unique={"contacts": ("email",)},
            lookups={"companies": ("domain", "name"), "contacts": ("hs_linkedin_url",)})
        self.associations: dict[tuple[str, int], dict[str, dict[int, set[int]]]] = {}
        self.association_types: dict[int, AssociationType] = {t.type_id: t for t in HUBSPOT_ASSOCIATION_TYPES}
        self._next_label_id = 501
        self.owners: list[dict[str, Any]] = self._make_owners(cfg.owners)
        self.property_groups: dict[str, list[dict[str, Any]]] = {
            t: [{"name": n, "label": lbl, "displayOrder": i, "archived": False} for i, (n, lbl) in enumerate(groups)]
            for t, groups in PROPERTY_GROUPS.items()
        }
        self.properties: dict[str, dict[str, dict[str, Any]]] = {
            t: {p.name: self._property_json(t, p) for p in seeds} for t, seeds in STANDARD_PROPERTIES.items()
        }
        self.archived_properties: dict[str, dict[str, dict[str, Any]]] = {t: {} for t in OBJECT_TYPE_IDS}
        self.tokens.reset()
        self.interval_window = RollingWindow(cfg.rate_limit) if cfg.rate_limit else None
        self.search_window = RollingWindow(cfg.search_rate_limit) if cfg.search_rate_limit else None
        self.daily_budget = Budget(cfg.daily_limit or 0, "day", cfg.wall_clock)
        self.requests.clear()
        if seed and (cfg.seed_contacts or cfg.seed_companies):
            self.seed(cfg.seed_contacts, cfg.seed_companies)

    @property
    def objects(self) -> dict[str, dict[int, Record]]:
        """Records by object type and id (archived ones too)."""
        return self.store.objects

    def counts(self) -> dict[str, int]:
        out = {t: sum(1 for r in recs.values() if not r.archived) for t, recs in self.objects.items()}
        out["associations"] = sum(
            len(ids) for (from_type, _), by_type in self.associations.items() if from_type == "contacts"
            for ids in by_type.values()
        )
        out["owners"] = len(self.active_owner_ids())
        out["requests"] = len(self.requests)
        out["rate_limited"] = sum(1 for r in self.requests if r.status == 429)
        return out

    def now_ms(self) -> int:
        return int(self.config.wall_clock() * 1000)

    def correlation_id(self) -> str:
        return str(uuid.UUID(int=self._rng.getrandbits(128), version=4))

    def random_token(self, prefix: str, nbytes: int = 18) -> str:
        raw = self._rng.getrandbits(nbytes * 8).to_bytes(nbytes, "big")
        return prefix + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    # -- owners -----------------------------------------------------------------------------------------------

    def _make_owners(self, count: int) -> list[dict[str, Any]]:
        owners = []
        for i in range(count + 1):  # the last one is archived (a deactivated user)
            first, last = OWNER_NAMES[i % len(OWNER_NAMES)]
            team_id, team_name = OWNER_TEAMS[0 if i % 3 else 1]
            owners.append({
                "id": str(71_000_001 + i * 7),
                "email": f"{slug(first)}.{slug(last)}@enginy-sandbox.example",
                "firstName": first,
                "lastName": last,
                "type": "PERSON",
                "userId": 9_100_001 + i,
                "userIdIncludingInactive": 9_100_001 + i,
                "createdAt": iso(SEED_EPOCH_MS - (count - i) * 86_400_000),
                "updatedAt": iso(SEED_EPOCH_MS),
                "archived": i == count,
                "teams": [{"id": team_id, "name": team_name, "primary": True}],
            })
        return owners

    def active_owner_ids(self) -> list[str]:
        return [o["id"] for o in self.owners if not o["archived"]]

    # -- properties -------------------------------------------------------------------------------------------

    def _property_json(self, otype: str, seed: Any) -> dict[str, Any]:
        options = [{"label": label, "value": value, "displayOrder": i, "hidden": False}
                   for i, (value, label) in enumerate(seed.options)]
        prop: dict[str, Any] = {
            "name": seed.name,
            "label": seed.label,
            "type": seed.type,
            "fieldType": seed.field_type,
            "description": seed.description,
            "groupName": seed.group or PROPERTY_GROUPS[otype][0][0],
            "options": options,
            "displayOrder": -1,
            "calculated": seed.calculated,
            "externalOptions": seed.referenced is not None,
            "hasUniqueValue": seed.unique,
            "hidden": False,
            "hubspotDefined": True,
            "modificationMetadata": {"archivable": False, "readOnlyDefinition": True,
                                     "readOnlyValue": seed.read_only},
            "formField": not seed.read_only,
            "dataSensitivity": "non_sensitive",
            "createdAt": PROPERTY_EPOCH,
            "updatedAt": PROPERTY_EPOCH,
            "archived": False,
        }
        if seed.hint:
            prop["textDisplayHint"] = seed.hint
        if seed.referenced:
            prop["referencedObjectType"] = seed.referenced
        return prop

    def property_view(self, otype: str, prop: dict[str, Any]) -> dict[str, Any]:
        """A property as the API shows it (owner options are filled from the current owners)."""
        if prop.get("referencedObjectType") == "OWNER":
            prop = dict(prop)
            prop["options"] = [
                {"label": f"{o['firstName']} {o['lastName']} ({o['email']})", "value": o["id"], "displayOrder": i,
                 "hidden": False}
                for i, o in enumerate(o for o in self.owners if not o["archived"])
            ]
        return prop

    def unique_properties(self, otype: str) -> set[str]:
        names = {n for n, p in self.properties[otype].items() if p.get("hasUniqueValue")}
        if otype == "contacts":
            names.add("email")
        return names

    def create_property(self, otype: str, body: Mapping[str, Any]) -> dict[str, Any]:
        name = str(body.get("name", ""))
        if not _PROPERTY_NAME.match(name):
            raise validation_error(
                f"Property name '{name}' is invalid: use lowercase letters, digits and underscores, starting "
                "with a letter.")
        if name in self.properties[otype]:
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS", f"A property named '{name}' already exists.")
        ptype, field_type = str(body.get("type", "")), str(body.get("fieldType", ""))
        if ptype not in FIELD_TYPES:
            raise validation_error(f"Property type '{ptype}' is not one of {sorted(FIELD_TYPES)}.")
        if field_type not in FIELD_TYPES[ptype]:
            raise validation_error(
                f"Field type '{field_type}' cannot be used with property type '{ptype}'; use one of "
                f"{sorted(FIELD_TYPES[ptype])}.")
        group = str(body.get("groupName", ""))
        if group not in {g["name"] for g in self.property_groups[otype]}:
            raise validation_error(f"Property group '{group}' does not exist.")
        options = self._options(body.get("options") or [])
        if ptype == "enumeration" and not options and field_type != "booleancheckbox":
            raise validation_error("Enumeration properties need at least one option.")
        if ptype == "bool" and not options:
            options = [{"label": "Yes", "value": "true", "displayOrder": 0, "hidden": False},
                       {"label": "No", "value": "false", "displayOrder": 1, "hidden": False}]
        now = iso(self.now_ms())
        prop: dict[str, Any] = {
            "name": name,
            "label": str(body.get("label", name)),
            "type": ptype,
            "fieldType": field_type,
            "description": str(body.get("description", "")),
            "groupName": group,
            "options": options,
            "displayOrder": int(body.get("displayOrder", -1)),
            "calculated": False,
            "externalOptions": bool(body.get("externalOptions", False)),
            "hasUniqueValue": bool(body.get("hasUniqueValue", False)),
            "hidden": bool(body.get("hidden", False)),
            "hubspotDefined": False,
            "modificationMetadata": {"archivable": True, "readOnlyDefinition": False, "readOnlyValue": False},
            "formField": bool(body.get("formField", False)),
            "dataSensitivity": str(body.get("dataSensitivity", "non_sensitive")),
            "createdAt": now,
            "updatedAt": now,
            "createdUserId": str(self.owners[0]["userId"]) if self.owners else "0",
            "updatedUserId": str(self.owners[0]["userId"]) if self.owners else "0",
            "archived": False,
        }
        for key in ("textDisplayHint", "numberDisplayHint", "referencedObjectType"):
            if body.get(key):
                prop[key] = str(body[key])
        self.properties[otype][name] = prop
        if prop["hasUniqueValue"]:
            self.store.unique_index(otype, name)
        return prop

    def update_property(self, otype: str, name: str, body: Mapping[str, Any]) -> dict[str, Any]:
        prop = self.properties[otype].get(name)
        if prop is None:
            raise not_found(f"Unable to find property {name} on object type {otype}")
        if prop["modificationMetadata"]["readOnlyDefinition"] and set(body) - {"label", "description",
                                                                               "displayOrder"}:
            raise validation_error(f"Property {name} is HubSpot-defined: only its label and description can change.")
        for key in ("label", "description", "groupName", "hidden", "displayOrder", "formField",
                    "textDisplayHint", "numberDisplayHint", "type", "fieldType"):
            if key in body:
                prop[key] = body[key]
        if "options" in body:
            prop["options"] = self._options(body["options"])
        prop["updatedAt"] = iso(self.now_ms())
        return prop

    def archive_property(self, otype: str, name: str) -> None:
        prop = self.properties[otype].get(name)
        if prop is None:
            raise not_found(f"Unable to find property {name} on object type {otype}")
        if not prop["modificationMetadata"]["archivable"]:
            raise validation_error(f"Property {name} is HubSpot-defined and cannot be archived.")
        del self.properties[otype][name]
        prop = dict(prop, archived=True, archivedAt=iso(self.now_ms()))
        self.archived_properties[otype][name] = prop
        self.store.drop_unique(otype, name)

    @staticmethod
    def _options(raw: Any) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            raise validation_error("options must be a list of {label, value} objects.")
        out = []
        for i, opt in enumerate(raw):
            if not isinstance(opt, Mapping) or "value" not in opt or "label" not in opt:
                raise validation_error("Every option needs a label and a value.")
            out.append({"label": str(opt["label"]), "value": str(opt["value"]),
                        "displayOrder": int(opt.get("displayOrder", i)), "hidden": bool(opt.get("hidden", False))})
        return out

    # -- values ---------------------------------------------------------------------------------------------------

    def _clean_value(self, otype: str, prop: dict[str, Any], raw: Any) -> tuple[str | None, dict[str, Any] | None]:
        """One property value -> (stored text or None to clear, problem or None)."""
        name = prop["name"]
        if raw is None:
            return None, None
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if text == "":
            return None, None
        ptype = prop["type"]

        def problem(code: str, message: str) -> tuple[None, dict[str, Any]]:
            return None, {"name": name, "code": code, "message": message}

        if otype == "contacts" and name == "email":
            text = text.strip().lower()
            if not _EMAIL.match(text):
                return problem("INVALID_EMAIL", f"Email address {text} is invalid")
            return text, None
        if ptype == "number":
            text = text.strip()
            if not _NUMBER.match(text):
                return problem("INVALID_LONG" if name.endswith("_id") else "INVALID_DOUBLE",
                               f"{text} was not a valid number.")
            return text, None
        if ptype == "bool":
            low = text.strip().lower()
            if low not in ("true", "false"):
                return problem("INVALID_BOOLEAN", f"{text} was not a valid boolean (true or false).")
            return low, None
        if ptype in ("datetime", "date"):
            ms = parse_timestamp(text)
            if ms is None:
                return problem("INVALID_DATE", f"{text} was not a valid date or timestamp.")
            if ptype == "date":
                if ms % 86_400_000:
                    return problem("INVALID_DATE", f"{text} is not midnight UTC; date properties take a day only.")
                return iso(ms)[:10], None
            return iso(ms), None
        if ptype == "enumeration":
            if prop.get("referencedObjectType") == "OWNER":
                if text not in self.active_owner_ids():
                    return problem("INVALID_OWNER_ID", f"{text} is not a valid owner id")
                return text, None
            allowed = [o["value"] for o in prop["options"]]
            values = text.split(";") if prop["fieldType"] == "checkbox" else [text]
            for v in values:
                if v not in allowed:
                    return problem("INVALID_OPTION",
                                   f"{v} was not one of the allowed options: [{', '.join(allowed)}]")
            return text, None
        return text, None

    def clean_properties(
        self, otype: str, raw: Any, *, creating: bool
    ) -> dict[str, str | None]:
        """Validate a ``properties`` object: unknown or read-only names and bad values raise one HubSpotError
        listing every problem, like HubSpot does."""
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise validation_error("properties must be an object of property name to value.")
        defs = self.properties[otype]
        problems: list[dict[str, Any]] = []
        out: dict[str, str | None] = {}
        for name, value in raw.items():
            prop = defs.get(name)
            if prop is None:
                problems.append({"name": name, "code": "PROPERTY_DOESNT_EXIST",
                                 "message": f'Property "{name}" does not exist'})
                continue
            if prop["modificationMetadata"]["readOnlyValue"]:
                problems.append({"name": name, "code": "READ_ONLY_VALUE",
                                 "message": f"{name} is a read only property; its value cannot be set."})
                continue
            if isinstance(value, dict | list):
                problems.append({"name": name, "code": "INVALID_VALUE",
                                 "message": f"{name} must be a string, number or boolean."})
                continue
            clean, problem = self._clean_value(otype, prop, value)
            if problem:
                problems.append(problem)
            else:
                out[name] = clean
        if creating:
            for name in REQUIRED_ON_CREATE.get(otype, ()):
                if out.get(name) is None:
                    problems.append({"name": name, "code": "REQUIRED_PROPERTY",
                                     "message": f"{name} is required"})
        if problems:
            raise property_errors(problems, self.config.portal_id)
        return out

    # -- indexes --------------------------------------------------------------------------------------------------

    def indexed_ids(self, otype: str, name: str, value: str) -> set[int] | None:
        """Ids of live records whose ``name`` equals ``value`` (case-insensitive), or None if not indexed."""
        if name == "hs_object_id":
            try:
                rid = int(value)
            except ValueError:
                return set()
            rec = self.objects[otype].get(rid)
            return {rid} if rec and not rec.archived else set()
        return self.store.indexed_ids(otype, name, value)

    # -- records --------------------------------------------------------------------------------------------------

    def get(self, otype: str, rid: int | str, *, archived: bool = False) -> Record | None:
        return self.store.get(otype, rid, archived=archived)

    def find(self, otype: str, id_value: str, id_property: str | None) -> Record | None:
        """A live record by id, or by the value of a unique ``id_property`` (e.g. email)."""
        if not id_property or id_property == "hs_object_id":
            return self.get(otype, id_value)
        if id_property not in self.unique_properties(otype):
            raise validation_error(
                f"{id_property} is not a unique property of {otype}; use hs_object_id or a property with "
                "unique values.")
        return self.store.find_unique(otype, id_property, id_value)

    def live(self, otype: str) -> Iterator[Record]:
        return self.store.live(otype)

    def page_ids(self, otype: str, after: int, limit: int, archived: bool) -> tuple[list[Record], int | None]:
        """Records with id > ``after`` in id order (one page), and the cursor of the next page."""
        return self.store.page(otype, after, limit, archived)

    def check_unique(self, otype: str, changes: Mapping[str, str | None], own_id: int | None,
                     pending: dict[tuple[str, str], int] | None = None) -> None:
        clash = self.store.conflict(otype, changes, own_id, self.unique_properties(otype), pending)
        if clash is None:
            return
        name, value, existing = clash
        if otype == "contacts" and name == "email":
            message = f"Contact already exists. Existing ID: {existing}"
        else:
            message = f"A {SINGULAR[otype]} with {name} {value} already exists. Existing ID: {existing}"
        raise HubSpotError(409, "CONFLICT", message, context={"existingObjectId": [str(existing)]})

    def _stamp(self, rec: Record, now: int, *, created: bool) -> None:
        rec.props["hs_object_id"] = str(rec.id)
        created_prop = CREATED_PROPERTY.get(rec.type, "hs_createdate")
        modified_prop = MODIFIED_PROPERTY.get(rec.type, "hs_lastmodifieddate")
        if created:
            rec.props[created_prop] = iso(rec.created)
        rec.props[modified_prop] = iso(now)
        if rec.type == "contacts":
            email = rec.props.get("email")
            if email:
                rec.props["hs_email_domain"] = email.rsplit("@", 1)[-1]
            else:
                rec.props.pop("hs_email_domain", None)

    def insert(self, otype: str, props: Mapping[str, str | None], *, created: int | None = None) -> Record:
        """Store a new record from already-validated values (no checks)."""
        return self.store.insert(otype, props, created=created)

    def apply(self, rec: Record, changes: Mapping[str, str | None]) -> None:
        """Write already-validated values to a record (None clears)."""
        self.store.apply(rec, changes)

    def create(self, otype: str, raw_props: Any, associations: Any = None,
               pending: dict[tuple[str, str], int] | None = None) -> Record:
        """Validate and create one record with its inline associations; nothing is written on error."""
        changes = self.clean_properties(otype, raw_props, creating=True)
        self.check_unique(otype, changes, None, pending)
        links = self.parse_inline_associations(otype, associations)
        rec = self.insert(otype, changes)
        for to_type, to_id, type_ids in links:
            self.associate(otype, rec.id, to_type, to_id, type_ids)
        return rec

    def update(self, rec: Record, raw_props: Any) -> Record:
        changes = self.clean_properties(rec.type, raw_props, creating=False)
        self.check_unique(rec.type, changes, rec.id)
        self.apply(rec, changes)
        return rec

    def archive(self, rec: Record) -> None:
        if rec.archived:
            return
        for to_type, by_id in list(self.associations.get((rec.type, rec.id), {}).items()):
            for to_id in list(by_id):
                self.disassociate(rec.type, rec.id, to_type, to_id)
        self.store.archive(rec)

    def render(self, rec: Record, props: Iterable[str] | None, *, associations: Iterable[str] = (),
               extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A record in the shape of HubSpot's ``SimplePublicObject`` (plus ``associations`` when asked)."""
        names = list(props) if props else list(DEFAULT_PROPERTIES[rec.type])
        values: dict[str, Any] = {}
        nulls = self.config.null_for_missing_properties
        for name in names:
            if name == "num_associated_contacts" and rec.type == "companies":
                values[name] = str(len(self.associations.get(("companies", rec.id), {}).get("contacts", {})))
                continue
            v = rec.props.get(name)
            if v is not None:
                values[name] = v
            elif nulls and name in self.properties[rec.type]:
                values[name] = None
        out: dict[str, Any] = {"id": str(rec.id), "properties": values, "createdAt": iso(rec.created),
                               "updatedAt": iso(rec.updated), "archived": rec.archived}
        if rec.archived and rec.archived_at is not None:
            out["archivedAt"] = iso(rec.archived_at)
        if extra:
            out.update(extra)
        assoc_out: dict[str, Any] = {}
        for to_type in associations:
            linked = self.associations.get((rec.type, rec.id), {}).get(to_type)
            if not linked:
                continue
            results = []
            for to_id, type_ids in linked.items():
                for type_id in sorted(type_ids):
                    t = self.association_types.get(type_id)
                    results.append({"id": str(to_id), "type": t.name if t and t.name else str(type_id)})
            assoc_out[to_type] = {"results": results}
        if assoc_out:
            out["associations"] = assoc_out
        return out

    # -- associations -------------------------------------------------------------------------------------------

    def association_type(self, from_type: str, to_type: str, type_id: int, category: str | None = None
                         ) -> AssociationType:
        t = self.association_types.get(type_id)
        if t is None or t.from_type != from_type or t.to_type != to_type:
            raise validation_error(
                f"{type_id} is not a valid association type id from {SINGULAR[from_type]} to "
                f"{SINGULAR.get(to_type, to_type)}.")
        if category is not None and category != t.category:
            raise validation_error(
                f"association type {type_id} has category {t.category}, not {category}.")
        return t

    def parse_inline_associations(self, otype: str, raw: Any) -> list[tuple[str, int, list[int]]]:
        """``associations`` of a create body -> [(to_type, to_id, type ids)], all checked."""
        if not raw:
            return []
        if not isinstance(raw, list):
            raise validation_error("associations must be a list.")
        out: list[tuple[str, int, list[int]]] = []
        for item in raw:
            try:
                to_id = str(item["to"]["id"])
                specs = item["types"]
            except (KeyError, TypeError):
                raise validation_error("Each association needs to.id and types.") from None
            type_ids: list[int] = []
            to_type: str | None = None
            for spec in specs or []:
                t = self.association_types.get(int(spec.get("associationTypeId", -1)))
                if t is None or t.from_type != otype:
                    raise validation_error(
                        f"{spec.get('associationTypeId')} is not a valid association type id from "
                        f"{SINGULAR[otype]}.")
                if spec.get("associationCategory") not in (None, t.category):
                    raise validation_error(f"association type {t.type_id} has category {t.category}.")
                if to_type not in (None, t.to_type):
                    raise validation_error("All types of one association must point at the same object type.")
                to_type = t.to_type
                type_ids.append(t.type_id)
            if to_type is None:
                raise validation_error("Each association needs at least one type.")
            target = self.get(to_type, to_id)
            if target is None:
                raise HubSpotError(
                    400, "VALIDATION_ERROR",
                    f"One or more associations are invalid: {SINGULAR[to_type]} {to_id} does not exist.",
                    context={"toObjectId": [to_id]})
            out.append((to_type, target.id, type_ids))
        return out

    def _link(self, a_type: str, a_id: int, b_type: str, b_id: int, type_id: int) -> None:
        self.associations.setdefault((a_type, a_id), {}).setdefault(b_type, {}).setdefault(b_id, set()).add(type_id)

    def _unlink(self, a_type: str, a_id: int, b_type: str, b_id: int, type_id: int | None) -> None:
        by_type = self.associations.get((a_type, a_id))
        if not by_type or b_type not in by_type or b_id not in by_type[b_type]:
            return
        if type_id is None:
            del by_type[b_type][b_id]
        else:
            by_type[b_type][b_id].discard(type_id)
            if not by_type[b_type][b_id]:
                del by_type[b_type][b_id]
        if not by_type[b_type]:
            del by_type[b_type]
        if not by_type:
            del self.associations[(a_type, a_id)]

    def associate(self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: Iterable[int]) -> None:
        """Add association types (and their inverses, and the pair's unlabeled default)."""
        default = DEFAULT_TYPE.get((from_type, to_type))
        wanted = list(type_ids)
        if default is not None and default not in wanted:
            wanted.append(default)
        for type_id in wanted:
            t = self.association_types[type_id]
            self._link(from_type, from_id, to_type, to_id, type_id)
            self._link(to_type, to_id, from_type, from_id, t.inverse_id)
            if (from_type, type_id) == ("contacts", PRIMARY_CONTACT_TO_COMPANY):
                self._make_primary(from_id, to_id)
            elif (from_type, type_id) == ("companies", PRIMARY_COMPANY_TO_CONTACT):
                self._make_primary(to_id, from_id)

    def _make_primary(self, contact_id: int, company_id: int) -> None:
        """A contact has one primary company: the previous one stays associated, without the Primary label."""
        linked = self.associations.get(("contacts", contact_id), {}).get("companies", {})
        for other, type_ids in list(linked.items()):
            if other != company_id and PRIMARY_CONTACT_TO_COMPANY in type_ids:
                self._unlink("contacts", contact_id, "companies", other, PRIMARY_CONTACT_TO_COMPANY)
                self._unlink("companies", other, "contacts", contact_id, PRIMARY_COMPANY_TO_CONTACT)
        contact = self.objects["contacts"].get(contact_id)
        if contact is not None:
            contact.props["associatedcompanyid"] = str(company_id)

    def _primary_removed(self, contact_id: int, company_id: int) -> None:
        contact = self.objects["contacts"].get(contact_id)
        if contact is not None and contact.props.get("associatedcompanyid") == str(company_id):
            contact.props.pop("associatedcompanyid", None)

    def disassociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> bool:
        """Remove every association type between two records. Returns False if there was none."""
        linked = self.associations.get((from_type, from_id), {}).get(to_type, {}).get(to_id)
        if not linked:
            return False
        if from_type == "contacts" and to_type == "companies" and PRIMARY_CONTACT_TO_COMPANY in linked:
            self._primary_removed(from_id, to_id)
        if from_type == "companies" and to_type == "contacts" and PRIMARY_COMPANY_TO_CONTACT in linked:
            self._primary_removed(to_id, from_id)
        self._unlink(from_type, from_id, to_type, to_id, None)
        self._unlink(to_type, to_id, from_type, from_id, None)
        return True

    def remove_labels(self, from_type: str, from_id: int, to_type: str, to_id: int, type_ids: Iterable[int]) -> None:
        """Remove some association types; removing the unlabeled default removes the whole association."""
        default = DEFAULT_TYPE.get((from_type, to_type))
        for type_id in type_ids:
            if type_id == default:
                self.disassociate(from_type, from_id, to_type, to_id)
                return
            t = self.association_types[type_id]
            if (from_type, type_id) == ("contacts", PRIMARY_CONTACT_TO_COMPANY):
                self._primary_removed(from_id, to_id)
            elif (from_type, type_id) == ("companies", PRIMARY_COMPANY_TO_CONTACT):
                self._primary_removed(to_id, from_id)
            self._unlink(from_type, from_id, to_type, to_id, type_id)
            self._unlink(to_type, to_id, from_type, from_id, t.inverse_id)

    def associated(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[int]]:
        return self.associations.get((from_type, from_id), {}).get(to_type, {})

    def labels_between(self, from_type: str, from_id: int, to_type: str, to_id: int) -> list[str]:
        type_ids = self.associated(from_type, from_id, to_type).get(to_id, set())
        return sorted(
            self.association_types[t].label or "" for t in type_ids if self.association_types[t].label
        )

    def association_spec(self, type_id: int) -> dict[str, Any]:
        t = self.association_types[type_id]
        spec: dict[str, Any] = {"category": t.category, "typeId": t.type_id}
        if t.label:
            spec["label"] = t.label
        return spec

    def create_label(self, from_type: str, to_type: str, label: str, name: str, inverse: str | None
                     ) -> list[AssociationType]:
        if not label or not name:
            raise validation_error("label and name are required.")
        if any(t.label == label and t.from_type == from_type and t.to_type == to_type
               for t in self.association_types.values()):
            raise HubSpotError(409, "CONFLICT", f"An association label '{label}' already exists.")
        forward = self._next_label_id
        backward = forward + 1 if inverse else forward
        self._next_label_id += 2
        made = [AssociationType(from_type, to_type, forward, backward, label, "USER_DEFINED", name)]
        if inverse:
            made.append(AssociationType(to_type, from_type, backward, forward, inverse, "USER_DEFINED",
                                        f"{name}_inverse"))
        elif from_type != to_type:
            backward = forward + 1
            made[0] = AssociationType(from_type, to_type, forward, backward, label, "USER_DEFINED", name)
            made.append(AssociationType(to_type, from_type, backward, forward, label, "USER_DEFINED", name))
        for t in made:
            self.association_types[t.type_id] = t
        return made

    def labels_for(self, from_type: str, to_type: str) -> list[AssociationType]:
        return sorted((t for t in self.association_types.values()
                       if t.from_type == from_type and t.to_type == to_type), key=lambda t: t.type_id)

    # -- tokens ---------------------------------------------------------------------------------------------------

    @property
    def access_tokens(self) -> dict[str, TokenInfo]:
        return self.tokens.access_tokens

    @property
    def refresh_tokens(self) -> dict[str, RefreshInfo]:
        return self.tokens.refresh_tokens

    @property
    def auth_codes(self) -> dict[str, AuthCode]:
        return self.tokens.auth_codes

    def token_info(self, token: str) -> TokenInfo | None:
        return self.tokens.lookup(token)

    def authenticate(self, request: GatewayRequest) -> TokenInfo:
        return self.authenticate_header(request.headers.get("authorization"))

    def authenticate_header(self, header: str | None) -> TokenInfo:
        """Check ``Authorization: Bearer …``; counts the use; raises 401 like HubSpot."""
        scheme, _, token = (header or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise HubSpotError(
                401, "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                f"find more details at {AUTH_DOCS}")
        try:
            return self.tokens.use(token)
        except TokenProblem as problem:
            if problem.kind == "unknown" or problem.info is None:
                raise HubSpotError(
                    401, "INVALID_AUTHENTICATION",
                    "The access token provided is invalid, or belongs to a different HubSpot account. "
                    f"Authentication credentials not found. More details at {AUTH_DOCS}") from None
            what = "OAuth token" if problem.info.kind == "oauth" else "access token"
            raise HubSpotError(
                401, "EXPIRED_AUTHENTICATION",
                f"The {what} used to make this call expired {_ago(problem.expired_for)} ago.",
                context={"expiredAt": [iso(int((self.config.wall_clock() - problem.expired_for) * 1000))]},
            ) from None

    def expire_tokens(self) -> int:
        """Make every OAuth access token expire now (refresh tokens keep working)."""
        return self.tokens.expire_all()

    def issue_code(self, client_id: str, redirect_uri: str, scopes: Iterable[str] = (),
                   code_challenge: str | None = None, method: str = "S256") -> str:
        return self.tokens.issue_code(client_id, redirect_uri, scopes, code_challenge, method)

    def issue_tokens(self, client_id: str, scopes: Iterable[str] = (), refresh_token: str | None = None
                     ) -> TokenInfo:
        return self.tokens.issue(client_id, scopes, refresh_token)

    def check_client(self, client_id: str, client_secret: str | None, *, secret_required: bool) -> None:
        try:
            self.tokens.check_client(client_id, client_secret, secret_required=secret_required)
        except OAuthProblem as problem:
            raise hubspot_oauth_error(problem) from None

    pkce_ok = staticmethod(pkce_ok)

    def token_lifetime_left(self, info: TokenInfo) -> int:
        return self.tokens.lifetime_left(info)

    # -- limits ---------------------------------------------------------------------------------------------------

    def daily_hit(self, token: str) -> tuple[bool, int]:
        limit = self.config.daily_limit
        if limit is None:
            return True, 0
        self.daily_budget.limit = limit
        return self.daily_budget.spend(token)

    def set_rate_limit(self, limit: RateLimit | None, search: RateLimit | Literal[False] | None = False) -> None:
        self.config.rate_limit = limit
        self.interval_window = RollingWindow(limit) if limit else None
        if search is not False:
            self.config.search_rate_limit = search
            self.search_window = RollingWindow(search) if search else None

    def limit(self, principal: Any, request: GatewayRequest) -> dict[str, str]:
        """Count the request against HubSpot's limits: the rate-limit headers to add, or raise its 429.

        A rolling window per token (``TEN_SECONDLY_ROLLING``) with the interval headers, the search endpoints'
        own window (``SECONDLY``, no headers), and the daily allocation of private-app tokens (``DAILY``)."""
        token: TokenInfo = principal
        cfg = self.config
        now = cfg.clock()
        headers: dict[str, str] = {}
        is_search = bool(SEARCH_PATH.match(request.path))
        if is_search and self.search_window is not None:
            allowed, _ = self.search_window.try_hit(token.token, now)
            if not allowed:
                raise self.rate_limited("SECONDLY", "You have reached your secondly limit.", "publicapi:crm-search")
        if (not is_search or cfg.search_counts_toward_interval) and self.interval_window is not None:
            limit = self.interval_window.limit
            allowed, remaining = self.interval_window.try_hit(token.token, now)
            interval_headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(limit.interval_ms),
                "X-HubSpot-RateLimit-Max": str(limit.max_requests),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
            }
            if not allowed:
                err = self.rate_limited(
                    "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                    "publicapi:private-apps" if token.kind == "private_app" else "publicapi:oauth")
                err.headers.update(interval_headers)
                raise err
            if not is_search:
                headers.update(interval_headers)
        if token.kind == "private_app" and cfg.daily_limit is not None:
            allowed, remaining = self.daily_hit(token.token)
            daily = {"X-HubSpot-RateLimit-Daily": str(cfg.daily_limit),
                     "X-HubSpot-RateLimit-Daily-Remaining": str(remaining)}
            if not allowed:
                err = self.rate_limited("DAILY", "You have reached your daily limit.", "publicapi:private-apps")
                err.headers.update(daily)
                raise err
            if not is_search:
                headers.update(daily)
        return headers

    def rate_limited(self, policy: str, message: str, group: str) -> HubSpotError:
        """HubSpot's 429 body (``errorType`` RATE_LIMIT, ``policyName``, ``groupName``)."""
        err = HubSpotError(429, "RATE_LIMITS", message)
        err.extra = {"errorType": "RATE_LIMIT", "policyName": policy, "groupName": group,
                     "requestId": self.correlation_id()}
        err.limited_by = policy
        return err

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        """HubSpot's answers for what the kit's gateway refuses (HubSpot documents no 413; the sandbox answers
        it in HubSpot's standard error body)."""
        if kind == "server_error":
            status = status or 503
            if status == 500:
                return HubSpotError(500, "INTERNAL_ERROR", message)
            return HubSpotError(status, "SERVICE_UNAVAILABLE", message)
        if kind == "gateway_timeout":
            return HubSpotError(504, "GATEWAY_TIMEOUT", message)
        if kind == "too_large":
            return HubSpotError(413, "VALIDATION_ERROR", message)
        if kind == "not_found":
            return HubSpotError(404, "OBJECT_NOT_FOUND", message)
        if kind == "method_not_allowed":
            return HubSpotError(405, "METHOD_NOT_ALLOWED", message)
        if kind in ("unauthorized", "expired_token"):
            return HubSpotError(401, "INVALID_AUTHENTICATION" if kind == "unauthorized" else "EXPIRED_AUTHENTICATION",
                                message)
        if kind in ("rate_limited", "budget_exhausted"):
            return self.rate_limited("TEN_SECONDLY_ROLLING" if kind == "rate_limited" else "DAILY", message,
                                     "publicapi:private-apps")
        return HubSpotError(status or 400, "VALIDATION_ERROR", message)

    # -- the control API ------------------------------------------------------------------------------------------

    def state_json(self) -> dict[str, Any]:
        cfg = self.config
        return {
            "vendor": self.vendor,
            "counts": self.counts(),
            "portalId": cfg.portal_id,
            "rateLimit": str(cfg.rate_limit) if cfg.rate_limit else None,
            "searchRateLimit": str(cfg.search_rate_limit) if cfg.search_rate_limit else None,
            "dailyLimit": cfg.daily_limit,
            "faults": cfg.faults.as_json(),
            "batchErrors": cfg.batch_errors,
        }

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        try:
            contacts = int(body.get("contacts", 0))
            companies = body.get("companies")
            return self.seed(contacts, None if companies is None else int(companies))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"contacts and companies must be integers: {exc}") from None

    def limits_json(self) -> dict[str, Any]:
        cfg = self.config
        return {"rate_limit": str(cfg.rate_limit) if cfg.rate_limit else None,
                "search_rate_limit": str(cfg.search_rate_limit) if cfg.search_rate_limit else None,
                "daily_limit": cfg.daily_limit}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``{"rate_limit": "190/10s" | null, "search_rate_limit": …, "daily_limit": N | null}``."""
        unknown = sorted(set(values) - {"rate_limit", "search_rate_limit", "daily_limit"})
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(unknown)}; known: rate_limit, search_rate_limit, "
                             "daily_limit")
        limit = ((RateLimit.parse(values["rate_limit"]) if values["rate_limit"] else None)
                 if "rate_limit" in values else self.config.rate_limit)
        search: RateLimit | Literal[False] | None = False
        if "search_rate_limit" in values:
            search = RateLimit.parse(values["search_rate_limit"]) if values["search_rate_limit"] else None
        daily = self.config.daily_limit
        if "daily_limit" in values:
            daily = None if values["daily_limit"] is None else int(values["daily_limit"])
            if daily is not None and daily < 1:
                raise ValueError("daily_limit must be a positive number or null")
        self.set_rate_limit(limit, search)
        self.config.daily_limit = daily
        return self.limits_json()

    def issue_code_for_control(self, body: Mapping[str, Any]) -> str:
        return self.issue_code(str(body.get("client_id", "sandbox-client")),
                               str(body.get("redirect_uri", "http://127.0.0.1/callback")),
                               body.get("scopes") or (), body.get("code_challenge"),
                               str(body.get("code_challenge_method", "S256")))

    # -- seeding --------------------------------------------------------------------------------------------------

    def seed(self, contacts: int, companies: int | None = None) -> dict[str, int]:
        """Add ``contacts`` sample contacts and ``companies`` sample companies (default: a tenth as many),
        deterministic for the configured ``random_seed``; most contacts get a primary company."""
        if companies is None:
            companies = max(1, contacts // 10) if contacts else 0
        owner_ids = self.active_owner_ids()
        seed = self.config.random_seed + len(self.store.ids["contacts"]) + len(self.store.ids["companies"])
        base = SEED_EPOCH_MS
        company_recs: list[Record] = []
        company_props: list[dict[str, str]] = []
        for i, company in enumerate(sample_companies(companies, seed, owner_ids)):
            rec = self._seed_insert("companies", company.properties, base + i * 60_000)
            company_recs.append(rec)
            company_props.append(rec.props)
        associated = 0
        unique_email = self.store.unique_index("contacts", "email")

        def link(contact_id: int, company_id: int, type_id: int) -> None:
            self._link("contacts", contact_id, "companies", company_id, type_id)
            self._link("companies", company_id, "contacts", contact_id, self.association_types[type_id].inverse_id)
        for i, sample in enumerate(
            sample_contacts(contacts, seed, company_props, owner_ids, self.config.associate_ratio)
        ):
            props = sample.properties
            if props["email"] in unique_email:
                local, _, domain = props["email"].partition("@")
                props["email"] = f"{local}.{self.store.next_id}@{domain}"
            rec = self._seed_insert("contacts", props, base + i * 30_000)
            # A new contact has no associations yet, so the links are written directly (no primary to move).
            if sample.company_index is not None:
                primary = company_recs[sample.company_index].id
                link(rec.id, primary, UNLABELED_CONTACT_TO_COMPANY)
                link(rec.id, primary, PRIMARY_CONTACT_TO_COMPANY)
                rec.props["associatedcompanyid"] = str(primary)
                associated += 1
                if sample.extra_company_index is not None:
                    link(rec.id, company_recs[sample.extra_company_index].id, UNLABELED_CONTACT_TO_COMPANY)
        return {"contacts": contacts, "companies": companies, "associated": associated}

    def _seed_insert(self, otype: str, props: dict[str, str], created: int) -> Record:
        return self.store.insert(otype, props, created=created, owned=True)


_OAUTH_CODES = {"bad_code": "BAD_AUTH_CODE", "bad_verifier": "BAD_AUTH_CODE", "bad_client_id": "BAD_CLIENT_ID",
                "bad_client_secret": "BAD_CLIENT_SECRET", "bad_redirect_uri": "BAD_REDIRECT_URI",
                "bad_refresh_token": "BAD_REFRESH_TOKEN", "bad_grant_type": "BAD_GRANT_TYPE"}


def hubspot_oauth_error(problem: OAuthProblem) -> HubSpotError:
    """The kit's OAuth refusal in HubSpot's words."""
    return oauth_error(_OAUTH_CODES[problem.reason], problem.message)


def oauth_error(status: str, message: str, http_status: int = 400) -> HubSpotError:
    """HubSpot's OAuth errors carry their code in ``status`` (e.g. BAD_REFRESH_TOKEN)."""
    err = HubSpotError(http_status, status, message)
    err.extra = {"status": status}
    return err


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}(s)"
    return f"{seconds} second(s)"


def is_engagement(otype: str) -> bool:
    return otype in ENGAGEMENTS
