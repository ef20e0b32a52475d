"""Apollo.io (``apis/enrichment_apis.md`` §1; Apollo's own OpenAPI, ``specs/apollo``).

- People: ``POST /people/match`` for one person, with the match inputs as **query parameters** (the spec declares no
  request body), and ``POST /people/bulk_match`` with up to 10 people in ``details[]``
  (https://docs.apollo.io/reference/people-enrichment, https://docs.apollo.io/reference/bulk-people-enrichment).
- Companies: ``GET /organizations/enrich?domain=`` and ``POST /organizations/bulk_enrich`` (up to 10).
- Auth: the ``x-api-key`` header. Rate limits are per endpoint and plan; Apollo sends ``x-rate-limit-minute`` and
  ``x-minute-requests-left`` (https://docs.apollo.io/reference/rate-limits), which feed the client-side limiter.
- Credits: 1 per person matched with data, 0 when nothing is found; unmatched people cost nothing. Running out
  answers **422** ``Insufficient credits`` (observed in production, not in Apollo's docs).
- Phones: Apollo delivers mobile numbers only asynchronously to a webhook, which a desktop app cannot receive; the
  adapter does not ask Apollo for phones (Lusha and Dropcontact find them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply
from ._common import api_key, join_location, minute_rate_info, obj, open_client, size_band, text
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

DEFAULT_BASE_URL = "https://api.apollo.io/api/v1"
PERSON_POINTS = frozenset({DataPoint.EMAIL, DataPoint.EMAIL_STATUS, DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL,
                           *COMPANY_POINTS})


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    body = reply.json_or_none()
    message = ""
    if isinstance(body, dict):
        message = text(body.get("error") or body.get("error_message") or body.get("message"))
    elif reply.content:
        message = reply.text.strip()[:300]
    kw: dict[str, Any] = {"vendor": "apollo", "status": reply.status}
    if reply.status == 401:
        return AuthError("Apollo did not accept the API key (HTTP 401). Create a key under Apollo → Settings → "
                         "Integrations → API keys and paste it in the Apollo connection.", **kw)
    if reply.status == 403:
        return AuthError(f"Apollo refused this API key for the endpoint (HTTP 403): {message or 'no access'}. Use a "
                         "master API key or one scoped to people/bulk_match and organizations/bulk_enrich.", **kw)
    if reply.status == 422 and "credit" in message.lower():
        return QuotaExhaustedError(f"Apollo has no credits left on this account (HTTP 422: {message}). Add credits "
                                   "or wait for the next billing period, then resume the run.", **kw)
    if reply.status == 429:
        retry = default.retry_after if isinstance(default, RateLimitedError) else None
        return RateLimitedError(f"Apollo is limiting requests (HTTP 429){': ' + message if message else '.'}",
                                retry_after=retry, **kw)
    return default


def _person_found(person: dict[str, Any], points: frozenset[DataPoint]) -> dict[DataPoint, Found]:
    org = obj(person.get("organization"))
    assert isinstance(org, dict)
    values: dict[DataPoint, Found] = {}
    email = text(person.get("email"))
    status = text(person.get("email_status"))
    if email:
        values[DataPoint.EMAIL] = Found(email, status=status)
        if status:
            values[DataPoint.EMAIL_STATUS] = Found(status, status=status)
    if text(person.get("title")):
        values[DataPoint.JOB_TITLE] = Found(text(person.get("title")))
    if text(person.get("linkedin_url")):
        values[DataPoint.LINKEDIN_URL] = Found(text(person.get("linkedin_url")))
    location = join_location(person.get("city"), person.get("state"), person.get("country"))
    if location:
        values[DataPoint.LOCATION] = Found(location)
    values.update(_org_found(org, with_location=False))
    return values


def _org_found(org: dict[str, Any], with_location: bool = True) -> dict[DataPoint, Found]:
    values: dict[DataPoint, Found] = {}
    if text(org.get("primary_domain")):
        values[DataPoint.COMPANY_DOMAIN] = Found(text(org.get("primary_domain")))
    if text(org.get("industry")):
        values[DataPoint.INDUSTRY] = Found(text(org.get("industry")))
    if org.get("estimated_num_employees"):
        n = org.get("estimated_num_employees")
        values[DataPoint.SIZE] = Found(size_band(n), detail=f"{n} employees")
    if text(org.get("annual_revenue_printed")) or org.get("annual_revenue"):
        values[DataPoint.REVENUE] = Found(text(org.get("annual_revenue_printed") or org.get("annual_revenue")))
    if with_location:
        location = join_location(org.get("city"), org.get("state"), org.get("country"))
        if location:
            values[DataPoint.LOCATION] = Found(location)
    return values


class ApolloAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "apollo"
    name: ClassVar[str] = "Apollo"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS,
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=10,
        flow=Flow.SYNC,
        pricing=Pricing("Apollo credits", ((PERSON_POINTS, 1.0),),
                        "1 credit per person or company found with data; nothing when nothing is found."),
        # people/bulk_match: 1/10 of people/match's 600 per hour... per minute figures depend on the plan; the
        # headers Apollo sends lower this when the plan allows less.
        rate_limit=RateLimit(100, 60.0),
        repeat=RepeatCharge.FREE,
        repeat_note=("Apollo charges only for net-new e-mails: asking again about a person the account already "
                     "revealed is not charged again "
                     "(https://knowledge.apollo.io/hc/en-us/articles/9527776320781-What-Are-Credits)."),
    )

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        return cls(open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                               rate_limit=cls.capabilities.rate_limit, transport=transport,
                               headers={"x-api-key": key, "Cache-Control": "no-cache"}, error_hook=_error_hook,
                               rate_info=minute_rate_info, secret=key, options=options))

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def check(self) -> ProviderAccount:
        reply = await self.api.request("POST", "/usage_stats/api_usage_stats", idempotent=True)
        body = reply.json() or {}
        details = "Apollo accepted the API key. Its API does not report the credits left."
        stats = body.get('["api/v1/people", "bulk_match"]') if isinstance(body, dict) else None
        if isinstance(stats, dict) and isinstance(stats.get("minute"), dict):
            minute = stats["minute"]
            details += f" Bulk people match: {minute.get('left_over')} of {minute.get('limit')} calls left this minute."
        return ProviderAccount("apollo", account="Apollo API key", credits_left=None, details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        if points & (PERSON_POINTS - COMPANY_POINTS):
            return bool(kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                                 InputKind.EMAIL})
        return InputKind.COMPANY in kinds or bool(kinds & {InputKind.LINKEDIN_URL, InputKind.EMAIL})

    @staticmethod
    def _details(r: LookupInput) -> dict[str, str]:
        first, last = r.names
        d = {"first_name": first, "last_name": last, "organization_name": r.company_name, "domain": r.domain,
             "linkedin_url": r.linkedin_url, "email": r.email}
        return {k: v for k, v in d.items() if v}

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        # A record with a person's inputs goes to people match (whose answer carries the company too); a record
        # with only a company's name or domain goes to organization enrich.
        people = [r for r in records if r.kinds() - {InputKind.COMPANY}]
        companies = [r for r in records if not r.kinds() - {InputKind.COMPANY}]
        by_key: dict[str, LookupResult] = {}
        if people:
            by_key.update((res.key, res) for res in await self._people(people, points))
        if companies:
            try:
                answered = await self._orgs(companies, points)
            except AdapterError as exc:
                raise with_partial(exc, list(by_key.values())) from None
            by_key.update((res.key, res) for res in answered)
        return [by_key[r.key] for r in records]

    async def _people(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        if len(records) == 1:
            reply = await self.api.request("POST", "/people/match", params=self._details(records[0]), idempotent=True)
            body = reply.json() or {}
            person = body.get("person") if isinstance(body, dict) else None
            found = _person_found(person, points) if isinstance(person, dict) else {}
            return [LookupResult(records[0].key, found, credits=1.0 if person else 0.0, covered=set(PERSON_POINTS))]
        body_in = {"details": [self._details(r) for r in records]}
        reply = await self.api.request("POST", "/people/bulk_match", json=body_in, idempotent=True)
        body = reply.json() or {}
        matches = body.get("matches") if isinstance(body, dict) else None
        matches = matches if isinstance(matches, list) else []
        out: list[LookupResult] = []
        for i, r in enumerate(records):
            person = matches[i] if i < len(matches) else None
            matched = isinstance(person, dict) and bool(person.get("id"))  # unmatched: null or {}
            found = _person_found(person, points) if matched and isinstance(person, dict) else {}
            out.append(LookupResult(r.key, found, credits=1.0 if matched else 0.0,
                                    covered=set(PERSON_POINTS)))
        return out

    async def _orgs(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        if len(records) == 1 and records[0].domain:
            reply = await self.api.request("GET", "/organizations/enrich", params={"domain": records[0].domain})
            body = reply.json() or {}
            org = body.get("organization") if isinstance(body, dict) else None
            found = _org_found(org) if isinstance(org, dict) and org else {}
            return [LookupResult(records[0].key, found, credits=1.0 if found else 0.0, covered=set(COMPANY_POINTS))]
        details = [{k: v for k, v in (("domain", r.domain), ("name", r.company_name)) if v} for r in records]
        reply = await self.api.request("POST", "/organizations/bulk_enrich", json={"details": details},
                                       idempotent=True)
        body = reply.json() or {}
        orgs = body.get("organizations") if isinstance(body, dict) else None
        by_domain: dict[str, dict[str, Any]] = {}
        by_name: dict[str, dict[str, Any]] = {}
        for org in orgs if isinstance(orgs, list) else []:
            if isinstance(org, dict):
                by_domain[text(org.get("primary_domain")).lower()] = org
                by_name[text(org.get("name")).casefold()] = org
        out: list[LookupResult] = []
        for r in records:
            org = by_domain.get(r.domain.lower()) if r.domain else by_name.get(r.company_name.casefold())
            found = _org_found(org) if org else {}
            out.append(LookupResult(r.key, found, credits=1.0 if org else 0.0, covered=set(COMPANY_POINTS)))
        return out
