"""Apollo emulator on the kit (shapes from Apollo's OpenAPI, ``specs/apollo``; https://docs.apollo.io).

- ``POST /people/match`` — match inputs as query parameters (the spec has no request body; a JSON body answers 415);
- ``POST /people/bulk_match`` — ``details[]``, at most 10 (more: 400 ``RECORD_LIMIT_EXCEEDED``);
- ``GET /organizations/enrich?domain=`` and ``POST /organizations/bulk_enrich`` (``details[]`` or ``domains[]``,
  at most 10);
- ``POST /usage_stats/api_usage_stats`` — the limits per endpoint.

Auth: ``x-api-key`` (401 ``text/plain`` "Invalid API key…" otherwise). Limits: a fixed number per minute per
endpoint (``--rate-limit``, default 100/60s), with ``x-rate-limit-minute``, ``x-minute-requests-left`` and
``x-minute-usage`` on every answer and Apollo's 429 JSON ``{"message": "The maximum number of api calls allowed for
api/v1/… is N times per minute…"}``. Credits: 1 per person or company found (0 when nothing is found); a request
whose matches need more credits than are left answers **422** ``{"error": "Insufficient credits…"}`` and charges
nothing. A person or company the key already paid for is not charged again (Apollo "only charges you for verified,
net-new emails", https://knowledge.apollo.io/hc/en-us/articles/9527776320781-What-Are-Credits). Coverage: 75 % of
people, 70 % of their e-mails, 90 % of companies; no phones (Apollo delivers them to a webhook only).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, VendorError, build_app, ok, parse_json
from ..kit.launch import EmulatorSpec, Started, StartOptions, take_options
from . import common
from .common import (
    Company,
    Credits,
    EnrichmentSandboxConfig,
    Person,
    Revealed,
    covers,
    email_status,
    person_for,
    stable_id,
)
from .common import company_for as _company_for

DEFAULT_KEY = "apollo-sandbox-key"
BULK_MAX = 10
_UPGRADE = "Please upgrade your plan from https://app.apollo.io/#/settings/plans/upgrade."


class ApolloError(VendorError):
    def __init__(self, status: int, body: Any, *, headers: dict[str, str] | None = None, text: bool = False,
                 limited_by: str | None = None) -> None:
        super().__init__(status, str(body), headers=headers, limited_by=limited_by)
        self.body = body
        if text:
            self.media_type = "text/plain;charset=utf-8"

    def payload(self, emulator: Any) -> Any:
        return self.body


@dataclass
class ApolloSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(100, 60.0))


class ApolloEmulator(Emulator):
    vendor = "Apollo"

    def __init__(self, config: ApolloSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.revealed = Revealed(None, config.wall_clock)  # net-new only: what the account already paid for is free
        self.windows: dict[str, RollingWindow] = {}

    # -- gateway hooks -----------------------------------------------------------------------------------------
    def authenticate(self, request: Any) -> Any:
        key = request.headers.get("x-api-key", "").strip()
        if key not in self.cfg.api_keys:
            raise ApolloError(401, "Invalid API key. See https://docs.apollo.io/reference/authentication for how to "
                              "authenticate.", text=True)
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        limit = self.cfg.rate_limit
        if limit is None:
            return {}
        window = self.windows.setdefault(request.path, RollingWindow(limit))
        allowed, left = window.try_hit(str(principal), self.cfg.clock())
        headers = {"x-rate-limit-minute": str(limit.max_requests), "x-minute-requests-left": str(left),
                   "x-minute-usage": str(limit.max_requests - left)}
        if not allowed:
            endpoint = "api/v1" + request.path
            raise ApolloError(429, {"message": f"The maximum number of api calls allowed for {endpoint} is "
                                    f"{limit.max_requests} times per minute. {_UPGRADE}"},
                              headers={**headers, "retry-after": str(max(1, round(limit.interval_s / 10)))},
                              limited_by=request.path)
        return headers

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 422, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        if code == 401:
            return ApolloError(401, "Invalid API key.", text=True)
        return ApolloError(code, {"error": message})

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.revealed.clear()
        self.windows.clear()

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limit": str(self.cfg.rate_limit) if self.cfg.rate_limit else None,
                "credits_left": self.credits.left(self.cfg.api_keys[0]) if self.cfg.api_keys else None}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        return self.limits_json()

    # -- answers -----------------------------------------------------------------------------------------------
    def charge(self, key: str, units: int) -> None:
        if units and (self.cfg.faults.credits_exhausted or not self.credits.spend(key, units)):
            raise ApolloError(422, {"error": "Insufficient credits. Please upgrade your plan."})

    def reveal(self, key: str, items: list[str]) -> int:
        """Charge 1 credit per item the key has not paid for yet (all or nothing); the credits charged."""
        fresh = self.revealed.fresh(key, items)
        self.charge(key, len(fresh))
        self.revealed.mark(key, fresh)
        return len(fresh)

    def find(self, inputs: dict[str, str]) -> Person | None:
        p = person_for(first_name=inputs.get("first_name", ""), last_name=inputs.get("last_name", ""),
                       full_name=inputs.get("name", ""), company=inputs.get("organization_name", ""),
                       domain=inputs.get("domain", ""), linkedin_url=inputs.get("linkedin_url", ""),
                       email=inputs.get("email", ""))
        if p is None or not p.findable or not covers("apollo", "person", p.key):
            return None
        return p


def org_json(c: Company) -> dict[str, Any]:
    return {"id": f"org{stable_id(c.domain, 12):012d}", "name": c.name, "website_url": f"http://www.{c.domain}",
            "linkedin_url": f"http://www.linkedin.com/company/{c.domain.split('.')[0]}", "primary_domain": c.domain,
            "industry": c.industry.lower(), "estimated_num_employees": c.employees, "annual_revenue": c.revenue,
            "annual_revenue_printed": c.revenue_printed, "city": c.city, "state": c.state, "country": c.country,
            "raw_address": f"{c.city}, {c.state}, {c.country}"}


def person_json(p: Person) -> dict[str, Any]:
    with_email = covers("apollo", "email", p.key)
    return {
        "id": f"p{stable_id(p.key, 12):012d}", "first_name": p.first_name, "last_name": p.last_name,
        "name": p.name, "linkedin_url": p.linkedin_url, "title": p.title,
        "email_status": (("verified" if email_status(p.email) == "valid" else "extrapolated") if with_email
                         else "unavailable"),
        "organization_id": org_json(p.company)["id"], "city": p.city, "state": p.state, "country": p.country,
        "organization": org_json(p.company),
    } | ({"email": p.email} if with_email else {})  # the spec types it as a string: absent, not null


def _em(request: Request) -> ApolloEmulator:
    em: ApolloEmulator = request.app.state.sandbox
    return em


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw:
        return None
    try:
        return parse_json(raw)
    except ValueError:
        raise ApolloError(400, {"status": "failed", "error_code": "INVALID_REQUEST",
                                "error_message": "invalid request, the body is not JSON"}) from None


async def people_match(request: Request) -> Response:
    em = _em(request)
    if await request.body():
        raise ApolloError(415, {"error": "people/match takes its match inputs as query parameters."})
    p = em.find(dict(request.query_params))
    if p is None:
        return ok({"person": None})
    em.reveal(request.scope["sandbox.token"], [f"person:{p.key}"])
    return ok({"person": person_json(p)})


async def people_bulk_match(request: Request) -> Response:
    em = _em(request)
    body = await _json(request)
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, list) or not details:
        raise ApolloError(400, {"status": "failed", "error_code": "INVALID_REQUEST",
                                "error_message": "invalid request, missing details"})
    if len(details) > BULK_MAX:
        raise ApolloError(400, {"status": "failed", "error_code": "RECORD_LIMIT_EXCEEDED",
                                "error_message": f"You can only enrich up to {BULK_MAX} records at a time"})
    matches = [em.find({k: str(v) for k, v in d.items()}) if isinstance(d, dict) else None for d in details]
    found = sum(1 for m in matches if m is not None)
    consumed = em.reveal(request.scope["sandbox.token"], [f"person:{m.key}" for m in matches if m is not None])
    return ok({"status": "success", "error_code": None, "error_message": None,
               "total_requested_enrichments": len(details), "unique_enriched_records": found,
               "missing_records": len(details) - found, "credits_consumed": consumed,
               # Unmatched people: an empty object (the spec's items are objects; Apollo's guides show null).
               "matches": [person_json(m) if m else {} for m in matches]})


def _company(inputs: dict[str, str]) -> Company | None:
    c = _company_for(inputs.get("name", ""), inputs.get("domain", "") or inputs.get("website", ""))
    if c is None or not covers("apollo", "company", c.domain):
        return None
    return c


async def organization_enrich(request: Request) -> Response:
    em = _em(request)
    if not request.query_params.get("domain"):
        raise ApolloError(422, {"error": "Required parameter 'domain' missing"})
    c = _company(dict(request.query_params))
    if c is None:
        return ok({"organization": {}})
    em.reveal(request.scope["sandbox.token"], [f"org:{c.domain}"])
    return ok({"organization": org_json(c)})


async def organization_bulk_enrich(request: Request) -> Response:
    em = _em(request)
    body = await _json(request)
    details = body.get("details") if isinstance(body, dict) else None
    if not isinstance(details, list):
        details = [{"domain": d} for d in request.query_params.getlist("domains[]")]
    if not details:
        raise ApolloError(400, {"status": "failed", "error_code": "INVALID_REQUEST",
                                "error_message": "invalid request, missing domains"})
    if len(details) > BULK_MAX:
        raise ApolloError(400, {"status": "failed", "error_code": "RECORD_LIMIT_EXCEEDED",
                                "error_message": f"You can only enrich up to {BULK_MAX} records at a time"})
    orgs = [c for c in (_company({k: str(v) for k, v in d.items()}) for d in details if isinstance(d, dict)) if c]
    em.reveal(request.scope["sandbox.token"], [f"org:{c.domain}" for c in orgs])
    return ok({"status": "success", "error_code": None, "error_message": None, "total_requested_domains": len(details),
               "unique_domains": len(details), "unique_enriched_records": len(orgs),
               "missing_records": len(details) - len(orgs), "organizations": [org_json(c) for c in orgs]})


async def usage_stats(request: Request) -> Response:
    em = _em(request)
    limit = em.cfg.rate_limit
    out: dict[str, Any] = {}
    for path in ("/people/match", "/people/bulk_match", "/organizations/enrich", "/organizations/bulk_enrich"):
        name = '["api/v1/' + path.strip("/").rsplit("/", 1)[0] + '", "' + path.rsplit("/", 1)[1] + '"]'
        window = em.windows.get(path)
        left = window.remaining(str(request.scope["sandbox.token"]), em.cfg.clock()) if window and limit else None
        top = limit.max_requests if limit else 0
        out[name] = {"minute": {"limit": top, "consumed": top - (left if left is not None else top),
                                "left_over": left if left is not None else top}}
    return ok(out)


ROUTES = [
    Route("/people/match", people_match, methods=["POST"]),
    Route("/people/bulk_match", people_bulk_match, methods=["POST"]),
    Route("/organizations/enrich", organization_enrich, methods=["GET"]),
    Route("/organizations/bulk_enrich", organization_bulk_enrich, methods=["POST"]),
    Route("/usage_stats/api_usage_stats", usage_stats, methods=["POST"]),
]


def create_app(config: ApolloSandboxConfig | None = None) -> Any:
    return build_app(ApolloEmulator(config or ApolloSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(ApolloSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits}; rate limit: {config.rate_limit or 'off'} per endpoint",
               "Finds 75 % of people (70 % of their e-mails), 90 % of companies; no phones."]
    return common.key_started("apollo", create_app(config), config, summary)


SPEC = EmulatorSpec(key="apollo", title="Apollo", kind="enrichment",
                    summary="Apollo people match / bulk match and organization enrich, with credits",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits on the account"})
