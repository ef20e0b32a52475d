"""ZoomInfo (``apis/enrichment_apis.md`` §8), through either of its two APIs.

**GTM Data API** (current; ``specs/zoominfo/gtm-data-api-v1.openapi.json``, https://docs.zoominfo.com/reference):

- access token by OAuth 2.0 **client credentials**: ``POST {base}/oauth/v1/token`` with the client id and secret as
  HTTP Basic and ``grant_type=client_credentials`` (https://docs.zoominfo.com/docs/client-credentials-flow; the app
  needs ZoomInfo's approval, with a two-week trial meanwhile). The token (about an hour) is kept in the keyring and
  fetched again a minute before it expires, or once after a 401;
- ``POST /data/v1/contacts/enrich`` with a JSON:API body (``application/vnd.api+json``) ``{"data": {"type":
  "ContactEnrich", "attributes": {"matchPersonInput": [...at most 25], "outputFields": [...]}}}``; each input is an
  e-mail, a LinkedIn URL (``externalURL``) or a first + last name with a company name. The answer has one resource
  per input, in order: ``Contact`` (``meta.matchStatus`` FULL_MATCH, CONTACT_ONLY_MATCH…) or ``NoMatch`` (NO_MATCH,
  OPT_OUT, **LIMIT_EXCEEDED** = out of credits…);
- ``POST /data/v1/companies/enrich`` (``CompanyEnrich``, ``matchCompanyInput`` by website or name, at most 25);
- ``GET /data/v1/users/usage`` — the limits and what is left of them (Test connection).

Credits: one per record returned, except records already "under management" (asked before); nothing for a no-match
or an error (the endpoints' descriptions). Out of credits: a ``LIMIT_EXCEEDED`` no-match, or HTTP 400 with code
``PFAPI0011`` "Credit Limit Reached" (observed by third parties). Errors are JSON:API ``{"errors": [{"code",
"status", "title", "detail"}]}``.

Rate limits (https://docs.zoominfo.com/docs/rate-limits): per second, per hour and per day by package — Builder 5/s
(10,800/h, 129,600/day), Standard 25/s, Scaling 35/s — all three checked; 429 when any is used up, and a refused
request costs nothing. Every answer carries ``X-RateLimit-Limit-*`` headers (``-Second``, ``-Hour``, ``-Day``) and
the matching ``X-RateLimit-Remaining-*``: the adapter paces itself on the per-second figure ZoomInfo states, pauses
when it says nothing is left, and waits a 429's ``Retry-After`` before trying again (no retry storm).

**Legacy Enterprise API** (``specs/zoominfo/legacy-enterprise-api.subset.third-party.json``): ``POST /authenticate``
``{"username", "password"}`` → ``{"jwt": …}`` valid 60 minutes (fetched again after 55, never per request),
``POST /enrich/contact`` and ``/enrich/company`` with plain JSON (``matchPersonInput`` / ``matchCompanyInput``, at
most 25) answering ``{"success", "data": {"outputFields", "result": [{"input", "data": [...], "matchStatus"}]}}``,
``GET /lookup/usage``. It lives at the host's root (the GTM base URL without ``/gtm``); 1,500 requests a minute.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import (
    AdapterError,
    AuthError,
    Connection,
    MissingScopeError,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    TransientError,
)
from ..http import FetchedTokenAuth, RateInfo, Reply, TokenRequest, parse_retry_after
from ._common import arr, join_location, money, obj, open_client, size_band, text
from .base import (
    COMPANY_POINTS,
    DataPoint,
    EnrichmentAdapter,
    Flow,
    Found,
    InputKind,
    LookupInput,
    LookupResult,
    Pricing,
    ProviderAccount,
    ProviderCapabilities,
    RepeatCharge,
    with_partial,
)

DEFAULT_BASE_URL = "https://api.zoominfo.com/gtm"
JSON_API = "application/vnd.api+json"
BATCH = 25
PERSON_POINTS = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL,
                           DataPoint.LOCATION, *COMPANY_POINTS})
# Requests per second of each package (https://docs.zoominfo.com/docs/rate-limits).
PACKAGES = {"Builder": 5, "Standard": 25, "Scaling": 35}
LEGACY_PER_MINUTE = 1500
JWT_LIFETIME = 3600.0  # the legacy JWT: 60 minutes, fetched again after 55
LONG_WAIT = 60.0  # a 429 asking to wait longer is an hourly or daily allowance used up, not a busy second
CONTACT_FIELDS = ["id", "firstName", "lastName", "email", "phone", "directPhoneDoNotCall", "mobilePhone",
                  "mobilePhoneDoNotCall", "jobTitle", "externalUrls", "contactAccuracyScore", "city", "state",
                  "country", "companyName", "companyWebsite", "companyPrimaryIndustry", "companyIndustries",
                  "companyEmployeeCount", "companyRevenue", "companyRevenueNumeric", "companyRevenueRange"]
COMPANY_FIELDS = ["id", "name", "website", "primaryIndustry", "industries", "employeeCount", "employeeRange",
                  "revenue", "revenueRange", "city", "state", "country"]
GTM = "gtm"
LEGACY = "legacy"


# -- errors -----------------------------------------------------------------------------------------------------


def _errors(reply: Reply) -> list[dict[str, Any]]:
    body = reply.json_or_none()
    if not isinstance(body, dict):
        return []
    found = [obj(e) for e in arr(body.get("errors"))]
    if isinstance(body.get("error"), dict):
        found.append(body["error"])
    elif body.get("error") or body.get("message"):
        found.append({"title": text(body.get("error")), "detail": text(body.get("message"))})
    return found


def _said(reply: Reply) -> str:
    parts = []
    for e in _errors(reply):
        words = text(e.get("detail") or e.get("message") or e.get("title") or e.get("error_description"))
        code = text(e.get("code"))
        if words or code:
            parts.append(f"{code}: {words}" if code and words else words or code)
    return "; ".join(parts)[:300]


def _codes(reply: Reply) -> set[str]:
    return {text(e.get("code")).upper() for e in _errors(reply)}


def _out_of_credits(said: str, **kw: Any) -> QuotaExhaustedError:
    return QuotaExhaustedError(f"ZoomInfo has no credits left on this account ({said}). Ask your ZoomInfo admin for "
                               "more credits or wait for the contract's next period, then resume the run.", **kw)


class _Gate:
    """Closed while ZoomInfo's hourly or daily allowance is used up: no request is sent until it reopens (a 429 of
    the per-hour or per-day window asks to wait minutes or hours; waiting that long inside a run is not worth it)."""

    def __init__(self) -> None:
        self.until = 0.0
        self.message = ""

    def check(self) -> None:
        left = self.until - time.monotonic()
        if left > 0:
            raise QuotaExhaustedError(f"{self.message} Resume the run in {_minutes(left)}.", vendor="zoominfo",
                                      status=429)

    def close(self, seconds: float, message: str) -> None:
        self.until = max(self.until, time.monotonic() + seconds)
        self.message = message


def _minutes(seconds: float) -> str:
    """"about 1 hour", "about 14 minutes" (how long an allowance stays used up)."""
    if seconds >= 3000:
        hours = max(1, round(seconds / 3600))
        return f"about {hours} hour{'s' if hours > 1 else ''}"
    minutes = max(1, round(seconds / 60))
    return f"about {minutes} minute{'s' if minutes > 1 else ''}"


def _error_hook(reply: Reply, default: AdapterError, gate: _Gate | None = None) -> AdapterError:
    said = _said(reply)
    kw: dict[str, Any] = {"vendor": "zoominfo", "status": reply.status}
    if reply.status == 401:
        return AuthError(f"ZoomInfo did not accept the credentials (HTTP 401{': ' + said if said else ''}). Check "
                         "the client ID and secret (or the username and password) in the ZoomInfo connection.", **kw)
    if reply.status == 403:
        return MissingScopeError(f"ZoomInfo refused the request for this app or user (HTTP 403"
                                 f"{': ' + said if said else ''}). The app needs the api:data:contact and "
                                 "api:data:company scopes, and the user a ZoomInfo API licence.", **kw)
    if reply.status == 400 and ("PFAPI0011" in _codes(reply) or "credit" in said.lower()):
        return _out_of_credits(f"HTTP 400 {said}", **kw)
    if reply.status == 429:
        wait = parse_retry_after(reply.header("retry-after")) or 1.0
        which = next((w for w in ("day", "hour") if reply.header(f"x-ratelimit-remaining-{w}") == "0"), "")
        if which or wait > LONG_WAIT:
            what = {"day": "daily", "hour": "hourly"}.get(which, "request")
            message = f"ZoomInfo is limiting requests (HTTP 429): its {what} allowance is used up."
            if gate is not None:
                gate.close(wait, message)
            return QuotaExhaustedError(f"{message} Resume the run in {_minutes(wait)}.", **kw)
        return RateLimitedError(f"ZoomInfo is limiting requests (HTTP 429: {said or 'too many requests'}).",
                                retry_after=wait, **kw)
    return default


def _rate_info(reply: Reply) -> RateInfo:
    """ZoomInfo's quota headers: the per-second limit and what is left of it, and what is left of the day."""

    def num(*names: str) -> int | None:
        for name in names:
            raw = reply.header(name)
            if raw:
                try:
                    return int(float(raw))
                except ValueError:
                    continue
        return None

    return RateInfo(maximum=num("x-ratelimit-limit-second", "x-ratelimit-limit"),
                    remaining=num("x-ratelimit-remaining-second"), interval_seconds=1.0,
                    daily_remaining=num("x-ratelimit-remaining-day"))


