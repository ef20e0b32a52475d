"""State and rules of the Dynamics 365 (Dataverse Web API v9.2) emulator: one environment with system users,
accounts, contacts, e-mails, phone calls and notes; column validation from the table metadata
(:mod:`.metadata`); lookups set through ``@odata.bind``; alternate keys; the service protection limits; the OData
error body.

- Errors ``{"error": {"code": "0x…", "message": …}}``:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors
- Service protection limits (per user, 5-minute sliding window: 6,000 requests, 1,200 s of execution time, 52
  concurrent requests; 429 with ``Retry-After``; codes ``0x80072322`` / ``0x80072321`` / ``0x80072326``):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/api-limits
- Associating with ``@odata.bind`` and disassociating with ``null``:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
- Upsert by alternate key (``If-Match: *`` update only, ``If-None-Match: *`` create only):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/use-upsert-insert-update-record
"""

from __future__ import annotations

import math
import random
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ...kit import (
    Emulator,
    EmulatorConfig,
    GatewayRequest,
    ODataError,
    RollingWindow,
    TokenInfo,
    TokenProblem,
    TokenStore,
    VendorError,
    WindowSetting,
    sample_counts,
)
from ...kit.errors import ErrorKind
from .metadata import BY_SET, LOOKUP_KINDS, TABLES, Column, Table, property_name

API = "/api/data/v9.2"
DEFAULT_TOKEN = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0.sandbox-dataverse.enginy-local"  # a made-up bearer token
DEFAULT_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"  # Microsoft's sample public client id in their docs
ORG_ID = "7d0b3f4e-0000-4000-8000-00000000d365"
BUSINESS_UNIT = "7d0b3f4e-0000-4000-8000-0000000b0001"
REQUESTS_PER_WINDOW = 6000
WINDOW_S = 300.0


class DynamicsError(ODataError):
    """The OData error body Dataverse answers with."""


def bad(message: str, code: str = "0x80044331", status: int = 400) -> DynamicsError:
    return DynamicsError(status, code, message)


def missing(table: str, rid: str) -> DynamicsError:
    return DynamicsError(404, "0x80040217", f"{table} With Id = {rid} Does Not Exist")


@dataclass
class DynamicsSandboxConfig(EmulatorConfig):
    access_tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    client_id: str = DEFAULT_CLIENT_ID
    # Service protection: requests per user in any 5-minute window (None: no limit).
    requests_per_window: int | None = REQUESTS_PER_WINDOW
    window_s: float = WINDOW_S
    page_size: int = 5000  # records per page unless ``Prefer: odata.maxpagesize`` asks fewer
    alternate_keys: dict[str, tuple[str, ...]] = field(default_factory=dict)  # table -> key columns
    seed_contacts: int = 0
    seed_accounts: int | None = None
    org_name: str = "Sandbox Environment"
    token_lifetime_s: float = 3600.0


