"""Cognism's Search API (``apis/enrichment_apis.md`` §2; Cognism's collection at https://developers.cognism.com and its
help centre: https://help.cognism.com/hc/en-gb/articles/34673553578514-Using-Enrich-and-Redeem-APIs-in-Cognism,
https://help.cognism.com/hc/en-gb/articles/34674998544274-Search-and-Access-Records-Using-the-Cognism-API).

Two phases, **preview then redeem** (:attr:`Flow.TWO_PHASE`):

1. free — ``POST /search/contact/enrich`` with what we know (``email``, ``linkedinUrl``, or ``firstName`` +
   ``lastName`` + ``accountName`` / ``accountWebsite``) → ``matchScore`` and ``results[]``: previews with the job
   title, ``has*`` flags (``hasEmail``, ``hasMobilePhoneNumbers``, ``hasDirectPhoneNumbers``, ``hasLinkedinUrl``…),
   the account's ``id`` and flags, and a ``redeemId``. No match is a 200 with no results. When a name and a company
   (and no e-mail or LinkedIn URL) match nobody (the enrich API matches best with those or a job title), ``POST
   /search/contact/search?indexSize=20&lastReturnedKey=`` looks the name up at that company, walking its
   **forward-only cursor** (``lastReturnedKey`` of the previous page; pages cannot be skipped) for a few pages;
   companies: ``POST /search/account/enrich`` (``domain`` / ``website`` / ``name``). Previews cost no credits; they
   count against the preview allowance (credits × 10);
2. paid — ``POST /search/contact/redeem`` ``{"redeemIds": [1..20]}`` → the full records (``email.address`` and
   ``quality``, ``mobilePhoneNumbers[]`` / ``directPhoneNumbers[]`` with ``dnc``, ``linkedinUrl``, location, the
   ``account``): **1 credit per contact the first time**, re-redeeming is free; ``POST /search/account/redeem``
   (account ids) is free.

Only what the preview shows would fill a missing value is redeemed: a contact whose preview has no e-mail when the
e-mail is missing, or no phone when the phone is missing, is never paid for; the job title comes free with the
preview. Between the two phases the engine journals the redeem ids (the token :meth:`CognismAdapter.submit` returns),
so a run resumed after a crash redeems those — free if they were redeemed already — instead of matching again.

``GET /search/entitlement/contactEntitlementSubscription`` (Test connection) → which contact fields the account is
entitled to. Credits left are not told by the API. Auth ``Authorization: Bearer <key>``; keys expire after six
months; a 401 can also mean the account's API entitlements are not set. Errors are a JSON **array**
``[{"key", "code", "msg"}]``; 429 without Retry-After (back off blind); out of credits is not documented: 402 (or a
403 whose key or message speaks of credits or the preview limit) is read as that. Limits: 1,000 records a minute,
20 redeem ids per call, 20–100 search results per page.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, RateLimitedError
from ..http import Reply, SlidingWindowLimiter, bearer_auth, parse_retry_after
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
    RepeatCharge,
)

DEFAULT_BASE_URL = "https://app.cognism.com/api"
PAID_POINTS = frozenset({DataPoint.EMAIL, DataPoint.PHONE, DataPoint.LINKEDIN_URL, DataPoint.LOCATION})
PERSON_POINTS = PAID_POINTS | {DataPoint.JOB_TITLE}
COMPANY_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE, DataPoint.REVENUE})
REDEEM_MAX = 20
SEARCH_PAGE = 20
SEARCH_PAGES = 3  # a name at a company: the first pages of the search, read forward
TOKEN_VERSION = 1


def _errors(reply: Reply) -> tuple[str, str]:
    """(key, msg) of the first entry of Cognism's error array."""
    body = reply.json_or_none()
    first = body[0] if isinstance(body, list) and body else body
    if isinstance(first, dict):
        return text(first.get("key")), text(first.get("msg") or first.get("message"))
    return "", ""


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    key, msg = _errors(reply)
    said = ": " + (f"{key} — {msg}" if key and msg else key or msg) if (key or msg) else ""
    kw: dict[str, Any] = {"vendor": "cognism", "status": reply.status}
    words = f"{key} {msg}".lower()
    if reply.status == 402 or (reply.status == 403 and ("credit" in words or "preview" in words)):
        return QuotaExhaustedError(f"Cognism has no credits (or previews) left on this account (HTTP {reply.status}"
                                   f"{said}). Ask your Cognism admin for credits, then resume the run.", **kw)
    if reply.status in (401, 403):
        return AuthError(f"Cognism did not accept the API key (HTTP {reply.status}{said}). Keys expire after six "
                         "months: create one under Cognism → Settings → Tokens and API and paste it into the "
                         "Cognism connection; if the key is new, the account's API entitlements may not be set yet "
                         "(ask Cognism).", **kw)
    if reply.status == 429:
        return RateLimitedError(f"Cognism is limiting requests (HTTP 429{said or ': rate limit exceeded'}).",
                                retry_after=parse_retry_after(reply.header("retry-after")) or 2.0, **kw)
    return default