# -- tokens -----------------------------------------------------------------------------------------------------


def _fingerprint(*parts: str) -> str:
    """Names the credentials a kept token belongs to (a hash: the keyring entry never holds them twice)."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:16]


def _jwt_expiry(token: str) -> float | None:
    """The ``exp`` claim of a JWT (not verified: only to know when to fetch a new one), or None."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return float(claims["exp"])
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _oauth_token(reply: Reply) -> tuple[str, float | None]:
    body = obj(reply.json_or_none())
    if reply.status == 200 and text(body.get("access_token")):
        lifetime = body.get("expires_in")
        expires = time.time() + float(lifetime) if isinstance(lifetime, int | float) else None
        return text(body["access_token"]), expires
    code = text(body.get("error") or body.get("errorCode"))
    said = text(body.get("error_description") or body.get("errorSummary")) or code or f"HTTP {reply.status}"
    kw: dict[str, Any] = {"vendor": "zoominfo", "status": reply.status}
    if reply.status >= 500:
        raise TransientError(f"ZoomInfo's sign-in server had a temporary problem ({said}).", **kw)
    if code in ("unauthorized_client", "unsupported_grant_type"):
        raise AuthError(f"ZoomInfo does not let this app use the client-credentials flow ({said}). In ZoomInfo's "
                        "Developer Portal, the app must be a Client Credentials app, approved by ZoomInfo (or in its "
                        "two-week trial).", **kw)
    raise AuthError(f"ZoomInfo did not accept the client ID and secret ({said}). Copy them again from ZoomInfo's "
                    "Developer Portal → your app into the ZoomInfo connection.", **kw)