class DynamicsSandbox(Emulator):
    vendor = "Dynamics 365"
    public_paths = ("/common/", "/organizations/", "/sandbox-tenant/")
    oauth_redirect_uri = "http://localhost"  # Entra ID accepts a loopback address on any port
    tokens: TokenStore
    window_limit: WindowSetting  # service protection: requests per user in the window

    def __init__(self, config: DynamicsSandboxConfig | None = None) -> None:
        cfg = config or DynamicsSandboxConfig()
        super().__init__(cfg)
        self.config: DynamicsSandboxConfig = cfg
        self.window_limit = WindowSetting("requests_per_window", cfg.requests_per_window, cfg.window_s)
        self.tokens = TokenStore(static=cfg.access_tokens, static_kind="bearer", clock=cfg.clock,
                                 faults=lambda: self.config.faults, access_lifetime_s=cfg.token_lifetime_s,
                                 default_scopes=("user_impersonation",), user_id=1, clients=None)
        self.requests_used = 0
        self._init_data()
        self.seed(cfg.seed_contacts, cfg.seed_accounts)

    def _init_data(self) -> None:
        self.rng = random.Random(self.config.random_seed)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in TABLES}
        for first, last, disabled in (("Sandra", "Sandbox", False), ("Oscar", "Owner", False),
                                      ("Fiona", "Former", True)):
            email = f"{first.lower()}@sandbox.example"
            self.insert("systemuser", {"firstname": first, "lastname": last, "internalemailaddress": email,
                                       "domainname": email, "isdisabled": disabled}, check=False)

    @property
    def window(self) -> RollingWindow | None:
        """The service protection window of requests per user (None: off)."""
        return self.window_limit.window

    # -- ids, records ------------------------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> str:
        return datetime.fromtimestamp(self.config.wall_clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def user_ids(self, active_only: bool = True) -> list[str]:
        return [rid for rid, u in self.records["systemuser"].items() if not (active_only and u["isdisabled"])]

    def find(self, table: str, rid: str) -> dict[str, Any] | None:
        return self.records[table].get(str(rid).lower())

    def _value(self, t: Table, c: Column, value: Any) -> Any:
        where = f"'{c.name}' attribute of the '{t.name}' entity"
        if value is None:
            return None
        kind = c.kind
        if kind in ("String", "Memo"):
            if not isinstance(value, str):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.String'.", "0x80060888")
            if c.max_length and len(value) > c.max_length:
                raise bad(f"A validation error occurred. The length of the {where} exceeded the maximum allowed "
                          f"length of '{c.max_length}'.")
            return value
        if kind == "Boolean":
            if not isinstance(value, bool):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.Boolean'.", "0x80060888")
            return value
        if kind in ("Integer", "Picklist"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.Int32'.", "0x80060888")
            if kind == "Picklist" and value not in {v for v, _ in c.options}:
                raise bad(f"A validation error occurred. The value {value} of {where} is outside the valid range.",
                          "0x8004431a")
            return value
        if kind in ("Money", "Decimal"):
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.Decimal'.", "0x80060888")
            return value
        if kind == "DateTime":
            pattern = r"\d{4}-\d{2}-\d{2}" if c.date_only else r"\d{4}-\d{2}-\d{2}(T[0-9:.]+(Z|[+-]\d{2}:\d{2}))?"
            if not isinstance(value, str) or not re.fullmatch(pattern, value):
                raise bad(f"Cannot convert the literal '{value}' to the expected type "
                          f"'{'Edm.Date' if c.date_only else 'Edm.DateTimeOffset'}'.", "0x80060888")
            return value
        raise bad(f"The property '{c.name}' cannot be set.", "0x80060888")

    def _bind(self, t: Table, nav: str, target: Any) -> tuple[str, str | None]:
        """(lookup column, record id or None) of ``nav@odata.bind``."""
        if nav not in t.navigation:
            raise bad(f"An undeclared property '{nav}' which only has property annotations in the payload but no "
                      "property value was found in the payload.", "0x80060888")
        column, table = t.navigation[nav]
        if target is None:
            return column, None
        m = re.search(r"(?:^|/)([a-z_]+)\(([0-9a-fA-F-]{36})\)$", str(target))
        if not m or m.group(1) != TABLES[table].entity_set:
            raise bad(f"Invalid URI for {nav}@odata.bind: '{target}' does not name a record of "
                      f"{TABLES[table].entity_set}.", "0x80060888")
        if self.find(table, m.group(2)) is None:
            raise missing(table, m.group(2).lower())
        if table == "systemuser" and self.find(table, m.group(2))["isdisabled"]:  # type: ignore[index]
            raise bad("The specified user is disabled. Consider re-enabling the disabled user.", "0x80040225")
        return column, m.group(2).lower()

    def check(self, t: Table, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """A request body as stored values (Web API property names). Raises the error Dataverse answers."""
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key.startswith("@") or key.endswith("@odata.type"):
                continue
            if key.endswith("@odata.bind"):
                column, rid = self._bind(t, key.removesuffix("@odata.bind"), value)
                out[f"_{column}_value"] = rid
                if rid is not None:
                    out[f"_{column}_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = \
                        t.navigation[key.removesuffix("@odata.bind")][1]
                continue
            c = t.column(key)
            if c is None or c.kind in LOOKUP_KINDS:
                hint = " Lookups are set with their navigation property and @odata.bind." if c else ""
                raise bad(f"Invalid property '{key}' was found in entity 'Microsoft.Dynamics.CRM.{t.name}'.{hint}",
                          "0x80060888")
            if not (c.create if creating else c.update):
                raise bad(f"The '{c.name}' attribute of the '{t.name}' entity cannot be "
                          f"{'set on create' if creating else 'updated'}.", "0x80048d19")
            out[key] = self._value(t, c, value)
        return out

    def _derive(self, t: Table, record: dict[str, Any]) -> None:
        if t.name in ("contact", "systemuser"):
            record["fullname"] = " ".join(p for p in (record.get("firstname"), record.get("lastname")) if p)

    def insert(self, table: str, body: Mapping[str, Any], *, check: bool = True, rid: str = "") -> dict[str, Any]:
        t = TABLES[table]
        clean = self.check(t, body, creating=True) if check else dict(body)
        self._key_clash(t, clean, "")
        now = self.now()
        record: dict[str, Any] = {property_name(c): None for c in t.columns}
        record.update({t.primary_id: rid or self.new_id(), "createdon": now, "modifiedon": now})
        if "_ownerid_value" in record:
            record["_ownerid_value"] = self.user_ids()[0]
            record["_ownerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "systemuser"
        if table == "contact":
            record["donotemail"] = False
        record.update(clean)
        self._derive(t, record)
        self.records[table][record[t.primary_id]] = record
        return record

    def modify(self, table: str, rid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        t = TABLES[table]
        record = self.find(table, rid)
        if record is None:
            raise missing(table, rid)
        clean = self.check(t, body, creating=False)
        self._key_clash(t, {**record, **clean}, record[t.primary_id])
        record.update(clean)
        record["modifiedon"] = self.now()
        self._derive(t, record)
        return record

    def delete(self, table: str, rid: str) -> None:
        if self.find(table, rid) is None:
            raise missing(table, rid)
        del self.records[table][rid.lower()]

    def _key_clash(self, t: Table, values: Mapping[str, Any], own: str) -> None:
        key = self.config.alternate_keys.get(t.name)
        if not key or any(values.get(k) in (None, "") for k in key):
            return
        wanted = tuple(str(values[k]).casefold() for k in key)
        for rid, r in self.records[t.name].items():
            if rid != own and tuple(str(r.get(k) or "").casefold() for k in key) == wanted:
                raise DynamicsError(412, "0x80060892", "A record with the specified key values already exists.")

    def by_alternate_key(self, table: str, keys: Mapping[str, Any]) -> dict[str, Any] | None:
        defined = self.config.alternate_keys.get(table)
        if not defined or set(defined) != set(keys):
            raise bad(f"The key used to look up the {table} is not defined as an alternate key of the table.",
                      "0x80060891")
        wanted = {k: str(v).casefold() for k, v in keys.items()}
        found = [r for r in self.records[table].values()
                 if all(str(r.get(k) or "").casefold() == v for k, v in wanted.items())]
        return found[0] if found else None

    def view(self, table: str, record: Mapping[str, Any], select: list[str] | None) -> dict[str, Any]:
        t = TABLES[table]
        names = select or [property_name(c) for c in t.columns]
        out: dict[str, Any] = {"@odata.etag": f'W/"{abs(hash(record.get("modifiedon"))) % 10**8}"'}
        for n in names:
            out[n] = record.get(n)
            if n.startswith("_") and record.get(n) is not None:
                out[f"{n}@Microsoft.Dynamics.CRM.lookuplogicalname"] = record.get(
                    f"{n}@Microsoft.Dynamics.CRM.lookuplogicalname")
        if t.primary_id not in out:
            out[t.primary_id] = record[t.primary_id]
        return out

    # -- hooks ---------------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> TokenInfo:
        try:
            return self.tokens.use(request.bearer())
        except TokenProblem:
            raise DynamicsError(401, "0x80040220", "The user is not authenticated: the bearer token is missing, "
                                "invalid or expired.", headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}
                                ) from None

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        self.requests_used += 1
        if self.window is None:
            return {}
        who = str(getattr(principal, "user_id", "") or "user")
        allowed, remaining = self.window.try_hit(who, self.config.clock())
        if not allowed:
            self.requests_used -= 1
            retry = max(1, math.ceil(self._retry_after(who)))
            raise DynamicsError(429, "0x80072322", f"Number of requests exceeded the limit of "
                                f"{self.window.limit.max_requests} over time window of "
                                f"{int(self.window.limit.interval_s)} seconds.",
                                headers={"Retry-After": str(retry)}, limited_by="service_protection_requests")
        return {"x-ms-ratelimit-burst-remaining-xrm-requests": str(remaining)}

    def _retry_after(self, who: str) -> float:
        assert self.window is not None
        return self.window.wait_s(who, self.config.clock()) or 1.0

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        table = {"unauthorized": (401, "0x80040220"), "expired_token": (401, "0x80040220"),
                 "not_found": (404, "0x80060888"), "method_not_allowed": (405, "0x80060888"),
                 "too_large": (413, "0x80040216"), "bad_request": (400, "0x80040216"),
                 "rate_limited": (429, "0x80072322"), "budget_exhausted": (429, "0x80072322"),
                 "gateway_timeout": (504, "0x80040216")}
        code, name = table.get(kind, (status or 503, "0x80040216"))
        return DynamicsError(status or code, name, message,
                             headers={"Retry-After": "5"} if (status or code) == 429 else None)

    # -- control API -----------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = super().counts()
        out.update(contacts=len(self.records["contact"]), accounts=len(self.records["account"]),
                   users=len(self.records["systemuser"]), emails=len(self.records["email"]),
                   phonecalls=len(self.records["phonecall"]), notes=len(self.records["annotation"]),
                   api_requests_used=self.requests_used)
        return out

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self._init_data()
        self.requests_used = 0
        if seed:
            self.seed(self.config.seed_contacts, self.config.seed_accounts)

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.seed(*sample_counts(body, ("contacts",), ("accounts", "companies")))

    def seed(self, contacts: int, accounts: int | None = None) -> dict[str, int]:
        rng = random.Random(self.config.random_seed)
        n_accounts = accounts if accounts is not None else contacts // 10
        owners = self.user_ids()
        made = [self.insert("account", {"name": f"Sample Company {i + 1}",
                                        "websiteurl": f"https://sample{i + 1}.example",
                                        "_ownerid_value": owners[i % len(owners)]}, check=False)["accountid"]
                for i in range(n_accounts)]
        first = ["Ana", "Ben", "Carla", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena"]
        last = ["Garcia", "Smith", "Rossi", "Kim", "Novak", "Okafor", "Silva", "Berg", "Costa", "Ito"]
        for i in range(contacts):
            f, la = rng.choice(first), rng.choice(last)
            values: dict[str, Any] = {"firstname": f, "lastname": la, "jobtitle": rng.choice(["CEO", "CTO"]),
                                      "emailaddress1": f"{f.lower()}.{la.lower()}.{i + 1}@sample.example",
                                      "_ownerid_value": owners[i % len(owners)]}
            if made and rng.random() < 0.7:
                values["_parentcustomerid_value"] = made[rng.randrange(len(made))]
                values["_parentcustomerid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] = "account"
            self.insert("contact", values, check=False)
        return {"contacts": contacts, "accounts": n_accounts}


__all__ = [
    "API",
    "BY_SET",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_TOKEN",
    "DynamicsError",
    "DynamicsSandbox",
    "DynamicsSandboxConfig",
]
