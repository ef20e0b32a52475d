"""Hunter emulator on the kit (https://hunter.io/api-documentation/v2; no official machine-readable description —
``tests/schemas/hunter/*.json`` are written from that page).

- ``GET /email-finder`` (``domain`` or ``company``, ``first_name`` + ``last_name`` or ``full_name``);
- ``GET /email-verifier?email=`` — statuses valid / invalid / accept_all / webmail / disposable / unknown; the
  first check of one address in ten answers **202** (still verifying: ask again);
- ``GET /domain-search`` (``domain`` or ``company``);
- ``GET /account``.

The key comes as the ``api_key`` query parameter or the ``X-API-KEY`` header (401 ``authentication_failed``
otherwise). Hunter's own status codes: **403 = rate limit** (15/s and 500/min for finder and domain search, 10/s
and 300/min for the verifier; no rate-limit headers), **429 = usage limit** (credits). Errors are
``{"errors": [{"id", "code", "details"}]}``. Credits: 1 per e-mail found, 0.5 per verification, 1 per domain
search with a result; asking again what was already charged in the billing period is free ("duplicate requests
are not charged twice", http://help.hunter.io/en/articles/1911617). Coverage: 80 % of people, 60 % of their
e-mails, 10 % of their phones, 85 % of companies.
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
from .common import Credits, EnrichmentSandboxConfig, covers, email_status, header_or_query, person_for
from .common import company_for as _company_for

DEFAULT_KEY = "hunter-sandbox-key"
VERIFIER_PATH = "/email-verifier"


class HunterError(VendorError):
    def __init__(self, status: int, id_: str, details: str, *, limited_by: str | None = None) -> None:
        super().__init__(status, details, limited_by=limited_by)
        self.id = id_

    def payload(self, emulator: Any) -> Any:
        return {"errors": [{"id": self.id, "code": self.status, "details": self.message}]}


@dataclass
class HunterSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    # Per second and per minute; the verifier has its own pair.
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: (RateLimit(15, 1.0), RateLimit(500, 60.0)))
    verifier_limits: tuple[RateLimit, ...] = field(
        default_factory=lambda: (RateLimit(10, 1.0), RateLimit(300, 60.0)))
    pending_share: int = 10  # percent of first verifications that answer 202


class HunterEmulator(Emulator):
    vendor = "Hunter"

    def __init__(self, config: HunterSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits * 2)  # half credits
        self.windows = [RollingWindow(x) for x in config.rate_limits]
        self.verifier_windows = [RollingWindow(x) for x in config.verifier_limits]
        self.verifying: set[str] = set()
        self.charged: set[tuple[str, str]] = set()  # (key, request) charged this billing period

    def authenticate(self, request: Any) -> Any:
        key = header_or_query(request, "x-api-key", "api_key")
        if key not in self.cfg.api_keys:
            raise HunterError(401, "authentication_failed", "No user found for the API key supplied")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        windows = self.verifier_windows if request.path == VERIFIER_PATH else self.windows
        now = self.cfg.clock()
        if any(w.remaining(str(principal), now) <= 0 for w in windows):
            raise HunterError(403, "too_many_requests", "You have reached the rate limit for this endpoint. Slow "
                              "down your requests.", limited_by=request.path)
        for w in windows:
            w.try_hit(str(principal), now)
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 403, "credits_exhausted": 429, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        return HunterError(code, kind, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total // 2}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.verifying.clear()
        self.charged.clear()
        for w in (*self.windows, *self.verifier_windows):
            w.reset()

    def limits_json(self) -> dict[str, Any]:
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits],
                "verifier_limits": [str(x) for x in self.cfg.verifier_limits],
                "credits_left": self.credits.left(self.cfg.api_keys[0]) / 2 if self.cfg.api_keys else None}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(float(values["credits"]) * 2))
        return self.limits_json()

    def charge(self, key: str, half_credits: int, request: str = "") -> None:
        if request and (key, request) in self.charged:
            return  # Hunter does not charge twice for the same request in a billing period
        if self.cfg.faults.credits_exhausted or not self.credits.spend(key, half_credits):
            raise HunterError(429, "too_many_requests", "You have reached your usage limit. Upgrade your plan or "
                              "wait for the reset to keep using the API.")
        if request:
            self.charged.add((key, request))


def _em(request: Request) -> HunterEmulator:
    em: HunterEmulator = request.app.state.sandbox
    return em


def _bad(details: str) -> HunterError:
    return HunterError(400, "wrong_params", details)


async def email_finder(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("domain") or q.get("company")):
        raise _bad("You are missing the domain or the company parameter")
    if not ((q.get("first_name") and q.get("last_name")) or q.get("full_name")):
        raise _bad("You are missing the first_name and last_name, or the full_name parameter")
    p = person_for(first_name=q.get("first_name", ""), last_name=q.get("last_name", ""),
                   full_name=q.get("full_name", ""), company=q.get("company", ""), domain=q.get("domain", ""))
    data: dict[str, Any] = {"first_name": q.get("first_name"), "last_name": q.get("last_name"), "email": None,
                            "score": None, "domain": p.company.domain if p else q.get("domain"),
                            "accept_all": False, "position": None, "twitter": None, "linkedin_url": None,
                            "phone_number": None, "company": p.company.name if p else q.get("company"),
                            "sources": [], "verification": {"date": None, "status": None}}
    if p is not None and p.findable and covers("hunter", "person", p.key) and covers("hunter", "email", p.key):
        em.charge(request.scope["sandbox.token"], 2, f"finder:{p.key}")
        status = email_status(p.email)
        data.update({"email": p.email, "score": 70 + int(p.key.__len__() % 30), "position": p.title,
                     "linkedin_url": p.linkedin_url,
                     "phone_number": p.phone if covers("hunter", "phone", p.key) else None,
                     "accept_all": status == "accept_all",
                     "verification": {"date": "2026-11-30", "status": status}})
    return ok({"data": data, "meta": {"params": dict(q.items()) | {"api_key": None}}})


async def email_verifier(request: Request) -> Response:
    em, email = _em(request), (request.query_params.get("email") or "").strip().lower()
    if "@" not in email:
        raise _bad("You are missing the email parameter, or it is not an e-mail address")
    if email not in em.verifying and (sum(map(ord, email)) % 100) < em.cfg.pending_share:
        em.verifying.add(email)
        return Response(status_code=202)
    em.charge(request.scope["sandbox.token"], 1, f"verify:{email}")
    status = email_status(email)
    webmail = email.endswith(("@gmail.com", "@yahoo.com", "@hotmail.com", "@outlook.com"))
    if webmail:
        status = "webmail"
    score = {"valid": 96, "accept_all": 70, "unknown": 40, "invalid": 5, "webmail": 80}[status]
    return ok({"data": {"status": status, "result": "deliverable" if status == "valid" else "risky",
                        "score": score, "email": email, "regexp": True, "gibberish": False,
                        "disposable": False, "webmail": webmail, "mx_records": True, "smtp_server": True,
                        "smtp_check": status == "valid", "accept_all": status == "accept_all", "block": False,
                        "sources": []},
               "meta": {"params": {"email": email}}})


async def domain_search(request: Request) -> Response:
    em, q = _em(request), request.query_params
    if not (q.get("domain") or q.get("company")):
        raise _bad("You are missing the domain or the company parameter")
    c = _company_for(q.get("company", ""), q.get("domain", ""))
    if c is None or not covers("hunter", "company", c.domain):
        return ok({"data": {"domain": None, "disposable": False, "webmail": False, "accept_all": False,
                            "pattern": None, "organization": None, "emails": []},
                   "meta": {"results": 0, "limit": int(q.get("limit") or 10), "offset": 0}})
    em.charge(request.scope["sandbox.token"], 2, f"domain:{c.domain}")
    low = [n for n in (1, 11, 51, 201, 501, 1001, 5001, 10001) if n <= c.employees][-1]
    high = {1: 10, 11: 50, 51: 200, 201: 500, 501: 1000, 1001: 5000, 5001: 10000}.get(low)
    return ok({"data": {"domain": c.domain, "disposable": False, "webmail": False, "accept_all": False,
                        "pattern": "{first}.{last}", "organization": c.name, "description": None,
                        "industry": c.industry, "headcount": f"{low}-{high}" if high else f"{low}+",
                        "country": c.country, "state": c.state, "city": c.city, "emails": []},
               "meta": {"results": 1, "limit": int(q.get("limit") or 10), "offset": 0}})


async def account(request: Request) -> Response:
    em = _em(request)
    key = request.scope["sandbox.token"]
    used_half = em.credits.initial - em.credits.left(key)
    return ok({"data": {"first_name": "Sandbox", "last_name": "User", "email": "sandbox@example.com",
                        "plan_name": "Growth", "plan_level": 2, "reset_date": "2027-01-01", "team_id": 1,
                        "calls": {"_deprecation_notice": "Use requests", "used": 0, "available": 0},
                        "requests": {"credits": {"used": used_half / 2, "available": em.credits.initial / 2},
                                     "searches": {"used": 0, "available": 0},
                                     "verifications": {"used": 0, "available": 0}}}})


ROUTES = [
    Route("/email-finder", email_finder, methods=["GET"]),
    Route(VERIFIER_PATH, email_verifier, methods=["GET"]),
    Route("/domain-search", domain_search, methods=["GET"]),
    Route("/account", account, methods=["GET"]),
]


def create_app(config: HunterSandboxConfig | None = None) -> Any:
    return build_app(HunterEmulator(config or HunterSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(HunterSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits}; limits: "
               f"{', '.join(map(str, config.rate_limits)) or 'off'} (403 past them, 429 without credits)",
               "Finds 60 % of e-mails, 10 % of phones, 85 % of companies."]
    return common.key_started("hunter", create_app(config), config, summary)


SPEC = EmulatorSpec(key="hunter", title="Hunter", kind="enrichment",
                    summary="Hunter e-mail finder, verifier and domain search, with credits",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits on the account"})
