"""Lusha (``apis/enrichment_apis.md`` §7; Lusha's own OpenAPI V2, ``specs/lusha/lusha-v2.openapi.yaml``).

- ``GET /v2/person`` (one person: ``firstName``, ``lastName`` and ``companyName`` or ``companyDomain``, or
  ``linkedinUrl``, or ``email`` as query parameters) and ``POST /v2/person`` (``contacts[]``, up to 100, each with a
  ``contactId`` that keys the answer) (https://docs.lusha.com/v2/api-reference/overview.md);
- ``GET /v2/company?domain=`` and ``POST /v2/company`` (``companies[]`` with an ``id``) for companies;
- ``GET /account/usage`` for Test connection (credits used, total and remaining).

Auth: the ``api_key`` header. A contact Lusha cannot find comes back in a 200 with a per-contact ``error``
(``EMPTY_DATA``) and ``isCreditCharged: false``. **402** = not enough credits, **429** = rate limit (with the
``x-rate-limit-*`` / ``x-*-requests-left`` headers), 403 = plan or key not allowed, 451 = GDPR restriction
(https://docs.lusha.com/error-codes). One credit per contact or company revealed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply
from ._common import api_key, join_location, minute_rate_info, money, obj, open_client, size_band, text
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

DEFAULT_BASE_URL = "https://api.lusha.com"
PERSON_POINTS = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL,
                           DataPoint.LOCATION})
ORG_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE, DataPoint.REVENUE})


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    body = reply.json_or_none()
    message = text(body.get("message")) if isinstance(body, dict) else ""
    kw: dict[str, Any] = {"vendor": "lusha", "status": reply.status}
    if reply.status == 401:
        return AuthError("Lusha did not accept the API key (HTTP 401). API keys are under Lusha → Settings → API "
                         "(Premium and Scale plans).", **kw)
    if reply.status == 402:
        return QuotaExhaustedError(f"Lusha has no credits left on this account (HTTP 402: "
                                   f"{message or 'insufficient credits'}). Add credits, then resume the run.", **kw)
    if reply.status == 403:
        return AuthError(f"Lusha refused the request for this plan or key (HTTP 403: {message or 'forbidden'}).", **kw)
    if reply.status == 429:
        retry = default.retry_after if isinstance(default, RateLimitedError) else None
        return RateLimitedError(f"Lusha is limiting requests (HTTP 429: {message or 'too many requests'}).",
                                retry_after=retry, **kw)
    return default


def _range(values: Any) -> str:
    if isinstance(values, list) and values:
        nums = [text(v) for v in values if v is not None]
        return "-".join(nums)
    return text(values)


def _company_found(company: dict[str, Any]) -> dict[DataPoint, Found]:
    out: dict[DataPoint, Found] = {}
    domain = text(company.get("domain") or company.get("fqdn") or company.get("emailDomain"))
    if domain:
        out[DataPoint.COMPANY_DOMAIN] = Found(domain.removeprefix("www."))
    industry = text(company.get("industryPrimaryGroup") or company.get("mainIndustry"))
    if industry:
        out[DataPoint.INDUSTRY] = Found(industry)
    size = company.get("companySize") or company.get("employees")
    if size:
        upper = size[-1] if isinstance(size, list) else text(size).split("-")[-1].strip()
        out[DataPoint.SIZE] = Found(size_band(upper), detail=_range(size))
    revenue = company.get("revenueRange")
    if isinstance(revenue, list) and revenue:
        out[DataPoint.REVENUE] = Found("–".join(money(v) for v in revenue if v is not None), detail=_range(revenue))
    elif revenue:
        out[DataPoint.REVENUE] = Found(text(revenue))
    return out


def _person_found(data: dict[str, Any], companies: dict[str, Any]) -> dict[DataPoint, Found]:
    out: dict[DataPoint, Found] = {}
    emails = [e for e in data.get("emailAddresses") or [] if isinstance(e, dict)]
    work = [e for e in emails if text(e.get("emailType")) == "work"] or emails
    if work:
        e = work[0]
        out[DataPoint.EMAIL] = Found(text(e.get("email") or e.get("address")),
                                     confidence=text(e.get("emailConfidence")))
    phones = [p for p in data.get("phoneNumbers") or [] if isinstance(p, dict) and not p.get("doNotCall")]
    phones.sort(key=lambda p: 0 if text(p.get("phoneType")).lower() == "mobile" else 1)
    if phones:
        out[DataPoint.PHONE] = Found(text(phones[0].get("number")), detail=text(phones[0].get("phoneType")).lower())
    job = obj(data.get("jobTitle"))
    if text(job.get("title")):
        out[DataPoint.JOB_TITLE] = Found(text(job.get("title")))
    social = obj(data.get("socialLinks"))
    if text(social.get("linkedin")):
        out[DataPoint.LINKEDIN_URL] = Found(text(social.get("linkedin")))
    loc = obj(data.get("location"))
    location = join_location(loc.get("city"), loc.get("state"), loc.get("country"))
    if location:
        out[DataPoint.LOCATION] = Found(location)
    company = data.get("company") if isinstance(data.get("company"), dict) else companies.get(
        text(data.get("companyId")))
    if isinstance(company, dict):
        out.update({p: f for p, f in _company_found(company).items() if p not in out})
    return out


class LushaAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "lusha"
    name: ClassVar[str] = "Lusha"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS | ORG_POINTS,
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=100,
        flow=Flow.SYNC,
        pricing=Pricing("Lusha credits", ((PERSON_POINTS | ORG_POINTS, 1.0),),
                        "1 credit per contact or company revealed; none when Lusha finds nothing."),
        rate_limit=RateLimit(300, 60.0),  # Premium and Scale: 300 a minute; the headers lower it for other plans
        repeat=RepeatCharge.FREE,
        repeat_note=("Lusha counts a unique request once every 30 days: asking again about the same contact "
                     "within 30 days is free "
                     "(https://info.lusha.com/en/articles/3453060-what-counts-as-an-api-request)."),
    )

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        return cls(open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                               rate_limit=cls.capabilities.rate_limit, transport=transport,
                               headers={"api_key": key}, error_hook=_error_hook, rate_info=minute_rate_info,
                               secret=key, options=options))

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def check(self) -> ProviderAccount:
        body = (await self.api.request("GET", "/account/usage")).json() or {}
        usage = body.get("usage") if isinstance(body, dict) else None
        left: float | None = None
        details = "Lusha accepted the API key."
        if isinstance(usage, dict) and usage:
            name, stats = next(iter(usage.items()))
            if isinstance(stats, dict) and stats.get("remaining") is not None:
                left = float(stats["remaining"])
                details = f"Lusha {_words(name)}: {_number(stats.get('used'))} used of {_number(stats.get('total'))}."
        return ProviderAccount("lusha", account="Lusha API key", credits_left=left, details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        if kinds - {InputKind.COMPANY}:
            return True
        return InputKind.COMPANY in kinds and bool(points & COMPANY_POINTS)

    @staticmethod
    def _query(r: LookupInput) -> dict[str, str]:
        first, last = r.names
        if r.linkedin_url:
            return {"linkedinUrl": r.linkedin_url}
        if r.email:
            return {"email": r.email}
        q = {"firstName": first, "lastName": last}
        q.update({"companyDomain": r.domain} if r.domain else {"companyName": r.company_name})
        return q

    @staticmethod
    def _contact(i: int, r: LookupInput) -> dict[str, Any]:
        c: dict[str, Any] = {"contactId": str(i)}
        if r.name:
            c["fullName"] = r.name
        if r.linkedin_url:
            c["linkedinUrl"] = r.linkedin_url
        if r.email:
            c["email"] = r.email
        company = {k: v for k, v in (("name", r.company_name), ("domain", r.domain)) if v}
        if company:
            c["companies"] = [{**company, "isCurrent": True}]
        return c

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        people = [r for r in records if r.kinds() - {InputKind.COMPANY}]
        companies = [r for r in records if not r.kinds() - {InputKind.COMPANY}]
        by_key: dict[str, LookupResult] = {}
        if people:
            by_key.update((res.key, res) for res in await self._people(people, points))
        if companies:
            try:
                answered = await self._companies(companies, points)
            except AdapterError as exc:
                raise with_partial(exc, list(by_key.values())) from None
            by_key.update((res.key, res) for res in answered)
        return [by_key[r.key] for r in records]

    @staticmethod
    def _result(r: LookupInput, entry: Any, points: frozenset[DataPoint], companies: dict[str, Any]) -> LookupResult:
        covered = set(PERSON_POINTS | ORG_POINTS)
        if not isinstance(entry, dict):
            return LookupResult(r.key, covered=covered)
        data = entry.get("data") if isinstance(entry.get("data"), dict) else None
        found = _person_found(data, companies) if data else {}
        error = entry.get("error") if isinstance(entry.get("error"), dict) else None
        why = ""
        if error and text(error.get("name")) not in ("EMPTY_DATA", "NOT_FOUND", ""):
            why = f"Lusha: {text(error.get('message')) or text(error.get('name'))}"
        return LookupResult(r.key, found, credits=1.0 if entry.get("isCreditCharged") else 0.0, error=why,
                            covered=covered)

    async def _people(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        if len(records) == 1:
            body = (await self.api.request("GET", "/v2/person", params=self._query(records[0]))).json() or {}
            return [self._result(records[0], body.get("contact"), points, {})]
        payload = {"contacts": [self._contact(i, r) for i, r in enumerate(records)]}
        body = (await self.api.request("POST", "/v2/person", json=payload, idempotent=True)).json() or {}
        contacts = obj(body.get("contacts"))
        companies = obj(body.get("companies"))
        return [self._result(r, contacts.get(str(i)), points, companies) for i, r in enumerate(records)]

    async def _companies(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        payload = {"companies": [{"id": str(i), **{k: v for k, v in (("name", r.company_name), ("domain", r.domain))
                                                   if v}} for i, r in enumerate(records)]}
        body = (await self.api.request("POST", "/v2/company", json=payload, idempotent=True)).json() or {}
        out: list[LookupResult] = []
        for i, r in enumerate(records):
            company = body.get(str(i)) if isinstance(body, dict) else None
            found = _company_found(company) if isinstance(company, dict) else {}
            out.append(LookupResult(r.key, found, credits=1.0 if found else 0.0, covered=set(ORG_POINTS)))
        return out


def _words(name: str) -> str:
    """Lusha's usage keys (``bulkCredits``) as words a user reads ("bulk credits")."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(name)).replace("_", " ").lower()


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int | float) and not isinstance(value, bool) else str(value)
