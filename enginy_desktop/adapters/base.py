"""The CRM contract: what every CRM adapter offers, in our own dataclasses (DESIGN §7).

Callers (services, runs, the wizard through a service) see only the types of this module, never vendor JSON.
The contract is shaped so that all six CRMs fit it (see ``apis/crm_apis.md``, §7): batch sizes range from
one record per call (Pipedrive) to 1,000 (Dataverse ``$batch``); some vendors upsert and some do not; a contact
has many companies in HubSpot and exactly one in Pipedrive or Zoho; throttling arrives as 429 or as 403. Each
adapter therefore declares its :class:`Capabilities`, and callers plan with them instead of with vendor names.

Writes return one :class:`WriteResult` per input, in input order: success with the CRM id, or failure with a
readable reason. A partial failure is never an exception; an exception means that the call as a whole failed
(authentication, rate limit, network, ...), and is always an :class:`AdapterError`.

This module imports neither httpx nor Qt.
"""

from __future__ import annotations

import abc
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol, Self

from enginy_desktop.redact import redact

# -- the error tree ------------------------------------------------------------------------------------------


class AdapterError(Exception):
    """Base of every adapter failure. ``str()`` is one readable sentence, with every secret masked; ``detail`` is
    the technical part a user reads only when asking for it (the window's "Details", the command line's
    ``--verbose``, the log): the low-level error and its class, an HTTP status and address, also secret-free.

    ``retriable`` says whether the same call may succeed later unchanged; ``status`` is the HTTP status when
    there was one; ``request_id`` is the vendor's correlation id for a support ticket. A batch method that
    fails part-way (after some of its requests succeeded) raises with ``completed`` holding the results of the
    inputs already processed, so nothing that was written is forgotten. An enrichment lookup that fails after some
    of its calls were answered (and charged) raises with ``partial`` holding those answers (the enrichment
    contract's ``LookupResult`` objects, see ``adapters/enrichment/base.with_partial``).
    """

    retriable: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        vendor: str = "",
        status: int | None = None,
        request_id: str = "",
        detail: str = "",
    ) -> None:
        self.message = redact(message)
        self.detail = redact(detail)
        self.vendor = vendor
        self.status = status
        self.request_id = request_id
        self.completed: list[WriteResult] = []
        self.partial: list[Any] = []
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


def error_detail(exc: BaseException | None) -> str:
    """The technical detail behind an error the user is shown: the ``detail`` of ``exc`` or of the error it was
    raised while handling (a command's one-line error made from an adapter's), "" when there is none."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        detail = getattr(exc, "detail", "")
        if isinstance(detail, str) and detail:
            return redact(detail)
        exc = exc.__cause__ or exc.__context__
    return ""


class AuthError(AdapterError):
    """The credentials are wrong, expired or revoked (re-connect), or lack a permission."""


class MissingScopeError(AuthError):
    """The credentials are valid but lack a permission (scope) the call needs."""

    def __init__(self, message: str, *, scopes: Sequence[str] = (), **kw: Any) -> None:
        self.scopes = tuple(scopes)
        super().__init__(message, **kw)


class RateLimitedError(AdapterError):
    """The vendor throttled us (HTTP 429, or Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED``); wait and retry."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class QuotaExhaustedError(AdapterError):
    """A daily (or monthly) allowance is used up; retrying before it resets is pointless."""

    def __init__(self, message: str, *, resets_at: datetime | None = None, **kw: Any) -> None:
        self.resets_at = resets_at
        super().__init__(message, **kw)


@dataclass(frozen=True, slots=True)
class RecordError:
    """Why one record failed, in words a sales-ops user understands.

    ``code`` is the vendor's category (for grouping failures in a report), ``field`` the CRM field at fault
    when the vendor says, ``existing_id`` the CRM record that a create collided with (a duplicate).
    """

    reason: str
    code: str = ""
    field: str = ""
    existing_id: str = ""
    retriable: bool = False


class ValidationError(AdapterError):
    """The vendor refused the input. ``details`` lists what it said per record or field, when it said so."""

    def __init__(self, message: str, *, details: Sequence[RecordError] = (), **kw: Any) -> None:
        self.details = tuple(details)
        super().__init__(message, **kw)


