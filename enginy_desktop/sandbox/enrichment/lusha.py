"""Lusha emulator on the kit (shapes from Lusha's OpenAPI V2, ``specs/lusha/lusha-v2.openapi.yaml``;
https://docs.lusha.com).

- ``GET /v2/person`` (query: ``firstName`` + ``lastName`` + ``companyName``/``companyDomain``, or ``linkedinUrl``,
  or ``email``) → ``{"contact": {error, isCreditCharged, data}}``;
- ``POST /v2/person`` (``contacts[]`` with ``contactId``, at most 100) → ``{"contacts": {id: …}, "companies": {}}``;
- ``GET /v2/company?domain=`` and ``POST /v2/company`` (``companies[]`` with ``id``, at most 100);
- ``GET /account/usage``.

Auth: the ``api_key`` header (401 ``{"statusCode": 401, "message": "Invalid API key"}``). Limits: per minute
(``--rate-limit``, default 300/60s, the Premium plan's) with ``x-rate-limit-minute``, ``x-minute-requests-left``
and ``x-minute-usage``; 429 past it. Credits: 1 per contact or company revealed; a request whose reveals need more
credits than are left answers **402**. A contact not found: ``error {code: 3, name: "EMPTY_DATA"}``, not charged.
A contact or company the key revealed in the last 30 days is not charged again (``isCreditCharged: false``): "unique
requests are only counted once every 30 days" (https://info.lusha.com/en/articles/3453060-what-counts-as-an-api-request).
Coverage: 75 % of people, 65 % of e-mails, 55 % of phones, 80 % of companies.
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
from .common import Company, Credits, EnrichmentSandboxConfig, Person, Revealed, covers, person_for, stable_id
from .common import company_for as _company_for

REPEAT_WINDOW = 30 * 24 * 3600.0  # a contact revealed again within 30 days is not charged again

DEFAULT_KEY = "lusha-sandbox-key"
BULK_MAX = 100
EMPTY = {"code": 3, "name": "EMPTY_DATA", "message": "Could not find requested data"}


class LushaError(VendorError):
    def payload(self, emulator: Any) -> Any:
        return {"statusCode": self.status, "message": self.message}


@dataclass
class LushaSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limit: RateLimit | None = field(default_factory=lambda: RateLimit(300, 60.0))


class LushaEmulator(Emulator):
    vendor = "Lusha"

    def __init__(self, config: LushaSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.revealed = Revealed(REPEAT_WINDOW, config.wall_clock)
        self.window = RollingWindow(config.rate_limit) if config.rate_limit else None

    def authenticate(self, request: Any) -> Any:
        key = request.headers.get("api_key", "").strip()
        if key not in self.cfg.api_keys:
            raise LushaError(401, "Invalid API key")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        if self.window is None or self.cfg.rate_limit is None:
            return {}
        top = self.cfg.rate_limit.max_requests
        allowed, left = self.window.try_hit(str(principal), self.cfg.clock())
        headers = {"x-rate-limit-minute": str(top), "x-minute-requests-left": str(left),
                   "x-minute-usage": str(top - left)}
        if not allowed:
            raise LushaError(429, "Too many requests. Please wait before making another request.",
                             headers={**headers, "retry-after": "1"}, limited_by="minute")
        return headers

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 402, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        return LushaError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.revealed.clear()
        if self.window:
            self.window.reset()

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limit": str(self.cfg.rate_limit) if self.cfg.rate_limit else None,
                "credits_left": self.credits.left(self.cfg.api_keys[0]) if self.cfg.api_keys else None}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        return self.limits_json()

    def charge(self, key: str, units: int) -> None:
        if units and (self.cfg.faults.credits_exhausted or not self.credits.spend(key, units)):
            raise LushaError(402, "Insufficient credits to complete the request")

    def reveal(self, key: str, items: list[str]) -> set[str]:
        """Charge 1 credit per item not revealed by this key in the last 30 days (all or nothing); the items charged.
        "Unique requests are only counted once every 30 days"
        (https://info.lusha.com/en/articles/3453060-what-counts-as-an-api-request)."""
        fresh = self.revealed.fresh(key, items)
        self.charge(key, len(fresh))
        self.revealed.mark(key, fresh)
        return set(fresh)


_ISO2 = {"United States": "US", "United Kingdom": "GB", "France": "FR", "Germany": "DE", "Spain": "ES",
         "Canada": "CA"}
_CONTINENT = {"United States": "North America", "Canada": "North America"}


def _location(city: str, state: str, country: str) -> dict[str, Any]:
    return {"country": country, "countryIso2": _ISO2.get(country, ""), "continent": _CONTINENT.get(country, "Europe"),
            "rawLocation": f"{city}, {state}, {country}", "region": state, "city": city}


def company_json(c: Company) -> dict[str, Any]:
    return {"name": c.name, "fqdn": c.domain, "homepageUrl": f"https://www.{c.domain}",
            "companySize": [max(1, c.employees // 2), c.employees * 2],
            "revenueRange": [c.revenue // 2, c.revenue * 2], "industryPrimaryGroup": c.industry,
            "location": _location(c.city, c.state, c.country)}


def contact_data(p: Person) -> dict[str, Any]:
    data: dict[str, Any] = {
        "firstName": p.first_name, "lastName": p.last_name, "fullName": p.name,
        "companyId": stable_id(p.company.domain, 8),
        "emailAddresses": [], "phoneNumbers": [],
        "location": _location(p.city, p.state, p.country),
        "jobTitle": {"title": p.title, "seniority": "Manager", "departments": ["Sales"]},
        "socialLinks": {"linkedin": p.linkedin_url},
    }
    if covers("lusha", "email", p.key):
        data["emailAddresses"] = [{"email": p.email, "emailType": "work", "emailConfidence": "A+",
                                   "updateDate": "2026-11-20"}]
    if covers("lusha", "phone", p.key):
        data["phoneNumbers"] = [{"number": p.phone, "phoneType": "Mobile" if p.mobile else "Direct",
                                 "doNotCall": False, "updateDate": "2026-11-20"}]
    return data


def _em(request: Request) -> LushaEmulator:
    em: LushaEmulator = request.app.state.sandbox
    return em


def _find(first: str = "", last: str = "", full: str = "", company: str = "", domain: str = "", linkedin: str = "",
          email: str = "") -> Person | None:
    p = person_for(first_name=first, last_name=last, full_name=full, company=company, domain=domain,
                   linkedin_url=linkedin, email=email)
    if p is None or not p.findable or not covers("lusha", "person", p.key):
        return None
    return p


async def _json(request: Request) -> Any:
    try:
        return parse_json(await request.body())
    except ValueError:
        raise LushaError(400, "The request body is not valid JSON") from None


async def person_get(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("linkedinUrl") or q.get("email") or (q.get("firstName") and q.get("lastName") and (
            q.get("companyName") or q.get("companyDomain")))):
        raise LushaError(400, "Provide linkedinUrl, email, or firstName, lastName and companyName or companyDomain")
    p = _find(q.get("firstName", ""), q.get("lastName", ""), "", q.get("companyName", ""),
              q.get("companyDomain", ""), q.get("linkedinUrl", ""), q.get("email", ""))
    if p is None:
        return ok({"contact": {"error": EMPTY, "isCreditCharged": False}})
    charged = em.reveal(request.scope["sandbox.token"], [f"person:{p.key}"])
    data = contact_data(p) | {"company": company_json(p.company)}
    return ok({"contact": {"error": {}, "isCreditCharged": bool(charged), "data": data}})


async def person_bulk(request: Request) -> Response:
    em = _em(request)
    body = await _json(request)
    contacts = body.get("contacts") if isinstance(body, dict) else None
    if not isinstance(contacts, list) or not contacts:
        raise LushaError(400, "contacts must be a non-empty array")
    if len(contacts) > BULK_MAX:
        raise LushaError(400, f"contacts must contain no more than {BULK_MAX} elements")
    found: dict[str, Person | None] = {}
    for c in contacts:
        if not isinstance(c, dict) or not c.get("contactId"):
            raise LushaError(400, "each contact needs a contactId")
        companies = c.get("companies") if isinstance(c.get("companies"), list) else []
        first_company = companies[0] if companies and isinstance(companies[0], dict) else {}
        found[str(c["contactId"])] = _find(full=str(c.get("fullName") or ""),
                                           company=str(first_company.get("name") or ""),
                                           domain=str(first_company.get("domain") or ""),
                                           linkedin=str(c.get("linkedinUrl") or ""), email=str(c.get("email") or ""))
    charged = em.reveal(request.scope["sandbox.token"], [f"person:{p.key}" for p in found.values() if p])
    out_contacts: dict[str, Any] = {}
    out_companies: dict[str, Any] = {}
    for cid, p in found.items():
        if p is None:
            out_contacts[cid] = {"error": EMPTY, "isCreditCharged": False}
            continue
        data = contact_data(p)
        # "error" is an empty object on success: the spec requires an object (its example shows null)
        out_contacts[cid] = {"error": {}, "isCreditCharged": f"person:{p.key}" in charged, "data": data}
        out_companies[str(data["companyId"])] = company_json(p.company)
    return ok({"contacts": out_contacts, "companies": out_companies})


def _company(name: str, domain: str) -> Company | None:
    c = _company_for(name, domain)
    if c is None or not covers("lusha", "company", c.domain):
        return None
    return c


async def company_get(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("domain") or q.get("company")):
        raise LushaError(400, "Provide domain or company")
    c = _company(q.get("company", ""), q.get("domain", ""))
    if c is None:
        raise LushaError(404, "Company not found")
    em.reveal(request.scope["sandbox.token"], [f"company:{c.domain}"])
    return ok({"data": {"id": stable_id(c.domain, 8), "name": c.name, "domain": c.domain,
                        "employees": f"{max(1, c.employees // 2)} - {c.employees * 2}",
                        "mainIndustry": c.industry, "fqdn": f"www.{c.domain}"}})


async def company_bulk(request: Request) -> Response:
    em = _em(request)
    body = await _json(request)
    companies = body.get("companies") if isinstance(body, dict) else None
    if not isinstance(companies, list) or not companies:
        raise LushaError(400, "companies must be a non-empty array")
    if len(companies) > BULK_MAX:
        raise LushaError(400, f"companies must contain no more than {BULK_MAX} elements")
    out: dict[str, Any] = {}
    domains: list[str] = []
    for item in companies:
        if not isinstance(item, dict) or not item.get("id"):
            raise LushaError(400, "each company needs an id")
        c = _company(str(item.get("name") or ""), str(item.get("domain") or ""))
        if c is not None:
            domains.append(f"company:{c.domain}")
            out[str(item["id"])] = {"id": stable_id(c.domain, 8), "name": c.name,
                                    "companySize": [max(1, c.employees // 2), c.employees * 2],
                                    "emailDomain": c.domain, "industryPrimaryGroup": c.industry,
                                    "revenueRange": [c.revenue // 2, c.revenue * 2]}
    em.reveal(request.scope["sandbox.token"], domains)
    return ok(out)


async def account_usage(request: Request) -> Response:
    em = _em(request)
    left = em.credits.left(request.scope["sandbox.token"])
    return ok({"usage": {"bulkCredits": {"used": em.credits.initial - left, "total": em.credits.initial,
                                         "remaining": left}}})


ROUTES = [
    Route("/v2/person", person_get, methods=["GET"]),
    Route("/v2/person", person_bulk, methods=["POST"]),
    Route("/v2/company", company_get, methods=["GET"]),
    Route("/v2/company", company_bulk, methods=["POST"]),
    Route("/account/usage", account_usage, methods=["GET"]),
]


def create_app(config: LushaSandboxConfig | None = None) -> Any:
    return build_app(LushaEmulator(config or LushaSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(LushaSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits}; rate limit: {config.rate_limit or 'off'}",
               "Finds 65 % of e-mails, 55 % of phones, 80 % of companies."]
    return common.key_started("lusha", create_app(config), config, summary)


SPEC = EmulatorSpec(key="lusha", title="Lusha", kind="enrichment",
                    summary="Lusha person and company lookups (single and bulk), with credits",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits on the account"})