def _norm(value: str) -> str:
    return " ".join(value.casefold().split())


def _phone(contact: dict[str, Any]) -> Found | None:
    """The best callable number: mobiles first, then direct dials; numbers flagged Do-Not-Call are skipped."""
    for field, detail in (("mobilePhoneNumbers", "mobile"), ("directPhoneNumbers", "direct")):
        numbers = [obj(n) for n in arr(contact.get(field)) if text(obj(n).get("number")) and not obj(n).get("dnc")]
        numbers.sort(key=lambda n: -(n.get("score") or 0))
        if numbers:
            best = numbers[0]
            return Found(text(best["number"]), confidence=text(best.get("score")), detail=detail)
    return None


class CognismAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "cognism"
    name: ClassVar[str] = "Cognism"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=PERSON_POINTS | COMPANY_POINTS,
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL, InputKind.COMPANY}),
        batch_size=REDEEM_MAX,
        flow=Flow.TWO_PHASE,
        pricing=Pricing("Cognism credits", ((PAID_POINTS, 1.0),),
                        "1 credit per contact redeemed, only when its free preview shows the e-mail, phone, LinkedIn "
                        "URL or location you miss; job titles and companies are free; a contact already redeemed "
                        "costs nothing again."),
        rate_limit=RateLimit(1000, 60.0),
        repeat=RepeatCharge.FREE,
        repeat_note="Re-redeeming a contact the account already redeemed consumes no credit "
                    "(https://developers.cognism.com, \"Credits\").",
    )

    def __init__(self, api: Any, limit: RateLimit | None = None) -> None:
        self.api = api
        # 1,000 redeemed records a minute, at most 20 per call: 50 full redeem calls a minute; the search's pages of
        # 20 results: 50 pages a minute (the same share of a limit set for a tier or a test).
        limit = limit or self.capabilities.rate_limit
        self._redeem_limiter = SlidingWindowLimiter(RateLimit(max(1, limit.requests // REDEEM_MAX), limit.per_seconds),
                                                    name="Cognism redeem")
        self._search_limiter = SlidingWindowLimiter(RateLimit(max(1, limit.requests // SEARCH_PAGE),
                                                              limit.per_seconds), name="Cognism search")

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport, auth=bearer_auth(key),
                          error_hook=_error_hook, secret=key, options=options)
        return cls(api, options.get("rate_limit"))

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def _post(self, path: str, body: dict[str, Any], params: dict[str, Any] | None = None, *,
                    limiter: SlidingWindowLimiter | None = None) -> Any:
        reply: Reply = await self.api.request("POST", path, json=body, params=params, idempotent=True,
                                              extra_limiters=(limiter,) if limiter else ())
        return reply.json()

    async def check(self) -> ProviderAccount:
        reply: Reply = await self.api.request("GET", "/search/entitlement/contactEntitlementSubscription")
        entitled = obj(obj(reply.json()).get("contact Entitlement"))
        shown = [label for field, label in (("email", "e-mails"), ("mobilePhoneNumbers", "mobile phones"),
                                            ("directPhoneNumbers", "direct dials"), ("jobTitle", "job titles"),
                                            ("linkedinUrl", "LinkedIn URLs")) if entitled.get(field)]
        details = ("Cognism accepted the API key; the account is entitled to "
                   + (", ".join(shown) if shown else "no contact data fields")
                   + ". Cognism's API does not tell the credits left (see them in Cognism).")
        return ProviderAccount("cognism", details=details)

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        if points & PERSON_POINTS and kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN,
                                                InputKind.LINKEDIN_URL, InputKind.EMAIL}:
            return True
        return bool(points & COMPANY_POINTS and InputKind.COMPANY in kinds)

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        token = await self.submit(records, points)
        return await self.collect(token, records, points)

    # -- phase 1: previews (free) ----------------------------------------------------------------------------------
    async def submit(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> str:
        """Match and preview every record; the token says what to redeem (and what the previews gave free)."""
        if len(records) > REDEEM_MAX:
            raise ValueError(f"Cognism redeems at most {REDEEM_MAX} records per request")
        outcomes = await asyncio.gather(*(self._preview(r, points) for r in records), return_exceptions=True)
        for outcome in outcomes:  # previews are free: a failure loses nothing that was paid for
            if isinstance(outcome, BaseException):
                raise outcome
        plans = [o for o in outcomes if not isinstance(o, BaseException)]
        token = {"v": TOKEN_VERSION, "r": {r.key: plan for r, plan in zip(records, plans, strict=True) if plan}}
        return json.dumps(token, separators=(",", ":"), ensure_ascii=False)

    async def _preview(self, r: LookupInput, points: frozenset[DataPoint]) -> dict[str, Any]:
        plan: dict[str, Any] = {}
        person = bool(r.kinds() - {InputKind.COMPANY})
        wants_company = bool(points & COMPANY_POINTS)
        preview: dict[str, Any] | None = None
        if person and points & PERSON_POINTS:
            preview = await self._match_contact(r)
            if preview is not None:
                if text(preview.get("jobTitle")):
                    plan["t"] = text(preview["jobTitle"])
                worth = ((DataPoint.EMAIL in points and preview.get("hasEmail"))
                         or (DataPoint.PHONE in points and (preview.get("hasMobilePhoneNumbers")
                                                            or preview.get("hasDirectPhoneNumbers")))
                         or (DataPoint.LINKEDIN_URL in points and preview.get("hasLinkedinUrl"))
                         or (DataPoint.LOCATION in points and (preview.get("hasCountry") or preview.get("hasCity"))))
                if worth and text(preview.get("redeemId")):
                    plan["c"] = [text(preview["redeemId"]), text(preview.get("id"))]
        if wants_company and "c" not in plan:  # a redeemed contact brings its account; otherwise redeem it (free)
            account_id = text(obj((preview or {}).get("account")).get("id"))
            if not account_id and (r.domain or r.company_name):
                account_id = await self._match_account(r)
            if account_id:
                plan["a"] = account_id
        return plan

    async def _match_contact(self, r: LookupInput) -> dict[str, Any] | None:
        first, last = r.names
        body: dict[str, Any] = {}
        if r.email:
            body["email"] = r.email
        if r.linkedin_url:
            body["linkedinUrl"] = r.linkedin_url
        if first and last:
            body.update(firstName=first, lastName=last)
            if r.domain:
                body["accountWebsite"] = r.domain
            if r.company_name:
                body["accountName"] = r.company_name
        if not (body.get("email") or body.get("linkedinUrl") or (first and last and (r.domain or r.company_name))):
            return None
        results = [obj(x) for x in arr(obj(await self._post("/search/contact/enrich", body)).get("results"))]
        if results:
            return results[0]
        if first and last and (r.domain or r.company_name) and not (r.email or r.linkedin_url):
            # Only a name and a company (the enrich API matches best with a unique identifier or a job title):
            # look the name up at the company. Cognism not knowing an e-mail or a LinkedIn URL is an answer.
            return await self._search_contact(first, last, r)
        return None

    async def _search_contact(self, first: str, last: str, r: LookupInput) -> dict[str, Any] | None:
        """The name at that company, read from the search's forward-only pages (a few at most)."""
        account: dict[str, Any] = {"domains": [r.domain]} if r.domain else {"names": [r.company_name]}
        body = {"firstName": first, "lastName": last, "account": account}
        cursor = ""
        for _page in range(SEARCH_PAGES):
            page = obj(await self._post("/search/contact/search", body,
                                        {"indexSize": SEARCH_PAGE, "lastReturnedKey": cursor},
                                        limiter=self._search_limiter))
            results = [obj(x) for x in arr(page.get("results"))]
            for hit in results:
                if (_norm(text(hit.get("firstName"))), _norm(text(hit.get("lastName")))) == (_norm(first),
                                                                                           _norm(last)):
                    return hit
            cursor = text(page.get("lastReturnedKey"))
            if len(results) < SEARCH_PAGE or not cursor:
                return None
        return None

    async def _match_account(self, r: LookupInput) -> str:
        body: dict[str, Any] = {"domain": r.domain} if r.domain else {"name": r.company_name}
        results = [obj(x) for x in arr(obj(await self._post("/search/account/enrich", body)).get("results"))]
        return text(results[0].get("id")) if results else ""

    # -- phase 2: redeem (contacts paid, accounts free) ---------------------------------------------------------
    async def collect(self, job_id: str, records: Sequence[LookupInput],
                      points: frozenset[DataPoint]) -> list[LookupResult]:
        plans: dict[str, dict[str, Any]] = obj(obj(json.loads(job_id)).get("r"))
        results = {r.key: LookupResult(r.key) for r in records}
        contacts = {key: plan["c"] for key, plan in plans.items() if plan.get("c") and key in results}
        accounts = {key: plan["a"] for key, plan in plans.items() if plan.get("a") and key in results}
        redeemed: dict[str, dict[str, Any]] = {}
        if contacts:
            body = await self._post("/search/contact/redeem", {"redeemIds": [c[0] for c in contacts.values()]},
                                    limiter=self._redeem_limiter)
            full = [obj(x) for x in arr(obj(body).get("results"))]
            by_redeem = {text(c.get("redeemId")): c for c in full}
            by_id = {text(c.get("id")): c for c in full}
            for key, (redeem_id, contact_id) in contacts.items():
                # An outdated redeem id comes back with the current one: match by the contact's id too.
                found = by_redeem.get(redeem_id) or by_id.get(contact_id)
                if found is not None:
                    redeemed[key] = found
        companies: dict[str, dict[str, Any]] = {}
        if accounts:
            body = await self._post("/search/account/redeem", {"redeemIds": sorted(set(accounts.values()))},
                                    limiter=self._redeem_limiter)
            by_account = {text(obj(a).get("id")): obj(a) for a in arr(obj(body).get("result"))}
            companies = {key: by_account[aid] for key, aid in accounts.items() if aid in by_account}
        for r in records:
            res, plan = results[r.key], plans.get(r.key, {})
            person = bool(r.kinds() - {InputKind.COMPANY})
            if person and points & PERSON_POINTS:
                # The preview answered every person point it could: what it did not show is not there.
                res.covered |= PERSON_POINTS
                if plan.get("t"):
                    res.found[DataPoint.JOB_TITLE] = Found(plan["t"])
            contact = redeemed.get(r.key)
            if contact is not None:
                res.credits += 1.0  # 1 credit per contact redeemed (re-redeeming is free: the cache asks once)
                self._take_contact(contact, res)
                account = obj(contact.get("account"))
                if account:
                    res.covered |= COMPANY_POINTS
                    self._take_account(account, res, person=True)
            if points & COMPANY_POINTS and (r.key in accounts or not plan.get("c")):
                res.covered |= COMPANY_POINTS | (set() if person else {DataPoint.LOCATION})
            if r.key in companies:
                self._take_account(companies[r.key], res, person=person)
        return [results[r.key] for r in records]

    @staticmethod
    def _take_contact(contact: dict[str, Any], res: LookupResult) -> None:
        email = obj(contact.get("email"))
        address = text(email.get("address")) if email else text(contact.get("email"))
        if address:
            res.found[DataPoint.EMAIL] = Found(address, confidence=text(email.get("quality")),
                                               status=text(email.get("quality")).lower())
        phone = _phone(contact)
        if phone is not None:
            res.found[DataPoint.PHONE] = phone
        if text(contact.get("jobTitle")):
            res.found[DataPoint.JOB_TITLE] = Found(text(contact.get("jobTitle")))
        if text(contact.get("linkedinUrl")):
            res.found[DataPoint.LINKEDIN_URL] = Found(text(contact.get("linkedinUrl")))
        location = join_location(contact.get("city"), contact.get("state"), contact.get("country"))
        if location:
            res.found[DataPoint.LOCATION] = Found(location)

    @staticmethod
    def _take_account(account: dict[str, Any], res: LookupResult, *, person: bool) -> None:
        domain = text(account.get("domain")) or text(account.get("website")).split("://", 1)[-1].split("/", 1)[0]
        if domain:
            res.found[DataPoint.COMPANY_DOMAIN] = Found(domain.removeprefix("www.").lower())
        industries = account.get("industries") or account.get("industry")
        industry = text(arr(industries)[0]) if isinstance(industries, list) and industries else text(industries)
        if industry:
            res.found[DataPoint.INDUSTRY] = Found(industry)
        if account.get("headcount"):
            res.found[DataPoint.SIZE] = Found(size_band(account["headcount"]))
        elif account.get("sizeFrom") and account.get("sizeTo"):
            res.found[DataPoint.SIZE] = Found(f"{account['sizeFrom']}-{account['sizeTo']}")
        if isinstance(account.get("revenue"), int | float) and account["revenue"]:
            res.found[DataPoint.REVENUE] = Found(money(account["revenue"]))
        if not person:
            locations = [obj(x) for x in arr(account.get("location") or account.get("locations"))]
            hq = next((loc for loc in locations if text(loc.get("addressType") or loc.get("type")) == "hq"),
                      locations[0] if locations else {})
            location = join_location(hq.get("city"), hq.get("state"), hq.get("country"))
            if location:
                res.found[DataPoint.LOCATION] = Found(location)
