"""ZoomInfo emulator on the kit: the GTM Data API (shapes from ``specs/zoominfo/gtm-data-api-v1.openapi.json``,
https://docs.zoominfo.com/reference) and the legacy Enterprise API (``legacy-enterprise-api.subset.third-party.json``).

GTM Data API, under ``/gtm``:

- ``POST /gtm/oauth/v1/token`` — OAuth client credentials (``grant_type=client_credentials``, the client's id and
  secret as HTTP Basic or in the form; https://docs.zoominfo.com/docs/client-credentials-flow) → ``{"access_token",
  "token_type": "Bearer", "expires_in": 3600, "scope"}``; RFC 6749 errors (401 ``invalid_client``, 400
  ``unsupported_grant_type``);
- ``POST /gtm/data/v1/contacts/enrich`` and ``/gtm/data/v1/companies/enrich`` — JSON:API bodies
  (``application/vnd.api+json``), 1 to 25 inputs (more: 400); one resource per input, in order: ``Contact`` /
  ``Company`` with ``meta.matchStatus`` FULL_MATCH, or ``NoMatch`` (NO_MATCH, INVALID_INPUT, LIMIT_EXCEEDED);
  only the ``outputFields`` asked for are returned;
- ``GET /gtm/data/v1/users/usage`` — ``request``, ``record`` and ``uniqueID`` limits with what is left.

Legacy Enterprise API, at the root: ``POST /authenticate`` ``{"username", "password"}`` → ``{"jwt"}`` (60 minutes; one
sign-in a second), ``POST /enrich/contact`` and ``/enrich/company`` (plain JSON, ``{"success", "data":
{"outputFields", "result": [{"input", "data", "matchStatus"}]}}``), ``GET /lookup/usage``.

Credits (``--option credits=N``, the ``uniqueID`` limit): **1 per record returned**, none for a no-match, none for a
record already paid for ("under management"). With none left a request answers **400** ``PFAPI0011`` "Credit Limit
Reached"; running out in the middle of a request answers the rest ``NoMatch`` / ``LIMIT_EXCEEDED``.

Limits (https://docs.zoominfo.com/docs/rate-limits), per account, by package (``--option package=``): Builder 5 a
second, 10,800 an hour, 129,600 a day (Standard 25/54,000/648,000; Scaling 35/75,600/907,200); all three checked, a
refused request counts in none. Every answer carries ``X-RateLimit-Limit`` (deprecated, per second),
``X-RateLimit-Limit-Second|Hour|Day`` and ``X-RateLimit-Remaining-Second|Hour|Day``; a 429 adds ``Retry-After`` (the
seconds until the full window has room). The legacy API: 1,500 a minute with ``X-RateLimit-Limit|Remaining|Reset``.

Errors are JSON:API ``{"errors": [{"id", "code", "status", "title", "detail"}]}``. Coverage (the documented share of
misses): 85 % of people, 75 % of their work e-mails, 65 % of their phones, 90 % of companies.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, TokenStore, VendorError, build_app, ok, parse_json
from ..kit.http import JSONBody
from ..kit.launch import EmulatorSpec, Started, StartOptions, connect_commands, take_options
from ..kit.oauth import read_form
from ..kit.tokens import OAuthProblem, TokenProblem
from .common import Company, Credits, EnrichmentSandboxConfig, Person, company_for, covers, int_option, person_for
from .common import stable_id as _stable_id

DEFAULT_CLIENT_ID = "0oa-zoominfo-sandbox"
DEFAULT_CLIENT_SECRET = "zoominfo-sandbox-secret"
DEFAULT_USERNAME = "api.user@example.com"
DEFAULT_PASSWORD = "zoominfo-sandbox-password"
DEFAULT_KEY = DEFAULT_CLIENT_SECRET
ACCOUNT = "account"  # the one ZoomInfo account every credential of the sandbox belongs to
JSON_API = "application/vnd.api+json"
MAX_INPUTS = 25
PACKAGES: dict[str, tuple[int, int, int]] = {"builder": (5, 10_800, 129_600), "standard": (25, 54_000, 648_000),
                                             "scaling": (35, 75_600, 907_200)}
WINDOWS = {1.0: "Second", 3600.0: "Hour", 86_400.0: "Day"}
SCOPES = ("api:data:contact", "api:data:company")


def package_limits(package: str) -> tuple[RateLimit, ...]:
    second, hour, day = PACKAGES[package]
    return RateLimit(second, 1.0), RateLimit(hour, 3600.0), RateLimit(day, 86_400.0)


class JSONAPIBody(JSONBody):
    media_type = JSON_API


class ZoomInfoError(VendorError):
    """A JSON:API error document (``ZoomInfo.Core.Foundations.ErrorResponseModel``)."""

    media_type = JSON_API

    def __init__(self, status: int, code: str, title: str, detail: str, *, headers: dict[str, str] | None = None,
                 limited_by: str | None = None) -> None:
        super().__init__(status, detail, headers=headers, limited_by=limited_by)
        self.code, self.title = code, title

    def payload(self, emulator: Any) -> Any:
        return {"errors": [{"id": f"err-{_stable_id(self.code + self.message, 10):010d}", "code": self.code,
                            "status": str(self.status), "title": self.title, "detail": self.message}]}


class OAuthTokenError(VendorError):
    """RFC 6749 §5.2, as ZoomInfo's token endpoint answers."""

    def __init__(self, status: int, code: str, description: str) -> None:
        super().__init__(status, description)
        self.code = code

    def payload(self, emulator: Any) -> Any:
        return {"error": self.code, "error_description": self.message}


