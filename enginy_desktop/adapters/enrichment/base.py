"""The enrichment contract: what a data-enrichment provider can find, from what, at what price (DESIGN §13).

A provider adapter declares its :class:`ProviderCapabilities` — the :class:`DataPoint` values it can find, the
:class:`InputKind` it can start from, how many records one request takes, whether its flow is synchronous or
asynchronous (submit, then poll), its rate limit and its :class:`Pricing` (credits per data point, in the
provider's own unit) — and answers :meth:`EnrichmentAdapter.lookup` with one :class:`LookupResult` per input.

Errors are the common ones of :mod:`enginy_desktop.adapters.base`:

- a record the provider does not know is **not** an error: its result has ``found`` empty (``not_found``);
- credits used up: :class:`~enginy_desktop.adapters.base.QuotaExhaustedError` (Apollo 422, Hunter 429,
  Lusha 402, Dropcontact 403 — each vendor signals it its own way, the adapter translates);
- throttled: :class:`~enginy_desktop.adapters.base.RateLimitedError` (Hunter's 403, the others' 429);
- bad key: :class:`~enginy_desktop.adapters.base.AuthError`;
- provider down: :class:`~enginy_desktop.adapters.base.TransientError` / ``NetworkError``.

Adding a provider is an adapter module here, an emulator in ``sandbox/enrichment/`` and its key in
:data:`ADAPTERS` (and the catalog's card text). This module imports neither httpx nor Qt.
"""

from __future__ import annotations

import abc
import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Self

from ..base import AdapterError, Connection, RateLimit

__all__ = [
    "ADAPTERS",
    "DATA_POINT_LABELS",
    "CompanyInput",
    "DataPoint",
    "EnrichmentAdapter",
    "Flow",
    "Found",
    "InputKind",
    "LookupInput",
    "LookupResult",
    "Pricing",
    "ProviderAccount",
    "ProviderCapabilities",
    "RepeatCharge",
    "adapter_class",
    "with_partial",
]


class DataPoint(StrEnum):
    EMAIL = "email"  # work e-mail
    EMAIL_STATUS = "email_status"  # verification of the e-mail (entered or found)
    PHONE = "phone"  # mobile or direct phone
    JOB_TITLE = "job_title"
    LINKEDIN_URL = "linkedin_url"
    COMPANY_DOMAIN = "company_domain"
    INDUSTRY = "industry"
    SIZE = "size"
    REVENUE = "revenue"
    LOCATION = "location"


DATA_POINT_LABELS: dict[DataPoint, str] = {
    DataPoint.EMAIL: "Work e-mail",
    DataPoint.EMAIL_STATUS: "E-mail verification",
    DataPoint.PHONE: "Mobile / direct phone",
    DataPoint.JOB_TITLE: "Job title",
    DataPoint.LINKEDIN_URL: "LinkedIn URL",
    DataPoint.COMPANY_DOMAIN: "Company domain",
    DataPoint.INDUSTRY: "Industry",
    DataPoint.SIZE: "Company size",
    DataPoint.REVENUE: "Revenue",
    DataPoint.LOCATION: "Location",
}

COMPANY_POINTS = frozenset({DataPoint.COMPANY_DOMAIN, DataPoint.INDUSTRY, DataPoint.SIZE, DataPoint.REVENUE,
                            DataPoint.LOCATION})


class InputKind(StrEnum):
    NAME_AND_COMPANY = "name_company"  # first + last (or full) name and a company name
    NAME_AND_DOMAIN = "name_domain"  # a name and the company's domain
    LINKEDIN_URL = "linkedin_url"
    EMAIL = "email"
    COMPANY = "company"  # a company's name or domain (company lookups)


class Flow(StrEnum):
    SYNC = "sync"  # the answer comes with the request
    ASYNC = "async"  # submit, then poll until done (Dropcontact)
    # A free first call that matches (and previews) the records, then the call that pays for what the preview
    # shows is worth it (Cognism's enrich, then redeem). Like ASYNC, ``submit`` returns a token — here what will
    # be paid for — that the engine journals before ``collect`` pays: a run resumed after a crash between the two
    # calls pays for the journaled token instead of matching (and paying) again. ``collect`` is called at once.
    TWO_PHASE = "two_phase"


