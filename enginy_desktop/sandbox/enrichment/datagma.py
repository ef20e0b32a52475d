"""Datagma emulator on the kit. Datagma publishes its reference on ReadMe (https://datagmaapi.readme.io) without a
machine-readable copy; ``tests/schemas/datagma/*.json`` are written from the pages cited there and in
:mod:`enginy_desktop.adapters.enrichment.datagma`.

Routes, relative to the base URL (``https://gateway.datagma.net/api/ingress``), all ``GET`` with the key in the
``apiId`` query parameter (401 ``{"code": 16, "message": …}`` without a known one):

- ``/v8/findEmail`` (``firstName`` + ``lastName`` or ``fullName``; ``company`` = name or domain) → ``{"email",
  "status": "Valid", "emailDomain", "mxfound", "smtpCheck", "cachAll", "creditBurn": "1"}``; on a catch-all domain
  (one company in ten) ``email`` is empty and ``mostProbableEmail`` is given, free;
- ``/v2/full`` (``data`` = LinkedIn URL, e-mail, domain or company name; or ``fullName`` + ``company``;
  ``companyPremium``, ``companyFull``, ``phoneFull``) → ``{"creditBurn", "person": {"basic": {…}}, "company":
  {…}, "phoneFull": {"phones": […]}}``; 2 credits for the person (or the company), +30 for a phone found;
- ``/v1/search`` (``username`` = LinkedIn URL, or ``email``; ``minimumMatch``) → ``{"creditBurn": "30", "person":
  {"names", "phones", "emails", "jobs", "urls"}}``; people located in the European Union: 403 ``{"code": 7}``
  (phones are not searched there), not charged;
- ``/v1/mine`` → ``{"currentCredit": n}``.

Credits are charged at success only and once per lookup (asking again answers ``"creditBurn": "0"``). Not found:
404 ``{"code": 5, "message": "Not found"}``; out of credits: 500 ``{"code": 13, "message": "can't get credit"}``;
more than 10 requests a second: 429 ``{"code": 8}``. Coverage: 75 % of people, 60 % of their e-mails, 45 % of
phones (outside the EU), 85 % of companies.
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
from .common import Credits, EnrichmentSandboxConfig, Person, company_for, covers, person_for, stable_id

DEFAULT_KEY = "datagma-sandbox-key"
EMAIL_CREDITS, FULL_CREDITS, PHONE_CREDITS = 1, 2, 30
EU = {"France", "Germany", "Spain"}
# grpc-style codes Datagma's gateway answers with
_CODES = {400: 3, 401: 16, 403: 7, 404: 5, 429: 8, 500: 13, 503: 14, 504: 4}


class DatagmaError(VendorError):
    def __init__(self, status: int, message: str = "", *, code: int | None = None, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.code = code if code is not None else _CODES.get(status, 2)

    def payload(self, emulator: Any) -> Any:
        return {"code": self.code, "message": self.message, "details": []}


@dataclass
class DatagmaSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: (RateLimit(10, 1.0),))


class DatagmaEmulator(Emulator):
    vendor = "Datagma"

    def __init__(self, config: DatagmaSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.windows = [RollingWindow(x) for x in config.rate_limits]
        self.paid: dict[str, set[str]] = {}  # key -> lookups already charged (asking again is free)

    def authenticate(self, request: Any) -> Any:
        key = (request.query_param("apiId") or "").strip()
        if key not in self.cfg.api_keys:
            raise DatagmaError(401, "invalid apiId")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        now = self.cfg.clock()
        if any(w.remaining(str(principal), now) <= 0 for w in self.windows):
            raise DatagmaError(429, "Too many requests, slow down", headers={"Retry-After": "1"},
                               limited_by="per second")
        for w in self.windows:
            w.try_hit(str(principal), now)
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        if kind == "credits_exhausted":
            return DatagmaError(500, "can't get credit", code=13)
        code = status or {"unauthorized": 401, "rate_limited": 429, "not_found": 404, "method_not_allowed": 405,
                          "too_large": 413, "bad_request": 400, "gateway_timeout": 504}.get(kind, 503)
        return DatagmaError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.paid.clear()
        for w in self.windows:
            w.reset()

    def limits_json(self) -> dict[str, Any]:
        key = self.cfg.api_keys[0] if self.cfg.api_keys else ""
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits], "credits_left": self.credits.left(key)}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        return self.limits_json()

    def charge(self, key: str, lookup: str, units: int) -> int:
        """Charge ``units`` for ``lookup`` once (asking again is free); 0 when already paid for."""
        paid = self.paid.setdefault(key, set())
        if units <= 0 or lookup in paid:
            return 0
        if self.cfg.faults.credits_exhausted or not self.credits.spend(key, units):
            raise DatagmaError(500, "can't get credit", code=13)
        paid.add(lookup)
        return units


def _em(request: Request) -> DatagmaEmulator:
    em: DatagmaEmulator = request.app.state.sandbox
    return em


def _q(request: Request, name: str) -> str:
    return (request.query_params.get(name) or "").strip()


def _flag(request: Request, name: str) -> bool:
    return _q(request, name).lower() in ("true", "1", "yes")


def _person_from(request: Request, data: str = "") -> Person | None:
    full = _q(request, "fullName")
    company = _q(request, "company")
    if data.startswith("http") and "linkedin.com/in/" in data:
        return person_for(linkedin_url=data)
    if "@" in data:
        return person_for(email=data)
    first, last = _q(request, "firstName"), _q(request, "lastName")
    if (first and last) or full:
        dom = company if "." in company and " " not in company else ""
        return person_for(first_name=first, last_name=last, full_name=full, company="" if dom else company,
                          domain=dom)
    return None


def _known(p: Person | None) -> Person:
    if p is None or not p.findable or not covers("datagma", "person", p.key):
        raise DatagmaError(404, "Not found")
    return p


def _phone_payload(p: Person) -> dict[str, Any]:
    digits = p.phone.replace(" ", "")
    return {"number": digits[2:], "countryCode": "1", "displayInternational": p.phone, "type": "mobile",
            "linkedWhatsapp": bool(stable_id(p.key) % 2)}


def _company_payload(c: Any, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"name": c.name, "website": f"https://www.{c.domain}", "industries": c.industry,
                           "companySize": str(c.employees), "headquarters": f"{c.city}, {c.country}"}
    if full:
        out["revenue"] = c.revenue
    return out


async def find_email(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    if not (_q(request, "company") and ((_q(request, "firstName") and _q(request, "lastName")) or _q(request,
                                                                                                  "fullName"))):
        raise DatagmaError(400, "fullName (or firstName and lastName) and company are required")
    p = _known(_person_from(request))
    if not covers("datagma", "email", p.key):
        raise DatagmaError(404, "Not found")
    domain = p.email.split("@", 1)[1]
    if stable_id("catchall" + p.company.domain) % 10 == 0:  # a catch-all domain: the most probable address, free
        return ok({"email": "", "mostProbableEmail": p.email, "status": "Catch-all", "emailDomain": domain,
                   "mxfound": True, "smtpCheck": False, "cachAll": True, "creditBurn": "0"})
    burn = em.charge(key, f"email|{p.key}", EMAIL_CREDITS)
    return ok({"email": p.email, "status": "Valid", "emailDomain": domain, "mxfound": True, "smtpCheck": True,
               "cachAll": False, "creditBurn": str(burn)})


async def full(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    data = _q(request, "data")
    premium, finance = _flag(request, "companyPremium"), _flag(request, "companyFull")
    person = _person_from(request, data)
    if person is None:
        if not data:
            raise DatagmaError(400, "data, or fullName and company, is required")
        c = company_for(data, "") if "." not in data else company_for("", data)
        if c is None or not covers("datagma", "company", c.domain):
            raise DatagmaError(404, "Not found")
        burn = em.charge(key, f"company|{c.domain}|{int(finance)}", FULL_CREDITS)
        return ok({"creditBurn": str(burn), "company": _company_payload(c, finance)})
    p = _known(person)
    body: dict[str, Any] = {"person": {"basic": {
        "name": p.name, "firstName": p.first_name, "lastName": p.last_name, "jobTitle": p.title,
        "company": p.company.name, "linkedInUrl": p.linkedin_url, "city": p.city, "region": p.state,
        "country": p.country}}}
    burn = em.charge(key, f"person|{p.key}", FULL_CREDITS)
    if premium and covers("datagma", "company", p.company.domain):
        body["company"] = _company_payload(p.company, finance)
    if _flag(request, "phoneFull"):
        phones = []
        if p.country not in EU and covers("datagma", "phone", p.key):
            burn += em.charge(key, f"phone|{p.key}", PHONE_CREDITS)
            phones = [_phone_payload(p)]
        body["phoneFull"] = {"phones": phones}
    body["creditBurn"] = str(burn)
    return ok(body)


async def search(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    username, email = _q(request, "username"), _q(request, "email")
    if not (username or email):
        raise DatagmaError(400, "username or email is required")
    p = _known(person_for(linkedin_url=username) if username else person_for(email=email))
    if p.country in EU:
        raise DatagmaError(403, "Phone search is not available for prospects located in the European Union")
    if not covers("datagma", "phone", p.key):
        raise DatagmaError(404, "Not found")
    burn = em.charge(key, f"phone|{p.key}", PHONE_CREDITS)
    return ok({"creditBurn": str(burn), "person": {
        "names": [{"first": p.first_name, "last": p.last_name, "display": p.name}],
        "phones": [_phone_payload(p)], "emails": [],
        "jobs": [{"title": p.title, "organization": p.company.name}],
        "urls": [{"url": p.linkedin_url, "domain": "linkedin.com"}]}})


async def mine(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    return ok({"currentCredit": em.credits.left(key)})


ROUTES = [
    Route("/v8/findEmail", find_email, methods=["GET"]),
    Route("/v6/findEmail", find_email, methods=["GET"]),
    Route("/v2/full", full, methods=["GET"]),
    Route("/v1/search", search, methods=["GET"]),
    Route("/v1/mine", mine, methods=["GET"]),
]


def create_app(config: DatagmaSandboxConfig | None = None) -> Any:
    return build_app(DatagmaEmulator(config or DatagmaSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(DatagmaSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits}; limits: {', '.join(map(str, config.rate_limits)) or 'off'} "
               "(429 past them; out of credits: code 13 \"can't get credit\")",
               "Finds 60 % of work e-mails (1 credit), people and companies (2), 45 % of phones outside "
               "the EU (30)."]
    return common.key_started("datagma", create_app(config), config, summary, "API key (apiId)")


SPEC = EmulatorSpec(key="datagma", title="Datagma", kind="enrichment",
                    summary="Datagma person and company enrichment, work e-mail and phone finders, credits at success",
                    start=_start, options={"key": "the API key (apiId) it accepts", "credits": "credits"})
