"""Cognism (Search API) emulator on the kit. Cognism publishes a Postman collection (developers.cognism.com) and help
articles, no OpenAPI; ``tests/schemas/cognism/*.json`` are written from them (pages cited there and in
:mod:`enginy_desktop.adapters.enrichment.cognism`).

Routes, relative to the base URL (``https://app.cognism.com/api``), ``Authorization: Bearer <key>``:

- ``POST /search/contact/enrich`` (``email`` / ``linkedinUrl`` / ``firstName`` + ``lastName`` with ``accountName`` or
  ``accountWebsite``; ``jobTitle`` helps) → ``{"matchScore", "results": [preview]}``; a name and a company without a
  job title match one person in three less often (score under 30: an empty ``results``), as Cognism's help says the
  enrich API matches best with a unique identifier or a job title;
- ``POST /search/contact/search?indexSize=20..100&lastReturnedKey=`` (``firstName``, ``lastName``, ``account``:
  ``names`` / ``domains``) → ``{"lastReturnedKey", "totalResults", "results": [preview]}``: the person and
  namesakes at that company, in a fixed order; the next page starts after ``lastReturnedKey`` (forward only: a key
  that is not the end of a page this search returned is refused, 400);
- ``POST /search/account/enrich`` (``domain`` / ``website`` / ``name``) → ``{"matchScore", "results": [account
  preview]}``;
- ``POST /search/contact/redeem`` ``{"redeemIds": [1..20]}`` → ``{"totalResults", "results": [contact]}``: **1
  credit per contact the first time** (all or nothing per request; re-redeeming is free);
  ``POST /search/account/redeem`` (account ids) → ``{"total", "result": [account]}``, free;
- ``GET /search/entitlement/contactEntitlementSubscription`` → ``{"contact Entitlement": {field: bool}}``.

Previews are free but count against the preview allowance: credits × 10 (enrich −1 per result, search −1 per result
returned). Errors are Cognism's array ``[{"key", "code", "msg"}]``: 401 ``MissingCredentials``; 400; 429 without
Retry-After past **1,000 records a minute** — search results and redeemed ids (contacts and accounts) each count
one record against their API's window; every request also counts against a window of 1,000 requests a minute
(Cognism documents no separate enrich limit: the emulator assumes the same ceiling). Cognism does not document its
out-of-credits answer: here **402** ``InsufficientCredits`` (redeem) and ``PreviewLimitExceeded`` (enrich, search).
Coverage: 80 % of people, 70 % of their e-mails, 60 % of phones, 90 % of companies.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..kit import Emulator, ErrorKind, RateLimit, RollingWindow, VendorError, build_app, ok
from ..kit.launch import EmulatorSpec, Started, StartOptions, take_options
from . import common
from .common import Company, Credits, EnrichmentSandboxConfig, Person, company_for, covers, person_for, stable_id
from .common import slug as _slug

DEFAULT_KEY = "cognism-sandbox-key"
PREVIEW_MULTIPLIER = 10
_KEYS = {400: "InvalidRequest", 401: "MissingCredentials", 402: "InsufficientCredits", 404: "RouteNotFound",
         429: "RateLimitExceeded", 500: "InternalError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
_NAMESAKES = ("Alex", "Sam", "Jordan", "Taylor", "Morgan", "Casey", "Robin", "Jamie", "Charlie", "Dana", "Kim",
              "Lee", "Noa", "Ari", "Eden", "Sasha")


class CognismError(VendorError):
    def __init__(self, status: int, message: str = "", *, key: str = "", **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.key = key or _KEYS.get(status, "Error")

    def payload(self, emulator: Any) -> Any:
        return [{"key": self.key, "code": self.status, "msg": self.message}]


@dataclass
class CognismSandboxConfig(EnrichmentSandboxConfig):
    api_keys: tuple[str, ...] = (DEFAULT_KEY,)
    rate_limits: tuple[RateLimit, ...] = field(default_factory=lambda: (RateLimit(1000, 60.0),))


def _uuid(*parts: str) -> str:
    h = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=16).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _redeem_id(p: Person) -> str:
    handle = p.linkedin_url.rstrip("/").rsplit("/", 1)[-1]
    raw = f"{_uuid('contact', p.key)};{p.first_name}|{p.last_name}|{p.company.domain}|{handle}|{p.company.name}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _person_of(redeem_id: str) -> Person | None:
    try:
        raw = base64.urlsafe_b64decode(redeem_id + "=" * (-len(redeem_id) % 4)).decode()
        _cid, _, rest = raw.partition(";")
        first, last, domain, handle, company = rest.split("|", 4)
    except (ValueError, UnicodeDecodeError):
        return None
    return person_for(first_name=first, last_name=last, company=company, domain=domain,
                      linkedin_url=f"https://www.linkedin.com/in/{handle}")


class CognismEmulator(Emulator):
    vendor = "Cognism"

    def __init__(self, config: CognismSandboxConfig) -> None:
        super().__init__(config)
        self.cfg = config
        self.credits = Credits(config.credits)
        self.windows = [RollingWindow(x) for x in config.rate_limits]  # requests of every kind
        # Search results and redeemed ids: 1,000 records a minute each (the Search and Redeem APIs' own limits).
        self.record_windows = {api: [RollingWindow(x) for x in config.rate_limits] for api in ("search", "redeem")}
        self.previews: dict[str, int] = {}  # key -> previews used
        self.redeemed: dict[str, set[str]] = {}  # key -> contacts already redeemed (free again)
        self.accounts: dict[str, Company] = {}  # account id -> company
        self.pages: dict[str, set[str]] = {}  # search signature -> page ends handed out (the forward-only cursor)

    def authenticate(self, request: Any) -> Any:
        key = request.bearer() or ""
        if key not in self.cfg.api_keys:
            raise CognismError(401, "Missing required credentials")
        return key

    def limit(self, principal: Any, request: Any) -> dict[str, str]:
        self.hit(str(principal), 1, self.windows)
        return {}

    def hit(self, key: str, records: int, windows: list[RollingWindow] | None = None, api: str = "") -> None:
        """Count ``records`` against a records-a-minute window (429 past it; Cognism sends no Retry-After)."""
        now = self.cfg.clock()
        windows = self.record_windows.get(api, []) if windows is None else windows
        if any(w.remaining(key, now) < records for w in windows):
            raise CognismError(429, "Rate limit exceeded", limited_by=f"{api or 'requests'} per minute")
        for w in windows:
            for _ in range(records):
                w.try_hit(key, now)

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        code = status or {"unauthorized": 401, "rate_limited": 429, "credits_exhausted": 402, "not_found": 404,
                          "method_not_allowed": 405, "too_large": 413, "bad_request": 400,
                          "gateway_timeout": 504}.get(kind, 503)
        return CognismError(code, message)

    def counts(self) -> dict[str, int]:
        return {**super().counts(), "credits_spent": self.credits.spent_total}

    def reset(self, *, seed: bool = True) -> None:
        super().reset(seed=seed)
        self.credits.reset()
        self.previews.clear()
        self.redeemed.clear()
        self.pages.clear()
        for w in [*self.windows, *self.record_windows["search"], *self.record_windows["redeem"]]:
            w.reset()

    def limits_json(self) -> dict[str, Any]:
        key = self.cfg.api_keys[0] if self.cfg.api_keys else ""
        return {"rate_limits": [str(x) for x in self.cfg.rate_limits], "credits_left": self.credits.left(key),
                "previews_left": self.previews_left(key)}

    def set_limits(self, values: Any) -> dict[str, Any]:
        if "credits" in values:
            for key in self.cfg.api_keys:
                self.credits.set(key, int(values["credits"]))
        return self.limits_json()

    def previews_left(self, key: str) -> int:
        return self.credits.left(key) * PREVIEW_MULTIPLIER - self.previews.get(key, 0)

    def preview(self, key: str, n: int) -> None:
        if self.cfg.faults.credits_exhausted or self.previews_left(key) < n:
            raise CognismError(402, "Preview limit reached: previews are limited to 10 times the credits left",
                               key="PreviewLimitExceeded")
        self.previews[key] = self.previews.get(key, 0) + n

    def account_id(self, c: Company) -> str:
        aid = _uuid("account", c.domain)
        self.accounts[aid] = c
        return aid


def _em(request: Request) -> CognismEmulator:
    em: CognismEmulator = request.app.state.sandbox
    return em


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise CognismError(400, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise CognismError(400, "The request body must be a JSON object")
    return body


def _account_preview(em: CognismEmulator, c: Company) -> dict[str, Any]:
    return {"id": em.account_id(c), "name": c.name, "hasDomain": True, "hasIndustries": True, "hasWebsite": True,
            "hasLinkedinUrl": True, "hasRevenue": True, "hasHeadcount": True, "hasSize": True, "hasLocation": True,
            "hasOfficePhoneNumbers": False, "hasHqPhoneNumbers": False}


def _contact_preview(em: CognismEmulator, p: Person) -> dict[str, Any]:
    return {"id": _uuid("contact", p.key), "fullName": p.name, "firstName": p.first_name, "lastName": p.last_name,
            "jobTitle": p.title, "hasEmail": covers("cognism", "email", p.key),
            "hasMobilePhoneNumbers": covers("cognism", "phone", p.key) and p.mobile,
            "hasDirectPhoneNumbers": covers("cognism", "phone", p.key) and not p.mobile,
            "hasLinkedinUrl": True, "hasCountry": True, "hasState": True, "hasCity": True, "hasSkills": False,
            "hasEducation": False, "hasPreviousAccounts": False, "redeemId": _redeem_id(p),
            "account": _account_preview(em, p.company)}


def _account_full(em: CognismEmulator, c: Company) -> dict[str, Any]:
    bands = ((10, 1), (50, 11), (200, 51), (500, 201), (1000, 501), (5000, 1001), (10000, 5001))
    size_to, size_from = next(((hi, lo) for hi, lo in bands if c.employees <= hi), (100000, 10001))
    return {"id": em.account_id(c), "name": c.name, "domain": c.domain, "website": c.domain,
            "linkedinUrl": f"https://www.linkedin.com/company/{_slug(c.name)}", "industries": [c.industry],
            "headcount": c.employees, "sizeFrom": size_from, "sizeTo": size_to, "revenue": c.revenue,
            "type": "Privately Held",
            "location": [{"addressType": "hq", "country": c.country, "state": c.state, "city": c.city}]}


def _contact_full(em: CognismEmulator, p: Person) -> dict[str, Any]:
    out: dict[str, Any] = {"id": _uuid("contact", p.key), "redeemId": _redeem_id(p), "fullName": p.name,
                           "firstName": p.first_name, "lastName": p.last_name, "jobTitle": p.title,
                           "linkedinUrl": p.linkedin_url, "country": p.country, "state": p.state, "city": p.city,
                           "mobilePhoneNumbers": [], "directPhoneNumbers": []}
    if covers("cognism", "email", p.key):
        quality = ("HIGH_PLUS", "HIGH", "MEDIUM")[stable_id("q" + p.key) % 3]
        out["email"] = {"address": p.email, "quality": quality,
                        "sha256": hashlib.sha256(p.email.encode()).hexdigest()}
    if covers("cognism", "phone", p.key):
        number = {"number": p.phone.replace(" ", ""), "numberType": "MOBILE" if p.mobile else "FIXED_LINE",
                  "label": "DIRECT_DIAL", "score": 60 + stable_id("s" + p.key) % 40, "dnc": False}
        out["mobilePhoneNumbers" if p.mobile else "directPhoneNumbers"] = [number]
    account = _account_full(em, p.company)
    account["industry"] = account.pop("industries")  # a contact's account says "industry" (Cognism's example)
    out["account"] = account
    return out


def _findable(p: Person | None) -> Person | None:
    return p if p is not None and p.findable and covers("cognism", "person", p.key) else None


async def contact_enrich(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    body = await _body(request)
    email, linkedin = str(body.get("email") or ""), str(body.get("linkedinUrl") or "")
    first, last = str(body.get("firstName") or ""), str(body.get("lastName") or "")
    account = str(body.get("accountWebsite") or body.get("accountName") or "")
    if not (email or linkedin or (first and last and account)):
        raise CognismError(400, "Provide email, linkedinUrl, or firstName and lastName with accountName or "
                           "accountWebsite")
    domain = str(body.get("accountWebsite") or "").split("://", 1)[-1].removeprefix("www.").split("/", 1)[0]
    p = _findable(person_for(first_name=first, last_name=last, company=str(body.get("accountName") or ""),
                             domain=domain, linkedin_url=linkedin, email=email))
    if p is not None and not (email or linkedin or body.get("jobTitle")) and stable_id("namematch" + p.key) % 100 >= 65:
        p = None  # a name and a company alone score under 30
    em.preview(key, 1 if p else 0)
    if p is None:
        return ok({"matchScore": 0, "results": []})
    return ok({"matchScore": 60 + stable_id("m" + p.key) % 90, "results": [_contact_preview(em, p)]})


def _namesakes(p: Person) -> list[Person]:
    """The person and namesakes at the same company (same last name), in Cognism's fixed order (by id)."""
    n = stable_id("namesakes" + p.key) % 50
    people = [p]
    for i in range(n):
        other = person_for(first_name=f"{_NAMESAKES[i % len(_NAMESAKES)]}{'' if i < 16 else i}",
                           last_name=p.last_name, company=p.company.name, domain=p.company.domain)
        if other is not None and other.key != p.key:
            people.append(other)
    return sorted(people, key=lambda x: _uuid("contact", x.key))