def _legacy_token(reply: Reply) -> tuple[str, float | None]:
    body = obj(reply.json_or_none())
    token = text(body.get("jwt") or body.get("access_token"))
    if reply.status == 200 and token:
        return token, _jwt_expiry(token) or time.time() + JWT_LIFETIME
    said = _said(reply) or f"HTTP {reply.status}"
    kw: dict[str, Any] = {"vendor": "zoominfo", "status": reply.status}
    if reply.status == 429:
        raise RateLimitedError(f"ZoomInfo is limiting sign-ins (one a second; {said}).",
                               retry_after=parse_retry_after(reply.header("retry-after")) or 1.0, **kw)
    if reply.status >= 500:
        raise TransientError(f"ZoomInfo's sign-in had a temporary problem ({said}).", **kw)
    raise AuthError(f"ZoomInfo did not accept the username and password ({said}). Use the ZoomInfo user that has "
                    "API access, or switch to the GTM Data API with a client ID and secret.", **kw)


# -- reading answers --------------------------------------------------------------------------------------------


def _domain(website: str) -> str:
    host = website.split("://", 1)[-1].split("/", 1)[0].strip().lower()
    return host.removeprefix("www.")


def _company_found(c: dict[str, Any], *, with_location: bool) -> dict[DataPoint, Found]:
    values: dict[DataPoint, Found] = {}
    if _domain(text(c.get("website"))):
        values[DataPoint.COMPANY_DOMAIN] = Found(_domain(text(c.get("website"))))
    industry = next((text(i) for i in arr(c.get("primaryIndustry")) + arr(c.get("industries")) if text(i)), "")
    if industry:
        values[DataPoint.INDUSTRY] = Found(industry)
    employees = c.get("employeeCount")
    if isinstance(employees, int | float) and employees > 0:
        values[DataPoint.SIZE] = Found(size_band(employees), detail=f"{int(employees):,} employees")
    elif text(c.get("employeeRange")):
        values[DataPoint.SIZE] = Found(text(c.get("employeeRange")))
    revenue = c.get("revenueNumeric") if c.get("revenueNumeric") is not None else c.get("revenue")
    if revenue not in (None, "", 0):
        values[DataPoint.REVENUE] = Found(money(revenue), detail=text(c.get("revenueRange")))
    elif text(c.get("revenueRange")):
        values[DataPoint.REVENUE] = Found(text(c.get("revenueRange")))
    if with_location:
        location = join_location(c.get("city"), c.get("state"), c.get("country"))
        if location:
            values[DataPoint.LOCATION] = Found(location)
    return values