@dataclass
class ZoomInfoSandboxConfig(EnrichmentSandboxConfig):
    clients: dict[str, str] = field(default_factory=lambda: {DEFAULT_CLIENT_ID: DEFAULT_CLIENT_SECRET})
    users: dict[str, str] = field(default_factory=lambda: {DEFAULT_USERNAME: DEFAULT_PASSWORD})
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: package_limits("builder"))
    legacy_rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(1500, 60.0))
    token_lifetime_s: float = 3600.0


class ZoomInfoEmulator(Emulator):
    vendor = "ZoomInfo"
    public_paths = ("/gtm/oauth/", "/authenticate")
    tokens: TokenStore

    def __init__(self, config: ZoomInfoSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.tokens = TokenStore(clock=config.clock, faults=lambda: config.faults,
                                 access_lifetime_s=config.token_lifetime_s, clients=config.clients)
        self.windows = [RollingWindow(x) for x in config.rate_limits]
        self.legacy_window = RollingWindow(config.legacy_rate_limit) if config.legacy_rate_limit else None
        self.sign_in_window = RollingWindow(RateLimit(1, 1.0))
        self.managed: set[str] = set()  # records already paid for ("under management")
        self.token_requests = 0
        self.requests_used = 0
        self.records_returned = 0
        self._lock = threading.Lock()

    # -- gateway hooks ---------------------------------------------------------------------------------------------
    def authenticate(self, request: Any) -> Any:
        try:
            return self.tokens.use(request.bearer())
        except TokenProblem as problem:
            detail = ("The access token has expired; request a new one." if problem.kind == "expired"
                      else "Missing or invalid access token.")
            raise ZoomInfoError(401, "UNAUTHORIZED", "Unauthorized", detail) from None

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        now = self.cfg.clock()
        if not request.path.startswith("/gtm/"):
            window = self.legacy_window
            if window is None:
                return {}
            allowed, left = window.try_hit(ACCOUNT, now)
            reset = str(math.ceil(self.cfg.wall_clock() + window.limit.interval_s))
            headers = {"X-RateLimit-Limit": str(window.limit.max_requests), "X-RateLimit-Remaining": str(left),
                       "X-RateLimit-Reset": reset}
            if not allowed:
                raise ZoomInfoError(429, "TOO_MANY_REQUESTS", "Too Many Requests", "Rate limit exceeded.",
                                    headers={**headers, "Retry-After": str(max(1, math.ceil(window.wait_s(ACCOUNT,
                                                                                                        now))))},
                                    limited_by="per minute")
            return headers
        full = [w for w in self.windows if w.remaining(ACCOUNT, now) <= 0]
        if not full:  # a refused request counts in none of the windows
            for w in self.windows:
                w.try_hit(ACCOUNT, now)
            self.requests_used += 1
        headers = self.quota_headers(now)
        if full:
            wait = max(w.wait_s(ACCOUNT, now) for w in full)
            which = WINDOWS.get(full[-1].limit.interval_s, "window").lower()
            raise ZoomInfoError(429, "TOO_MANY_REQUESTS", "Too Many Requests",
                                f"Rate limit exceeded for the {which} window.",
                                headers={**headers, "Retry-After": str(max(1, math.ceil(wait)))},
                                limited_by=f"per {which}")
        return headers

    def quota_headers(self, now: float) -> dict[str, str]:
        headers: dict[str, str] = {}
        for w in self.windows:
            name = WINDOWS.get(w.limit.interval_s)
            if name:
                headers[f"X-RateLimit-Limit-{name}"] = str(w.limit.max_requests)
                headers[f"X-RateLimit-Remaining-{name}"] = str(max(0, w.remaining(ACCOUNT, now)))
        if "X-RateLimit-Limit-Second" in headers:
            headers["X-RateLimit-Limit"] = headers["X-RateLimit-Limit-Second"]  # deprecated: per second
        return headers

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "expired_token": 401, "rate_limited": 429, "budget_exhausted": 429,
                          "credits_exhausted": 400, "not_found": 404, "method_not_allowed": 405, "too_large": 413,
                          "bad_request": 400, "gateway_timeout": 504}.get(kind, 503)
        titles = {400: "Bad Request", 401: "Unauthorized", 404: "Not Found", 405: "Method Not Allowed",
                  413: "Payload Too Large", 429: "Too Many Requests", 504: "Gateway Timeout"}
        return ZoomInfoError(code, kind.upper(), titles.get(code, "Service Unavailable"), message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total, "token_requests": self.token_requests}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.managed.clear()
        for w in (*self.windows, self.sign_in_window, *([self.legacy_window] if self.legacy_window else [])):
            w.reset()
        self.token_requests = self.requests_used = self.records_returned = 0

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits], "credits_left": self.credits.left(ACCOUNT)}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            self.credits.set(ACCOUNT, int(values["credits"]))
        return self.limits_json()

    # -- credits ---------------------------------------------------------------------------------------------------
    def out_of_credits(self) -> bool:
        return self.cfg.faults.credits_exhausted or self.credits.left(ACCOUNT) <= 0

    def charge(self, record: str) -> bool:
        """Take a credit for ``record`` unless it is under management already; False when none is left."""
        with self._lock:
            if record in self.managed:
                return True
            if self.cfg.faults.credits_exhausted or not self.credits.spend(ACCOUNT, 1):
                return False
            self.managed.add(record)
            self.records_returned += 1
            return True