@dataclass(frozen=True, slots=True)
class Pricing:
    """Credits (in ``unit``) a record costs at most, by the data points asked.

    ``groups`` are (points, credits): a request about a record costs the sum of the credits of every group one
    of whose points was asked. Vendors charge only for what they find; this is the most a record can cost,
    which is what an estimate shows.
    """

    unit: str
    groups: tuple[tuple[frozenset[DataPoint], float], ...]
    notes: str = ""

    def cost(self, points: frozenset[DataPoint] | set[DataPoint]) -> float:
        return sum(credits for group, credits in self.groups if group & points)


class RepeatCharge(StrEnum):
    """What the vendor charges when the same account asks again about a record it was already charged for.

    It decides what resuming a run does with a request cut off by a crash (sent, perhaps charged, its answer never
    recorded): a provider that does not charge a repeat is asked again (free); one that does is not — nothing is
    paid twice, and the records are counted as *not asked again* in the report.
    """

    FREE = "free"  # a repeated lookup of a record the account already paid for is not charged (see repeat_note)
    CHARGED = "charged"  # a repeated lookup is charged again (or the vendor does not say it is not)


@dataclass(frozen=True, slots=True)
class ProviderCapabilities:
    finds: frozenset[DataPoint]
    inputs: frozenset[InputKind]
    batch_size: int
    flow: Flow
    pricing: Pricing
    rate_limit: RateLimit
    # Seconds before the first poll of an asynchronous job; the engine backs off from it up to ``poll_max``
    # (an adapter instance may poll faster or slower: :meth:`EnrichmentAdapter.poll_delays`).
    poll_every: float = 0.0
    poll_max: float = 0.0
    # How long (seconds) the vendor keeps an asynchronous job's results after it was submitted (0: not said): a run
    # resumed later than that does not poll the job it journaled for ever.
    results_kept: float = 0.0
    # Whether asking again about a record already paid for costs again, and the vendor's own words (with the page).
    # The safe default for a vendor whose docs say nothing: it does.
    repeat: RepeatCharge = RepeatCharge.CHARGED
    repeat_note: str = ""


@dataclass(frozen=True, slots=True)
class LookupInput:
    """What we know of one record. ``key`` is the caller's reference and comes back on the result."""

    key: str
    first_name: str = ""
    last_name: str = ""
    full_name: str = ""
    company_name: str = ""
    domain: str = ""
    linkedin_url: str = ""
    email: str = ""

    @property
    def name(self) -> str:
        return self.full_name or f"{self.first_name} {self.last_name}".strip()

    @property
    def names(self) -> tuple[str, str]:
        """(first, last), split from the full name when only that is known."""
        if self.first_name or self.last_name:
            return self.first_name, self.last_name
        parts = self.full_name.split()
        if len(parts) >= 2:
            return parts[0], " ".join(parts[1:])
        return (parts[0] if parts else ""), ""

    def kinds(self) -> frozenset[InputKind]:
        """The input kinds this record can offer."""
        out: set[InputKind] = set()
        first, last = self.names
        if first and last:
            if self.company_name:
                out.add(InputKind.NAME_AND_COMPANY)
            if self.domain:
                out.add(InputKind.NAME_AND_DOMAIN)
        if self.linkedin_url:
            out.add(InputKind.LINKEDIN_URL)
        if self.email:
            out.add(InputKind.EMAIL)
        if self.company_name or self.domain:
            out.add(InputKind.COMPANY)
        return frozenset(out)

    def identity(self) -> str:
        """The normalised input, the key of the per-provider cache: the same person asked twice is one lookup."""
        first, last = self.names
        parts = (first, last, self.company_name, self.domain, self.linkedin_url, self.email)
        return "|".join(" ".join(p.casefold().split()) for p in parts)


CompanyInput = LookupInput  # a company is looked up by ``company_name`` and ``domain`` (``InputKind.COMPANY``)


@dataclass(frozen=True, slots=True)
class Found:
    """One value a provider found, with what it said about it (its provenance)."""

    value: str
    confidence: str = ""  # the provider's score or grade ("95", "A+")
    status: str = ""  # verification status ("valid", "verified", "nominative@pro", "accept_all"…)
    detail: str = ""  # e.g. the phone's type ("mobile", "direct")


@dataclass(slots=True)
class LookupResult:
    key: str
    found: dict[DataPoint, Found] = field(default_factory=dict)
    credits: float = 0.0  # what this record cost, as the provider charged it
    error: str = ""  # a per-record refusal (invalid input, compliance…), not a whole-request failure
    # Every data point the calls made for this record answered, found or not (a person lookup answers the
    # title and the company too): the engine caches them all, so the same lookup is never paid for again.
    covered: set[DataPoint] = field(default_factory=set)

    @property
    def not_found(self) -> bool:
        return not self.found and not self.error


