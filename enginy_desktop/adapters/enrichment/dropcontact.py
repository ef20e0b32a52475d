"""Dropcontact (``apis/enrichment_apis.md`` §4, ``specs/notes/dropcontact.md``; docs https://developer.dropcontact.com).

Asynchronous batches: ``POST /enrich/all`` with up to 250 records answers ``{request_id, credits_left, success}``;
``GET /enrich/all/{request_id}`` answers 200 with ``success: false`` ("Request not ready yet, try again in 30
seconds") until the batch is done, then ``success: true`` and ``data[]`` in the order submitted
(https://developer.dropcontact.com/en/errors/). The engine journals the ``request_id`` as soon as the submit
answers, so a resumed run fetches the same batch instead of paying for it again — within the 30 days Dropcontact
keeps a batch's results (same page).

Auth: the ``X-Access-Token`` header. A record needs a company (name or website), an e-mail or a LinkedIn profile.
Results: ``email: [{email, qualification}]`` where the qualification reads ``nominative@pro``, ``catch_all@pro``…,
``phone``, ``mobile_phone``, ``job``, ``linkedin``, ``website``, ``nb_employees``, ``naf5_des``, ``country``.
Credits (https://developer.dropcontact.com/en/credits/): pay on success — 1 credit per record returned with a
verified e-mail (refunded when none is found); sending an e-mail to verify costs 1 credit; when the account has not
enough credits for the whole batch the request is refused with **403**. 429 past 60 requests per second.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, ClassVar, Self

from ..base import AdapterError, AuthError, Connection, QuotaExhaustedError, RateLimit, TransientError
from ..http import Reply
from ._common import api_key, arr, open_client, size_band, text
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

DEFAULT_BASE_URL = "https://api.dropcontact.com/v1"
FINDS = frozenset({DataPoint.EMAIL, DataPoint.EMAIL_STATUS, DataPoint.PHONE, DataPoint.JOB_TITLE,
                   DataPoint.LINKEDIN_URL, DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE,
                   DataPoint.LOCATION})


def _error_hook(reply: Reply, default: AdapterError) -> AdapterError:
    body = reply.json_or_none()
    reason = text(body.get("reason") or body.get("detail")) if isinstance(body, dict) else ""
    kw: dict[str, Any] = {"vendor": "dropcontact", "status": reply.status}
    if reply.status == 401:
        return AuthError(f"Dropcontact did not accept the API key (HTTP 401{': ' + reason if reason else ''}). Copy "
                         "it from Dropcontact → API into the Dropcontact connection.", **kw)
    if reply.status == 403:
        return QuotaExhaustedError(f"Dropcontact has not enough credits for this batch (HTTP 403"
                                   f"{': ' + reason if reason else ''}); it refuses the whole batch. Add credits, "
                                   "then resume the run.", **kw)
    return default


class DropcontactAdapter(EnrichmentAdapter):
    key: ClassVar[str] = "dropcontact"
    name: ClassVar[str] = "Dropcontact"
    capabilities: ClassVar[ProviderCapabilities] = ProviderCapabilities(
        finds=FINDS,
        inputs=frozenset({InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL,
                          InputKind.EMAIL}),
        batch_size=250,
        flow=Flow.ASYNC,
        pricing=Pricing("Dropcontact credits", ((FINDS, 1.0),),
                        "1 credit per record returned with a verified e-mail, or per e-mail sent for verification; "
                        "refunded when nothing is found."),
        rate_limit=RateLimit(60, 1.0),
        # Dropcontact asks to poll every 30 seconds: the first poll comes after 2 s (a small batch is often done by
        # then), later ones back off to 30 s.
        poll_every=2.0,
        poll_max=30.0,
        # "Fetch your results within 30 days: after that, they may no longer be available"
        # (https://developer.dropcontact.com/en/errors/).
        results_kept=30 * 86_400.0,
        repeat=RepeatCharge.CHARGED,
        repeat_note=("Dropcontact takes the credits when a batch is sent "
                     "(https://developer.dropcontact.com/en/credits/): a batch sent again is charged again. Its "
                     "batch id is recorded as soon as Dropcontact answers, and a resumed run fetches that batch "
                     "instead of sending it again (Dropcontact keeps its results 30 days)."),
    )

    def __init__(self, api: Any, poll_every: float, poll_max: float, max_wait: float) -> None:
        self.api = api
        self.poll_every = poll_every
        self.poll_max = poll_max
        self.max_wait = max_wait

    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self:
        key = api_key(connection, cls.name)
        api = open_client(connection, vendor_name=cls.name, default_base_url=DEFAULT_BASE_URL,
                          rate_limit=cls.capabilities.rate_limit, transport=transport,
                          headers={"X-Access-Token": key}, error_hook=_error_hook, secret=key, options=options)
        return cls(api, float(options.get("poll_every") or cls.capabilities.poll_every),
                   float(options.get("poll_max") or cls.capabilities.poll_max),
                   float(options.get("max_job_wait") or 3600.0))

    @property
    def requests_sent(self) -> int:
        return int(self.api.requests_sent)

    async def aclose(self) -> None:
        await self.api.aclose()

    async def check(self) -> ProviderAccount:
        body = (await self.api.request("GET", "/account/credits")).json() or {}
        credits = body.get("credits") if isinstance(body, dict) else None
        left = float(credits) if isinstance(credits, int | float) else None
        return ProviderAccount("dropcontact", account="Dropcontact API key", credits_left=left,
                               details="Dropcontact accepted the API key.")

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        kinds = record.kinds()
        return bool(kinds & {InputKind.LINKEDIN_URL, InputKind.EMAIL}) or bool(
            kinds & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN})

    @staticmethod
    def _sends_email(r: LookupInput, points: frozenset[DataPoint]) -> bool:
        """An e-mail sent to Dropcontact is verified and charged, whatever else is found: send it only to have it
        verified, or when nothing else identifies the person."""
        if not r.email:
            return False
        others = r.kinds() & {InputKind.NAME_AND_COMPANY, InputKind.NAME_AND_DOMAIN, InputKind.LINKEDIN_URL}
        return DataPoint.EMAIL_STATUS in points or not others

    def _record(self, r: LookupInput, points: frozenset[DataPoint]) -> dict[str, str]:
        first, last = r.names
        d = {"first_name": first, "last_name": last, "company": r.company_name, "website": r.domain,
             "linkedin": r.linkedin_url, "email": r.email if self._sends_email(r, points) else ""}
        return {k: v for k, v in d.items() if v}

    async def submit(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> str:
        payload = {"data": [self._record(r, points) for r in records], "siren": False, "language": "en"}
        body = (await self.api.request("POST", "/enrich/all", json=payload)).json() or {}
        if not isinstance(body, dict) or not body.get("success") or not body.get("request_id"):
            reason = text(body.get("reason")) if isinstance(body, dict) else ""
            raise TransientError(f"Dropcontact did not accept the batch ({reason or 'no request id'}).",
                                 vendor=self.key)
        return text(body["request_id"])

    async def collect(self, job_id: str, records: Sequence[LookupInput],
                      points: frozenset[DataPoint]) -> list[LookupResult] | None:
        body = (await self.api.request("GET", f"/enrich/all/{job_id}")).json() or {}
        if not isinstance(body, dict) or not body.get("success"):
            return None  # not ready yet (Dropcontact answers the same for an unknown id)
        data = arr(body.get("data"))
        out: list[LookupResult] = []
        for i, r in enumerate(records):
            item = data[i] if i < len(data) and isinstance(data[i], dict) else {}
            found = self._found(item)
            sent_email = self._sends_email(r, points)
            credits = 1.0 if (DataPoint.EMAIL in found and not sent_email) else 0.0
            if sent_email:
                credits = 1.0  # a verification is charged whatever comes of it
            out.append(LookupResult(r.key, found, credits=credits, covered=set(FINDS)))
        return out

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        job = await self.submit(records, points)
        delay, waited = self.poll_every, 0.0
        while True:
            await asyncio.sleep(delay)
            waited += delay
            results = await self.collect(job, records, points)
            if results is not None:
                return results
            if waited > self.max_wait:
                raise TransientError("Dropcontact has not finished the batch; resume the run later to fetch it.",
                                     vendor=self.key)
            delay = min(self.poll_max, delay * 1.5)

    @staticmethod
    def _found(item: dict[str, Any]) -> dict[DataPoint, Found]:
        out: dict[DataPoint, Found] = {}
        emails = [e for e in item.get("email") or [] if isinstance(e, dict) and text(e.get("email"))]
        emails.sort(key=lambda e: 0 if text(e.get("qualification")).endswith("@pro") else 1)
        if emails:
            q = text(emails[0].get("qualification"))
            out[DataPoint.EMAIL] = Found(text(emails[0].get("email")), status=q)
            if q:
                out[DataPoint.EMAIL_STATUS] = Found(q, status=q)
        phone = text(item.get("mobile_phone")) or text(item.get("phone"))
        if phone:
            out[DataPoint.PHONE] = Found(phone, detail="mobile" if item.get("mobile_phone") else "direct")
        if text(item.get("job")):
            out[DataPoint.JOB_TITLE] = Found(text(item.get("job")))
        if text(item.get("linkedin")):
            out[DataPoint.LINKEDIN_URL] = Found(text(item.get("linkedin")))
        website = text(item.get("website"))
        if website:
            domain = website.split("://", 1)[-1].split("/", 1)[0].removeprefix("www.")
            out[DataPoint.COMPANY_DOMAIN] = Found(domain)
        if text(item.get("naf5_des")):
            out[DataPoint.INDUSTRY] = Found(text(item.get("naf5_des")))
        if text(item.get("nb_employees")):
            out[DataPoint.SIZE] = Found(size_band(text(item.get("nb_employees")).split("-")[-1]),
                                        detail=text(item.get("nb_employees")))
        if text(item.get("country")):
            out[DataPoint.LOCATION] = Found(text(item.get("country")))
        return out