# -- made-up records ---------------------------------------------------------------------------------------------


def _score(key: str) -> str:
    return str(70 + _stable_id("accuracy" + key, 4) % 30)


def _company_attributes(c: Company, *, contact: bool) -> dict[str, Any]:
    attrs: dict[str, Any] = {
        "id": _stable_id(c.domain, 9), "name": c.name, "website": f"www.{c.domain}",
        "primaryIndustry": [c.industry], "industries": [c.industry, "Business Services"],
        "employeeCount": c.employees, "employeeRange": _range(c.employees), "revenueRange": _revenue_range(c.revenue),
        "city": c.city, "state": c.state, "country": c.country,
    }
    if contact:  # the contact's company object types revenue as a string (and adds revenueNumeric)
        attrs.update(revenue=str(c.revenue // 1000), revenueNumeric=c.revenue)
    else:
        attrs.update(revenue=c.revenue)
    return attrs


def _range(n: int) -> str:
    for upper, band in ((10, "1 - 10"), (50, "10 - 50"), (100, "50 - 100"), (250, "100 - 250"), (500, "250 - 500"),
                        (1000, "500 - 1,000"), (5000, "1,000 - 5,000"), (10000, "5,000 - 10,000")):
        if n <= upper:
            return band
    return "10,000+"


def _revenue_range(n: int) -> str:
    for upper, band in ((1_000_000, "Under $1 mil."), (5_000_000, "$1 mil. - $5 mil."),
                        (25_000_000, "$5 mil. - $25 mil."), (100_000_000, "$25 mil. - $100 mil."),
                        (500_000_000, "$100 mil. - $500 mil."), (1_000_000_000, "$500 mil. - $1 bil.")):
        if n <= upper:
            return band
    return "Over $1 bil."


def contact_attributes(p: Person, fields: list[str]) -> dict[str, Any]:
    """The contact's values for the ``outputFields`` asked (GTM names; ``companyX`` fields fill ``company``)."""
    email = p.email if covers("zoominfo", "email", p.key) else ""
    phone = p.phone if covers("zoominfo", "phone", p.key) else ""
    every: dict[str, Any] = {
        "id": _stable_id(p.key, 10), "firstName": p.first_name, "lastName": p.last_name, "jobTitle": p.title,
        "externalUrls": [{"type": "linkedin", "url": p.linkedin_url}], "contactAccuracyScore": _score(p.key),
        "city": p.city, "state": p.state, "country": p.country,
    }
    if email:
        every["email"] = email
    if phone:
        every["mobilePhone" if p.mobile else "phone"] = phone
        every["mobilePhoneDoNotCall" if p.mobile else "directPhoneDoNotCall"] = _stable_id("dnc" + p.key) % 20 == 0
    attrs = {k: v for k, v in every.items() if k in fields and k != "id"}
    company = _company_attributes(p.company, contact=True)
    wanted = {f[len("company"):][:1].lower() + f[len("company") + 1:]: f for f in fields if f.startswith("company")}
    picked = {k: v for k, v in company.items() if k in wanted}
    if picked:
        attrs["company"] = picked
    return attrs


def company_attributes(c: Company, fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in _company_attributes(c, contact=False).items() if k in fields and k != "id"}


def find_person(criteria: dict[str, Any]) -> Person | None:
    p = person_for(first_name=str(criteria.get("firstName") or ""), last_name=str(criteria.get("lastName") or ""),
                   full_name=str(criteria.get("fullName") or ""), company=str(criteria.get("companyName") or ""),
                   linkedin_url=str(criteria.get("externalURL") or ""), email=str(criteria.get("emailAddress") or ""))
    if p is None or not p.findable or not covers("zoominfo", "person", p.key):
        return None
    return p


def find_company(criteria: dict[str, Any]) -> Company | None:
    website = str(criteria.get("companyWebsite") or "").split(",")[0].strip()
    domain = website.split("://", 1)[-1].split("/", 1)[0]
    c = company_for(str(criteria.get("companyName") or ""), domain)
    if c is None or not covers("zoominfo", "company", c.domain):
        return None
    return c


def _person_usable(criteria: dict[str, Any]) -> bool:
    """The input combinations ZoomInfo matches on: a unique value, or a name with a company."""
    if any(criteria.get(k) for k in ("personId", "emailAddress", "hashedEmail", "phone", "externalURL")):
        return True
    named = (criteria.get("firstName") and criteria.get("lastName")) or criteria.get("fullName")
    return bool(named and (criteria.get("companyName") or criteria.get("companyId")))


# -- handlers ----------------------------------------------------------------------------------------------------


def _em(request: Request) -> ZoomInfoEmulator:
    em: ZoomInfoEmulator = request.app.state.sandbox
    return em


async def _body(request: Request) -> Any:
    try:
        return parse_json(await request.body() or b"null")
    except ValueError:
        raise ZoomInfoError(400, "INVALID_REQUEST", "Bad Request", "The request body is not valid JSON.") from None


async def token(request: Request) -> Response:
    em = _em(request)
    em.token_requests += 1
    form = await read_form(request)
    if form.get("grant_type") != "client_credentials":
        raise OAuthTokenError(400, "unsupported_grant_type",
                              "The authorization grant type is not supported by the authorization server.")
    try:
        em.tokens.check_client(form.get("client_id", ""), form.get("client_secret") or None, secret_required=True)
    except OAuthProblem:
        raise OAuthTokenError(401, "invalid_client", "The client secret supplied for a confidential client is "
                              "invalid.") from None
    info = em.tokens.issue(form["client_id"], SCOPES, refresh_token="")
    return ok({"token_type": "Bearer", "expires_in": em.tokens.lifetime_left(info), "access_token": info.token,
               "scope": " ".join(SCOPES)})


async def authenticate(request: Request) -> Response:
    em = _em(request)
    em.token_requests += 1
    allowed, _ = em.sign_in_window.try_hit(ACCOUNT, em.cfg.clock())
    if not allowed:
        raise ZoomInfoError(429, "TOO_MANY_REQUESTS", "Too Many Requests", "One authentication a second.",
                            headers={"Retry-After": "1"}, limited_by="authenticate")
    body = await _body(request)
    user = str((body or {}).get("username") or "") if isinstance(body, dict) else ""
    password = str((body or {}).get("password") or "") if isinstance(body, dict) else ""
    if not user or em.cfg.users.get(user) != password:
        raise ZoomInfoError(401, "UNAUTHORIZED", "Unauthorized", "Invalid username or password.")
    info = em.tokens.issue(f"user:{user}", SCOPES, refresh_token="")
    return ok({"jwt": info.token})


def _enrich_attributes(body: Any, kind: str, inputs_name: str) -> tuple[list[dict[str, Any]], list[str]]:
    data = body.get("data") if isinstance(body, dict) else None
    attrs = data.get("attributes") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type") != kind or not isinstance(attrs, dict):
        raise ZoomInfoError(400, "INVALID_REQUEST", "Bad Request",
                            f"The body must be a JSON:API document whose data is a '{kind}' resource with attributes.")
    return _inputs(attrs, inputs_name)


def _inputs(attrs: Any, inputs_name: str) -> tuple[list[dict[str, Any]], list[str]]:
    inputs = attrs.get(inputs_name) if isinstance(attrs, dict) else None
    fields = attrs.get("outputFields") if isinstance(attrs, dict) else None
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= MAX_INPUTS:
        raise ZoomInfoError(400, "INVALID_REQUEST", "Bad Request",
                            f"{inputs_name} must hold 1 to {MAX_INPUTS} inputs.")
    if not isinstance(fields, list) or not fields or not all(isinstance(f, str) for f in fields):
        raise ZoomInfoError(400, "INVALID_REQUEST", "Bad Request", "outputFields must list the fields to return.")
    return [i if isinstance(i, dict) else {} for i in inputs], fields


def _match_contacts(em: ZoomInfoEmulator, inputs: list[dict[str, Any]], fields: list[str]
                    ) -> list[tuple[str, dict[str, Any] | None, str]]:
    """(status, attributes or None, id) per input; charges one credit per record returned."""
    if em.out_of_credits() and any(_person_usable(c) and find_person(c) for c in inputs):
        raise ZoomInfoError(400, "PFAPI0011", "Credit Limit Reached", "Your account has no credits left.")
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for i, criteria in enumerate(inputs):
        if not _person_usable(criteria):
            out.append(("INVALID_INPUT", None, str(i)))
            continue
        p = find_person(criteria)
        if p is None:
            out.append(("NO_MATCH", None, str(i)))
        elif not em.charge(f"person:{p.key}"):
            out.append(("LIMIT_EXCEEDED", None, str(i)))
        else:
            out.append(("FULL_MATCH", contact_attributes(p, fields), str(_stable_id(p.key, 10))))
    return out


def _match_companies(em: ZoomInfoEmulator, inputs: list[dict[str, Any]], fields: list[str]
                     ) -> list[tuple[str, dict[str, Any] | None, str]]:
    if em.out_of_credits() and any(find_company(c) for c in inputs):
        raise ZoomInfoError(400, "PFAPI0011", "Credit Limit Reached", "Your account has no credits left.")
    out: list[tuple[str, dict[str, Any] | None, str]] = []
    for i, criteria in enumerate(inputs):
        if not (criteria.get("companyName") or criteria.get("companyWebsite") or criteria.get("companyId")):
            out.append(("INVALID_INPUT", None, str(i)))
            continue
        c = find_company(criteria)
        if c is None:
            out.append(("NO_MATCH", None, str(i)))
        elif not em.charge(f"company:{c.domain}"):
            out.append(("LIMIT_EXCEEDED", None, str(i)))
        else:
            out.append(("FULL_MATCH", company_attributes(c, fields), str(_stable_id(c.domain, 9))))
    return out


def _json_api(em: ZoomInfoEmulator, kind: str, inputs: list[dict[str, Any]],
              matches: list[tuple[str, dict[str, Any] | None, str]]) -> Response:
    data = []
    for criteria, (status, attrs, ident) in zip(inputs, matches, strict=True):
        meta = {"matchStatus": status, "input": criteria}
        if attrs is None:
            data.append({"id": ident, "type": "NoMatch", "meta": meta})
        else:
            data.append({"id": ident, "type": kind, "attributes": attrs, "meta": meta})
    return JSONAPIBody({"data": data}, headers=_usage_headers(em))


def _usage_headers(em: ZoomInfoEmulator) -> dict[str, str]:
    return {"X-Usage-Unique-Id-Limit-Limit": str(em.credits.initial),
            "X-Usage-Unique-Id-Limit-Remaining": str(em.credits.left(ACCOUNT))}


async def contacts_enrich(request: Request) -> Response:
    em = _em(request)
    inputs, fields = _enrich_attributes(await _body(request), "ContactEnrich", "matchPersonInput")
    return _json_api(em, "Contact", inputs, _match_contacts(em, inputs, fields))


async def companies_enrich(request: Request) -> Response:
    em = _em(request)
    inputs, fields = _enrich_attributes(await _body(request), "CompanyEnrich", "matchCompanyInput")
    return _json_api(em, "Company", inputs, _match_companies(em, inputs, fields))


def _usage_rows(em: ZoomInfoEmulator, legacy: bool) -> list[dict[str, Any]]:
    total = em.credits.initial
    left = em.credits.left(ACCOUNT)
    big = 1_000_000_000
    rows = [("request", "The maximum number of requests you can make", big, em.requests_used),
            ("record", "The maximum number of records you can retrieve", big, em.records_returned),
            ("uniqueID", "The maximum number of person or company records you can redeem", total, total - left)]
    out = []
    for kind, description, limit, used in rows:
        row: dict[str, Any] = {"limitType": f"{kind[0].lower()}{kind[1:]}Limit" if legacy else kind,
                               "description": description, "currentUsage": used,
                               "usageRemaining": max(0, limit - used)}
        row["limit" if legacy else "totalLimit"] = limit
        out.append(row)
    if legacy:
        out[2]["limitType"] = "uniqueIdLimit"
    return out


async def users_usage(request: Request) -> Response:
    em = _em(request)
    return JSONAPIBody({"data": [{"id": "usage", "type": "UserUsage",
                                  "attributes": {"usage": _usage_rows(em, legacy=False)}}]})


def _legacy(em: ZoomInfoEmulator, fields: list[str], inputs: list[dict[str, Any]],
            matches: list[tuple[str, dict[str, Any] | None, str]]) -> Response:
    result = []
    for criteria, (status, attrs, ident) in zip(inputs, matches, strict=True):
        data = [] if attrs is None else [{"id": int(ident) if ident.isdigit() else ident, **attrs}]
        result.append({"input": {k.lower(): v for k, v in criteria.items()}, "data": data, "matchStatus": status})
    return ok({"success": True, "data": {"outputFields": [[f.lower() for f in fields]], "result": result}},
              headers=_usage_headers(em))


async def legacy_enrich_contact(request: Request) -> Response:
    em = _em(request)
    inputs, fields = _inputs(await _body(request), "matchPersonInput")
    return _legacy(em, fields, inputs, _match_contacts(em, inputs, fields))


async def legacy_enrich_company(request: Request) -> Response:
    em = _em(request)
    inputs, fields = _inputs(await _body(request), "matchCompanyInput")
    return _legacy(em, fields, inputs, _match_companies(em, inputs, fields))


async def legacy_usage(request: Request) -> Response:
    return ok({"usage": _usage_rows(_em(request), legacy=True)})


ROUTES = [
    Route("/gtm/oauth/v1/token", token, methods=["POST"]),
    Route("/gtm/data/v1/contacts/enrich", contacts_enrich, methods=["POST"]),
    Route("/gtm/data/v1/companies/enrich", companies_enrich, methods=["POST"]),
    Route("/gtm/data/v1/users/usage", users_usage, methods=["GET"]),
    Route("/authenticate", authenticate, methods=["POST"]),
    Route("/enrich/contact", legacy_enrich_contact, methods=["POST"]),
    Route("/enrich/company", legacy_enrich_company, methods=["POST"]),
    Route("/lookup/usage", legacy_usage, methods=["GET"]),
]


def create_app(config: ZoomInfoSandboxConfig | None = None) -> Any:
    return build_app(ZoomInfoEmulator(config or ZoomInfoSandboxConfig()), ROUTES)


def connect_values(url: str, *, legacy: bool = False) -> dict[str, str]:
    """The connection settings (secrets included) that point Enginy Desktop at an emulator served at ``url``: the
    GTM Data API with the client id and secret, or (``legacy``) the Enterprise API with the username and password."""
    if legacy:  # an empty client ID: the client-credentials option, when filled in, would be used instead
        return {"client_id": "", "username": DEFAULT_USERNAME, "password": DEFAULT_PASSWORD, "base_url": f"{url}/gtm"}
    return {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET, "base_url": f"{url}/gtm"}


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    package = opts.get("package", "builder").lower()
    if package not in PACKAGES:
        raise ValueError(f"--option package must be one of {', '.join(PACKAGES)}, got '{package}'")
    client_id, secret = opts.get("client_id", DEFAULT_CLIENT_ID), opts.get("client_secret", DEFAULT_CLIENT_SECRET)
    config = ZoomInfoSandboxConfig(clients={client_id: secret}, credits=int_option(opts, "credits", 10_000),
                                   rate_limits=package_limits(package), **options.common())
    if options.rate_limit != "default":
        config.use_rate_limit(options.rate_limit)
    second, hour, day = PACKAGES[package]
    return Started(
        app=create_app(config),
        credentials={"Client ID": client_id, "Client secret": secret, "Legacy username": DEFAULT_USERNAME,
                     "Legacy password": DEFAULT_PASSWORD},
        summary=[f"GTM Data API under /gtm (OAuth client credentials), legacy Enterprise API at the root; credits: "
                 f"{config.credits} (1 per record returned, none for a no-match or a record already paid for)",
                 f"Limits ({package.capitalize()} package): {second}/s, {hour:,}/h, {day:,}/day (429 + Retry-After); "
                 "finds 85 % of people, 75 % of e-mails, 65 % of phones, 90 % of companies."],
        connect=lambda url: connect_commands("zoominfo", {"client_id": client_id, "package": package.capitalize(),
                                                          "base_url": f"{url}/gtm"}, "client_secret", secret),
        settings=lambda url: {"client_id": client_id, "client_secret": secret, "package": package.capitalize(),
                              "base_url": f"{url}/gtm"},
    )


SPEC = EmulatorSpec(key="zoominfo", title="ZoomInfo", kind="enrichment",
                    summary="ZoomInfo GTM Data API (OAuth client credentials, JSON:API contact and company enrich) "
                    "and the legacy /authenticate API, with credits and per-second/hour/day limits",
                    start=_start, options={"credits": "credits (records to redeem) on the account",
                                           "package": "builder, standard or scaling (the rate limits)",
                                           "client_id": "the OAuth client id it accepts",
                                           "client_secret": "the OAuth client secret it accepts"})
