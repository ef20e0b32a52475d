"""Hunter (``apis/enrichment_apis.md`` §5; Hunter's reference https://hunter.io/api-documentation/v2).

- ``GET /email-finder`` (a name and the company's domain or name) → ``data.email``, ``score``, ``position``,
  ``linkedin_url``, ``phone_number``, ``verification.status``;
- ``GET /email-verifier?email=`` → ``data.status`` ∈ valid / invalid / accept_all / webmail / disposable /
  unknown; **202** means the check is still running (ask again), **222** that the remote mail server failed;
- ``GET /domain-search`` (``company`` or ``domain``, ``limit=1``) → the company's domain, industry, headcount and
  location;
- ``GET /account`` → the plan and the credits used and available.

The key travels as the ``api_key`` query parameter (masked in every log line). Status codes as Hunter documents
them — and unlike most APIs: **403 = rate limit reached**, **429 = usage (credits) exhausted**; 401 = bad key.
Errors come as ``{"errors": [{"id", "code", "details"}]}``. Limits: 15 requests/s and 500/min for the finder and
domain search, 10/s and 300/min for the verifier. Credits (http://help.hunter.io/en/articles/1911617): 1 per
e-mail found, 0.5 per verification, nothing when nothing is found.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply, SlidingWindowLimiter
from ._common import api_key, join_location, obj, open_client, size_band, text
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

DEFAULT_BASE_URL = "https://api.hunter.io/v2"
FINDER_POINTS = frozenset({DataPoint.EMAIL, DataPoint.JOB_TITLE, DataPoint.LINKEDIN_URL, DataPoint.PHONE})
DOMAIN_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE, DataPoint.LOCATION})
VERIFIER_POLLS = 5


def _message(reply: Reply) -> str:
    body = reply.json_or_none()
    if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
        first = body["errors"][0]
        if isinstance(first, dict):
            return text(first.get("details") or first.get("id"))
    return ""


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    message = _message(reply)
    kw: dict[str, Any] = {"vendor": "hunter", "status": reply.status}
    if reply.status == 401:
        return AuthError("Hunter did not accept the API key (HTTP 401). Copy it from Hunter → API → API keys into the "
                         "Hunter connection.", **kw)
    if reply.status == 403:  # Hunter: 403 is its rate limit
        return RateLimitedError(f"Hunter is limiting requests (HTTP 403: {message or 'rate limit reached'}).",
                                retry_after=1.0, **kw)
    if reply.status == 429:  # Hunter: 429 is the account's usage limit
        return QuotaExhaustedError(f"Hunter has no credits left on this account (HTTP 429: "
                                   f"{message or 'usage limit reached'}). Upgrade the plan or wait for the monthly "
                                   "reset, then resume the run.", **kw)
    return default


class HunterAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "hunter"
    name: ClassVar[str] = "Hunter"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=FINDER_POINTS | DOMAIN_POINTS | {DataPoint.EMAIL_STATUS},
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=1,
        flow=Flow.SYNC,
        pricing=Pricing("Hunter credits", ((FINDER_POINTS, 1.0), (frozenset({DataPoint.EMAIL_STATUS}), 0.5),
                                           (DOMAIN_POINTS, 1.0)),
                        "1 credit per e-mail found, 0.5 per verification, 1 per domain search with a result."),
        rate_limit=RateLimit(15, 1.0),
        repeat=RepeatCharge.FREE,
        repeat_note=("Hunter does not charge a request repeated in the same billing period "
                     "(http://help.hunter.io/en/articles/1911617-hunter-s-credit-system)."),
    )

    def __init__(self, api: Any, key: str, minute: RateLimit, verifier: tuple[RateLimit, RateLimit]) -> None:
        self.api = api
        self._key = key
        self._minute = SlidingWindowLimiter(minute, name="Hunter per minute")
        self._verifier = [SlidingWindowLimiter(verifier[0], name="Hunter verifier per second"),
                          SlidingWindowLimiter(verifier[1], name="Hunter verifier per minute")]

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport, error_hook=_error_hook,
                          secret=key, options=options)
        return cls(api, key, options.get("minute_limit") or RateLimit(500, 60.0),
                   options.get("verifier_limits") or (RateLimit(10, 1.0), RateLimit(300, 60.0)))

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _get(self, path: str, params: dict[str, Any], verifier: bool = False) -> Reply:
        extra = self._verifier if verifier else [self._minute]
        reply: Reply = await self.api.request("GET", path, params={**params, "api_key": self._key},
                                              extra_limiters=extra)
        return reply

    async def check(self) -> ProviderAccount:
        body = (await self._get("/account", {})).json() or {}
        data = body.get("data") if isinstance(body, dict) else None
        data = data if isinstance(data, dict) else {}
        who = text(data.get("email")) or " ".join(p for p in (text(data.get("first_name")),
                                                               text(data.get("last_name"))) if p)
        credits = (data.get("requests") or {}).get("credits") if isinstance(data.get("requests"), dict) else None
        left: float | None = None
        if isinstance(credits, dict) and credits.get("available") is not None:
            left = float(credits.get("available") or 0) - float(credits.get("used") or 0)
        plan = text(data.get("plan_name"))
        details = f"Hunter plan {plan}." if plan else "Hunter accepted the API key."
        return ProviderAccount("hunter", account=who, credits_left=left, details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        if points & FINDER_POINTS and kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN}:
            return True
        if DataPoint.EMAIL_STATUS in points and (record.email or kinds & {InputKind.NAME_AND_COMPANY,
                                                                           InputKind.NAME_AND_DOMAIN}):
            return True
        return bool(points & DOMAIN_POINTS and InputKind.COMPANY in kinds)

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        """One request per record and call (Hunter has no batch call), a few records at once."""
        results = [LookupResult(r.key) for r in records]

        async def one(r: LookupInput, result: LookupResult) -> None:
            await self._one(r, points, result)

        outcomes = await asyncio.gather(*(one(r, res) for r, res in zip(records, results, strict=True)),
                                        return_exceptions=True)
        for outcome in outcomes:
            if isinstance(outcome, AdapterError):  # the calls already answered (and charged) are kept
                raise with_partial(outcome, results) from None
            if isinstance(outcome, BaseException):
                raise outcome
        return results

    async def _one(self, r: LookupInput, points: frozenset[DataPoint], result: LookupResult) -> LookupResult:
        first, last = r.names
        if points & (FINDER_POINTS | {DataPoint.EMAIL_STATUS}) and not r.email and first and last and (
                r.domain or r.company_name):
            params = {"first_name": first, "last_name": last}
            params.update({"domain": r.domain} if r.domain else {"company": r.company_name})
            data = ((await self._get("/email-finder", params)).json() or {}).get("data") or {}
            email = text(data.get("email"))
            result.covered |= FINDER_POINTS | ({DataPoint.EMAIL_STATUS} if email else set())
            if email:
                result.credits += 1.0
                verification = obj(data.get("verification"))
                status = text(verification.get("status"))
                result.found[DataPoint.EMAIL] = Found(email, confidence=text(data.get("score")), status=status)
                if status:
                    result.found[DataPoint.EMAIL_STATUS] = Found(status, confidence=text(data.get("score")),
                                                                 status=status)
                if text(data.get("position")):
                    result.found[DataPoint.JOB_TITLE] = Found(text(data.get("position")))
                if text(data.get("linkedin_url")):
                    result.found[DataPoint.LINKEDIN_URL] = Found(text(data.get("linkedin_url")))
                if text(data.get("phone_number")):
                    result.found[DataPoint.PHONE] = Found(text(data.get("phone_number")), detail="direct")
        if DataPoint.EMAIL_STATUS in points and r.email and DataPoint.EMAIL_STATUS not in result.found:
            status, score = await self._verify(r.email)
            result.covered.add(DataPoint.EMAIL_STATUS)
            if status:
                result.credits += 0.5
                result.found[DataPoint.EMAIL_STATUS] = Found(status, confidence=score, status=status)
        if points & DOMAIN_POINTS and (r.domain or r.company_name):
            params = {"domain": r.domain} if r.domain else {"company": r.company_name}
            data = ((await self._get("/domain-search", {**params, "limit": 1})).json() or {}).get("data") or {}
            result.covered |= DOMAIN_POINTS
            if text(data.get("domain")):
                result.credits += 1.0
                result.found[DataPoint.COMPANY_DOMAIN] = Found(text(data.get("domain")))
                if text(data.get("industry")):
                    result.found[DataPoint.INDUSTRY] = Found(text(data.get("industry")))
                if text(data.get("headcount")):
                    result.found[DataPoint.SIZE] = Found(text(data.get("headcount")))
                location = join_location(data.get("city"), data.get("state"), data.get("country"))
                if location:
                    result.found[DataPoint.LOCATION] = Found(location)
        if DataPoint.SIZE in result.found:
            result.found[DataPoint.SIZE] = Found(size_band(result.found[DataPoint.SIZE].value.split("-")[-1]))
        return result

    async def _verify(self, email: str) -> tuple[str, str]:
        for attempt in range(VERIFIER_POLLS):
            reply = await self._get("/email-verifier", {"email": email}, verifier=True)
            if reply.status == 202:  # still verifying: Hunter says to ask again
                await asyncio.sleep(min(5.0, 0.5 * (attempt + 1)))
                continue
            data = (reply.json() or {}).get("data") or {}
            status = text(data.get("status")) or ("unknown" if reply.status == 222 else "")
            return status, text(data.get("score"))
        return "", ""
