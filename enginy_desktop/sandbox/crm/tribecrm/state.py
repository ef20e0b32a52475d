"""State and rules of the TribeCRM emulator: one environment with employees, persons, organisations, the contact
relationships between them, tasks and notes; values checked against the entity sets of :mod:`.metadata`;
references written as ``{"Nav": {"ID": …}}``; the rate limit; the OData error body.

- Authentication: OAuth 2.0 bearer tokens from ``/oauth2/token``: authorization code and refresh, and client
  credentials for an application of the Client Credentials tab ("server-to-server integrations operating at the
  organizational level"), https://developer.tribecrm.nl/docs/api/concepts/authentication; the client-credentials
  request is a form ``grant_type=client_credentials&client_id=…&client_secret=…`` answered
  ``{"access_token", "token_type": "bearer", "expires_in"}``, without a refresh token: a new one is asked for when it
  expires, https://developer.tribecrm.nl/docs/tutorials/getting-started-postman (Step 1.1, 1.3)
- Limits: at most 100 records per GET and 1,000 calls per minute per application on a sliding window; over the
  limit HTTP 429, with no rate-limit headers documented:
  https://developer.tribecrm.nl/docs/api/concepts/rate-limits
- Errors: TribeCRM documents no error body; the emulator answers OData's ``{"error": {"code", "message"}}`` (OData
  JSON Format §21), which is what its OData service stack answers.
"""

from __future__ import annotations

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
    TokenInfo,
    TokenProblem,
    TokenStore,
    VendorError,
    WindowSetting,
    sample_counts,
)
from ...kit.errors import ErrorKind
from .metadata import LINKEDIN_FIELD, NAMESPACE, SETS, EntitySet

API = "/v1/odata"
DEFAULT_TOKEN = "tribe-sandbox-0000-enginy-local"  # a made-up bearer token (a "Quick Setup" style token)
DEFAULT_CLIENT_ID = "enginy-desktop-sandbox"
# A made-up application of the Client Credentials tab: its client id and secret.
INTEGRATION_CLIENT_ID = "enginy-sandbox-integration"
INTEGRATION_CLIENT_SECRET = "tribe-sandbox-integration-secret"  # noqa: S105 - a made-up sandbox value
CALLS_PER_MINUTE = 1000
MAX_PAGE = 100
_GUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class TribeError(ODataError):
    """The OData error body the emulator answers with."""


def bad(message: str, code: str = "BadRequest", status: int = 400) -> TribeError:
    return TribeError(status, code, message)


def missing(entity_set: str, rid: str) -> TribeError:
    return TribeError(404, "NotFound", f"No {entity_set} with ID '{rid}' was found.")


@dataclass
class TribeSandboxConfig(EmulatorConfig):
    access_tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    calls_per_minute: int | None = CALLS_PER_MINUTE  # None: no limit
    window_s: float = 60.0
    max_page: int = MAX_PAGE
    seed_contacts: int = 0
    seed_companies: int | None = None
    organization_name: str = "Sandbox Company B.V."
    token_lifetime_s: float = 3600.0
    # Applications that may use the client-credentials grant: client id -> secret (empty: none may).
    integration_clients: dict[str, str] = field(
        default_factory=lambda: {INTEGRATION_CLIENT_ID: INTEGRATION_CLIENT_SECRET})