def contact_found(a: dict[str, Any]) -> dict[DataPoint, Found]:
    """The values of one enriched contact (the GTM resource's ``attributes``, or a legacy ``data`` item)."""
    score = text(a.get("contactAccuracyScore"))
    values: dict[DataPoint, Found] = {}
    if text(a.get("email")):
        values[DataPoint.EMAIL] = Found(text(a.get("email")), confidence=score)
    mobile, direct = text(a.get("mobilePhone")), text(a.get("phone"))
    if mobile:
        values[DataPoint.PHONE] = Found(mobile, confidence=score, detail="mobile",
                                        status="do not call" if a.get("mobilePhoneDoNotCall") is True else "")
    elif direct:
        values[DataPoint.PHONE] = Found(direct, confidence=score, detail="direct",
                                        status="do not call" if a.get("directPhoneDoNotCall") is True else "")
    if text(a.get("jobTitle")):
        values[DataPoint.JOB_TITLE] = Found(text(a.get("jobTitle")), confidence=score)
    linkedin = next((text(obj(u).get("url")) for u in arr(a.get("externalUrls"))
                     if "linkedin" in text(obj(u).get("type")).lower() or "linkedin.com" in text(obj(u).get("url"))),
                    "")
    if linkedin:
        values[DataPoint.LINKEDIN_URL] = Found(linkedin)
    location = join_location(a.get("city"), a.get("state"), a.get("country"))
    if location:
        values[DataPoint.LOCATION] = Found(location)
    company = obj(a.get("company"))
    if not company:  # the legacy API's flat company fields
        company = {"website": a.get("companyWebsite"), "primaryIndustry": arr(a.get("companyPrimaryIndustry")),
                   "industries": arr(a.get("companyIndustries")), "employeeCount": a.get("companyEmployeeCount"),
                   "revenue": a.get("companyRevenue"), "revenueNumeric": a.get("companyRevenueNumeric"),
                   "revenueRange": a.get("companyRevenueRange")}
    values.update(_company_found(company, with_location=False))
    return values


def person_input(r: LookupInput) -> dict[str, Any]:
    """The best match input ZoomInfo accepts for ``r``: an e-mail, a LinkedIn URL, or a name and a company name."""
    first, last = r.names
    out: dict[str, Any] = {}
    if r.email:
        out["emailAddress"] = r.email
    if r.linkedin_url:
        out["externalURL"] = r.linkedin_url
    if first and last and r.company_name:
        out.update(firstName=first, lastName=last, companyName=r.company_name)
    return out


def company_input(r: LookupInput) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if r.domain:
        out["companyWebsite"] = f"http://www.{r.domain.removeprefix('www.')}"
    if r.company_name:
        out["companyName"] = r.company_name
    return out


def _is_person(r: LookupInput) -> bool:
    return bool(person_input(r))


class ZoomInfoAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "zoominfo"
    name: ClassVar[str] = "ZoomInfo"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS,
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.LINKEDIN_URL, InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=BATCH,
        flow=Flow.SYNC,
        pricing=Pricing("ZoomInfo credits", ((PERSON_POINTS, 1.0),),
                        "1 credit per contact or company returned (its e-mail, phones, title and company together); "
                        "nothing for a record that is not found or was already paid for."),
        rate_limit=RateLimit(PACKAGES["Builder"], 1.0),
        repeat=RepeatCharge.FREE,
        repeat_note=("ZoomInfo charges a credit per record returned \"unless that record is already under management\" "
                     "(Enrich Contacts / Enrich Companies in its API reference, "
                     "https://docs.zoominfo.com/reference/enrichinterface_enrichcontact): asking again about a "
                     "record the account already paid for costs nothing."),
    )

    def __init__(self, api: Any, auth: FetchedTokenAuth, mode: str, *, who: str, gate: _Gate | None = None) -> None:
        self.api = api
        self.auth = auth
        self.mode = mode
        self.who = who
        self.gate = gate or _Gate()

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        base = (connection.setting("base_url") or DEFAULT_BASE_URL).rstrip("/")
        client_id = connection.setting("client_id")
        secret = (connection.get_secret("client_secret") or "").strip()
        username = connection.setting("username")
        password = (connection.get_secret("password") or "").strip()
        if client_id and secret:
            mode, who = GTM, f"GTM Data API, client {client_id[:6]}…" if len(client_id) > 8 else "GTM Data API"
            api_base, per_second = base, PACKAGES.get(connection.setting("package", "Builder"), PACKAGES["Builder"])
            token_url = f"{base}/oauth/v1/token"
            make = lambda: TokenRequest(token_url, form={"grant_type": "client_credentials"},  # noqa: E731
                                        basic=(client_id, secret))
            parse, leeway, limit = _oauth_token, 60.0, RateLimit(per_second, 1.0)
            credential = _fingerprint(GTM, token_url, client_id, secret)
        elif username and password:
            mode, who = LEGACY, f"Enterprise API (legacy), user {username}"
            api_base = base.removesuffix("/gtm")
            login = f"{api_base}/authenticate"
            make = lambda: TokenRequest(login, json={"username": username, "password": password})  # noqa: E731
            parse, leeway, limit = _legacy_token, 300.0, RateLimit(LEGACY_PER_MINUTE, 60.0)
            credential = _fingerprint(LEGACY, login, username, password)
        else:
            raise AuthError("The ZoomInfo connection is not complete. Open Integrations → ZoomInfo → Connect and enter "
                            "the client ID and secret of your ZoomInfo app (GTM Data API), or the username and "
                            "password of a ZoomInfo API user (legacy Enterprise API).", vendor="zoominfo")
        token, expires = _kept_token(connection, credential)

        def keep(new: str, expires_at: float | None) -> None:
            connection.set_secret("oauth_token", json.dumps({"access_token": new, "expires_at": expires_at,
                                                             "token_type": "Bearer", "credential": credential}))

        auth = FetchedTokenAuth(make, parse, token=token, expires_at=expires, on_token=keep, leeway=leeway)
        # The legacy API lives at the host's root, the GTM API under /gtm.
        at = dataclasses.replace(connection, settings={**connection.settings, "base_url": api_base})
        gate = _Gate()
        api = open_client(at, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL, rate_limit=limit,
                          transport=transport, auth=auth, error_hook=lambda r, d: _error_hook(r, d, gate),
                          rate_info=_rate_info, secret=secret or password, options=options)
        return cls(api, auth, mode, who=who, gate=gate)

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    # -- requests -------------------------------------------------------------------------------------------------

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        self.gate.check()
        if self.mode == GTM:
            reply = await self.api.request("POST", path, content=json.dumps(body).encode(), idempotent=True,
                                           headers={"Content-Type": JSON_API, "Accept": JSON_API})
        else:
            reply = await self.api.request("POST", path, json=body, idempotent=True)
        return reply.json()

    async def check(self) -> ProviderAccount:
        if self.mode == GTM:
            reply = await self.api.request("GET", "/data/v1/users/usage", headers={"Accept": JSON_API})
            rows = [obj(u) for d in arr(obj(reply.json()).get("data"))
                    for u in arr(obj(obj(d).get("attributes")).get("usage"))]
        else:
            reply = await self.api.request("GET", "/lookup/usage")
            rows = [obj(u) for u in arr(obj(reply.json()).get("usage"))]
        # Credits are the records one may still redeem (``uniqueID``; the legacy API's ``uniqueIdLimit``).
        redeem = next((r for r in rows if text(r.get("limitType")).lower() in ("uniqueid", "uniqueidlimit")), None)
        remaining = (redeem or {}).get("usageRemaining")
        total = (redeem or {}).get("totalLimit", (redeem or {}).get("limit"))
        how = "client ID and secret" if self.mode == GTM else "username and password"
        details = f"ZoomInfo accepted the {how} ({self.who})."
        if isinstance(remaining, int | float) and isinstance(total, int | float):
            details += f" Records to redeem this contract period: {remaining:,.0f} of {total:,.0f}."
        left = float(remaining) if isinstance(remaining, int | float) else None
        return ProviderAccount("zoominfo", account=self.who, credits_left=left, details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        if points & (PERSON_POINTS - COMPANY_POINTS) and _is_person(record):
            return True
        return bool(points & COMPANY_POINTS and (_is_person(record) or company_input(record)))

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        # People go to contact enrich (whose answer carries their company); records with only a company's name or
        # website go to company enrich.
        people = [r for r in records if _is_person(r)]
        companies = [r for r in records if not _is_person(r) and company_input(r)]
        by_key: dict[str, LookupResult] = {r.key: LookupResult(r.key) for r in records}
        done: list[LookupResult] = []
        try:
            for start in range(0, len(people), BATCH):
                done += await self._contacts(people[start:start + BATCH])
            for start in range(0, len(companies), BATCH):
                done += await self._companies(companies[start:start + BATCH])
        except AdapterError as exc:
            raise with_partial(exc, done) from None
        by_key.update((res.key, res) for res in done)
        return [by_key[r.key] for r in records]

    def _items(self, body: Any) -> list[tuple[bool, dict[str, Any], str]]:
        """(matched, values, match status) per input, in order, from either API's answer."""
        out: list[tuple[bool, dict[str, Any], str]] = []
        if self.mode == GTM:
            for item in arr(obj(body).get("data")):
                item = obj(item)
                status = text(obj(item.get("meta")).get("matchStatus"))
                matched = text(item.get("type")) != "NoMatch" and bool(item.get("attributes"))
                out.append((matched, obj(item.get("attributes")), status))
        else:
            for result in arr(obj(obj(body).get("data")).get("result")):
                result = obj(result)
                data = [obj(d) for d in arr(result.get("data"))]
                status = text(result.get("matchStatus")) or ("FULL_MATCH" if data else "NO_MATCH")
                out.append((bool(data), data[0] if data else {}, status))
        return out

    def _check_credits(self, results: list[LookupResult], statuses: list[str]) -> None:
        if "LIMIT_EXCEEDED" in statuses:
            answered = [r for r, s in zip(results, statuses, strict=True) if s != "LIMIT_EXCEEDED"]
            raise with_partial(_out_of_credits("it answered LIMIT_EXCEEDED", vendor="zoominfo"), answered)

    async def _contacts(self, batch: Sequence[LookupInput]) -> list[LookupResult]:
        inputs = [person_input(r) for r in batch]
        if self.mode == GTM:
            body = await self._post("/data/v1/contacts/enrich", {"data": {"type": "ContactEnrich", "attributes": {
                "matchPersonInput": inputs, "outputFields": CONTACT_FIELDS}}})
        else:
            body = await self._post("/enrich/contact", {"matchPersonInput": inputs, "outputFields": CONTACT_FIELDS})
        items = self._items(body)
        results, statuses = [], []
        for i, r in enumerate(batch):
            matched, values, status = items[i] if i < len(items) else (False, {}, "NO_MATCH")
            res = LookupResult(r.key, covered=set(PERSON_POINTS))
            if matched:
                res.found = contact_found(values)
                res.credits = 1.0
            elif status == "INVALID_INPUT":
                res.error = "ZoomInfo refused this record's inputs (INVALID_INPUT)"
            results.append(res)
            statuses.append(status)
        self._check_credits(results, statuses)
        return results

    async def _companies(self, batch: Sequence[LookupInput]) -> list[LookupResult]:
        inputs = [company_input(r) for r in batch]
        if self.mode == GTM:
            body = await self._post("/data/v1/companies/enrich", {"data": {"type": "CompanyEnrich", "attributes": {
                "matchCompanyInput": inputs, "outputFields": COMPANY_FIELDS}}})
        else:
            body = await self._post("/enrich/company", {"matchCompanyInput": inputs, "outputFields": COMPANY_FIELDS})
        items = self._items(body)
        results, statuses = [], []
        for i, r in enumerate(batch):
            matched, values, status = items[i] if i < len(items) else (False, {}, "NO_MATCH")
            res = LookupResult(r.key, covered=set(COMPANY_POINTS))
            if matched:
                res.found = _company_found(values, with_location=True)
                res.credits = 1.0
            results.append(res)
            statuses.append(status)
        self._check_credits(results, statuses)
        return results


def _kept_token(connection: Connection, credential: str) -> tuple[str, float | None]:
    """The token a previous run kept in the keyring, if it belongs to these credentials and has not expired."""
    try:
        raw = connection.get_secret("oauth_token") or ""
        data = json.loads(raw) if raw else {}
    except (ValueError, AuthError):
        return "", None
    if not isinstance(data, dict) or data.get("credential") != credential or not text(data.get("access_token")):
        return "", None
    expires = data.get("expires_at")
    if isinstance(expires, int | float) and expires - 60 <= time.time():
        return "", None
    return text(data["access_token"]), float(expires) if isinstance(expires, int | float) else None
