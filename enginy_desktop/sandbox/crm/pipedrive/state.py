"""State and rules of the Pipedrive emulator: one company with users, person and organization fields (custom ones
keyed by 40-character hashes, options with integer ids), persons, organizations, activities and notes; Pipedrive's
search semantics; the burst windows per plan and credential; the daily token budget; API tokens and OAuth.

Vendor facts: ``apis/crm_apis.md`` §3 and ``specs/pipedrive`` (v1/v2 OpenAPI, ``x-token-cost`` per operation);
limits from https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting; error bodies from
https://pipedrive.readme.io/docs/core-api-concepts-responses.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ...kit import (
    Budget,
    Emulator,
    EmulatorConfig,
    GatewayRequest,
    RateLimit,
    RollingWindow,
    TokenInfo,
    TokenProblem,
    TokenStore,
    VendorError,
    sample_counts,
)
from ...kit.errors import ErrorKind

DEFAULT_TOKEN = "5b1a7c0e9d2f4a6b8c0d1e2f3a4b5c6d7e8f9a0b"  # a made-up API token (40 hex characters, like Pipedrive's)
DEFAULT_CLIENT_ID = "sandbox-pipedrive-client"
DEFAULT_CLIENT_SECRET = "sandbox-pipedrive-secret"  # noqa: S105 - a made-up sandbox value
WINDOW_S = 2.0
PLANS = ("Essential", "Advanced", "Professional", "Power", "Enterprise")
BURST_API_TOKEN = {"Essential": 20, "Advanced": 40, "Professional": 80, "Power": 100, "Enterprise": 120}
BURST_OAUTH = {"Essential": 80, "Advanced": 160, "Professional": 320, "Power": 400, "Enterprise": 480}
PLAN_MULTIPLIER = {"Essential": 1, "Advanced": 2, "Professional": 4, "Power": 5, "Enterprise": 7}
BASE_TOKENS = 30_000
SEARCH_LIMIT = RateLimit(10, WINDOW_S)
ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."

# ``x-token-cost`` of every operation the emulator serves (specs/pipedrive; checked by the contract tests).
TOKEN_COSTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v2/persons"): 10, ("POST", "/api/v2/persons"): 5, ("GET", "/api/v2/persons/{id}"): 1,
    ("PATCH", "/api/v2/persons/{id}"): 5, ("DELETE", "/api/v2/persons/{id}"): 3,
    ("GET", "/api/v2/organizations"): 10, ("POST", "/api/v2/organizations"): 5,
    ("GET", "/api/v2/organizations/{id}"): 1, ("PATCH", "/api/v2/organizations/{id}"): 5,
    ("DELETE", "/api/v2/organizations/{id}"): 3,
    ("GET", "/api/v2/personFields"): 10, ("GET", "/api/v2/organizationFields"): 10,
    ("GET", "/api/v2/persons/search"): 20, ("GET", "/api/v2/organizations/search"): 20,
    ("GET", "/api/v2/activities"): 10, ("POST", "/api/v2/activities"): 5, ("GET", "/api/v2/activities/{id}"): 1,
    ("GET", "/v1/users"): 20, ("GET", "/v1/users/me"): 2, ("GET", "/v1/notes"): 20, ("POST", "/v1/notes"): 10,
    ("GET", "/v1/activityTypes"): 20,
}
_ID = re.compile(r"/\d+(?=/|$)")
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")


def token_cost(method: str, path: str) -> int:
    return TOKEN_COSTS.get((method.upper(), _ID.sub("/{id}", path.rstrip("/"))), 10)


def burst(plan: str, oauth: bool) -> RateLimit:
    return RateLimit((BURST_OAUTH if oauth else BURST_API_TOKEN)[plan], WINDOW_S)


# -- errors ------------------------------------------------------------------------------------------------------


class PipedriveError(VendorError):
    """``{"success": false, "error": …, "error_info": …, "data": null, "additional_data": null}``."""

    def __init__(self, status: int, message: str, *, headers: dict[str, str] | None = None,
                 limited_by: str | None = None, code: str = "") -> None:
        super().__init__(status, message, headers=headers, limited_by=limited_by)
        self.code = code

    def payload(self, emulator: Emulator) -> Any:
        body: dict[str, Any] = {"success": False, "error": self.message, "error_info": ERROR_INFO, "data": None,
                                "additional_data": None}
        if self.status in (401, 429):
            body["errorCode"] = self.status
        if self.code:
            body["code"] = self.code
        return body


def bad_request(message: str, code: str = "") -> PipedriveError:
    return PipedriveError(400, message, code=code)


def not_found(what: str) -> PipedriveError:
    return PipedriveError(404, f"{what} not found")


# -- configuration -----------------------------------------------------------------------------------------------


@dataclass
class PipedriveSandboxConfig(EmulatorConfig):
    api_tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    plan: str = "Professional"
    seats: int = 3
    rate_limit: RateLimit | str | None = "plan"  # "plan": the plan's burst window; None: no limit
    search_rate_limit: RateLimit | None = SEARCH_LIMIT
    daily_tokens: int | str | None = "plan"  # "plan": 30,000 x multiplier x seats; None: no budget
    seed_persons: int = 0
    seed_organizations: int | None = None  # default: a tenth of the persons
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str = DEFAULT_CLIENT_SECRET
    token_lifetime_s: float = 3600.0
    company_name: str = "Sandbox Company"
    company_domain: str = "sandbox"

    def __post_init__(self) -> None:
        if self.plan not in PLANS:
            raise ValueError(f"plan must be one of {', '.join(PLANS)}, not '{self.plan}'")
        if self.seats < 1:
            raise ValueError("seats must be at least 1")

    def burst_for(self, oauth: bool) -> RateLimit | None:
        if self.rate_limit == "plan":
            return burst(self.plan, oauth)
        return self.rate_limit if isinstance(self.rate_limit, RateLimit) else None

    def budget(self) -> int | None:
        if self.daily_tokens == "plan":
            return BASE_TOKENS * PLAN_MULTIPLIER[self.plan] * self.seats
        return self.daily_tokens if isinstance(self.daily_tokens, int) else None


SCOPES = ("base", "contacts:full", "users:read", "activities:full", "search:read")


# -- fields ------------------------------------------------------------------------------------------------------


def _field(name: str, code: str, kind: str, *, custom: bool = False, options: list[str] | None = None,
           first_option: int = 1) -> dict[str, Any]:
    return {
        "field_name": name,
        "field_code": code,
        "field_type": kind,
        "options": [{"id": first_option + i, "label": label} for i, label in enumerate(options)] if options else None,
        "subfields": None,
        "is_custom_field": custom,
        "is_optional_response_field": False,
    }


def custom_key(label: str) -> str:
    """A 40-character hash, as Pipedrive keys custom fields."""
    return hashlib.sha1(f"enginy-sandbox:{label}".encode()).hexdigest()  # noqa: S324 - an id, not security


LINKEDIN_KEY = custom_key("LinkedIn profile")
LEAD_SOURCE_KEY = custom_key("Lead source")
INTERESTS_KEY = custom_key("Interests")
SCORE_KEY = custom_key("Score")
LAST_CONTACTED_KEY = custom_key("Last contacted")
SEGMENT_KEY = custom_key("Segment")


def person_fields() -> list[dict[str, Any]]:
    return [
        _field("Name", "name", "varchar"),
        _field("First name", "first_name", "varchar"),
        _field("Last name", "last_name", "varchar"),
        _field("Email", "email", "varchar"),
        _field("Phone", "phone", "phone"),
        _field("Owner", "owner_id", "user"),
        _field("Organization", "org_id", "org"),
        _field("Job title", "job_title", "varchar"),
        _field("Labels", "label_ids", "set", options=["Customer", "Hot lead", "Warm lead", "Cold lead"],
               first_option=1),
        _field("Visible to", "visible_to", "visible_to"),
        _field("Person created", "add_time", "date"),
        _field("Update time", "update_time", "date"),
        _field("LinkedIn profile", LINKEDIN_KEY, "varchar", custom=True),
        _field("Lead source", LEAD_SOURCE_KEY, "enum", custom=True,
               options=["Enginy", "Website", "Referral", "Event"], first_option=101),
        _field("Interests", INTERESTS_KEY, "set", custom=True, options=["Product", "Pricing", "Partnership"],
               first_option=201),
        _field("Score", SCORE_KEY, "double", custom=True),
        _field("Last contacted", LAST_CONTACTED_KEY, "date", custom=True),
    ]


def organization_fields() -> list[dict[str, Any]]:
    return [
        _field("Name", "name", "varchar"),
        _field("Owner", "owner_id", "user"),
        _field("Website", "website", "varchar"),
        _field("LinkedIn profile", "linkedin", "varchar"),
        _field("Industry", "industry", "enum", options=["Software", "Manufacturing", "Retail", "Finance"],
               first_option=301),
        _field("Annual revenue", "annual_revenue", "double"),
        _field("Number of employees", "employee_count", "int"),
        _field("Address", "address", "address"),
        _field("Labels", "label_ids", "set", options=["Customer", "Prospect"], first_option=11),
        _field("Organization created", "add_time", "date"),
        _field("Update time", "update_time", "date"),
        _field("Segment", SEGMENT_KEY, "enum", custom=True, options=["SMB", "Mid-market", "Enterprise"],
               first_option=401),
    ]


SEARCHABLE_CUSTOM = frozenset({"address", "varchar", "text", "varchar_auto", "double", "monetary", "phone"})
PERSON_KEYS = frozenset({"name", "owner_id", "org_id", "add_time", "emails", "phones", "visible_to", "label_ids",
                         "postal_address", "notes", "im", "birthday", "job_title", "marketing_status",
                         "custom_fields"})
ORG_KEYS = frozenset({"name", "owner_id", "add_time", "visible_to", "label_ids", "address", "website", "linkedin",
                      "industry", "annual_revenue", "employee_count", "custom_fields"})


# -- the emulator --------------------------------------------------------------------------------------------------


class PipedriveSandbox(Emulator):
    vendor = "Pipedrive"
    public_paths = ("/oauth/",)
    oauth_redirect_uri = "http://localhost/callback"
    tokens: TokenStore

    def __init__(self, config: PipedriveSandboxConfig | None = None) -> None:
        cfg = config or PipedriveSandboxConfig()
        super().__init__(cfg)
        self.config: PipedriveSandboxConfig = cfg
        self.windows: dict[str, RollingWindow] = {}
        self.search_window = RollingWindow(cfg.search_rate_limit) if cfg.search_rate_limit else None
        budget = cfg.budget()
        self.budget = Budget(budget, "day", cfg.wall_clock) if budget is not None else None
        self.tokens_spent = 0
        # API tokens (static) and OAuth tokens, codes with PKCE, refresh, and the token-lifetime faults: the kit's.
        self.tokens = TokenStore(static=cfg.api_tokens, static_kind="api_token", clock=cfg.clock,
                                 faults=lambda: self.config.faults, access_lifetime_s=cfg.token_lifetime_s,
                                 default_scopes=SCOPES, user_id=1, clients={cfg.client_id: cfg.client_secret})
        self._init_data()
        self.seed(cfg.seed_persons, cfg.seed_organizations)

    def _init_data(self) -> None:
        self.users = [
            {"id": 1, "name": "Sandra Sandbox", "email": "sandra@sandbox.example", "active_flag": True},
            {"id": 2, "name": "Oscar Owner", "email": "oscar@sandbox.example", "active_flag": True},
            {"id": 3, "name": "Fiona Former", "email": "fiona@sandbox.example", "active_flag": False},
        ]
        self.fields: dict[str, list[dict[str, Any]]] = {"persons": person_fields(),
                                                         "organizations": organization_fields()}
        self.records: dict[str, dict[int, dict[str, Any]]] = {"persons": {}, "organizations": {}}
        self.activities: dict[int, dict[str, Any]] = {}
        self.notes: dict[int, dict[str, Any]] = {}
        self.next_id: dict[str, int] = {"persons": 1, "organizations": 1, "activities": 1, "notes": 1}

    # -- hooks -------------------------------------------------------------------------------------------------
    def authenticate(self, request: GatewayRequest) -> TokenInfo:
        """The API token in ``x-api-token`` (or the ``api_token`` query parameter), or an OAuth access token as
        ``Authorization: Bearer``; anything else is Pipedrive's 401."""
        token = request.headers.get("x-api-token") or request.query_param("api_token")
        bearer = request.bearer()
        try:
            info = self.tokens.use(token or bearer)
        except TokenProblem as problem:
            raise PipedriveError(401, "Access token expired" if problem.kind == "expired" and not token
                                 else "unauthorized access") from None
        if (info.kind == "api_token") != bool(token):  # an API token as a bearer, or an OAuth token as api_token
            raise PipedriveError(401, "unauthorized access")
        return info

    def _window(self, principal: TokenInfo) -> RollingWindow | None:
        limit = self.config.burst_for(principal.kind == "oauth")
        if limit is None:
            return None
        window = self.windows.get(principal.kind)
        if window is None or window.limit != limit:
            window = self.windows[principal.kind] = RollingWindow(limit)
        return window

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        assert isinstance(principal, TokenInfo)
        now = self.config.clock()
        headers: dict[str, str] = {}
        window = self._window(principal)
        if window is not None:
            allowed, remaining = window.try_hit(principal.token, now)
            reset = self._reset_s(window, principal.token, now)
            headers = {"x-ratelimit-limit": str(window.limit.max_requests),
                       "x-ratelimit-remaining": str(remaining), "x-ratelimit-reset": str(reset)}
            if not allowed:
                raise PipedriveError(429, "Request over limit", headers=dict(headers), limited_by="burst")
        if request.path.endswith("/search") and self.search_window is not None:
            allowed, remaining = self.search_window.try_hit(principal.token, now)
            if not allowed:
                reset = self._reset_s(self.search_window, principal.token, now)
                raise PipedriveError(429, "Request over limit", limited_by="search", headers={
                    "x-ratelimit-limit": str(self.search_window.limit.max_requests),
                    "x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)})
        if self.budget is not None or self.config.faults.credits_exhausted:
            cost = token_cost(request.method, request.path)
            allowed = not self.config.faults.credits_exhausted  # the fault: the budget is spent
            if allowed and self.budget is not None:
                allowed, _left = self.budget.spend("company", cost)
            if not allowed:
                raise PipedriveError(429, "Daily API token budget exceeded for this company; it resets at midnight "
                                     "(UTC).", headers=headers, limited_by="daily_budget")
            self.tokens_spent += cost
        else:
            self.tokens_spent += token_cost(request.method, request.path)
        return headers

    @staticmethod
    def _reset_s(window: RollingWindow, key: str, now: float) -> int:
        hits = window._window(key, now)  # the oldest hit leaves the window first
        if not hits:
            return 0
        return max(1, int(hits[0] + window.limit.interval_s - now + 0.999))

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        statuses = {"unauthorized": 401, "expired_token": 401, "rate_limited": 429, "budget_exhausted": 429,
                    "not_found": 404, "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                    "gateway_timeout": 504}
        code = status or statuses.get(kind, 503)
        if kind == "not_found":
            message = "Unknown method ."
        if kind in ("unauthorized", "expired_token"):
            message = "unauthorized access"
        return PipedriveError(code, message)

    # -- control API ----------------------------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        out = super().counts()
        out.update(persons=len(self.records["persons"]), organizations=len(self.records["organizations"]),
                   users=len(self.users), activities=len(self.activities), notes=len(self.notes),
                   tokens_spent=self.tokens_spent)
        if self.budget is not None:
            out["tokens_left"] = self.budget.remaining("company")
        return out

    def limits_json(self) -> dict[str, Any]:
        api = self.config.burst_for(False)
        oauth = self.config.burst_for(True)
        return {"plan": self.config.plan, "seats": self.config.seats,
                "burst_api_token": str(api) if api else None, "burst_oauth": str(oauth) if oauth else None,
                "search": str(self.search_window.limit) if self.search_window else None,
                "daily_tokens": self.budget.limit if self.budget else None,
                "tokens_left": self.budget.remaining("company") if self.budget else None}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        for name, value in values.items():
            if name == "plan":
                if value not in PLANS:
                    raise ValueError(f"plan must be one of {', '.join(PLANS)}")
                self.config.plan = str(value)
            elif name == "rate_limit":
                self.config.rate_limit = None if value in (None, "off") else RateLimit.parse(str(value))
            elif name == "daily_tokens":
                if value in (None, "off"):
                    self.budget = None
                else:
                    limit = int(value)
                    if self.budget is None:
                        self.budget = Budget(limit, "day", self.config.wall_clock)
                    self.budget.limit = limit
            elif name == "tokens_left":
                if self.budget is None:
                    raise ValueError("there is no daily budget (set daily_tokens first)")
                self.budget.reset()
                self.budget.spend("company", max(0, self.budget.limit - int(value)))
            else:
                raise ValueError(f"unknown limit '{name}' (plan, rate_limit, daily_tokens, tokens_left)")
        self.windows.clear()
        return self.limits_json()

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self._init_data()
        self.windows.clear()
        if self.search_window is not None:
            self.search_window.reset()
        if self.budget is not None:
            self.budget.reset()
        self.tokens_spent = 0
        if seed:
            self.seed(self.config.seed_persons, self.config.seed_organizations)

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.seed(*sample_counts(body, ("persons", "contacts"), ("organizations", "companies")))

    # -- sample data ----------------------------------------------------------------------------------------------
    def seed(self, persons: int, organizations: int | None = None) -> dict[str, int]:
        rng = random.Random(self.config.random_seed)
        n_orgs = organizations if organizations is not None else persons // 10
        first = ["Ana", "Ben", "Carla", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivan", "Jo", "Kai", "Lena"]
        last = ["Garcia", "Smith", "Rossi", "Kim", "Novak", "Okafor", "Silva", "Berg", "Costa", "Ito"]
        made_orgs = []
        for i in range(n_orgs):
            org = self.create("organizations", {"name": f"Sample Company {i + 1}",
                                                "website": f"https://sample{i + 1}.example",
                                                "owner_id": 1 + i % 2})
            made_orgs.append(org["id"])
        for i in range(persons):
            f, la = rng.choice(first), rng.choice(last)
            body: dict[str, Any] = {
                "name": f"{f} {la}",
                "emails": [{"value": f"{f.lower()}.{la.lower()}{i + 1}@sample.example", "primary": True,
                            "label": "work"}],
                "owner_id": 1 + i % 2,
            }
            if made_orgs and i % 3:
                body["org_id"] = made_orgs[i % len(made_orgs)]
            self.create("persons", body)
        return {"persons": persons, "organizations": n_orgs}

    # -- records --------------------------------------------------------------------------------------------------
    def now_text(self) -> str:
        return datetime.fromtimestamp(self.config.wall_clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def field_defs(self, entity: str) -> dict[str, dict[str, Any]]:
        return {f["field_code"]: f for f in self.fields[entity]}

    def _check_custom(self, entity: str, values: Any) -> dict[str, Any]:
        if not isinstance(values, dict):
            raise bad_request("custom_fields must be an object")
        defs = self.field_defs(entity)
        out: dict[str, Any] = {}
        for key, value in values.items():
            f = defs.get(key)
            if f is None or not f["is_custom_field"]:
                raise bad_request(f"Unknown custom field: {key}")
            out[key] = self._check_value(f, value)
        return out

    def _check_value(self, f: dict[str, Any], value: Any) -> Any:
        kind = f["field_type"]
        label = f["field_name"]
        if value is None:
            return None
        option_ids = {o["id"] for o in f.get("options") or []}
        if kind == "enum":
            if not isinstance(value, int) or isinstance(value, bool) or value not in option_ids:
                raise bad_request(f"Invalid option id for field '{label}': {value!r}")
            return value
        if kind == "set":
            if not isinstance(value, list) or not value:
                raise bad_request(f"Field '{label}' takes a non-empty array of option ids (null clears it)")
            for v in value:
                if not isinstance(v, int) or isinstance(v, bool) or v not in option_ids:
                    raise bad_request(f"Invalid option id for field '{label}': {v!r}")
            return list(dict.fromkeys(value))
        if kind in ("double", "int"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise bad_request(f"Field '{label}' must be a number")
            return value
        if kind == "monetary":
            if not isinstance(value, dict) or not isinstance(value.get("value"), int | float):
                raise bad_request(f"Field '{label}' must be an object with a numeric value and a currency")
            return value
        if kind == "date":
            if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                raise bad_request(f"Field '{label}' must be a date like 2025-01-31")
            return value
        if kind == "boolean":
            if not isinstance(value, bool):
                raise bad_request(f"Field '{label}' must be true or false")
            return value
        if kind == "address":
            if not isinstance(value, dict) or not isinstance(value.get("value"), str):
                raise bad_request(f"Field '{label}' must be an object with a value")
            return value
        if not isinstance(value, str):
            raise bad_request(f"Field '{label}' must be text")
        if kind == "varchar" and len(value) > 255:
            raise bad_request(f"Field '{label}' is longer than 255 characters")
        return value

    def _check_body(self, entity: str, body: Any, creating: bool) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object")
        allowed = PERSON_KEYS if entity == "persons" else ORG_KEYS
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise bad_request(f"Unknown parameter: {', '.join(unknown)}")
        out: dict[str, Any] = {}
        for key, value in body.items():
            if key == "custom_fields":
                out[key] = self._check_custom(entity, value)
            elif key == "name":
                if not isinstance(value, str) or not value.strip():
                    raise bad_request("Name must be given")
                out[key] = value.strip()
            elif key == "owner_id":
                if not isinstance(value, int) or all(u["id"] != value for u in self.users):
                    raise bad_request(f"User not found: {value!r}")
                out[key] = value
            elif key == "org_id":
                if value is not None and (not isinstance(value, int) or value not in self.records["organizations"]):
                    raise bad_request(f"Organization not found: {value!r}")
                out[key] = value
            elif key in ("emails", "phones"):
                if not isinstance(value, list) or any(not isinstance(i, dict) or not isinstance(i.get("value"), str)
                                                      for i in value):
                    raise bad_request(f"{key} must be an array of objects with a value")
                out[key] = [{"value": i["value"], "primary": bool(i.get("primary")),
                             "label": str(i.get("label") or "work")} for i in value]
                if out[key] and not any(i["primary"] for i in out[key]):
                    out[key][0]["primary"] = True
            elif key == "industry":
                f = self.field_defs(entity)["industry"]
                out[key] = self._check_value(f, value)
            elif key in ("annual_revenue", "employee_count"):
                if value is not None and (not isinstance(value, int | float) or isinstance(value, bool)):
                    raise bad_request(f"{key} must be a number")
                out[key] = value
            elif key == "address":
                if value is not None and (not isinstance(value, dict) or not isinstance(value.get("value"), str)):
                    raise bad_request("address must be an object with a value")
                out[key] = value
            elif key == "label_ids":
                if not isinstance(value, list):
                    raise bad_request("label_ids must be an array")
                out[key] = value
            else:
                if value is not None and not isinstance(value, str | int):
                    raise bad_request(f"{key} has an invalid value")
                out[key] = value
        if creating and not out.get("name"):
            raise bad_request("Name must be given")
        return out

    def create(self, entity: str, body: Any) -> dict[str, Any]:
        values = self._check_body(entity, body, creating=True)
        rid = self.next_id[entity]
        self.next_id[entity] += 1
        now = self.now_text()
        record: dict[str, Any] = {"id": rid, "name": "", "owner_id": 1, "add_time": now, "update_time": now,
                                  "visible_to": 3, "label_ids": [], "is_deleted": False, "custom_fields": {}}
        if entity == "persons":
            record.update(org_id=None, emails=[], phones=[])
        else:
            record.update(address=None, website=None, linkedin=None, industry=None, annual_revenue=None,
                          employee_count=None)
        self._apply(entity, record, values)
        self.records[entity][rid] = record
        return record

    def update(self, entity: str, rid: int, body: Any) -> dict[str, Any]:
        record = self.records[entity].get(rid)
        if record is None or record["is_deleted"]:
            raise not_found("Person" if entity == "persons" else "Organization")
        values = self._check_body(entity, body, creating=False)
        self._apply(entity, record, values)
        record["update_time"] = self.now_text()
        return record

    def _apply(self, entity: str, record: dict[str, Any], values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            if key == "custom_fields":
                for k, v in value.items():
                    if v is None:
                        record["custom_fields"].pop(k, None)
                    else:
                        record["custom_fields"][k] = v
            else:
                record[key] = value
        if entity == "persons":
            first, _, last = str(record.get("name") or "").partition(" ")
            record["first_name"], record["last_name"] = first, last.strip()

    def delete(self, entity: str, rid: int) -> None:
        record = self.records[entity].get(rid)
        if record is None or record["is_deleted"]:
            raise not_found("Person" if entity == "persons" else "Organization")
        record["is_deleted"] = True

    def view(self, entity: str, record: Mapping[str, Any], custom: set[str] | None = None) -> dict[str, Any]:
        # The published descriptions declare these properties not nullable: an empty one is left out.
        out = {k: v for k, v in record.items() if k != "custom_fields" and v is not None}
        out["custom_fields"] = {
            f["field_code"]: record["custom_fields"].get(f["field_code"])
            for f in self.fields[entity] if f["is_custom_field"] and (custom is None or f["field_code"] in custom)
        }
        return out

    def live(self, entity: str) -> list[dict[str, Any]]:
        return [r for r in self.records[entity].values() if not r["is_deleted"]]

    # -- search (Pipedrive's semantics) ---------------------------------------------------------------------------
    def search(self, entity: str, term: str, fields: list[str] | None, exact: bool,
               organization_id: int | None = None) -> list[tuple[float, dict[str, Any]]]:
        """Records where ``term`` matches one of ``fields``: with ``exact_match`` the whole value equals the term
        (not case sensitive); otherwise the term is found in the value (case-insensitive; names and e-mails
        match on any part, as Pipedrive's fuzzy search does), and an exact hit scores higher."""
        wanted = term.strip().casefold()
        defs = self.field_defs(entity)
        searchable_custom = [code for code, f in defs.items()
                             if f["is_custom_field"] and f["field_type"] in SEARCHABLE_CUSTOM]
        scope = set(fields or (["custom_fields", "email", "notes", "phone", "name"] if entity == "persons"
                               else ["address", "custom_fields", "notes", "name"]))
        hits: list[tuple[float, dict[str, Any]]] = []
        for record in self.live(entity):
            if organization_id is not None and record.get("org_id") != organization_id:
                continue
            texts: list[str] = []
            if "name" in scope:
                texts.append(str(record.get("name") or ""))
            if "email" in scope:
                texts += [str(e.get("value") or "") for e in record.get("emails") or []]
            if "phone" in scope:
                texts += [str(p.get("value") or "") for p in record.get("phones") or []]
            if "address" in scope and isinstance(record.get("address"), dict):
                texts.append(str(record["address"].get("value") or ""))
            if "custom_fields" in scope:
                for code in searchable_custom:
                    value = record["custom_fields"].get(code)
                    if isinstance(value, dict):
                        value = value.get("value")
                    if value is not None:
                        texts.append(str(value))
            score = 0.0
            for text in texts:
                folded = text.strip().casefold()
                if not folded:
                    continue
                if folded == wanted:
                    score = max(score, 1.0)
                elif not exact and wanted in folded:
                    score = max(score, 0.5)
            if score:
                hits.append((score, record))
        hits.sort(key=lambda h: (-h[0], h[1]["id"]))
        return hits

    # -- activities and notes -----------------------------------------------------------------------------------
    def add_activity(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise bad_request("The request body must be a JSON object")
        kind = body.get("type", "task")
        if kind not in ACTIVITY_TYPES:
            raise bad_request(f"Unknown activity type: {kind!r}")
        for key in ("person_id", "org_id", "owner_id"):
            value = body.get(key)
            if value is None:
                continue
            table = {"person_id": self.records["persons"], "org_id": self.records["organizations"]}.get(key)
            if (table is not None and value not in table) or (key == "owner_id"
                                                              and all(u["id"] != value for u in self.users)):
                raise bad_request(f"{key} not found: {value!r}")
        if body.get("due_date") is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(body["due_date"])):
            raise bad_request("due_date must be a date like 2025-01-31")
        if body.get("due_time") is not None and not re.fullmatch(r"\d{2}:\d{2}", str(body["due_time"])):
            raise bad_request("due_time must be a time like 09:30")
        aid = self.next_id["activities"]
        self.next_id["activities"] += 1
        now = self.now_text()
        activity = {
            "id": aid, "subject": str(body.get("subject") or kind.capitalize()), "type": kind,
            "owner_id": body.get("owner_id") or 1, "is_deleted": False, "add_time": now, "update_time": now,
            "person_id": body.get("person_id"), "org_id": body.get("org_id"), "deal_id": None, "lead_id": None,
            "project_id": None, "due_date": body.get("due_date"), "due_time": body.get("due_time"),
            "duration": body.get("duration"), "busy": bool(body.get("busy", False)), "done": bool(body.get("done")),
            "participants": body.get("participants") or [], "note": body.get("note"),
        }
        self.activities[aid] = activity
        return {k: v for k, v in activity.items() if v is not None}

    def add_note(self, body: Any, user_id: int) -> dict[str, Any]:
        if not isinstance(body, dict) or not str(body.get("content") or "").strip():
            raise bad_request("Content is required")
        person, org = body.get("person_id"), body.get("org_id")
        if person is None and org is None and body.get("deal_id") is None and body.get("lead_id") is None:
            raise bad_request("A note must be attached to a person, an organization, a deal or a lead")
        if person is not None and person not in self.records["persons"]:
            raise bad_request(f"Person not found: {person!r}")
        if org is not None and org not in self.records["organizations"]:
            raise bad_request(f"Organization not found: {org!r}")
        nid = self.next_id["notes"]
        self.next_id["notes"] += 1
        now = datetime.fromtimestamp(self.config.wall_clock(), UTC).strftime("%Y-%m-%d %H:%M:%S")
        note = {"id": nid, "active_flag": True, "add_time": str(body.get("add_time") or now), "update_time": now,
                "content": str(body["content"]), "person_id": person, "org_id": org,
                "user_id": body.get("user_id") or user_id, "deal_id": None, "lead_id": None}
        self.notes[nid] = note
        return {k: v for k, v in note.items() if v is not None}


# -- cursors ---------------------------------------------------------------------------------------------------------


def encode_cursor(position: int) -> str:
    raw = json.dumps({"field": "id", "position": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(text: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        position = int(json.loads(raw)["position"])
    except (ValueError, KeyError, TypeError):
        raise bad_request("Invalid cursor") from None
    return max(0, position)


__all__ = [
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_TOKEN",
    "PipedriveError",
    "PipedriveSandbox",
    "PipedriveSandboxConfig",
]