class TribeSandbox(Emulator):
    vendor = "TribeCRM"
    public_paths = ("/oauth2/",)
    oauth_redirect_uri = "http://localhost:53682/oauth-callback"
    tokens: TokenStore
    window_limit: WindowSetting  # calls per minute per application

    def __init__(self, config: TribeSandboxConfig | None = None) -> None:
        cfg = config or TribeSandboxConfig()
        super().__init__(cfg)
        self.config: TribeSandboxConfig = cfg
        self.window_limit = WindowSetting("calls_per_minute", cfg.calls_per_minute, cfg.window_s)
        self.tokens = TokenStore(static=cfg.access_tokens, static_kind="bearer", clock=cfg.clock,
                                 faults=lambda: self.config.faults, access_lifetime_s=cfg.token_lifetime_s,
                                 default_scopes=("read", "write", "offline"), user_id=1, clients=None,
                                 credential_clients=cfg.integration_clients)
        self.calls_used = 0
        self._init_data()
        self.seed(cfg.seed_contacts, cfg.seed_companies)

    def _init_data(self) -> None:
        self.rng = random.Random(self.config.random_seed)
        self.records: dict[str, dict[str, dict[str, Any]]] = {name: {} for name in SETS}
        for first, last, active in (("Sandra", "Sandbox", True), ("Oscar", "Owner", True),
                                    ("Fiona", "Former", False)):
            person = self.insert("Relation_Person", {"FirstName": first, "LastName": last}, check=False)
            email = f"{first.lower()}@sandbox.example"
            self.insert("Relationship_Person_Contact_Employee", {"EmailAddress": email, "IsActive": active,
                                                                 "Person": person["ID"]}, check=False)

    # -- records -------------------------------------------------------------------------------------------------
    def new_id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def now(self) -> str:
        moment = datetime.fromtimestamp(self.config.wall_clock(), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"

    def employee_ids(self, active_only: bool = True) -> list[str]:
        return [rid for rid, e in self.records["Relationship_Person_Contact_Employee"].items()
                if e.get("IsActive") or not active_only]

    def find(self, entity_set: str, rid: Any) -> dict[str, Any] | None:
        return self.records[entity_set].get(str(rid).lower())

    def _value(self, s: EntitySet, name: str, value: Any) -> Any:
        p = s.prop(name)
        assert p is not None
        if value is None:
            if p.required:
                raise bad(f"The property '{name}' of '{NAMESPACE}.{s.name}' is required and cannot be null.")
            return None
        if p.type == "Edm.String":
            if not isinstance(value, str):
                raise bad(f"Cannot convert a primitive value to the expected type 'Edm.String' for '{name}'.")
            if p.max_length and len(value) > p.max_length:
                raise bad(f"The value of '{name}' is longer than its maximum length of {p.max_length}.",
                          "ValidationError")
            return value
        if p.type == "Edm.Boolean":
            if not isinstance(value, bool):
                raise bad(f"Cannot convert a primitive value to the expected type 'Edm.Boolean' for '{name}'.")
            return value
        if p.type in ("Edm.Int32", "Edm.Int64"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise bad(f"Cannot convert a primitive value to the expected type '{p.type}' for '{name}'.")
            return value
        if p.type in ("Edm.Decimal", "Edm.Double"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise bad(f"Cannot convert a primitive value to the expected type '{p.type}' for '{name}'.")
            return value
        if p.type == "Edm.Date":
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.Date' for '{name}'.")
            return value
        if p.type == "Edm.DateTimeOffset":
            if not isinstance(value, str) or not re.fullmatch(
                    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})", value):
                raise bad(f"Cannot convert the literal '{value}' to the expected type 'Edm.DateTimeOffset' for "
                          f"'{name}'.")
            return value
        raise bad(f"The property '{name}' cannot be set.")

    def check(self, s: EntitySet, body: Mapping[str, Any], *, creating: bool) -> dict[str, Any]:
        """A request body as stored values; references (``{"ID": …}``) as ids. Raises TribeCRM's 400."""
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key.startswith("@"):
                continue
            if key in s.navigation:
                out[key] = self._reference(s, key, value)
                continue
            p = s.prop(key)
            if p is None:
                raise bad(f"The property '{key}' does not exist on type '{NAMESPACE}.{s.name}'. Make sure to only "
                          "use property names that are defined by the type.")
            if p.computed:
                if key == "ID" and not creating:
                    continue
                raise bad(f"The property '{key}' of '{NAMESPACE}.{s.name}' is read-only.")
            out[key] = self._value(s, key, value)
        if creating:
            for p in s.props:
                if p.required and out.get(p.name) in (None, ""):
                    raise bad(f"The field '{p.name}' is required for {s.name}.", "ValidationError")
        return out

    def _reference(self, s: EntitySet, nav: str, value: Any) -> str | None:
        target = s.navigation[nav]
        if value is None:
            return None
        if not isinstance(value, dict):
            raise bad(f"The navigation property '{nav}' takes an object with the ID of a {target}.")
        rid = str(value.get("ID") or "")
        if not rid and nav == "Person" and target == "Relation_Person":  # a contact with a new person
            return str(self.insert("Relation_Person", value)["ID"])
        if not _GUID.match(rid):
            raise bad(f"'{rid}' is not a valid ID for '{nav}'.")
        found = self.find(target, rid)
        if found is None:
            raise bad(f"The {nav} with ID '{rid}' does not exist.", "NotFound")
        if target == "Relationship_Person_Contact_Employee" and not found.get("IsActive"):
            raise bad(f"The employee '{rid}' is not active.", "ValidationError")
        return rid.lower()

    def _name(self, s: EntitySet, record: dict[str, Any]) -> str:
        if s.name == "Relation_Person" or s.name.startswith("Relationship_Person"):
            person = record if s.name == "Relation_Person" else (self.find("Relation_Person", record.get("Person"))
                                                                  or {})
            return " ".join(str(person.get(k)) for k in ("FirstName", "MiddleName", "LastName") if person.get(k))
        return str(record.get("Name") or record.get("Subject") or record.get("Content") or "")[:100]

    def insert(self, entity_set: str, body: Mapping[str, Any], *, check: bool = True) -> dict[str, Any]:
        s = SETS[entity_set]
        clean = self.check(s, body, creating=True) if check else dict(body)
        now = self.now()
        record: dict[str, Any] = {p.name: None for p in s.all_props}
        record.update({nav: None for nav in s.navigation})
        record.update({"ID": self.new_id(), "_Type": s.name.replace("_", "."), "SortIndex": 0.0,
                       "CreationDate": now, "ModificationDate": now})
        record.update(clean)
        record["_Name"] = self._name(s, record)
        self.records[entity_set][record["ID"]] = record
        return record

    def modify(self, entity_set: str, rid: str, body: Mapping[str, Any]) -> dict[str, Any]:
        s = SETS[entity_set]
        record = self.find(entity_set, rid)
        if record is None:
            raise missing(entity_set, rid)
        clean = self.check(s, body, creating=False)
        for p in s.props:
            if p.required and p.name in clean and clean[p.name] in (None, ""):
                raise bad(f"The field '{p.name}' is required for {s.name}.", "ValidationError")
        record.update(clean)
        record["ModificationDate"] = self.now()
        record["_Name"] = self._name(s, record)
        return record

    def delete(self, entity_set: str, rid: str) -> None:
        if self.find(entity_set, rid) is None:
            raise missing(entity_set, rid)
        del self.records[entity_set][rid.lower()]
        if entity_set in ("Relation_Person", "Relation_Organization"):  # its relationships go with it
            for rel in ("Relationship_Person_Contact_Standard",):
                for other in [k for k, r in self.records[rel].items()
                              if rid.lower() in (r.get("Person"), r.get("Relation"))]:
                    del self.records[rel][other]

    def companies_of(self, person: str) -> list[str]:
        rels = sorted(self.records["Relationship_Person_Contact_Standard"].values(),
                      key=lambda r: str(r["CreationDate"]))
        return [str(r["Relation"]) for r in rels if r.get("Person") == person]

    # -- hooks ---------------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> TokenInfo:
        try:
            return self.tokens.use(request.bearer())
        except TokenProblem:
            raise TribeError(401, "Unauthorized", "The access token is missing, invalid or expired.",
                             headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from None

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        self.calls_used += 1
        window = self.window_limit.window
        if window is None:
            return {}
        allowed, _remaining = window.try_hit("app", self.config.clock())
        if not allowed:
            self.calls_used -= 1
            # TribeCRM documents no rate-limit headers and no Retry-After: none are sent.
            raise TribeError(429, "TooManyRequests", f"Rate limit exceeded: at most "
                             f"{window.limit.max_requests} calls per minute per application. Wait at least "
                             "one minute before retrying.", limited_by="calls_per_minute")
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        table = {"unauthorized": (401, "Unauthorized"), "expired_token": (401, "Unauthorized"),
                 "not_found": (404, "NotFound"), "method_not_allowed": (405, "MethodNotAllowed"),
                 "too_large": (413, "PayloadTooLarge"), "bad_request": (400, "BadRequest"),
                 "rate_limited": (429, "TooManyRequests"), "budget_exhausted": (429, "TooManyRequests"),
                 "gateway_timeout": (504, "GatewayTimeout")}
        code, name = table.get(kind, (status or 503, "ServiceUnavailable"))
        return TribeError(status or code, name, message)

    # -- control API ---------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = super().counts()
        out.update(persons=len(self.records["Relation_Person"]),
                   organizations=len(self.records["Relation_Organization"]),
                   contact_relationships=len(self.records["Relationship_Person_Contact_Standard"]),
                   employees=len(self.records["Relationship_Person_Contact_Employee"]),
                   tasks=len(self.records["Activity_Task"]), notes=len(self.records["Note"]),
                   api_calls_used=self.calls_used)
        return out

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self._init_data()
        self.calls_used = 0
        if seed:
            self.seed(self.config.seed_contacts, self.config.seed_companies)

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.seed(*sample_counts(body, ("contacts",), ("companies",)))

    def seed(self, contacts: int, companies: int | None = None) -> dict[str, int]:
        rng = random.Random(self.config.random_seed)
        n_companies = companies if companies is not None else contacts // 10
        owners = self.employee_ids()
        made = [self.insert("Relation_Organization", {
            "Name": f"Sample Company {i + 1}", "Website": f"https://sample{i + 1}.example",
            "AccountManager": owners[i % len(owners)]}, check=False)["ID"] for i in range(n_companies)]
        first = ["Ana", "Ben", "Carla", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena"]
        last = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos", "Peters", "Kok"]
        for i in range(contacts):
            f, la = rng.choice(first), rng.choice(last)
            slug = la.lower().replace(" ", "")
            person = self.insert("Relation_Person", {
                "FirstName": f, "LastName": la, "JobTitle": rng.choice(["CEO", "CTO", "Head of Sales"]),
                "EmailAddress": f"{f.lower()}.{slug}.{i + 1}@sample.example",
                LINKEDIN_FIELD: f"https://www.linkedin.com/in/{f.lower()}-{slug}-{i + 1}",
                "AccountManager": owners[i % len(owners)]}, check=False)
            if made and rng.random() < 0.7:
                self.insert("Relationship_Person_Contact_Standard", {
                    "Person": person["ID"], "Relation": made[rng.randrange(len(made))],
                    "EmailAddress": person["EmailAddress"]}, check=False)
        return {"contacts": contacts, "companies": n_companies}


__all__ = ["API", "DEFAULT_CLIENT_ID", "DEFAULT_TOKEN", "INTEGRATION_CLIENT_ID", "INTEGRATION_CLIENT_SECRET",
           "MAX_PAGE", "TribeError", "TribeSandbox", "TribeSandboxConfig"]