class TransientError(AdapterError):
    """A temporary failure (5xx, time-out, dropped connection). ``maybe_applied`` is true when the vendor may
    have carried out a write before the failure, so it must be checked before being sent again."""

    retriable = True

    def __init__(self, message: str, *, maybe_applied: bool = False, **kw: Any) -> None:
        self.maybe_applied = maybe_applied
        super().__init__(message, **kw)


class NetworkError(TransientError):
    """The vendor could not be reached at all (DNS, refused connection, no network)."""


class FatalError(AdapterError):
    """A failure that retrying cannot fix (a bug, an unsupported call, an unexpected answer)."""


class NotFoundError(FatalError):
    pass


class UnsupportedOperationError(FatalError):
    """The CRM has no such operation (e.g. upsert in Pipedrive); check :class:`Capabilities` first."""


# -- what an adapter can do ----------------------------------------------------------------------------------


class CrmObject(StrEnum):
    CONTACTS = "contacts"
    COMPANIES = "companies"

    @property
    def singular(self) -> str:
        return "contact" if self is CrmObject.CONTACTS else "company"


class Operation(StrEnum):
    READ = "read"  # batch read by id or by a unique property
    CREATE = "create"
    UPDATE = "update"
    UPSERT = "upsert"
    SEARCH_PAGE = "search_page"  # results per search page
    SEARCH_IN_VALUES = "search_in_values"  # values per IN filter
    SCAN_PAGE = "scan_page"  # records per page of a full listing
    ASSOCIATION_READ = "association_read"
    ASSOCIATION_WRITE = "association_write"
    ACTIVITY = "activity"


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` calls in any window of ``per_seconds`` seconds."""

    requests: int
    per_seconds: float

    def __str__(self) -> str:
        return f"{self.requests}/{self.per_seconds:g}s"

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"200/10"`` or ``"200/10s"``: 200 calls in any 10 seconds (the form :meth:`__str__` writes). Raises
        ``ValueError`` with a readable message for anything else."""
        requests, sep, seconds = text.strip().removesuffix("s").partition("/")
        try:
            limit = cls(int(requests), float(seconds)) if sep else None
        except ValueError:
            limit = None
        if limit is None or limit.requests < 1 or not limit.per_seconds > 0:
            raise ValueError(f"'{text}' is not a rate limit: write calls/seconds, e.g. 6000/300")
        return limit


class CompanyLink(StrEnum):
    """How a contact's company is kept in the CRM."""

    ASSOCIATIONS = "associations"  # separate association records, written after the records (HubSpot v4)
    FIELD = "field"  # a reference field of the contact (Pipedrive ``org_id``, Salesforce ``AccountId``, Zoho
    #                  ``Account_Name``, Dataverse ``parentcustomerid``): set in the contact's own write


class BudgetUnit(StrEnum):
    REQUESTS = "requests"  # a daily allocation of calls (HubSpot, Salesforce)
    TOKENS = "tokens"  # a daily token budget, each operation costing some tokens (Pipedrive)
    CREDITS = "credits"  # credits per 24 hours, each operation costing some credits (Zoho)


@dataclass(frozen=True, slots=True)
class DailyBudget:
    """A daily allowance shared by every client of the account: ``per_day`` units, each :class:`Operation`
    costing ``cost[op]`` units per request (1 when not listed)."""

    unit: BudgetUnit
    per_day: int
    cost: Mapping[Operation, int] = field(default_factory=dict)

    def cost_of(self, op: Operation, requests: int = 1) -> int:
        return int(self.cost.get(op, 1)) * max(0, requests)


@dataclass(frozen=True, slots=True)
class BudgetLeft:
    """What is left of the :class:`DailyBudget` now (``CrmAdapter.budget_left``)."""

    unit: BudgetUnit
    remaining: int
    per_day: int | None = None
    resets_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Capabilities:
    """Limits and features an adapter declares; callers plan batches and strategies with them, never with
    vendor names.

    - ``max_batch``: the largest number of items per request for each :class:`Operation` (1: the vendor has no
      batch call for it, e.g. Pipedrive writes one record per call).
    - ``upsert`` / ``upsert_keys``: whether create-or-update exists, and on which unique fields per object.
    - ``company_link``: the company as separate associations or as ``company_field`` of the contact;
      ``multiple_companies`` (a contact may belong to several) and ``primary_company`` (one can be primary).
    - search: ``search_in`` (an ``IN`` filter; ``search_in_groups`` of them ORed in one request, so one search
      asks for up to ``batch(SEARCH_IN_VALUES) × search_in_groups`` values), ``search_filters_per_request`` /
      ``search_filters_per_group``
      (None: no limit), ``search_folds_case`` / ``search_folds_accents`` (whether search finds ``JOSÉ`` for
      ``jose``; when it does not the reader asks for several spellings), ``max_search_results``.
    - limits: ``rate_limit`` (a rolling window, enforced by the client-side limiter for this connection,
      tier-dependent), ``search_rate_limit`` (an extra window on search calls), ``budget`` (a daily allocation
      of requests, tokens or credits, with each operation's cost), ``throttle_status``, and ``concurrency``:
      the requests in flight that keep the window busy without tripping it.
    """

    max_batch: Mapping[Operation, int]
    upsert: bool
    multiple_companies: bool  # a contact may belong to several companies
    primary_company: bool  # one of them can be marked primary
    search_in: bool  # search supports an IN (any of these values) filter
    rate_limit: RateLimit
    search_rate_limit: RateLimit | None = None
    daily_limit: int | None = None  # requests per day (kept for callers that show it; see ``budget``)
    throttle_status: int = 429
    max_search_results: int | None = None  # a search stops paging after this many results
    company_link: CompanyLink = CompanyLink.ASSOCIATIONS
    company_field: str = ""  # with CompanyLink.FIELD: the contact field holding the company's id
    upsert_keys: Mapping[CrmObject, frozenset[str]] = field(default_factory=dict)
    search_filters_per_request: int | None = None
    search_filters_per_group: int | None = None
    search_folds_case: bool = True
    search_folds_accents: bool = False
    search_in_groups: int = 1
    budget: DailyBudget | None = None
    concurrency: int = 3
    # Why a contact has one company only (or none) in this account, when it depends on the account's own settings
    # (e.g. a feature the CRM's admin can turn on): the wizard adds it to its Association Type notes.
    companies_note: str = ""

    def batch(self, op: Operation) -> int:
        return max(1, int(self.max_batch.get(op, 1)))

    @property
    def company_in_contact(self) -> bool:
        """The contact's company is written with the contact (no separate association calls)."""
        return self.company_link is CompanyLink.FIELD

    def can_upsert(self, object: CrmObject, key: str) -> bool:
        return self.upsert and key in self.upsert_keys.get(object, frozenset())


@dataclass(frozen=True, slots=True)
class Traffic:
    """Counters of one connection since it was opened (reports show the difference over a run)."""

    requests: int = 0  # sent, retries included
    retries: int = 0  # requests sent again after a temporary failure or a throttling answer
    throttled: int = 0  # "too many requests" answers (HTTP 429 or the vendor's equivalent)
    waited: float = 0.0  # seconds spent waiting: the client-side rate limiter, back-off, Retry-After

    def __sub__(self, other: Traffic) -> Traffic:
        return Traffic(self.requests - other.requests, self.retries - other.retries,
                       self.throttled - other.throttled, max(0.0, self.waited - other.waited))


# -- what an adapter returns ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CrmIdentity:
    """Who we are connected as (``check()``)."""

    crm: str
    account_id: str = ""
    account_name: str = ""
    user: str = ""
    scopes: tuple[str, ...] = ()
    details: str = ""

    @property
    def account(self) -> str:
        if self.account_name and self.account_id:
            return f"{self.account_name} ({self.account_id})"
        return self.account_name or self.account_id


class FieldType(StrEnum):
    TEXT = "text"
    LONG_TEXT = "long_text"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    DATETIME = "datetime"
    PICKLIST = "picklist"
    MULTI_PICKLIST = "multi_picklist"
    EMAIL = "email"
    PHONE = "phone"
    URL = "url"
    OWNER = "owner"  # a CRM user id
    REFERENCE = "reference"  # an id of another record
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class FieldOption:
    value: str  # what the API takes
    label: str  # what the user sees
    hidden: bool = False


@dataclass(frozen=True, slots=True)
class CrmField:
    """One field (property) of a CRM object."""

    name: str
    label: str
    type: FieldType
    object: CrmObject  # the object that owns the field
    options: tuple[FieldOption, ...] = ()
    read_only: bool = False
    unique: bool = False
    required: bool = False
    group: str = ""
    description: str = ""
    vendor_type: str = ""  # the vendor's own type name, for diagnostics

    def option_value(self, label_or_value: str) -> str | None:
        """The API value of a picklist option given its label or its value (case-insensitive), else None."""
        wanted = label_or_value.strip().casefold()
        for opt in self.options:
            if opt.value.casefold() == wanted:
                return opt.value
        for opt in self.options:
            if opt.label.strip().casefold() == wanted:
                return opt.value
        return None


@dataclass(frozen=True, slots=True)
class CrmUser:
    """A CRM user who can own records (HubSpot calls them owners)."""

    id: str
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    active: bool = True
    kind: str = "person"  # person | queue | team
    user_id: str = ""  # the vendor's login-user id, when it differs from the owner id

    @property
    def name(self) -> str:
        full = f"{self.first_name} {self.last_name}".strip()
        return full or self.email or self.id


# -- canonical values ------------------------------------------------------------------------------------------

Value = str | tuple[str, ...]
"""A value as it crosses the contract, in the canonical form of its field's :class:`FieldType`:

============================  ==============================================================================
TEXT, LONG_TEXT, EMAIL,       the text (emails lowercased, URLs with their scheme)
PHONE, URL
NUMBER                        a plain decimal: ``1234.5``, ``-3`` (no grouping, no exponent)
BOOLEAN                       ``true`` or ``false``
DATE                          ``YYYY-MM-DD``
DATETIME                      ISO 8601 in UTC with milliseconds: ``2025-01-31T09:00:00.000Z``
PICKLIST                      the option's :attr:`FieldOption.value`
MULTI_PICKLIST                a tuple of option values (a list after a JSON round trip is accepted too)
OWNER                         a :attr:`CrmUser.id`
REFERENCE                     the CRM id of the other record (e.g. the contact's company with CompanyLink.FIELD)
============================  ==============================================================================

Writes (:class:`RecordInput`) carry canonical values and reads (:class:`CrmRecord`) return them: each adapter
converts to and from its own wire format (HubSpot's ``a;b`` multi-options, epoch milliseconds, Pipedrive's
numeric option ids…). The engines never see a wire format.
"""


def as_options(value: object) -> tuple[str, ...]:
    """A multi-option canonical value as a tuple (a JSON list, a tuple, or one value)."""
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(str(v) for v in value if str(v) != "")
    return (str(value),)


def several_values(values: Iterable[object]) -> str | tuple[str, ...] | None:
    """The values one identifier field reads for one record (see :class:`CrmRecord`), trimmed, once each and in
    order: a tuple when there are several, the value itself when there is one, None when there is none."""
    distinct = tuple(dict.fromkeys(t for t in (str(v).strip() for v in values if v is not None) if t))
    if len(distinct) > 1:
        return distinct
    return distinct[0] if distinct else None


@dataclass(frozen=True, slots=True)
class CrmRecord:
    """One CRM record as read: ``properties`` hold canonical values (:data:`Value`).

    An identifier field that holds several values for one record is a tuple of them, e.g. the ``company_name``
    role of a contact that belongs to several companies: the names of all of them, its primary company's first.
    Matching compares a local value with each (the record is found by any of them, and counts once)."""

    id: str
    object: CrmObject
    properties: Mapping[str, Value | None]
    created_at: datetime | None = None
    updated_at: datetime | None = None

    def get(self, name: str) -> Value | None:
        return self.properties.get(name)


@dataclass(frozen=True, slots=True)
class RecordInput:
    """One record to write.

    ``key`` is the caller's own reference (e.g. the local record id) and comes back on its
    :class:`WriteResult`; ``id`` is the CRM id (update), or the value of ``id_property`` (update or upsert by a
    unique property). Values are canonical (:data:`Value`), already checked against the CRM field's type; the
    adapter converts them to its wire format.
    """

    properties: Mapping[str, Value]
    key: str = ""
    id: str = ""
    id_property: str = ""


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What happened to one input. ``created`` is True for a created record, False for an updated one."""

    key: str
    ok: bool
    id: str = ""
    created: bool | None = None
    error: RecordError | None = None

    @classmethod
    def success(cls, key: str, id: str, created: bool | None = None) -> WriteResult:
        return cls(key=key, ok=True, id=id, created=created)

    @classmethod
    def failure(cls, key: str, error: RecordError, id: str = "") -> WriteResult:
        return cls(key=key, ok=False, id=id, error=error)


class AssociationKind(StrEnum):
    """How a contact's company association is written (DESIGN §6, Association Type)."""

    ADDITIONAL = "additional"
    PRIMARY = "primary"


@dataclass(frozen=True, slots=True)
class AssociationType:
    id: str  # the vendor's type id (HubSpot: associationTypeId as a string)
    category: str = ""
    label: str = ""
    primary: bool = False


@dataclass(frozen=True, slots=True)
class Association:
    from_object: CrmObject
    from_id: str
    to_object: CrmObject
    to_id: str
    types: tuple[AssociationType, ...] = ()

    @property
    def primary(self) -> bool:
        return any(t.primary for t in self.types)


@dataclass(frozen=True, slots=True)
class AssociationInput:
    """One association to add, make primary or remove; ``key`` comes back on its result."""

    from_id: str
    to_id: str
    key: str = ""


class ActivityKind(StrEnum):
    EMAIL = "email"
    CALL = "call"
    NOTE = "note"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


@dataclass(frozen=True, slots=True)
class Activity:
    """An activity to log on contacts (and companies), attributed to ``owner_id`` at ``timestamp``.

    ``properties`` carries extra vendor fields (already converted), e.g. engagement fields of DESIGN §6.
    """

    kind: ActivityKind
    timestamp: datetime
    owner_id: str = ""
    subject: str = ""
    body: str = ""
    direction: Direction = Direction.OUTBOUND
    contact_ids: tuple[str, ...] = ()
    company_ids: tuple[str, ...] = ()
    key: str = ""
    duration_seconds: int | None = None
    properties: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ActivityLookup:
    """An activity that may already be in the CRM (its creation's answer was lost): the one logged on
    ``contact_id`` of this ``kind`` at ``timestamp`` (to the millisecond) with this ``subject``."""

    key: str
    contact_id: str
    kind: ActivityKind
    timestamp: datetime
    subject: str = ""


# -- credentials ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenSet:
    """OAuth tokens as kept in the keyring (field ``oauth_token``, JSON); ``expires_at`` is a UNIX time."""

    access_token: str
    refresh_token: str = ""
    expires_at: float | None = None
    token_type: str = "Bearer"  # noqa: S105 - a token type, not a password
    scope: str = ""
    api_url: str = ""  # the API base URL the token answer names (Salesforce's ``instance_url``), when it does

    def expired(self, now: float, leeway: float = 60.0) -> bool:
        return self.expires_at is not None and now >= self.expires_at - leeway

    def to_json(self) -> str:
        return json.dumps(
            {
                "access_token": self.access_token,
                "refresh_token": self.refresh_token,
                "expires_at": self.expires_at,
                "token_type": self.token_type,
                "scope": self.scope,
                **({"api_url": self.api_url} if self.api_url else {}),
            }
        )

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        data = json.loads(text)
        if not isinstance(data, dict) or not data.get("access_token"):
            raise ValueError("not an OAuth token record")
        expires = data.get("expires_at")
        return cls(
            access_token=str(data["access_token"]),
            refresh_token=str(data.get("refresh_token") or ""),
            expires_at=float(expires) if expires is not None else None,
            token_type=str(data.get("token_type") or "Bearer"),
            scope=str(data.get("scope") or ""),
            api_url=str(data.get("api_url") or ""),
        )

    def __repr__(self) -> str:  # never print tokens
        return f"TokenSet(expires_at={self.expires_at!r}, scope={self.scope!r})"


@dataclass(frozen=True)
class Connection:
    """What an adapter needs to open: settings (non-secret) and access to its secrets in the keyring."""

    key: str
    settings: Mapping[str, Any]
    get_secret: Callable[[str], str | None]
    set_secret: Callable[[str, str], None] = field(default=lambda _name, _value: None)
    # Small non-secret facts an adapter keeps between runs of the program in this data folder (e.g. a daily
    # budget already spent). ``None`` where nothing is kept between runs (e.g. an adapter opened on its own).
    # Never secrets: they go through ``set_secret``.
    load_state: Callable[[str], str | None] | None = None
    save_state: Callable[[str, str], None] | None = None

    def setting(self, name: str, default: str = "") -> str:
        value = self.settings.get(name)
        return str(value).strip() if value not in (None, "") else default


# -- the contract --------------------------------------------------------------------------------------------


class CrmAdapter(abc.ABC):
    """One CRM. Async methods; one HTTP client per adapter, released by :meth:`aclose` (or ``async with``).

    Lists that can be long are async iterators of pages (lists of records); everything else returns our own
    dataclasses. Batch methods take any number of inputs and split them by :attr:`capabilities`.
    """

    key: ClassVar[str]
    name: ClassVar[str]
    #: How the CRM says "too many requests", as reports and the command line name it (the status of
    #: ``Capabilities.throttle_status`` and, where the status alone is ambiguous, the vendor's error code).
    throttle_signal: ClassVar[str] = "429"

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities: ...

    @classmethod
    @abc.abstractmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        """Build the adapter from saved settings and secrets; ``transport`` (an httpx transport) replaces the
        network in tests, ``retry`` (an ``http.RetryPolicy``) the default retry policy. Only the application
        context's adapter factory calls this."""

    @classmethod
    def oauth_provider(cls, connection: Connection) -> Any:
        """The vendor's OAuth endpoints with the user's app registration (an ``oauth.OAuthProvider``), or None
        when this CRM signs in without a browser."""
        return None

    # -- who am I, what is there -----------------------------------------------------------------------------
    @abc.abstractmethod
    async def check(self) -> CrmIdentity:
        """Verify the credentials and the permissions the app needs; raise an AdapterError saying what's wrong."""

    @abc.abstractmethod
    async def fields(self, object: CrmObject) -> list[CrmField]: ...

    @abc.abstractmethod
    async def users(self) -> list[CrmUser]: ...

    # -- identifier lookups for matching ---------------------------------------------------------------------
    async def read_by_unique(
        self, object: CrmObject, id_property: str, values: Sequence[str], properties: Sequence[str]
    ) -> list[CrmRecord]:
        """Records whose unique property ``id_property`` has one of ``values`` (values not found are skipped). The
        default collects :meth:`search_in`'s pages; a CRM with a batch read by a unique property uses that."""
        records: list[CrmRecord] = []
        async for page in self.search_in(object, id_property, values, properties):
            records.extend(page)
        return records

    @abc.abstractmethod
    def search_in(
        self, object: CrmObject, property: str, values: Sequence[str], properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Pages of records whose ``property`` equals any of ``values`` (``IN`` filters, fewest calls)."""

    @abc.abstractmethod
    def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """Every record of ``object``, page by page, with only ``properties`` (identifier fields)."""

    @abc.abstractmethod
    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        """Records by CRM id (missing ids are skipped)."""

    # -- what the engines ask (declarations; every CRM answers them) ------------------------------------------
    @abc.abstractmethod
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        """This CRM's field for each identifier role of the Step 1 presets (``core.matching.rules.Role`` values:
        ``first_name``, ``last_name``, ``company_name``, ``linkedin_url``, ``email``, ``domain``, ``name``), e.g.
        HubSpot contacts ``{"first_name": "firstname", …}``. Roles the CRM has no field for are left out. A field
        may read several values for one record (a tuple, see :class:`CrmRecord`): ``company_name`` where a contact
        belongs to several companies."""

    @abc.abstractmethod
    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        """Fields that name a record to a person (name, email, domain…): read with sync results and previews.
        Only fields this CRM has (a CRM with a strict query language rejects unknown ones)."""

    @abc.abstractmethod
    def owner_field(self, object: CrmObject) -> str | None:
        """The field holding a record's owner (a :class:`CrmUser` id), or None when ``object`` has no owner."""

    def unique_fields(self, object: CrmObject) -> frozenset[str]:
        """Fields :meth:`read_by_unique` accepts (their values identify one record); empty when none."""
        return frozenset()

    def opening_requests(self, objects: Collection[CrmObject]) -> int:
        """Requests a newly opened connection sends once before it writes records of ``objects`` (e.g. reading
        their fields); a run's estimate counts them. 0 by default."""
        return 0

    @property
    @abc.abstractmethod
    def calls_made(self) -> int:
        """HTTP requests sent so far by this adapter (retries included)."""

    async def budget_left(self) -> BudgetLeft | None:
        """What is left today of ``capabilities.budget`` (one cheap call, or the last answer's headers), or
        None when the CRM has no daily budget or cannot say."""
        return None

    async def count(self, object: CrmObject) -> int | None:
        """How many records ``object`` holds (one cheap call), or None when the CRM cannot say."""
        return None

    async def listed_records(self, object: CrmObject, properties: Sequence[str], total: int) -> int:
        """How many records a listing of ``properties`` (:meth:`scan`) brings, counted as the CRM counts them
        toward the records of a page (``Operation.SCAN_PAGE``), given ``total`` from :meth:`count`: ``total``,
        unless reading these properties brings other records in the same pages (children of a sub-query, e.g.
        Salesforce's related accounts), then those too. May ask the CRM (one cheap call); a listing's request
        estimate is this divided by the page size."""
        return total

    async def count_changed_since(self, object: CrmObject, since: datetime) -> int | None:
        """How many records :meth:`changed_since` would list (one cheap call), or None when the CRM cannot say.
        Its pages hold ``capabilities.batch(Operation.SEARCH_PAGE)`` records."""
        return None

    async def prepare_read(self, object: CrmObject) -> None:
        """Read once what reading records of ``object`` needs first (its fields), so that a plan made before the
        read can count those calls. Nothing by default."""
        return None

    def search_all(
        self, object: CrmObject, filters: Mapping[str, Sequence[str]], properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Pages of records whose every property in ``filters`` equals one of its values (an AND of ``IN``
        filters, at most ``capabilities.search_filters_per_group``). The default searches by the first
        property only; callers check the rest themselves."""
        name, values = next(iter(filters.items()))
        return self.search_in(object, name, values, properties)

    def changed_since(
        self, object: CrmObject, since: datetime, properties: Sequence[str]
    ) -> AsyncIterator[list[CrmRecord]]:
        """Pages of records created or modified at or after ``since`` (a record may come twice). Raises
        :class:`UnsupportedOperationError` when the CRM cannot filter by modification time."""
        raise UnsupportedOperationError(f"{self.name} cannot list recently changed records.", vendor=self.key)

    @property
    def traffic(self) -> Traffic:
        """What talking to the CRM cost so far: requests, retries, throttling answers, seconds waited (zeros
        when the adapter does not count them)."""
        return Traffic()

    # -- writes ----------------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]: ...

    @abc.abstractmethod
    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]: ...

    async def upsert(
        self, object: CrmObject, records: Sequence[RecordInput], id_property: str
    ) -> list[WriteResult]:
        """Create or update by the unique ``id_property`` (each input's ``id`` holds its value)."""
        raise UnsupportedOperationError(f"{self.name} cannot create-or-update in one call.", vendor=self.key)

    # -- associations (contact -> company) -------------------------------------------------------------------
    # With ``CompanyLink.FIELD`` the engine writes the company in the contact's own create/update (the
    # ``company_field``, a REFERENCE value); these methods still work on such a CRM: ``associations`` reads the
    # field (one primary association), ``associate`` sets it and ``remove_associations`` clears it (Restore
    # puts a previous company back with ``associate``).
    @abc.abstractmethod
    async def associations(
        self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
        to_object: CrmObject = CrmObject.COMPANIES,
    ) -> dict[str, list[Association]]:
        """Current associations of each record in ``ids`` (every id is a key, possibly with an empty list)."""

    @abc.abstractmethod
    async def associate(
        self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
        from_object: CrmObject = CrmObject.CONTACTS, to_object: CrmObject = CrmObject.COMPANIES,
    ) -> list[WriteResult]:
        """Add associations; with ``PRIMARY`` make each target the primary one (the previous primary stays
        associated)."""

    async def set_primary(
        self, links: Sequence[AssociationInput],
        from_object: CrmObject = CrmObject.CONTACTS, to_object: CrmObject = CrmObject.COMPANIES,
    ) -> list[WriteResult]:
        return await self.associate(links, AssociationKind.PRIMARY, from_object, to_object)

    @abc.abstractmethod
    async def remove_associations(
        self, links: Sequence[AssociationInput],
        from_object: CrmObject = CrmObject.CONTACTS, to_object: CrmObject = CrmObject.COMPANIES,
    ) -> list[WriteResult]: ...

    # -- activities ------------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]: ...

    @abc.abstractmethod
    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Activities already in the CRM among ``lookups`` (creations whose answer was lost): ``key -> activity
        id`` for each one found; the others are absent."""

    # -- lifetime --------------------------------------------------------------------------------------------
    @abc.abstractmethod
    async def aclose(self) -> None: ...

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def clear_field_links(
    adapter: CrmAdapter, links: Sequence[AssociationInput],
    clear: Callable[[Sequence[AssociationInput]], Awaitable[list[WriteResult]]],
) -> list[WriteResult]:
    """``remove_associations`` of a CRM whose contact names its company in a field: ``clear`` empties that field
    for the links given (one result each, in order), and only where it still names that company — a contact
    moved to another company meanwhile keeps its new one; a link already gone is a success."""
    current = await adapter.associations([link.from_id for link in links])
    linked = [link for link in links if any(a.to_id == link.to_id for a in current.get(link.from_id, []))]
    failed = {id(link): r for link, r in zip(linked, await clear(linked) if linked else [], strict=True)
              if not r.ok}
    return [failed.get(id(link)) or WriteResult.success(link.key, link.to_id) for link in links]


class _Client(Protocol):
    """What :class:`ClientCrmAdapter` needs of its HTTP client (``adapters.http.ApiClient``)."""

    requests_sent: int

    def traffic(self) -> Traffic: ...

    async def aclose(self) -> None: ...


class ClientCrmAdapter(CrmAdapter):
    """A CRM adapter that talks through one HTTP client, ``self.api``: the requests it sent, its traffic and
    closing it are the client's."""

    api: _Client

    @property
    def calls_made(self) -> int:
        return self.api.requests_sent

    @property
    def traffic(self) -> Traffic:
        return self.api.traffic()

    async def aclose(self) -> None:
        await self.api.aclose()


def utc_ms(moment: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``, the form CRM APIs expect for timestamps."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_datetime(value: object) -> datetime | None:
    if not value or not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


__all__ = [
    "Activity",
    "ActivityKind",
    "ActivityLookup",
    "AdapterError",
    "Association",
    "AssociationInput",
    "AssociationKind",
    "AssociationType",
    "AuthError",
    "BudgetLeft",
    "BudgetUnit",
    "Capabilities",
    "ClientCrmAdapter",
    "CompanyLink",
    "Connection",
    "CrmAdapter",
    "CrmField",
    "CrmIdentity",
    "CrmObject",
    "CrmRecord",
    "CrmUser",
    "DailyBudget",
    "Direction",
    "FatalError",
    "FieldOption",
    "FieldType",
    "MissingScopeError",
    "NetworkError",
    "NotFoundError",
    "Operation",
    "QuotaExhaustedError",
    "RateLimit",
    "RateLimitedError",
    "RecordError",
    "RecordInput",
    "TokenSet",
    "Traffic",
    "TransientError",
    "UnsupportedOperationError",
    "ValidationError",
    "Value",
    "WriteResult",
    "as_options",
    "clear_field_links",
    "error_detail",
    "parse_datetime",
    "utc_ms",
]
