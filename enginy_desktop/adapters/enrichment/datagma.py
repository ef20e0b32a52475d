"""Datagma (``apis/enrichment_apis.md`` §3; its reference https://datagmaapi.readme.io, pages cited below).

Every call is a synchronous ``GET`` on ``https://gateway.datagma.net/api/ingress`` with the key as the ``apiId``
query parameter (registered as a secret: masked in every log line and error):

- ``/v8/findEmail`` (``firstName``, ``lastName``, ``company`` = the company's name or domain,
  ``findEmailV2Step=3``) → ``email``, ``status``, ``mxfound``, ``smtpCheck``, ``cachAll`` (sic) — a verified work
  e-mail (https://datagmaapi.readme.io/reference/ingressservice_findemailv8). A catch-all's "most probable" address
  is not verified (and not charged); it is not written;
- ``/v2/full`` (``data`` = a LinkedIn profile URL or a work e-mail — or ``fullName`` + ``company`` — and
  ``companyPremium`` for the company's LinkedIn data, ``companyFull`` for its finances; ``data`` = a domain or a
  company name for a company) → ``person`` and ``company``
  (https://datagmaapi.readme.io/reference/ingressservice_fullapiv2); with ``phoneFull=true`` it also looks for a
  mobile phone from the name and company;
- ``/v1/search`` (``username`` = a LinkedIn profile URL, or ``email``; ``minimumMatch=1``) — the phone finder →
  ``person.phones[]`` (https://datagmaapi.readme.io/reference/ingressservice_search);
- ``/v1/mine`` → ``currentCredit``, free (https://datagmaapi.readme.io/reference/ingressservice_getcredit).

Credits (http://help.datagma.com/en/articles/6665031-how-do-credits-works): one kind, for e-mails and phones alike;
**charged only at success** — nothing when nothing is found, nothing for a catch-all address; 1 credit per verified
e-mail; a successful person (or company) enrichment 2 credits ("A successful person response costs two credits",
the ``/v2/full`` reference); a mobile phone 30 credits on the current price list (the help article's older figure
is 75). Each answer says what it cost in ``creditBurn`` (a numeric string; "0" for a lookup already paid for), which
is what a record is charged here. Not found: **404** ``{"code": 5, "message": "Not found"}``; out of credits:
``{"code": 13, "message": "can't get credit"}`` (with HTTP 500, as Datagma's own pages handle it); bad key: 401;
too fast: 429 (10 requests per second, the figure integrators report from Datagma — its pages publish none; the
client paces itself to it). Phones are not searched for prospects in the European Union
(HTTP 403, not charged): that record has no phone from Datagma.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply, parse_retry_after
from ._common import api_key, arr, join_location, money, obj, open_client, size_band, text
from .base import (
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
    with_partial,
)

DEFAULT_BASE_URL = "https://gateway.datagma.net/api/ingress"
PERSON_POINTS = frozenset({DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL, DataPoint.LOCATION})
COMPANY_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE, DataPoint.REVENUE})
EMAIL_CREDITS = 1.0
FULL_CREDITS = 2.0  # a successful person or company enrichment
PHONE_CREDITS = 30.0
NO_CREDIT_CODE = 13  # "can't get credit"


def _said(reply: Reply) -> tuple[int | None, str]:
    body = reply.json_or_none()
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), text(body.get("message") or body.get("error"))
    return None, ""


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    code, said = _said(reply)
    kw: dict[str, Any] = {"vendor": "datagma", "status": reply.status}
    if code == NO_CREDIT_CODE or "credit" in said.lower():
        return QuotaExhaustedError(f"Datagma has no credits left on this account (HTTP {reply.status}"
                                   f"{': ' + said if said else ''}). Buy credits (unused ones roll over), then "
                                   "resume the run.", **kw)
    if reply.status in (401, 403):
        return AuthError(f"Datagma did not accept the API key (HTTP {reply.status}{': ' + said if said else ''}). "
                         "Copy it from Datagma → API → Key & DOC into the Datagma connection.", **kw)
    if reply.status == 429:
        return RateLimitedError(f"Datagma is limiting requests (HTTP 429: {said or 'too many requests'}).",
                                retry_after=parse_retry_after(reply.header("retry-after")) or 1.0, **kw)
    return default


def _burn(body: dict[str, Any], default: float) -> float:
    """What an answer cost, as its ``creditBurn`` says (a numeric string), else the price list's figure."""
    raw = body.get("creditBurn")
    try:
        value = float(raw) if raw is not None and not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    return value if value is not None and value >= 0 else default


