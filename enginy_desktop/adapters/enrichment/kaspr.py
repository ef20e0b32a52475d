"""Kaspr (``apis/enrichment_apis.md`` §6; its reference https://kaspr.stoplight.io/docs/kaspr-api and help
https://help.kaspr.io/en/articles/8857583-how-to-setup-kaspr-api).

- ``POST /profile/linkedin`` with ``{"id": <LinkedIn slug>, "name": "First Last", "dataToGet": ["workEmail",
  "personalEmail", "phone"]}`` (headers ``Authorization: Bearer <key>``, ``accept-version: v2.0``) → ``profile``
  with ``professionalEmails``, ``personalEmails``, ``phones``, ``starryProfessionalEmail``, ``starryPhone``, ``title``;
  one profile per call, from a standard LinkedIn profile URL only (its slug, not the URL);
- ``GET /keys/remainingCredits`` → ``workEmailCredits``, ``directEmailCredits``, ``phoneCredits``, ``exportCredits``
  (−1 = unlimited).

Credits (https://help.kaspr.io/en/articles/8865905-what-are-credits): four types that are not interchangeable —
B2B (work) e-mail, direct (personal) e-mail, phone and export; one credit of the type per piece of information found,
spent once per lead (asking about the same lead again is free); an export credit per lead revealed through the API.
Out of credits: **402**; over the plan's hourly / daily limits: **429**.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply, bearer_auth, parse_retry_after
from ._common import api_key, arr, obj, open_client, text
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

DEFAULT_BASE_URL = "https://api.developers.kaspr.io"
POINTS = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.JOB_TITLE})


def _message(reply: Reply) -> str:
    body = reply.json_or_none()
    if isinstance(body, dict):
        return text(body.get("message") or body.get("error"))
    return ""


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    said = _message(reply)
    kw: dict[str, Any] = {"vendor": "kaspr", "status": reply.status}
    if reply.status in (401, 403):
        return AuthError(f"Kaspr did not accept the API key (HTTP {reply.status}{': ' + said if said else ''}). Copy "
                         "it from Kaspr → Settings → API into the Kaspr connection.", **kw)
    if reply.status == 402:
        return QuotaExhaustedError(f"Kaspr has no credits left of the kind asked (HTTP 402"
                                   f"{': ' + said if said else ''}). Add credits or wait for the monthly reset, "
                                   "then resume the run.", **kw)
    if reply.status == 429:
        return RateLimitedError(f"Kaspr is limiting requests (HTTP 429: {said or 'too many requests'}).",
                                retry_after=parse_retry_after(reply.header("retry-after")) or 5.0, **kw)
    return default


def linkedin_slug(url: str) -> str:
    """``https://www.linkedin.com/in/ada-lovelace-1234/`` → ``ada-lovelace-1234`` (Kaspr wants the slug)."""
    path = url.split("?", 1)[0].rstrip("/")
    return path.rsplit("/in/", 1)[-1] if "/in/" in path else ""


class KasprAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "kaspr"
    name: ClassVar[str] = "Kaspr"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=POINTS,
        inputs=frozenset({InputKind.LINKEDIN_URL}),
        batch_size=1,
        flow=Flow.SYNC,
        pricing=Pricing("Kaspr credits", ((frozenset({DataPoint.EMAIL}), 1.0), (frozenset({DataPoint.PHONE}), 1.0),
                                          (POINTS, 1.0)),
                        "1 work-e-mail credit per e-mail found, 1 phone credit per phone, 1 export credit per lead "
                        "revealed; once per lead."),
        rate_limit=RateLimit(60, 60.0),
        repeat=RepeatCharge.FREE,
        repeat_note=("Kaspr spends credits once per lead: a lead already revealed by the account is not charged "
                     "again (https://help.kaspr.io/en/articles/8865905-what-are-credits)."),
    )

    def __init__(self, api: Any) -> None:
        self.api = api

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport, auth=bearer_auth(key),
                          headers={"accept-version": "v2.0"}, error_hook=_error_hook, secret=key, options=options)
        return cls(api)

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def check(self) -> ProviderAccount:
        body = obj((await self.api.request("GET", "/keys/remainingCredits")).json())
        parts = []
        for field, label in (("workEmailCredits", "work e-mail"), ("directEmailCredits", "direct e-mail"),
                             ("phoneCredits", "phone"), ("exportCredits", "export")):
            value = body.get(field)
            if isinstance(value, int | float):
                parts.append(f"{label} {'unlimited' if value < 0 else f'{value:,.0f}'}")
        details = "Kaspr accepted the API key" + (f" (credits left: {', '.join(parts)})." if parts else ".")
        # Four kinds of credit, each listed: no single "Credits left" figure (the work e-mail one read as if it
        # were all of them, next to fewer phone or export credits).
        return ProviderAccount("kaspr", credits_left=None, details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        return bool(points & POINTS and linkedin_slug(record.linkedin_url))

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        results = [LookupResult(r.key) for r in records]
        outcomes = await asyncio.gather(*(self._one(r, points, res) for r, res in zip(records, results, strict=True)),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, AdapterError):
                raise with_partial(outcome, results) from None
            if isinstance(outcome, BaseException):
                raise outcome
        return results

    async def _one(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult) -> None:
        slug = linkedin_slug(r.linkedin_url)
        if not slug:
            return
        wanted = (["workEmail"] if DataPoint.EMAIL in points else []) + (["phone"] if DataPoint.PHONE in points
                                                                         else [])
        body = {"id": slug, "name": r.name, "dataToGet": wanted or ["workEmail"]}
        reply = await self.api.request("POST", "/profile/linkedin", json=body, idempotent=True, accept=(404,))
        result.covered |= {DataPoint.JOB_TITLE} | ({DataPoint.EMAIL} if "workEmail" in body["dataToGet"] else set())
        result.covered |= {DataPoint.PHONE} if "phone" in wanted else set()
        if reply.status == 404:
            return
        profile = obj(obj(reply.json()).get("profile"))
        email = text(profile.get("starryProfessionalEmail")) or next(
            (text(e) for e in arr(profile.get("professionalEmails")) if text(e)), "")
        phone = text(profile.get("starryPhone")) or next((text(p) for p in arr(profile.get("phones")) if text(p)), "")
        if email and "workEmail" in body["dataToGet"]:
            result.found[DataPoint.EMAIL] = Found(email, detail="work")
        if phone and "phone" in wanted:
            result.found[DataPoint.PHONE] = Found(phone)
        if text(profile.get("title")):
            result.found[DataPoint.JOB_TITLE] = Found(text(profile.get("title")))
        # One credit of each kind per piece found, and an export credit per lead revealed.
        revealed = int(DataPoint.EMAIL in result.found) + int(DataPoint.PHONE in result.found)
        result.credits += revealed + (1 if revealed else 0)
