"""Proxycurl-compatible (Enrich Layer) emulator on the kit. Proxycurl's own API closed in July 2025; Enrich Layer
serves the same endpoints (https://enrichlayer.com/docs/guides/transition-guide). Its OpenAPI is
``spec/enrichlayer-api.yaml`` in github.com/enrichlayer/mcp-server; ``tests/schemas/proxycurl/*.json`` are written
from it and from the pages cited there.

Routes, relative to the base URL (``https://enrichlayer.com/api/v2``):

- ``GET /profile/resolve`` (``first_name``, ``company_domain`` required; ``last_name``; ``enrich_profile=enrich``)
  → ``{"url", "name_similarity_score", "company_similarity_score", …, "profile"}``; **2 credits per 200, even when
  ``url`` is null** (https://enrichlayer.com/docs/knowledge-base/lookup-endpoints/person-lookup), +1 with the profile;
- ``GET /profile?profile_url=`` → the person profile, 1 credit; 404 when unknown (not charged);
- ``GET /profile/email?profile_url=`` → ``{"emails": [...], "invalid_emails": [...]}``, 3 credits; 404 when no
  e-mail is known (not charged: "404 and 5xx are not charged",
  https://enrichlayer.com/docs/knowledge-base/billing/understanding-credits);
- ``GET /contact-api/personal-contact?profile_url=&page_size=`` → ``{"numbers": [...]}``, 1 credit per number;
- ``GET /company/resolve`` (``company_domain`` or ``company_name``; ``enrich_profile=enrich``) → ``{"url",
  "profile"}``, 2 credits per 200 (+1 with the profile);
- ``GET /credit-balance`` → ``{"credit_balance": n}``, free.

Auth ``Authorization: Bearer <key>`` (401 otherwise). Out of credits: **403** ("You have run out of credits");
over 300 requests per minute: **429**; ``--fault error_status=503``: "Enrichment failed, please retry". Error bodies
``{"code", "description", "name"}``. Coverage: 80 % of people, 55 % of their e-mails, 35 % of phones, 85 % of
companies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, VendorError, build_app, ok
from ..kit.launch import EmulatorSpec, Started, StartOptions, take_options
from . import common
from .common import Credits, EnrichmentSandboxConfig, Person, company_for, covers, person_for

DEFAULT_KEY = "proxycurl-sandbox-key"
_NAMES = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 429: "Too Many Requests",
          500: "Internal Server Error", 503: "Service Unavailable", 504: "Gateway Timeout"}


class EnrichLayerError(VendorError):
    def payload(self, emulator: Any) -> Any:
        return {"code": self.status, "description": self.message, "name": _NAMES.get(self.status, "Error")}


@dataclass
class ProxycurlSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: (RateLimit(300, 60.0),))


class ProxycurlEmulator(Emulator):
    vendor = "Enrich Layer (Proxycurl-compatible)"

    def __init__(self, config: ProxycurlSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.windows = [RollingWindow(x) for x in config.rate_limits]

    def authenticate(self, request: Any) -> Any:
        key = request.bearer() or ""
        if key not in self.cfg.api_keys:
            raise EnrichLayerError(401, "Invalid API key")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        now = self.cfg.clock()
        if any(w.remaining(str(principal), now) <= 0 for w in self.windows):
            raise EnrichLayerError(429, "Rate limited. Please retry", headers={"Retry-After": "1"},
                                   limited_by="per minute")
        for w in self.windows:
            w.try_hit(str(principal), now)
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 403, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        if code == 503:
            message = "Enrichment failed, please retry."
        return EnrichLayerError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        for w in self.windows:
            w.reset()

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits],
                "credits_left": self.credits.left(self.cfg.api_keys[0]) if self.cfg.api_keys else None}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        return self.limits_json()

    def charge(self, key: str, credits: int) -> None:
        if credits <= 0:
            return
        if self.cfg.faults.credits_exhausted or not self.credits.spend(key, credits):
            raise EnrichLayerError(403, "You have run out of credits")


def _em(request: Request) -> ProxycurlEmulator:
    em: ProxycurlEmulator = request.app.state.sandbox
    return em


def _bad(message: str) -> EnrichLayerError:
    return EnrichLayerError(400, message)


def _not_found() -> EnrichLayerError:
    return EnrichLayerError(404, "The requested resource (e.g: user profile, company) could not be found")


def _from_url(url: str) -> Person | None:
    if "/in/" not in url:
        raise _bad("profile_url must be a profile URL such as https://www.linkedin.com/in/someone/")
    p = person_for(linkedin_url=url)
    if p is None or not p.findable or not covers("proxycurl", "person", p.key):
        return None
    return p


def _profile(p: Person) -> dict[str, Any]:
    handle = p.linkedin_url.rstrip("/").rsplit("/", 1)[-1]
    return {
        "public_identifier": handle, "first_name": p.first_name, "last_name": p.last_name, "full_name": p.name,
        "occupation": f"{p.title} at {p.company.name}", "headline": f"{p.title} at {p.company.name}",
        "summary": None, "country": p.country[:2].upper(), "country_full_name": p.country, "city": p.city,
        "state": p.state, "profile_pic_url": None, "follower_count": 500,
        "experiences": [{"starts_at": {"day": 1, "month": 3, "year": 2021}, "ends_at": None,
                         "company": p.company.name,
                         "company_linkedin_profile_url": f"https://www.linkedin.com/company/{p.company.domain.split('.')[0]}",
                         "title": p.title, "description": None, "location": p.city, "logo_url": None}],
        "education": [], "languages": [], "certifications": [],
        "meta": {"thin_profile": False, "last_updated": "2026-11-30T10:00:00Z"},
    }


async def person_lookup(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("first_name") and q.get("company_domain")):
        raise _bad("first_name and company_domain are required")
    company = q["company_domain"]
    domain = company if "." in company else ""
    p = person_for(first_name=q["first_name"], last_name=q.get("last_name", ""), company="" if domain else company,
                   domain=domain)
    enrich = q.get("enrich_profile") == "enrich"
    known = p is not None and p.findable and covers("proxycurl", "person", p.key)
    key = request.scope["sandbox.token"]
    em.charge(key, 2 + (1 if known and enrich else 0))  # 2 per 200, matched or not
    if not known or p is None:
        return ok({"url": None, "name_similarity_score": None, "company_similarity_score": None,
                   "title_similarity_score": None, "location_similarity_score": None, "last_updated": None,
                   "profile": None})
    return ok({"url": p.linkedin_url, "name_similarity_score": 1.0, "company_similarity_score": 0.92,
               "title_similarity_score": None, "location_similarity_score": None,
               "last_updated": "2026-11-30T10:00:00Z", "profile": _profile(p) if enrich else None})


async def person_profile(request: Request) -> Response:
    em, url = _em(request), request.query_params.get("profile_url", "")
    if not url:
        raise _bad("profile_url is required")
    p = _from_url(url)
    if p is None:
        raise _not_found()
    em.charge(request.scope["sandbox.token"], 1)
    return ok(_profile(p))


async def work_email(request: Request) -> Response:
    em, url = _em(request), request.query_params.get("profile_url", "")
    if not url:
        raise _bad("profile_url is required")
    p = _from_url(url)
    if p is None or not covers("proxycurl", "email", p.key):
        raise _not_found()
    em.charge(request.scope["sandbox.token"], 3)
    return ok({"emails": [p.email], "invalid_emails": []})


async def personal_contact(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not q.get("profile_url"):
        raise _bad("profile_url is required")
    try:
        size = int(q.get("page_size") or 0)
    except ValueError:
        raise _bad("page_size must be a whole number") from None
    p = _from_url(q["profile_url"])
    numbers = [p.phone] if p is not None and covers("proxycurl", "phone", p.key) else []
    if size:
        numbers = numbers[:size]
    em.charge(request.scope["sandbox.token"], len(numbers))
    return ok({"numbers": numbers})


async def company_lookup(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("company_domain") or q.get("company_name")):
        raise _bad("company_domain or company_name is required")
    c = company_for(q.get("company_name", ""), q.get("company_domain", ""))
    known = c is not None and covers("proxycurl", "company", c.domain)
    enrich = q.get("enrich_profile") == "enrich"
    em.charge(request.scope["sandbox.token"], 2 + (1 if known and enrich else 0))
    if not known or c is None:
        return ok({"url": None, "last_updated": None, "profile": None})
    handle = c.domain.split(".")[0]
    low = [n for n in (1, 11, 51, 201, 501, 1001, 5001, 10001) if n <= c.employees][-1]
    high = {1: 10, 11: 50, 51: 200, 201: 500, 501: 1000, 1001: 5000, 5001: 10000}.get(low)
    profile = {"name": c.name, "website": f"https://www.{c.domain}", "industry": c.industry,
               "company_size": [low, high], "company_size_on_linkedin": c.employees,
               "hq": {"country": c.country[:2].upper(), "city": c.city, "state": c.state, "postal_code": None,
                      "line_1": None, "is_hq": True},
               "company_type": "PRIVATELY_HELD", "founded_year": 2004, "specialities": [], "locations": [],
               "universal_name_id": handle, "tagline": None, "description": None,
               "meta": {"thin_profile": False, "last_updated": "2026-11-30T10:00:00Z"}}
    return ok({"url": f"https://www.linkedin.com/company/{handle}", "last_updated": "2026-11-30T10:00:00Z",
               "profile": profile if enrich else None})


async def credit_balance(request: Request) -> Response:
    em = _em(request)
    return ok({"credit_balance": em.credits.left(request.scope["sandbox.token"])})


ROUTES = [
    Route("/profile/resolve", person_lookup, methods=["GET"]),
    Route("/profile/email", work_email, methods=["GET"]),
    Route("/profile", person_profile, methods=["GET"]),
    Route("/contact-api/personal-contact", personal_contact, methods=["GET"]),
    Route("/company/resolve", company_lookup, methods=["GET"]),
    Route("/credit-balance", credit_balance, methods=["GET"]),
]


def create_app(config: ProxycurlSandboxConfig | None = None) -> Any:
    return build_app(ProxycurlEmulator(config or ProxycurlSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(ProxycurlSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits}; limits: "
               f"{', '.join(map(str, config.rate_limits)) or 'off'} (429 past them, 403 without credits)",
               "Enrich Layer's Proxycurl-compatible endpoints: finds 55 % of work e-mails, 35 % of "
               "phones, 85 % of companies."]
    return common.key_started("proxycurl", create_app(config), config, summary)


SPEC = EmulatorSpec(key="proxycurl", title="Proxycurl (Enrich Layer)", kind="enrichment",
                    summary="Enrich Layer's Proxycurl-compatible person, contact and company endpoints, with credits",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits on the account"})