def _domain(website: str) -> str:
    return website.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.").lower() if website else ""


class DatagmaAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "datagma"
    name: ClassVar[str] = "Datagma"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS | COMPANY_POINTS | {DataPoint.EMAIL, DataPoint.PHONE},
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=1,
        flow=Flow.SYNC,
        pricing=Pricing("Datagma credits",
                        ((frozenset({DataPoint.EMAIL}), EMAIL_CREDITS),
                         (PERSON_POINTS | COMPANY_POINTS | {DataPoint.PHONE}, FULL_CREDITS),
                         (frozenset({DataPoint.PHONE}), PHONE_CREDITS)),
                        "1 credit per verified work e-mail, 2 per person or company enriched, 30 per mobile phone; "
                        "nothing when nothing is found."),
        rate_limit=RateLimit(10, 1.0),
    )

    def __init__(self, api: Any, key: str) -> None:
        self.api = api
        self._key = key

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport, error_hook=_error_hook,
                          secret=key, options=options)
        return cls(api, key)

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _get(self, path: str, params: dict[str, Any], accept: tuple[int, ...] = (404,)) -> dict[str, Any] | None:
        """The JSON answer, or None when Datagma found nothing (404, not charged) or declines the lookup."""
        reply: Reply = await self.api.request("GET", path, params={**params, "apiId": self._key}, accept=accept)
        return None if reply.status in accept else obj(reply.json())

    async def check(self) -> ProviderAccount:
        body = await self._get("/v1/mine", {}) or {}
        left = body.get("currentCredit")
        credits = float(left) if isinstance(left, int | float) and not isinstance(left, bool) else None
        return ProviderAccount("datagma", credits_left=credits, details="Datagma accepted the API key.")

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        person = kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL}
        if DataPoint.EMAIL in points and kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN}:
            return True
        if points & (PERSON_POINTS | {DataPoint.PHONE}) and person:
            return True
        return bool(points & COMPANY_POINTS and InputKind.COMPANY in kinds)

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        results = [LookupResult(r.key) for r in records]
        outcomes = await asyncio.gather(*(self._one(r, points, res) for r, res in zip(records, results, strict=True)),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, AdapterError):  # what was already answered (and charged) is kept
                raise with_partial(outcome, results) from None
            if isinstance(outcome, BaseException):
                raise outcome
        return results

    async def _one(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult) -> None:
        first, last = r.names
        person = bool(r.kinds() - {InputKind.COMPANY})
        company_ref = r.domain or r.company_name
        if not person:
            if points & COMPANY_POINTS and company_ref:
                await self._company(r, points, result)
            return
        if DataPoint.EMAIL in points and first and last and company_ref:
            await self._email(first, last, company_ref, result)
        # The phone from a profile URL or an e-mail goes to the phone finder; from a name, the full enrichment looks
        # for it (phoneFull) in the same call as the person.
        by_finder = DataPoint.PHONE in points and bool(r.linkedin_url or r.email)
        phone_in_full = DataPoint.PHONE in points and not by_finder and bool(first and last and company_ref)
        if points & (PERSON_POINTS | COMPANY_POINTS) or phone_in_full:
            await self._full(r, points, result, phone_in_full)
        if by_finder:
            await self._phone(r, result)

    async def _email(self, first: str, last: str, company: str, result: LookupResult) -> None:
        body = await self._get("/v8/findEmail", {"firstName": first, "lastName": last, "company": company,
                                                 "findEmailV2Step": 3})
        result.covered.add(DataPoint.EMAIL)
        if body is None:
            return
        email = text(body.get("email"))
        if not email:
            return  # a catch-all's "most probable" address is unverified (and not charged): not written
        result.credits += _burn(body, EMAIL_CREDITS)
        result.found[DataPoint.EMAIL] = Found(email, status=text(body.get("status")).lower() or "valid")

    async def _full(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult, phone: bool) -> None:
        params: dict[str, Any]
        if r.linkedin_url or r.email:
            params = {"data": r.linkedin_url or r.email}
        else:
            params = {"fullName": r.name, "company": r.domain or r.company_name}
        wants_company = bool(points & COMPANY_POINTS)
        if wants_company:
            params["companyPremium"] = "true"
            if DataPoint.REVENUE in points:
                params["companyFull"] = "true"
        if phone:
            params["phoneFull"] = "true"
        body = await self._get("/v2/full", params)
        result.covered |= PERSON_POINTS | (COMPANY_POINTS if wants_company else set()) | (
            {DataPoint.PHONE} if phone else set())
        if body is None:
            return
        result.credits += _burn(body, FULL_CREDITS + (PHONE_CREDITS if phone else 0.0))
        basic = obj(obj(body.get("person")).get("basic"))
        if text(basic.get("jobTitle")):
            result.found[DataPoint.JOB_TITLE] = Found(text(basic.get("jobTitle")))
        if text(basic.get("linkedInUrl")):
            result.found[DataPoint.LINKEDIN_URL] = Found(text(basic.get("linkedInUrl")))
        location = join_location(basic.get("city"), basic.get("region"), basic.get("country"))
        if location:
            result.found[DataPoint.LOCATION] = Found(location)
        if phone:
            self._take_phone(obj(body.get("phoneFull")), result)
        if wants_company:
            self._take_company(obj(body.get("company")), result, with_location=False)

    async def _phone(self, r: LookupInput, result: LookupResult) -> None:
        params: dict[str, Any] = {"minimumMatch": 1}
        params.update({"username": r.linkedin_url} if r.linkedin_url else {"email": r.email})
        body = await self._get("/v1/search", params, accept=(403, 404))  # 403: not searched in the EU, not charged
        result.covered.add(DataPoint.PHONE)
        if body is None:
            return
        if self._take_phone(obj(body.get("person")), result):
            result.credits += _burn(body, PHONE_CREDITS)

    @staticmethod
    def _take_phone(holder: dict[str, Any], result: LookupResult) -> bool:
        for p in (obj(x) for x in arr(holder.get("phones"))):
            number = text(p.get("displayInternational")) or text(p.get("number"))
            if number:
                result.found[DataPoint.PHONE] = Found(number, detail=text(p.get("type")) or "mobile")
                return True
        return False

    async def _company(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult) -> None:
        params: dict[str, Any] = {"data": r.domain or r.company_name, "companyPremium": "true"}
        if DataPoint.REVENUE in points:
            params["companyFull"] = "true"
        body = await self._get("/v2/full", params)
        result.covered |= COMPANY_POINTS | {DataPoint.LOCATION}
        if body is None:
            return
        result.credits += _burn(body, FULL_CREDITS)
        self._take_company(obj(body.get("company")), result, with_location=True)

    @staticmethod
    def _take_company(company: dict[str, Any], result: LookupResult, *, with_location: bool) -> None:
        domain = _domain(text(company.get("website")))
        if domain:
            result.found[DataPoint.COMPANY_DOMAIN] = Found(domain)
        industry = company.get("industries")
        industry = ", ".join(text(i) for i in industry if text(i)) if isinstance(industry, list) else text(industry)
        if industry:
            result.found[DataPoint.INDUSTRY] = Found(industry)
        size = text(company.get("companySize"))
        if size:
            result.found[DataPoint.SIZE] = Found(size_band(size) if size.isdigit() else size)
        revenue = company.get("revenue")
        if isinstance(revenue, int | float) and not isinstance(revenue, bool) and revenue > 0:
            result.found[DataPoint.REVENUE] = Found(money(revenue))
        elif text(company.get("revenueRange")):
            result.found[DataPoint.REVENUE] = Found(text(company.get("revenueRange")))
        hq = text(company.get("headquarters"))
        if with_location and hq:
            result.found[DataPoint.LOCATION] = Found(hq)