async def contact_search(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    body = await _body(request)
    try:
        size = int(request.query_params.get("indexSize") or 25)
    except ValueError:
        raise CognismError(400, "indexSize must be a number") from None
    if not 20 <= size <= 100:
        raise CognismError(400, "indexSize must be between 20 and 100")
    first, last = str(body.get("firstName") or ""), str(body.get("lastName") or "")
    raw_account = body.get("account")
    account: dict[str, Any] = raw_account if isinstance(raw_account, dict) else {}
    names = [str(x) for x in account.get("names") or []]
    domains = [str(x) for x in account.get("domains") or []]
    if not (last and (names or domains)):
        raise CognismError(400, "This emulator searches a lastName at account names or domains")
    p = _findable(person_for(first_name=first or "Someone", last_name=last, company=names[0] if names else "",
                             domain=domains[0] if domains else ""))
    everyone = _namesakes(p) if p is not None else []
    signature = f"{key}|{first}|{last}|{names}|{domains}|{size}"
    cursor = request.query_params.get("lastReturnedKey") or ""
    start = 0
    if cursor:
        ids = [_uuid("contact", x.key) for x in everyone]
        if cursor not in em.pages.get(signature, set()) or cursor not in ids:
            raise CognismError(400, "lastReturnedKey is not the end of a page of this search (pages are read "
                               "forward, from the first)")
        start = ids.index(cursor) + 1
    page = everyone[start:start + size]
    em.hit(key, len(page), api="search")
    em.preview(key, len(page))
    results = [_contact_preview(em, x) for x in page]
    last_key = results[-1]["id"] if results else ""
    if last_key:
        em.pages.setdefault(signature, set()).add(last_key)
    return ok({"lastReturnedKey": last_key, "totalResults": len(everyone), "results": results})


async def account_enrich(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    body = await _body(request)
    domain = str(body.get("domain") or body.get("website") or "").split("://", 1)[-1].removeprefix("www.")
    name = str(body.get("name") or "")
    if not (domain or name or body.get("linkedinUrl")):
        raise CognismError(400, "Provide domain, website, linkedinUrl or name")
    c = company_for(name, domain.split("/", 1)[0])
    known = c is not None and covers("cognism", "company", c.domain)
    em.preview(key, 1 if known else 0)
    if not known or c is None:
        return ok({"matchScore": 0, "results": []})
    return ok({"matchScore": 80, "results": [_account_preview(em, c)]})


def _redeem_ids(body: dict[str, Any]) -> list[str]:
    ids = body.get("redeemIds")
    if not isinstance(ids, list) or not 1 <= len(ids) <= 20 or not all(isinstance(i, str) and i for i in ids):
        raise CognismError(400, "redeemIds must hold 1 to 20 redeem ids")
    return ids


async def contact_redeem(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    ids = _redeem_ids(await _body(request))
    people = [(rid, _person_of(rid)) for rid in ids]
    if any(p is None for _rid, p in people):
        raise CognismError(400, "Invalid redeem id: use the redeemId of a Search or Enrich result verbatim")
    em.hit(key, len(ids), api="redeem")
    done = em.redeemed.setdefault(key, set())
    new = {p.key for _rid, p in people if p is not None and p.key not in done}
    if new and (em.cfg.faults.credits_exhausted or not em.credits.spend(key, len(new))):
        raise CognismError(402, f"Not enough credits to redeem {len(new)} contacts", key="InsufficientCredits")
    done |= new
    results = [_contact_full(em, p) for _rid, p in people if p is not None]
    return ok({"totalResults": len(results), "results": results})


async def account_redeem(request: Request) -> Response:
    em, key = _em(request), request.scope["sandbox.token"]
    ids = _redeem_ids(await _body(request))
    em.hit(key, len(ids), api="redeem")
    result = [_account_full(em, em.accounts[i]) for i in ids if i in em.accounts]
    return ok({"total": len(result), "result": result})


async def entitlement(request: Request) -> Response:
    fields = ("id", "firstName", "lastName", "fullName", "jobTitle", "email", "mobilePhoneNumbers",
              "directPhoneNumbers", "linkedinUrl", "country", "state", "city", "account")
    return ok({"contact Entitlement": {f: True for f in fields} | {"officePhoneNumbers": False}})


ROUTES = [
    Route("/search/contact/enrich", contact_enrich, methods=["POST"]),
    Route("/search/contact/search", contact_search, methods=["POST"]),
    Route("/search/contact/redeem", contact_redeem, methods=["POST"]),
    Route("/search/account/enrich", account_enrich, methods=["POST"]),
    Route("/search/account/redeem", account_redeem, methods=["POST"]),
    Route("/search/entitlement/contactEntitlementSubscription", entitlement, methods=["GET"]),
]


def create_app(config: CognismSandboxConfig | None = None) -> Any:
    return build_app(CognismEmulator(config or CognismSandboxConfig()), ROUTES)


def _start(options: StartOptions) -> Started:
    opts = take_options(SPEC, options.options)
    config = common.keyed_config(CognismSandboxConfig, options, opts, DEFAULT_KEY)
    summary = [f"Credits: {config.credits} (previews: 10 times the credits left); limits: "
               f"{', '.join(map(str, config.rate_limits)) or 'off'} records (429 past them, 402 "
               "without credits)",
               "Previews (enrich, search) are free; redeeming a contact costs 1 credit the first time; "
               "accounts are free."]
    return common.key_started("cognism", create_app(config), config, summary)


SPEC = EmulatorSpec(key="cognism", title="Cognism", kind="enrichment",
                    summary="Cognism Search API: free previews (enrich, forward-only search), paid contact redeem",
                    start=_start, options={"key": "the API key it accepts", "credits": "credits"})
