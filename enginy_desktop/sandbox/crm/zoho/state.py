"""State and rules of the Zoho CRM emulator: one organisation with users, Contacts and Accounts (with their fields
and picklists), Notes, Calls and Tasks; writes of 100 records with per-record results; upsert on
``duplicate_check_fields``; a COQL subset; API credits per 24 hours and the edition's concurrency; OAuth.

Vendor facts: ``apis/crm_apis.md`` §6, ``specs/zoho/v8.0`` (record.json, fields.json, users.json, coql.json,
notes.json); https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html; credits and concurrency from
Kaizen #93 (https://help.zoho.com/portal/en/community/topic/credit-calculation-and-concurrency-in-zoho-crm-apis).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...kit import Budget, Emulator, EmulatorConfig, GatewayRequest, TokenProblem, TokenStore, VendorError
from ...kit.errors import ErrorKind

DEFAULT_TOKEN = "1000.sandbox0zoho0access0token.0000"  # a made-up access token (Self Client style)  # noqa: S105
DEFAULT_CLIENT_ID = "1000.SANDBOXZOHOCLIENT"
DEFAULT_CLIENT_SECRET = "sandbox-zoho-secret"  # noqa: S105 - a made-up sandbox value
EDITIONS = {"Free": (5_000, 0, 5_000, 5), "Standard": (50_000, 250, 100_000, 10),
            "Professional": (50_000, 500, 1_000_000, 15), "Enterprise": (50_000, 1_000, 2_000_000, 20),
            "Ultimate": (50_000, 2_000, None, 25)}
MODULES = ("Contacts", "Accounts", "Notes", "Calls", "Tasks")
BATCH = 100


class ZohoError(VendorError):
    """``{"code": …, "details": {…}, "message": …, "status": "error"}``."""

    def __init__(self, status: int, code: str, message: str, *, details: dict[str, Any] | None = None,
                 limited_by: str | None = None) -> None:
        super().__init__(status, message, limited_by=limited_by)
        self.code = code
        self.details = details or {}

    def payload(self, emulator: Emulator) -> Any:
        return {"code": self.code, "details": self.details, "message": self.message, "status": "error"}


def invalid(message: str, **details: Any) -> ZohoError:
    return ZohoError(400, "INVALID_DATA", message, details=details)


def _field(api_name: str, label: str, data_type: str, *, read_only: bool = False, mandatory: bool = False,
           custom: bool = False, options: list[str] | None = None, unique: bool = False) -> dict[str, Any]:
    """A ``settings/fields`` item (spec ``fields.json``)."""
    item: dict[str, Any] = {
        "api_name": api_name, "field_label": label, "display_label": label, "data_type": data_type,
        "read_only": read_only, "field_read_only": read_only, "system_mandatory": mandatory,
        "custom_field": custom, "id": str(abs(hash((api_name, label))) % 10**18), "visible": True,
        "length": 255,
        "pick_list_values": [{"display_value": o, "actual_value": o, "id": str(1000 + i)}
                             for i, o in enumerate(options or [])],
    }
    if unique:
        item["unique"] = {"casesensitive": False}
    return item


FIELDS: dict[str, list[dict[str, Any]]] = {
    "Contacts": [
        _field("First_Name", "First Name", "text"), _field("Last_Name", "Last Name", "text", mandatory=True),
        _field("Email", "Email", "email", unique=True), _field("Phone", "Phone", "phone"),
        _field("Title", "Title", "text"), _field("Owner", "Contact Owner", "ownerlookup"),
        _field("Account_Name", "Account Name", "lookup"),
        _field("Lead_Source", "Lead Source", "picklist", options=["Advertisement", "Cold Call", "Enginy",
                                                                   "Web Download"]),
        _field("Interests", "Interests", "multiselectpicklist", custom=True,
               options=["Product", "Pricing", "Partnership"]),
        _field("Score", "Score", "double", custom=True), _field("Date_of_Birth", "Date of Birth", "date"),
        _field("Created_Time", "Created Time", "datetime", read_only=True),
        _field("Modified_Time", "Modified Time", "datetime", read_only=True),
    ],
    "Accounts": [
        _field("Account_Name", "Account Name", "text", mandatory=True), _field("Website", "Website", "website"),
        _field("Owner", "Account Owner", "ownerlookup"), _field("Phone", "Phone", "phone"),
        _field("Industry", "Industry", "picklist", options=["Technology", "Finance", "Retail", "Services"]),
        _field("Employees", "Employees", "integer"), _field("Annual_Revenue", "Annual Revenue", "currency"),
        _field("Created_Time", "Created Time", "datetime", read_only=True),
        _field("Modified_Time", "Modified Time", "datetime", read_only=True),
    ],
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


@dataclass
class ZohoSandboxConfig(EmulatorConfig):
    access_tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    edition: str = "Enterprise"
    user_licences: int = 5
    daily_credits: int | str | None = "edition"  # "edition": the edition's formula; None: unlimited
    concurrency: int | str | None = "edition"
    seed_contacts: int = 0
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    token_lifetime_s: float = 3600.0
    processing_ms: float = 0.0  # time each API request spends in Zoho (holding its concurrent slot)
    org_name: str = "Sandbox Organisation"

    def credits(self) -> int | None:
        if self.daily_credits == "edition":
            base, per_user, maximum, _ = EDITIONS[self.edition]
            total = base + per_user * self.user_licences
            return min(total, maximum) if maximum else total
        return self.daily_credits if isinstance(self.daily_credits, int) else None

    def max_in_flight(self) -> int | None:
        if self.concurrency == "edition":
            return EDITIONS[self.edition][3]
        return self.concurrency if isinstance(self.concurrency, int) else None


class ZohoSandbox(Emulator):
    vendor = "Zoho CRM"
    public_paths = ("/oauth/",)
    tokens: TokenStore

    def __init__(self, config: ZohoSandboxConfig | None = None) -> None:
        self.config: ZohoSandboxConfig = config or ZohoSandboxConfig()
        super().__init__(self.config)
        c = self.config
        self.tokens = TokenStore(static=c.access_tokens, static_kind="self_client", clock=c.clock,
                                 faults=lambda: self.config.faults, access_lifetime_s=c.token_lifetime_s,
                                 clients={c.client_id: c.client_secret}, prefixes=("1000.", "1000.r", "1000.c"))
        self.credits = Budget(c.credits() or 0, "day", wall_clock=c.wall_clock)
        self.in_flight = 0
        self.max_in_flight_seen = 0
        self.reset()

    # -- state -------------------------------------------------------------------------------------------------
    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.records: dict[str, dict[str, dict[str, Any]]] = {m: {} for m in MODULES}
        self.next_id = 5_725_767_000_000_100_001
        self.users = [
            {"id": str(5_725_767_000_000_000_001 + i), "first_name": first, "last_name": last,
             "email": f"{first.lower()}@sandbox.example", "status": "active" if i < 3 else "disabled",
             "full_name": f"{first} {last}"}
            for i, (first, last) in enumerate([("Ada", "Admin"), ("Bruno", "Sales"), ("Chloe", "Sales"),
                                               ("Dan", "Gone")])]
        self.credits.reset()
        if seed and self.config.seed_contacts:
            rng = random.Random(self.config.random_seed)  # noqa: S311 - sample data
            accounts = [self.insert("Accounts", {"Account_Name": f"Company {i}", "Website": f"company{i}.test"})
                        for i in range(max(1, self.config.seed_contacts // 10))]
            for i in range(self.config.seed_contacts):
                self.insert("Contacts", {"First_Name": f"First{i}", "Last_Name": f"Last{i}",
                                         "Email": f"person{i}@example.test",
                                         "Account_Name": {"id": rng.choice(accounts)["id"]}})

    def counts(self) -> dict[str, int]:
        return {m.lower(): len(v) for m, v in self.records.items()} | {"users": len(self.users)}

    def state_json(self) -> dict[str, Any]:
        return {**self.counts(), **self.limits_json()}

    def limits_json(self) -> dict[str, Any]:
        return {"edition": self.config.edition, "daily_credits": self.config.credits(),
                "credits_left": self.credits.remaining("org") if self.config.credits() is not None else None,
                "concurrency": self.config.max_in_flight()}

    def active_user_ids(self) -> list[str]:
        return [u["id"] for u in self.users if u["status"] == "active"]

    def now(self) -> str:
        return datetime.fromtimestamp(self.config.wall_clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def insert(self, module: str, values: dict[str, Any]) -> dict[str, Any]:
        rid = str(self.next_id)
        self.next_id += 1
        now = self.now()
        owner = self.users[0]
        record = {"Owner": {"id": owner["id"], "name": owner["full_name"], "email": owner["email"]}, **values,
                  "id": rid, "Created_Time": now, "Modified_Time": now}
        self._expand(record)
        self.records[module][rid] = record
        return record

    def modify(self, module: str, rid: str, values: dict[str, Any]) -> dict[str, Any]:
        record = self.records[module][rid]
        record.update(values)
        record["Modified_Time"] = self.now()
        self._expand(record)
        return record

    def _expand(self, record: dict[str, Any]) -> None:
        """Lookups as Zoho answers them: ``{id, name}`` (owners with their e-mail)."""
        for key, value in list(record.items()):
            if value is None:
                record.pop(key)
        account = record.get("Account_Name")
        if isinstance(account, dict):
            found = self.records["Accounts"].get(str(account.get("id")))
            record["Account_Name"] = {"id": str(account.get("id")),
                                      "name": found["Account_Name"] if found else None}
        owner = record.get("Owner")
        if isinstance(owner, dict):
            user = next((u for u in self.users if u["id"] == str(owner.get("id"))), None)
            if user:
                record["Owner"] = {"id": user["id"], "name": user["full_name"], "email": user["email"]}

    # -- validation of one record of a write -------------------------------------------------------------------
    def check_record(self, module: str, values: Any, *, creating: bool) -> dict[str, Any] | None:
        """None when ``values`` may be written, else Zoho's per-record error item."""
        if not isinstance(values, dict):
            return {"code": "INVALID_DATA", "details": {}, "message": "invalid data", "status": "error"}
        fields = {f["api_name"]: f for f in FIELDS.get(module, [])}
        for name, value in values.items():
            if name in ("id", "$se_module") or module not in FIELDS:
                continue
            f = fields.get(name)
            if f is None:
                return _bad(f"the field {name} is not available", name)
            if f["read_only"]:
                return _bad("the field is read only", name)
            if value is None:
                continue
            kind = f["data_type"]
            if kind == "email" and not _EMAIL.match(str(value)):
                return _bad("invalid data", name)
            if kind in ("double", "integer", "currency") and (isinstance(value, bool)
                                                             or not isinstance(value, int | float)):
                return _bad("invalid data", name)
            if kind == "picklist" and value not in [o["actual_value"] for o in f["pick_list_values"]]:
                return _bad("invalid data", name)
            if kind == "multiselectpicklist" and (not isinstance(value, list) or any(
                    v not in [o["actual_value"] for o in f["pick_list_values"]] for v in value)):
                return _bad("invalid data", name)
            if kind == "ownerlookup" and (not isinstance(value, dict)
                                          or str(value.get("id")) not in self.active_user_ids()):
                return _bad("invalid data", name)
            if kind == "lookup" and (not isinstance(value, dict)
                                     or str(value.get("id")) not in self.records["Accounts"]):
                return _bad("invalid data", name)
        if creating:
            for f in FIELDS.get(module, []):
                if f["system_mandatory"] and not values.get(f["api_name"]):
                    return {"code": "MANDATORY_NOT_FOUND", "details": {"api_name": f["api_name"],
                                                                       "json_path": f"$.data[0].{f['api_name']}"},
                            "message": "required field not found", "status": "error"}
        return None

    def duplicate(self, module: str, values: dict[str, Any], own: str | None) -> str | None:
        """The id of another record with the same unique value (Contacts' Email)."""
        email = values.get("Email") if module == "Contacts" else None
        if not email:
            return None
        for rid, r in self.records[module].items():
            if rid != own and str(r.get("Email") or "").lower() == str(email).lower():
                return rid
        return None

    # -- the gateway hooks ---------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> Any:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme != "Zoho-oauthtoken" or not token:
            raise ZohoError(401, "AUTHENTICATION_FAILURE", "Authentication failed")
        try:
            return self.tokens.use(token.strip())
        except TokenProblem:
            raise ZohoError(401, "INVALID_TOKEN", "invalid oauth token") from None

    def limit(self, principal: Any, request: GatewayRequest) -> dict[str, str]:
        if self.config.credits() is not None:
            self.credits.limit = self.config.credits() or 0
            allowed, _ = self.credits.spend("org", 1)
            if not allowed or self.config.faults.credits_exhausted:
                raise ZohoError(429, "TOO_MANY_REQUESTS", "API credits limit reached for the last 24 hours",
                                details={"limit_type": "credits"}, limited_by="credits")
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        codes = {"not_found": (404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a "
                                                         "correct one"),
                 "method_not_allowed": (405, "INVALID_REQUEST_METHOD", "The http request method type is not a "
                                                                       "valid one"),
                 "too_large": (413, "INVALID_DATA", message), "bad_request": (400, "INVALID_DATA", message)}
        st, code, text = codes.get(kind, (status or 500, "INTERNAL_ERROR", message))
        return ZohoError(status or st, code, text)


def _bad(message: str, api_name: str) -> dict[str, Any]:
    return {"code": "INVALID_DATA", "details": {"api_name": api_name, "json_path": f"$.data[0].{api_name}"},
            "message": message, "status": "error"}
