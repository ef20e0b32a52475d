"""Proxycurl, through a Proxycurl-compatible service (``apis/enrichment_apis.md`` §9).

Proxycurl's own API (nubela.co/proxycurl) closed in July 2025. The card keeps its name and connects to **Enrich
Layer** by default (``https://enrichlayer.com/api/v2``, which publishes the same endpoint set — its transition guide
https://enrichlayer.com/docs/guides/transition-guide) or to any compatible base URL the user enters. Endpoints
(Enrich Layer's OpenAPI, ``spec/enrichlayer-api.yaml`` in github.com/enrichlayer/mcp-server, and its docs):

- ``GET /profile/resolve?first_name&last_name&company_domain&enrich_profile=enrich`` — a name and a company (domain
  or name) to the person's profile URL and profile; **2 credits per 200 answer, even when nothing matched**, +1 when
  the profile comes with it (https://enrichlayer.com/docs/knowledge-base/lookup-endpoints/person-lookup);
- ``GET /profile?profile_url=`` — the profile of a known LinkedIn URL (headline, experiences, city…); 1 credit;
- ``GET /profile/email?profile_url=`` — the work e-mail; 3 credits;
- ``GET /contact-api/personal-contact?profile_url=&page_size=1`` — phone numbers; 1 credit per number returned
  (https://enrichlayer.com/docs/knowledge-base/api-usage/personal-contact-number-api);
- ``GET /company/resolve?company_domain=|company_name=&enrich_profile=enrich`` — the company's profile (website,
  industry, size, headquarters); 2 credits, +1 with the profile;
- ``GET /credit-balance`` — ``{"credit_balance": n}``, free.

Auth: ``Authorization: Bearer <key>``. Status codes as the OpenAPI lists them: 401 bad key, **403 = out of
credits**, 404 = not found (not charged), **429 = rate limited**, **503 = enrichment failed, retry**. Limit: 300
requests per minute on a regular account (https://enrichlayer.com/blog/how-to-maximize-throughput-on-proxycurl).
Errors come as ``{"code", "description", "name"}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply, bearer_auth, parse_retry_after
from ._common import api_key, arr, join_location, obj, open_client, size_band, text
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
    RepeatCharge,
    with_partial,
)

DEFAULT_BASE_URL = "https://enrichlayer.com/api/v2"
PROFILE_POINTS = frozenset({DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL, DataPoint.LOCATION})
PERSON_POINTS = PROFILE_POINTS | {DataPoint.EMAIL, DataPoint.PHONE}
COMPANY_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE})
RESOLVE_CREDITS = 2.0  # per 200 answer of a lookup, matched or not
PROFILE_CREDITS = 1.0  # the profile (with enrich_profile=enrich, or /profile)
EMAIL_CREDITS = 3.0
PHONE_CREDITS = 1.0  # per number returned (we ask for one)


def _description(reply: Reply) -> str:
    body = reply.json_or_none()
    if isinstance(body, dict):
        return text(body.get("description") or body.get("message") or body.get("detail"))
    return ""


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    said = _description(reply)
    kw: dict[str, Any] = {"vendor": "proxycurl", "status": reply.status}
    if reply.status == 401:
        return AuthError("The Proxycurl-compatible service did not accept the API key (HTTP 401"
                         f"{': ' + said if said else ''}). Paste the key from your Enrich Layer dashboard (or your "
                         "service's) into the Proxycurl connection.", **kw)
    if reply.status == 403:
        return QuotaExhaustedError(f"The Proxycurl-compatible service says the account has no credits left (HTTP 403"
                                   f"{': ' + said if said else ''}). Top up the credits, then resume the run.", **kw)
    if reply.status == 429:
        return RateLimitedError(f"The Proxycurl-compatible service is limiting requests (HTTP 429: "
                                f"{said or 'rate limited'}).",
                                retry_after=parse_retry_after(reply.header("retry-after")) or 2.0, **kw)
    return default


class ProxycurlAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "proxycurl"
    name: ClassVar[str] = "Proxycurl"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS | COMPANY_POINTS,
        inputs=frozenset({InputKind.LINKEDIN_URL, InputKind.NAME_AND_DOMAIN, InputKind.NAME_AND_COMPANY,
                          InputKind.COMPANY}),
        batch_size=1,
        flow=Flow.SYNC,
        pricing=Pricing("Enrich Layer credits",
                        ((PERSON_POINTS, RESOLVE_CREDITS + PROFILE_CREDITS),
                         (frozenset({DataPoint.EMAIL}), EMAIL_CREDITS),
                         (frozenset({DataPoint.PHONE}), PHONE_CREDITS),
                         (COMPANY_POINTS, RESOLVE_CREDITS + PROFILE_CREDITS)),
                        "Finding a person from a name costs 3 credits (2 even when nothing matches), 1 from a LinkedIn "
                        "URL; a work e-mail 3; a phone 1; a company 3."),
        rate_limit=RateLimit(300, 60.0),
        repeat=RepeatCharge.CHARGED,
        repeat_note=("Enrich Layer charges every successful call "
                     "(https://enrichlayer.com/docs/knowledge-base/billing/understanding-credits): a lookup "
                     "sent again is charged again."),
    )

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport, auth=bearer_auth(key),
                          error_hook=_error_hook, secret=key, options=options)
        return cls(api)

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _get(self, path: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """The JSON answer, or None for a 404 (not found, not charged)."""
        reply: Reply = await self.api.request("GET", path, params=params, accept=(404,))
        return None if reply.status == 404 else obj(reply.json())

    async def check(self) -> ProviderAccount:
        body = await self._get("/credit-balance", {}) or {}
        left = body.get("credit_balance")
        where = str(self.api.base_url)
        return ProviderAccount("proxycurl", account=where,
                               credits_left=float(left) if isinstance(left, int | float) else None,
                               details=f"The Proxycurl-compatible service at {where} accepted the API key.")

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        if points & PERSON_POINTS and kinds & {InputKind.LINKEDIN_URL, InputKind.NAME_AND_DOMAIN,
                                                InputKind.NAME_AND_COMPANY}:
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
        person = bool(r.kinds() - {InputKind.COMPANY})
        if person and points & PERSON_POINTS:
            await self._person(r, points, result)
        if points & COMPANY_POINTS and (r.domain or r.company_name):
            await self._company(r, result, person)

    async def _person(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult) -> None:
        url, profile = r.linkedin_url, None
        first, last = r.names
        if not url:
            if not (first and last and (r.domain or r.company_name)):
                return
            body = await self._get("/profile/resolve", {"first_name": first, "last_name": last,
                                                         "company_domain": r.domain or r.company_name,
                                                         "enrich_profile": "enrich"})
            result.covered |= PROFILE_POINTS
            if body is None:
                return
            result.credits += RESOLVE_CREDITS
            url = text(body.get("url"))
            profile = body.get("profile") if isinstance(body.get("profile"), dict) else None
            if profile is not None:
                result.credits += PROFILE_CREDITS
            if not url:
                result.covered |= PERSON_POINTS  # nobody matched: nothing more to ask about this person
                return
            result.found[DataPoint.LINKEDIN_URL] = Found(url)
        elif points & (PROFILE_POINTS - {DataPoint.LINKEDIN_URL}):
            profile = await self._get("/profile", {"profile_url": url})
            result.covered |= PROFILE_POINTS - {DataPoint.LINKEDIN_URL}
            if profile is not None:
                result.credits += PROFILE_CREDITS
        if profile:
            title = text(profile.get("occupation")) or text(profile.get("headline"))
            experiences = [obj(e) for e in arr(profile.get("experiences"))]
            current = next((e for e in experiences if not e.get("ends_at") and text(e.get("title"))), None)
            if current is not None:
                title = text(current.get("title"))
            if title:
                result.found[DataPoint.JOB_TITLE] = Found(title)
            location = join_location(profile.get("city"), profile.get("state"), profile.get("country_full_name"))
            if location:
                result.found[DataPoint.LOCATION] = Found(location)
        if DataPoint.EMAIL in points:
            body = await self._get("/profile/email", {"profile_url": url})
            result.covered.add(DataPoint.EMAIL)
            emails = [text(e) for e in arr((body or {}).get("emails")) if text(e)]
            if body is not None:
                result.credits += EMAIL_CREDITS
            if emails:
                result.found[DataPoint.EMAIL] = Found(emails[0])
        if DataPoint.PHONE in points:
            body = await self._get("/contact-api/personal-contact", {"profile_url": url, "page_size": 1})
            result.covered.add(DataPoint.PHONE)
            numbers = [text(n) for n in arr((body or {}).get("numbers")) if text(n)]
            result.credits += PHONE_CREDITS * len(numbers)
            if numbers:
                result.found[DataPoint.PHONE] = Found(numbers[0])

    async def _company(self, r: LookupInput, result: LookupResult, person: bool) -> None:
        params = {"company_domain": r.domain} if r.domain else {"company_name": r.company_name}
        body = await self._get("/company/resolve", {**params, "enrich_profile": "enrich"})
        result.covered |= COMPANY_POINTS | (set() if person else {DataPoint.LOCATION})
        if body is None:
            return
        result.credits += RESOLVE_CREDITS
        profile = body.get("profile") if isinstance(body.get("profile"), dict) else None
        if profile is None:
            return
        result.credits += PROFILE_CREDITS
        website = text(profile.get("website"))
        domain = website.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.") if website else ""
        if domain:
            result.found[DataPoint.COMPANY_DOMAIN] = Found(domain)
        if text(profile.get("industry")):
            result.found[DataPoint.INDUSTRY] = Found(text(profile.get("industry")))
        size = arr(profile.get("company_size"))
        employees = profile.get("company_size_on_linkedin") or (size[-1] if size and size[-1] else None)
        if employees:
            result.found[DataPoint.SIZE] = Found(size_band(employees))
        hq = obj(profile.get("hq"))
        if not person and hq:
            location = join_location(hq.get("city"), hq.get("state"), hq.get("country"))
            if location:
                result.found[DataPoint.LOCATION] = Found(location)