@dataclass(frozen=True, slots=True)
class ProviderAccount:
    """What Test connection shows: who we are connected as and the credits left, where the API tells them."""

    provider: str
    account: str = ""
    credits_left: float | None = None
    details: str = ""


class EnrichmentAdapter(abc.ABC):
    """One enrichment provider. Async; one HTTP client per adapter, released by :meth:`aclose`.

    Synchronous providers implement :meth:`lookup` (one request for at most ``batch_size`` records). Asynchronous
    ones implement :meth:`submit` (returns the provider's job id, which the engine journals before it polls) and
    :meth:`collect` (None while the job is not done); their :meth:`lookup` does both. Two-phase providers
    (:attr:`Flow.TWO_PHASE`) implement the same pair: ``submit`` is the free match, ``collect`` the paid call.
    """

    key: ClassVar[str]
    name: ClassVar[str]
    capabilities: ClassVar[ProviderCapabilities]
    # An asynchronous adapter's own poll delays (seconds; 0 = the capabilities'): set per instance, e.g. from the
    # ``poll_every`` / ``poll_max`` connection options (tests poll fast).
    poll_every: float = 0.0
    poll_max: float = 0.0

    @classmethod
    @abc.abstractmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, **options: Any) -> Self: ...

    @abc.abstractmethod
    async def check(self) -> ProviderAccount: ...

    @classmethod
    def can_use(cls, record: LookupInput, points: frozenset[DataPoint]) -> bool:
        """Whether this provider can look ``record`` up for ``points`` with the inputs it has."""
        return bool(record.kinds() & cls.capabilities.inputs)

    async def lookup(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> list[LookupResult]:
        """Look ``records`` (at most ``batch_size``) up for ``points``; one result per record, in order.

        When a lookup needs several calls and one fails after others were answered (and charged), the
        :class:`~enginy_desktop.adapters.base.AdapterError` raised carries those answers in ``partial`` (see
        :func:`with_partial`), so they are recorded and never paid for again."""
        raise NotImplementedError

    async def submit(self, records: Sequence[LookupInput], points: frozenset[DataPoint]) -> str:
        raise NotImplementedError

    async def collect(self, job_id: str, records: Sequence[LookupInput],
                      points: frozenset[DataPoint]) -> list[LookupResult] | None:
        raise NotImplementedError

    def poll_delays(self) -> tuple[float, float]:
        """(first delay, longest delay) between polls of an asynchronous job, in seconds."""
        caps = self.capabilities
        first = self.poll_every or caps.poll_every or 1.0
        return first, max(first, self.poll_max or caps.poll_max or first)

    @property
    def requests_sent(self) -> int:
        return 0

    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def with_partial(error: Exception, results: Sequence[LookupResult]) -> Exception:
    """``error`` carrying the results answered before it (``error.partial``); only results with answers count."""
    kept = [r for r in results if r.covered or r.found or r.credits]
    if isinstance(error, AdapterError):
        error.partial = [*error.partial, *kept]
    else:  # not an adapter failure: nothing the engine would record; it stops the run as it is
        error.add_note(f"{len(kept)} answers came before this error")
    return error


# catalog key -> "module:Class" (imported on first use)
ADAPTERS: Mapping[str, str] = {
    "apollo": "enginy_desktop.adapters.enrichment.apollo:ApolloAdapter",
    "hunter": "enginy_desktop.adapters.enrichment.hunter:HunterAdapter",
    "lusha": "enginy_desktop.adapters.enrichment.lusha:LushaAdapter",
    "dropcontact": "enginy_desktop.adapters.enrichment.dropcontact:DropcontactAdapter",
    "proxycurl": "enginy_desktop.adapters.enrichment.proxycurl:ProxycurlAdapter",
    "kaspr": "enginy_desktop.adapters.enrichment.kaspr:KasprAdapter",
    "datagma": "enginy_desktop.adapters.enrichment.datagma:DatagmaAdapter",
    "cognism": "enginy_desktop.adapters.enrichment.cognism:CognismAdapter",
    "zoominfo": "enginy_desktop.adapters.enrichment.zoominfo:ZoomInfoAdapter",
}


def adapter_class(key: str) -> type[EnrichmentAdapter]:
    target = ADAPTERS[key]
    module_name, _, class_name = target.partition(":")
    cls: type[EnrichmentAdapter] = getattr(importlib.import_module(module_name), class_name)
    return cls

