"""Pipedrive: API v2 for persons, organizations, their fields, search and activities; v1 for users and notes.

(``apis/crm_apis.md`` §3; ``specs/pipedrive``; wire details in :mod:`.pipedrive_wire`.)

- Auth: the API token in the ``x-api-token`` header (Pipedrive > Personal preferences > API), or OAuth with the
  user's own app (authorization code; the client authenticates with HTTP Basic; refresh tokens), signed in with
  the desktop loopback flow of :mod:`.oauth` (https://pipedrive.readme.io/docs/marketplace-oauth-authorization).
- A person's company is its ``org_id`` (one organization per person): ``CompanyLink.FIELD``. The association
  methods still work (read, set and clear ``org_id``) so Restore can put a previous company back.
- Custom fields are keyed by 40-character hashes (shown with their labels); ``enum``/``set`` fields take option
  ids. Persons have no first/last name on write: ``name`` is composed from them.
- No batch endpoint: one record per request, at the concurrency the plan's burst limit allows.
- Limits: the burst window of the plan (connection setting ``plan``; API token or OAuth), 10 searches per 2 s,
  and the daily token budget (``x-token-cost`` per endpoint): :meth:`budget_left` says what is left before a run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar, Self

from . import pipedrive_wire as wire
from .base import (
    Activity,
    ActivityKind,
    ActivityLookup,
    AdapterError,
    Association,
    AssociationInput,
    AssociationKind,
    AssociationType,
    AuthError,
    BudgetLeft,
    BudgetUnit,
    Capabilities,
    ClientCrmAdapter,
    CompanyLink,
    Connection,
    CrmField,
    CrmIdentity,
    CrmObject,
    CrmRecord,
    CrmUser,
    DailyBudget,
    Direction,
    FieldType,
    NotFoundError,
    Operation,
    QuotaExhaustedError,
    RateLimit,
    RecordError,
    RecordInput,
    TokenSet,
    ValidationError,
    WriteResult,
    parse_datetime,
)
from .http import (
    ApiClient,
    OAuthRefreshAuth,
    Reply,
    RetryPolicy,
    SlidingWindowLimiter,
    connection_account,
    header_auth,
    shared_limiter,
)
from .oauth import OAuthProvider

log = logging.getLogger(__name__)

READ_BATCH = 100  # ``ids`` takes up to 100 ids (spec: GET /persons)
PAGE = 500  # the largest ``limit`` of list and search endpoints (spec)
PATHS: dict[CrmObject, str] = {CrmObject.CONTACTS: "persons", CrmObject.COMPANIES: "organizations"}
FIELD_PATHS: dict[CrmObject, str] = {CrmObject.CONTACTS: "personFields", CrmObject.COMPANIES: "organizationFields"}
SEARCH_FIELDS: dict[CrmObject, frozenset[str]] = {
    CrmObject.CONTACTS: frozenset({"email", "name", "phone"}),
    CrmObject.COMPANIES: frozenset({"name", "address"}),
}
# Two read-only properties of persons that Pipedrive does not store on the person: ``org_name`` (the name of its
# organization, read with the organizations) and ``linkedin_url`` (the custom field labelled LinkedIn, whatever
# its hashed key is in this company), so the Step 1 presets work as on other CRMs.
ORG_NAME = "org_name"
LINKEDIN_URL = "linkedin_url"
IDENTIFIER_FIELDS: dict[CrmObject, dict[str, str]] = {
    CrmObject.CONTACTS: {"first_name": "first_name", "last_name": "last_name", "email": "email",
                         "company_name": ORG_NAME, "linkedin_url": LINKEDIN_URL},
    CrmObject.COMPANIES: {"name": "name", "domain": "website", "linkedin_url": "linkedin"},
}
DISPLAY_FIELDS: dict[CrmObject, tuple[str, ...]] = {
    CrmObject.CONTACTS: ("name", "email"),
    CrmObject.COMPANIES: ("name", "website"),
}
ACTIVITY_TYPES: dict[ActivityKind, str] = {ActivityKind.EMAIL: "email", ActivityKind.CALL: "call"}


# -- the daily token budget, per connection and UTC day, shared by every adapter of the process ---------------------


@dataclass
class _Day:
    day: date
    spent: int = 0
    exhausted: bool = False


class TokenLedger:
    """Tokens spent today on one Pipedrive company (the budget is per company and resets at midnight UTC).

    Pipedrive does not say how much other apps and its own window spent, so what is left is at most
    ``per_day - spent``; a 429 for the budget marks the day as used up. With ``load``/``save`` (the connection's
    kept state) what every command and window of this data folder spent adds up: each process adds only what it
    spent itself since its last save, so two at once never overwrite each other's figures."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _days: ClassVar[dict[str, _Day]] = {}
    SAVE_EVERY: ClassVar[int] = 25  # requests between two saves (a kill forgets at most these)

    def __init__(self, account: str, clock: Callable[[], datetime] = lambda: datetime.now(UTC), *,
                 load: Callable[[str], str | None] | None = None,
                 save: Callable[[str, str], None] | None = None) -> None:
        self.account = account
        self.clock = clock
        self._load, self._save = load, save
        self._unsaved = 0
        self._unsaved_calls = 0
        self._state_name = "token-ledger-" + hashlib.sha256(account.encode()).hexdigest()[:16]

    def _kept(self) -> tuple[int, bool]:
        """What the data folder's earlier commands recorded for today."""
        if self._load is None:
            return 0, False
        try:
            data = json.loads(self._load(self._state_name) or "{}")
        except (ValueError, OSError, RuntimeError):
            return 0, False
        if not isinstance(data, dict) or data.get("day") != self.clock().date().isoformat():
            return 0, False
        return int(data.get("spent") or 0), bool(data.get("exhausted"))

    def flush(self) -> None:
        """Add what this process spent since its last save to the kept figure (a failing store loses nothing
        here: the figure is only an estimate, and the process keeps counting)."""
        if self._save is None:
            return
        with self._lock:
            unsaved, exhausted = self._unsaved, self._today().exhausted
            self._unsaved = self._unsaved_calls = 0
        kept, kept_exhausted = self._kept()
        try:
            self._save(self._state_name, json.dumps({"day": self.clock().date().isoformat(),
                                                     "spent": kept + unsaved,
                                                     "exhausted": exhausted or kept_exhausted}))
        except (OSError, RuntimeError, ValueError) as exc:  # e.g. a full disk: keep counting in memory
            log.warning("Could not keep Pipedrive's token count: %s", exc)

    def _today(self) -> _Day:
        today = self.clock().date()
        entry = self._days.get(self.account)
        if entry is None or entry.day != today:
            entry = self._days[self.account] = _Day(today)
        return entry

    def spend(self, tokens: int) -> None:
        with self._lock:
            self._today().spent += tokens
            self._unsaved += tokens
            self._unsaved_calls += 1
            due = self._unsaved_calls >= self.SAVE_EVERY
        if due:
            self.flush()

    def mark_exhausted(self) -> None:
        with self._lock:
            self._today().exhausted = True
        self.flush()

    def state(self) -> tuple[int, bool]:
        """Tokens spent today and whether Pipedrive said the budget is used up: this process's figures, or
        the data folder's (every command and window) when they are kept."""
        if self._save is not None:
            self.flush()
            return self._kept()
        with self._lock:
            entry = self._today()
            return entry.spent, entry.exhausted

    def resets_at(self) -> datetime:
        today = self.clock().date()
        return datetime.combine(today + timedelta(days=1), time(0, 0), tzinfo=UTC)

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._days.clear()


# -- limiters, per token, shared by every adapter of the process (adapters.http.shared_limiter) ----------------


def _account(base_url: str, credential: str) -> str:
    return connection_account(base_url, credential)


# -- the adapter ------------------------------------------------------------------------------------------------------


class PipedriveAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "pipedrive"
    name = "Pipedrive"

    def __init__(
        self,
        api: ApiClient,
        *,
        plan: str = wire.DEFAULT_PLAN,
        seats: int = 1,
        token_budget: int | None = None,
        auth_kind: str = "token",
        search_limiter: SlidingWindowLimiter | None = None,
        ledger: TokenLedger | None = None,
    ) -> None:
        self.api = api
        self.plan = plan if plan in wire.PLANS else wire.DEFAULT_PLAN
        self.seats = max(1, seats)
        self.auth_kind = auth_kind
        self.per_day = token_budget or wire.daily_budget(self.plan, self.seats)
        self.search_limiter = search_limiter or SlidingWindowLimiter(wire.SEARCH_LIMIT, name="Pipedrive search")
        self.ledger = ledger or TokenLedger(api.base_url)
        self.tokens_spent = 0
        self._fields: dict[CrmObject, dict[str, CrmField]] = {}
        self._fields_lock = asyncio.Lock()
        # What the last reads said about a record's names and e-mail/phone lists, so an update of first or last
        # name writes the whole name, and a new primary e-mail keeps the previous ones (v2 writes whole lists).
        self._seen: dict[str, dict[str, Any]] = {}
        self._org_names: dict[str, str] = {}

    # -- opening ----------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        plan = connection.setting("plan", wire.DEFAULT_PLAN)
        if plan not in wire.PLANS:
            log.warning("Unknown Pipedrive plan %r; using the %s limits", plan, wire.DEFAULT_PLAN)
            plan = wire.DEFAULT_PLAN
        seats = _positive(connection.setting("seats"), 1)
        budget = _positive(connection.setting("daily_token_budget"), 0) or None
        token = connection.get_secret("api_token")
        domain = connection.setting("company_domain").removeprefix("https://").removeprefix("http://").strip("/")
        base_url = connection.setting("base_url").rstrip("/")
        auth: Any
        if token:
            auth, kind = header_auth("x-api-token", token), "token"
            base_url = base_url or wire.DEFAULT_BASE_URL
        else:
            raw = connection.get_secret("oauth_token")
            client_id = connection.setting("client_id")
            if not raw or not client_id:
                raise AuthError("Pipedrive is not connected: paste the API token, or sign in with Pipedrive, in "
                                "the Pipedrive connection.", vendor="pipedrive")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved Pipedrive sign-in is unreadable. Sign in with Pipedrive again.",
                                vendor="pipedrive") from None
            # OAuth calls go to the company's own domain (the token answer's api_domain) when it is known.
            base_url = base_url or (f"https://{domain}" if domain else wire.DEFAULT_BASE_URL)
            auth = OAuthRefreshAuth(
                tokens,
                token_url=_token_url(connection),
                client_id=client_id,
                client_secret=connection.get_secret("client_secret") or "",
                on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()),
                basic_client_auth=True,
            )
            kind = "oauth"
        limit = wire.burst_limit(plan, kind == "oauth")
        account = _account(base_url, token or connection.setting("client_id"))
        # A new process reads the window's headers on its first call before sending more (probe).
        burst = shared_limiter(account, limit, f"Pipedrive {plan}", probe=True)
        search = shared_limiter(account, wire.SEARCH_LIMIT, "Pipedrive search")
        api = ApiClient(
            "pipedrive",
            base_url,
            vendor_name="Pipedrive",
            auth=auth,
            limiter=burst,
            retry=retry if isinstance(retry, RetryPolicy) else None,
            transport=transport,
            error_hook=wire.pipedrive_error,
            rate_info=wire.rate_info,
            # The burst and search windows carried from the previous command of this data folder and to the next.
            load_state=connection.load_state,
            save_state=connection.save_state,
        )
        return cls(api, plan=plan, seats=seats, token_budget=budget, auth_kind=kind, search_limiter=search,
                   ledger=TokenLedger(account, load=connection.load_state, save=connection.save_state))

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        client_id = connection.setting("client_id")
        if not client_id:
            raise AuthError("Enter the OAuth client ID of your Pipedrive app before signing in.", vendor="pipedrive")
        base_url = connection.setting("base_url").rstrip("/")
        sandbox = bool(base_url) and base_url != wire.DEFAULT_BASE_URL
        return OAuthProvider(
            name="Pipedrive",
            # A sandbox given as the API base URL serves the authorization page and the token endpoint too.
            authorize_url=f"{base_url}/oauth/authorize" if sandbox else wire.AUTHORIZE_URL,
            token_url=_token_url(connection),
            client_id=client_id,
            client_secret=connection.get_secret("client_secret") or "",
            scopes=(),  # chosen in the app registration (see wire.SCOPES for the ones needed)
            redirect_host="localhost",
            redirect_port=wire.OAUTH_REDIRECT_PORT,
            redirect_path=wire.OAUTH_REDIRECT_PATH,
            client_auth="basic",
        )

    @property
    def capabilities(self) -> Capabilities:
        limit = self.api.limiter.limit if self.api.limiter else wire.burst_limit(self.plan, self.auth_kind == "oauth")
        return Capabilities(
            max_batch={
                Operation.READ: READ_BATCH,
                Operation.CREATE: 1,
                Operation.UPDATE: 1,
                Operation.UPSERT: 1,
                Operation.SEARCH_PAGE: PAGE,
                Operation.SEARCH_IN_VALUES: 1,
                Operation.SCAN_PAGE: PAGE,
                Operation.ASSOCIATION_READ: READ_BATCH,
                Operation.ASSOCIATION_WRITE: 1,
                Operation.ACTIVITY: 1,
            },
            upsert=False,
            multiple_companies=False,
            primary_company=False,
            search_in=False,
            rate_limit=limit,
            search_rate_limit=self.search_limiter.limit,
            daily_limit=None,
            throttle_status=429,
            max_search_results=None,
            company_link=CompanyLink.FIELD,
            company_field="org_id",
            upsert_keys={},
            search_filters_per_request=1,
            search_filters_per_group=1,
            search_folds_case=True,  # exact_match "is not case sensitive" (spec: persons/search)
            search_folds_accents=False,
            budget=DailyBudget(BudgetUnit.TOKENS, self.per_day, dict(wire.OPERATION_COSTS)),
            concurrency=recommended_concurrency(limit),
        )

    async def aclose(self) -> None:
        self.ledger.flush()
        await self.api.aclose()

    # -- requests ---------------------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                    json: Any = None, idempotent: bool | None = None, search: bool = False) -> Reply:
        before = self.api.requests_sent
        try:
            return await self.api.request(method, path, params=dict(params) if params else None, json=json,
                                          idempotent=idempotent,
                                          extra_limiters=[self.search_limiter] if search else ())
        except QuotaExhaustedError:
            self.ledger.mark_exhausted()
            raise
        finally:
            sent = self.api.requests_sent - before
            if sent:
                tokens = sent * wire.token_cost(method, path)
                self.tokens_spent += tokens
                self.ledger.spend(tokens)

    async def _data(self, method: str, path: str, **kw: Any) -> tuple[Any, dict[str, Any]]:
        payload = (await self._call(method, path, **kw)).json() or {}
        if not isinstance(payload, dict):
            return None, {}
        return payload.get("data"), payload.get("additional_data") or {}

    async def _pages(self, path: str, params: Mapping[str, Any], *, search: bool = False
                     ) -> AsyncIterator[list[Any]]:
        cursor = ""
        while True:
            query = dict(params)
            if cursor:
                query["cursor"] = cursor
            data, more = await self._data("GET", path, params=query, search=search)
            items = data.get("items") if isinstance(data, dict) else data
            items = [i for i in items or [] if isinstance(i, dict)]
            if items:
                yield items
            cursor = str(more.get("next_cursor") or "")
            if not cursor or not items:
                return

    async def budget_left(self) -> BudgetLeft:
        spent, exhausted = self.ledger.state()
        return BudgetLeft(BudgetUnit.TOKENS, 0 if exhausted else max(0, self.per_day - spent), self.per_day,
                          self.ledger.resets_at())

    # -- who am I, what is there ----------------------------------------------------------------------------
    async def check(self) -> CrmIdentity:
        """The signed-in user (``GET /v1/users/me``, 2 tokens) and one person (10 tokens): a wrong token fails the
        first call, a sign-in without the contacts scope the second."""
        me, _ = await self._data("GET", f"{wire.V1}/users/me")
        me = me if isinstance(me, dict) else {}
        await self._data("GET", f"{wire.V2}/persons", params={"limit": 1})
        company = str(me.get("company_name") or "")
        domain = str(me.get("company_domain") or "")
        how = "an API token" if self.auth_kind == "token" else "Pipedrive sign-in (OAuth)"
        user = str(me.get("name") or me.get("email") or "")
        limit = self.capabilities.rate_limit
        left = await self.budget_left()
        details = f"Connected to Pipedrive company {company or domain or '(unnamed)'}"
        details += f" as {user}" if user else ""
        details += f" with {how}. Persons, organizations and users are readable. Enginy keeps to the {self.plan} "
        details += f"limit of {limit.requests} requests per {limit.per_seconds:g} seconds; the daily budget is "
        details += f"{self.per_day:,} tokens ({left.remaining:,} left as far as Enginy knows)."
        return CrmIdentity(
            crm=self.key,
            account_id=str(me.get("company_id") or ""),
            account_name=company or domain or "Pipedrive",
            user=user or ("API token" if self.auth_kind == "token" else "OAuth sign-in"),
            details=details,
        )

    async def _field_map(self, object: CrmObject) -> dict[str, CrmField]:
        async with self._fields_lock:
            if object not in self._fields:
                found: dict[str, CrmField] = {}
                async for page in self._pages(f"{wire.V2}/{FIELD_PATHS[object]}", {"limit": PAGE}):
                    for item in page:
                        f = wire.to_field(item, object)
                        if f is not None:
                            found[f.name] = f
                # first/last name are read-only in Pipedrive's list but written through ``name``.
                for code, kind in wire.standard_fields(object).items():
                    if code not in found and code in ("first_name", "last_name", "email", "phone"):
                        label = code.replace("_", " ").capitalize()
                        found[code] = CrmField(code, label, kind, object)
                self._fields[object] = found
            return self._fields[object]

    async def prepare_read(self, object: CrmObject) -> None:
        await self._field_map(object)  # what reading records needs first

    async def fields(self, object: CrmObject) -> list[CrmField]:
        found = dict(await self._field_map(object))
        if object is CrmObject.CONTACTS:
            # Read-only, for matching: the organization's name, and the LinkedIn custom field under one name.
            found[ORG_NAME] = CrmField(ORG_NAME, "Organization name", FieldType.TEXT, object, read_only=True,
                                       description="The name of the person's organization (read for matching).")
            if self._linkedin_field():
                found[LINKEDIN_URL] = CrmField(LINKEDIN_URL, "LinkedIn profile (for matching)", FieldType.URL,
                                               object, read_only=True,
                                               description="The custom field labelled LinkedIn, read for matching.")
        return sorted(found.values(), key=lambda f: f.label.casefold())

    async def users(self) -> list[CrmUser]:
        data, _ = await self._data("GET", f"{wire.V1}/users")
        users = []
        for item in data or []:
            if not isinstance(item, dict):
                continue
            first, last = wire.split_name(str(item.get("name") or ""))
            users.append(CrmUser(id=str(item.get("id")), email=str(item.get("email") or ""), first_name=first,
                                 last_name=last, active=bool(item.get("active_flag", True))))
        return users

    # -- declarations -----------------------------------------------------------------------------------------
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        return dict(IDENTIFIER_FIELDS[object])

    def _linkedin_field(self) -> str:
        """Persons have no standard LinkedIn field: the custom text field labelled LinkedIn, once fields are known."""
        for f in (self._fields.get(CrmObject.CONTACTS) or {}).values():
            if "linkedin" in f.label.casefold() and f.type in (FieldType.TEXT, FieldType.URL) and not f.read_only:
                return f.name
        return ""

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object]

    def owner_field(self, object: CrmObject) -> str | None:
        return "owner_id"

    # -- reading --------------------------------------------------------------------------------------------------
    def _custom_param(self, object: CrmObject, properties: Sequence[str]) -> dict[str, str]:
        custom = [p for p in properties if _is_custom(p)]
        if object is CrmObject.CONTACTS and LINKEDIN_URL in properties and self._linkedin_field():
            custom.append(self._linkedin_field())
        return {"custom_fields": ",".join(dict.fromkeys(custom))} if custom else {}

    async def _with_org_names(self, records: list[CrmRecord], properties: Sequence[str]) -> list[CrmRecord]:
        """Fill ``org_name`` of persons when asked: their organizations read 100 at a time (cached)."""
        if ORG_NAME not in properties or not records or records[0].object is not CrmObject.CONTACTS:
            return records
        missing = list(dict.fromkeys(str(r.get("org_id")) for r in records
                                     if r.get("org_id") and str(r.get("org_id")) not in self._org_names))
        for start in range(0, len(missing), READ_BATCH):
            chunk = missing[start:start + READ_BATCH]
            data, _ = await self._data("GET", f"{wire.V2}/organizations",
                                       params={"ids": ",".join(chunk), "limit": READ_BATCH})
            for item in data or []:
                if isinstance(item, dict):
                    self._org_names[str(item.get("id"))] = str(item.get("name") or "")
        out = []
        for r in records:
            org = str(r.get("org_id") or "")
            props = dict(r.properties)
            props[ORG_NAME] = self._org_names.get(org) if org else None
            out.append(CrmRecord(r.id, r.object, props, r.created_at, r.updated_at))
        return out

    def _record(self, item: Mapping[str, Any], object: CrmObject) -> CrmRecord:
        fields = self._fields.get(object) or {}
        props: dict[str, Any] = {}
        for code, kind in wire.standard_fields(object).items():
            if code == "email":
                props["email"] = wire.primary_of(item.get("emails"))
            elif code == "phone":
                props["phone"] = wire.primary_of(item.get("phones"))
            elif code in item:
                f = fields.get(code)
                props[code] = wire.from_wire(f.type if f else kind, item.get(code))
        for code, value in (item.get("custom_fields") or {}).items():
            f = fields.get(code)
            props[code] = wire.from_wire(f.type if f else FieldType.OTHER, value)
        if object is CrmObject.CONTACTS:
            linkedin = self._linkedin_field()
            props[LINKEDIN_URL] = props.get(linkedin) if linkedin else None
        rid = str(item.get("id"))
        if object is CrmObject.CONTACTS:
            self._remember(rid, item)
        return CrmRecord(id=rid, object=object, properties=props, created_at=parse_datetime(item.get("add_time")),
                         updated_at=parse_datetime(item.get("update_time")))

    def _remember(self, rid: str, item: Mapping[str, Any]) -> None:
        if len(self._seen) > 200_000:
            self._seen.clear()
        self._seen[rid] = {k: item.get(k) for k in ("first_name", "last_name", "name", "emails", "phones")}

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        await self._field_map(object)
        wanted = list(dict.fromkeys(str(i) for i in ids if str(i).isdigit()))
        extra = self._custom_param(object, properties)
        records: list[CrmRecord] = []
        for start in range(0, len(wanted), READ_BATCH):
            chunk = wanted[start:start + READ_BATCH]
            data, _ = await self._data("GET", f"{wire.V2}/{PATHS[object]}",
                                       params={"ids": ",".join(chunk), "limit": READ_BATCH, **extra})
            records.extend(self._record(i, object) for i in data or [] if isinstance(i, dict))
        return await self._with_org_names(records, properties)

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        await self._field_map(object)
        params = {"limit": PAGE, **self._custom_param(object, properties)}
        async for page in self._pages(f"{wire.V2}/{PATHS[object]}", params):
            yield await self._with_org_names([self._record(i, object) for i in page], properties)

    async def changed_since(self, object: CrmObject, since: datetime,
                            properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        await self._field_map(object)
        moment = since.astimezone(UTC) if since.tzinfo else since.replace(tzinfo=UTC)
        params = {"limit": PAGE, "updated_since": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                  **self._custom_param(object, properties)}
        async for page in self._pages(f"{wire.V2}/{PATHS[object]}", params):
            yield await self._with_org_names([self._record(i, object) for i in page], properties)

    def _search_scope(self, object: CrmObject, property: str) -> str | None:
        """The ``fields`` value of a search by ``property``, or None when Pipedrive cannot search it."""
        if property in SEARCH_FIELDS[object]:
            return property
        if object is CrmObject.CONTACTS and property == LINKEDIN_URL:
            property = self._linkedin_field()
        f = (self._fields.get(object) or {}).get(property)
        if f is not None and f.group == "Custom fields" and f.vendor_type in wire.SEARCHABLE_CUSTOM:
            return "custom_fields"
        return None

    # read_by_unique is the contract's default over this exact search: nothing is unique in Pipedrive.
    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """One exact search per value (Pipedrive has no ``IN``), the matches read by id 100 at a time and kept
        only when ``property`` equals the value (case-insensitively): a ``custom_fields`` search looks in every
        custom field, and a name search in every word of the name."""
        async for page in self.search_all(object, {property: list(values)}, properties):
            yield page

    async def search_all(self, object: CrmObject, filters: Mapping[str, Sequence[str]],
                         properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        await self._field_map(object)
        usable = [(p, v) for p, v in filters.items() if self._search_scope(object, p) is not None]
        if not usable:
            # Pipedrive's search cannot look in these fields (an organization's website, a date...): list every
            # record (500 per call) and keep the ones that match.
            log.info("Pipedrive cannot search %s by %s: listing them instead", object.value, ", ".join(filters))
            async for listed in self.scan(object, list(dict.fromkeys([*properties, *filters]))):
                kept = self._keep(listed, filters)
                if kept:
                    yield kept
            return
        # The most selective field first: e-mail, then a custom field, then the rest.
        usable.sort(key=lambda pv: (pv[0] != "email", pv[0] in ("name", "phone", "address")))
        prop, values = usable[0]
        scope = self._search_scope(object, prop)
        wanted_props = list(dict.fromkeys([*properties, *filters]))
        pending: list[str] = []
        seen: set[str] = set()
        for value in dict.fromkeys(str(v).strip() for v in values if str(v).strip()):
            async for items in self._pages(f"{wire.V2}/{PATHS[object]}/search",
                                           {"term": value, "fields": scope, "exact_match": "true", "limit": PAGE},
                                           search=True):
                for hit in items:
                    rid = str((hit.get("item") or {}).get("id") or "")
                    if rid and rid not in seen:
                        seen.add(rid)
                        pending.append(rid)
            if len(pending) >= READ_BATCH:
                page = self._keep(await self.read(object, pending, wanted_props), filters)
                pending = []
                if page:
                    yield page
        if pending:
            page = self._keep(await self.read(object, pending, wanted_props), filters)
            if page:
                yield page

    @staticmethod
    def _keep(records: Iterable[CrmRecord], filters: Mapping[str, Sequence[str]]) -> list[CrmRecord]:
        wanted = {p: {str(v).strip().casefold() for v in vs} for p, vs in filters.items()}
        out = []
        for rec in records:
            ok = True
            for prop, values in wanted.items():
                current = rec.get(prop)
                texts = current if isinstance(current, tuple) else (current,)
                if not any(t is not None and str(t).strip().casefold() in values for t in texts):
                    ok = False
                    break
            if ok:
                out.append(rec)
        return out

    # -- writes -------------------------------------------------------------------------------------------------
    def _body(self, object: CrmObject, props: Mapping[str, Any], rid: str = "") -> dict[str, Any]:
        """Pipedrive's JSON for one record's canonical values (raises ValueError with the reason)."""
        fields = self._fields.get(object) or {}
        standard = wire.standard_fields(object)
        body: dict[str, Any] = {}
        custom: dict[str, Any] = {}
        seen = self._seen.get(rid, {}) if rid else {}
        for name, value in props.items():
            f = fields.get(name)
            if name in ("first_name", "last_name"):
                continue
            if object is CrmObject.CONTACTS and name in ("email", "phone"):
                text = wire.to_wire(FieldType.TEXT, value)
                key = "emails" if name == "email" else "phones"
                previous = seen.get(key) or []
                body[key] = wire.with_primary(previous, text, "work") if text else []
                continue
            if name in standard:
                kind = f.type if f is not None else standard[name]
                wired = wire.to_wire(kind, value, f)
                body[name] = {"value": wired} if name == "address" and wired is not None else wired
                continue
            if f is None and not _is_custom(name):
                raise ValueError(f"Pipedrive {object.value} have no field “{name}”")
            if f is not None and f.read_only:
                raise ValueError(f"{f.label} cannot be written")
            kind = f.type if f is not None else FieldType.TEXT
            wired = wire.to_wire(kind, value, f)
            if f is not None and f.vendor_type == "monetary" and wired is not None:
                wired = {"value": wired, "currency": "USD"}
            elif f is not None and f.vendor_type == "address" and wired is not None:
                wired = {"value": wired}
            custom[name] = wired
        if object is CrmObject.CONTACTS and ("first_name" in props or "last_name" in props) and "name" not in props:
            first = str(props.get("first_name") if "first_name" in props else seen.get("first_name") or "").strip()
            last = str(props.get("last_name") if "last_name" in props else seen.get("last_name") or "").strip()
            name = f"{first} {last}".strip()
            if name:
                body["name"] = name
        if custom:
            body["custom_fields"] = custom
        return body

    async def _each(self, inputs: Sequence[Any], one: Callable[[int, Any], Awaitable[WriteResult]]
                    ) -> list[WriteResult]:
        """``one`` for every input at the recommended concurrency; one result per input, in input order. An
        error of the call as a whole (auth, budget, network) is raised with ``completed`` holding the rest."""
        results: list[WriteResult | None] = [None] * len(inputs)
        gate = asyncio.Semaphore(self.capabilities.concurrency)
        failure: list[AdapterError] = []

        async def run(i: int, item: Any) -> None:
            async with gate:
                if failure:
                    return
                try:
                    results[i] = await one(i, item)
                except AdapterError as exc:
                    failure.append(exc)

        await asyncio.gather(*(run(i, item) for i, item in enumerate(inputs)))
        if failure:
            exc = failure[0]
            exc.completed = [r for r in results if r is not None]
            raise exc
        return [r for r in results if r is not None]

    async def _write(self, object: CrmObject, record: RecordInput, rid: str) -> WriteResult:
        try:
            body = self._body(object, record.properties, rid)
        except ValueError as exc:
            return WriteResult.failure(record.key, RecordError(str(exc), code="INVALID_VALUE"), id=rid)
        if not rid and object is CrmObject.COMPANIES and not body.get("name"):
            return WriteResult.failure(record.key, RecordError("An organization needs a name in Pipedrive.",
                                                               code="REQUIRED", field="name"))
        if not rid and object is CrmObject.CONTACTS and not body.get("name"):
            return WriteResult.failure(record.key, RecordError("A person needs a name in Pipedrive.",
                                                               code="REQUIRED", field="name"))
        path = f"{wire.V2}/{PATHS[object]}" + (f"/{rid}" if rid else "")
        try:
            data, _ = await self._data("PATCH" if rid else "POST", path, json=body, idempotent=bool(rid))
        except ValidationError as exc:
            return WriteResult.failure(record.key, _reason(exc), id=rid)
        except NotFoundError:
            return WriteResult.failure(record.key, RecordError(
                f"This {object.singular} no longer exists in Pipedrive (deleted or merged).", code="NOT_FOUND"),
                id=rid)
        item = data if isinstance(data, dict) else {}
        new_id = str(item.get("id") or rid)
        if object is CrmObject.CONTACTS and item:
            self._remember(new_id, item)
        return WriteResult.success(record.key, new_id, created=not rid)

    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._field_map(object)
        return await self._each(records, lambda _i, r: self._write(object, r, ""))

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._field_map(object)

        async def one(_i: int, r: RecordInput) -> WriteResult:
            if not r.id or r.id_property or not r.id.isdigit():
                return WriteResult.failure(r.key, RecordError(
                    "Pipedrive updates records by their id only (no field is unique in Pipedrive).",
                    code="NO_ID"))
            return await self._write(object, r, r.id)

        return await self._each(records, one)

    # -- the company of a person (its org_id) ---------------------------------------------------------------------
    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        found: dict[str, list[Association]] = {str(i): [] for i in ids}
        if (from_object, to_object) != (CrmObject.CONTACTS, CrmObject.COMPANIES):
            return found
        primary = (AssociationType("org_id", "FIELD", "Organization", primary=True),)
        for rec in await self.read(CrmObject.CONTACTS, list(found), ["org_id"]):
            org = rec.get("org_id")
            if org:
                found[rec.id] = [Association(from_object, rec.id, to_object, str(org), primary)]
        return found

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Sets each person's ``org_id`` (a person has one organization, so it replaces the previous one)."""
        async def one(_i: int, link: AssociationInput) -> WriteResult:
            if not (link.from_id.isdigit() and link.to_id.isdigit()):
                return WriteResult.failure(link.key, RecordError("Not a Pipedrive id.", code="INVALID_ID"),
                                           id=link.to_id)
            return await self._set_org(link, int(link.to_id))

        return await self._each(links, one)

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Clears ``org_id`` where it still names the organization (a person moved meanwhile keeps its new one)."""
        current = await self.associations([link.from_id for link in links])

        async def one(_i: int, link: AssociationInput) -> WriteResult:
            if all(a.to_id != link.to_id for a in current.get(link.from_id, [])):
                return WriteResult.success(link.key, link.to_id)  # already not linked
            return await self._set_org(link, None)

        return await self._each(links, one)

    async def _set_org(self, link: AssociationInput, org: int | None) -> WriteResult:
        try:
            data, _ = await self._data("PATCH", f"{wire.V2}/persons/{link.from_id}", json={"org_id": org},
                                       idempotent=True)
        except ValidationError as exc:
            return WriteResult.failure(link.key, _reason(exc), id=link.to_id)
        except NotFoundError:
            return WriteResult.failure(link.key, RecordError("The person no longer exists in Pipedrive.",
                                                             code="NOT_FOUND"), id=link.to_id)
        if isinstance(data, dict):
            self._remember(link.from_id, data)
        return WriteResult.success(link.key, link.to_id)

    # -- activities -----------------------------------------------------------------------------------------------
    def _activity_body(self, a: Activity) -> tuple[str, dict[str, Any]]:
        moment = a.timestamp if a.timestamp.tzinfo else a.timestamp.replace(tzinfo=UTC)
        moment = moment.astimezone(UTC)
        person = int(a.contact_ids[0]) if a.contact_ids and a.contact_ids[0].isdigit() else None
        org = int(a.company_ids[0]) if a.company_ids and a.company_ids[0].isdigit() else None
        if a.kind is ActivityKind.NOTE:
            content = "\n\n".join(p for p in (a.subject, a.body) if p) or "(empty note)"
            note: dict[str, Any] = {"content": content, "add_time": moment.strftime("%Y-%m-%d %H:%M:%S")}
            if person is not None:
                note["person_id"] = person
            if org is not None:
                note["org_id"] = org
            if a.owner_id.isdigit():
                note["user_id"] = int(a.owner_id)
            return f"{wire.V1}/notes", note
        inbound = a.direction is Direction.INBOUND
        default = ("Email received" if inbound else "Email sent") if a.kind is ActivityKind.EMAIL else (
            "Inbound call" if inbound else "Call")
        body: dict[str, Any] = {
            "subject": a.subject or default,
            "type": ACTIVITY_TYPES[a.kind],
            "done": True,
            "due_date": moment.strftime("%Y-%m-%d"),
            "due_time": moment.strftime("%H:%M"),
        }
        if a.owner_id.isdigit():
            body["owner_id"] = int(a.owner_id)
        if person is not None:
            body["person_id"] = person
            body["participants"] = [{"person_id": int(c), "primary": i == 0}
                                    for i, c in enumerate(a.contact_ids) if c.isdigit()]
        if org is not None:
            body["org_id"] = org
        if a.duration_seconds is not None:
            minutes = max(0, int(a.duration_seconds)) // 60
            body["duration"] = f"{minutes // 60:02d}:{minutes % 60:02d}"
        if a.body:
            body["note"] = a.body
        return f"{wire.V2}/activities", body

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        async def one(_i: int, a: Activity) -> WriteResult:
            path, body = self._activity_body(a)
            try:
                data, _ = await self._data("POST", path, json=body, idempotent=False)
            except ValidationError as exc:
                return WriteResult.failure(a.key, _reason(exc))
            return WriteResult.success(a.key, str((data or {}).get("id") or ""), created=True)

        return await self._each(activities, one)

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Activities (``GET /activities?person_id=``) and notes (``GET /v1/notes?person_id=``) of each person, read
        once per person and kind; the one at the same minute (Pipedrive keeps activities to the minute, notes to
        the second) whose subject or content starts with the lookup's subject is the same."""
        found: dict[str, str] = {}
        cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for lookup in lookups:
            if not lookup.contact_id.isdigit():
                continue
            is_note = lookup.kind is ActivityKind.NOTE
            key = (lookup.contact_id, "note" if is_note else "activity")
            if key not in cache:
                items: list[dict[str, Any]] = []
                if is_note:
                    data, _ = await self._data("GET", f"{wire.V1}/notes",
                                               params={"person_id": int(lookup.contact_id), "limit": PAGE})
                    items = [i for i in data or [] if isinstance(i, dict)]
                else:
                    async for page in self._pages(f"{wire.V2}/activities",
                                                  {"person_id": int(lookup.contact_id), "limit": PAGE}):
                        items.extend(page)
                cache[key] = items
            moment = lookup.timestamp if lookup.timestamp.tzinfo else lookup.timestamp.replace(tzinfo=UTC)
            moment = moment.astimezone(UTC)
            for item in cache[key]:
                if is_note:
                    same_time = str(item.get("add_time") or "")[:19] == moment.strftime("%Y-%m-%d %H:%M:%S")
                    text = str(item.get("content") or "")
                else:
                    same_time = (str(item.get("due_date") or "") == moment.strftime("%Y-%m-%d")
                                 and str(item.get("due_time") or "")[:5] == moment.strftime("%H:%M")
                                 and item.get("type") == ACTIVITY_TYPES.get(lookup.kind))
                    text = str(item.get("subject") or "")
                if same_time and (not lookup.subject or text.startswith(lookup.subject)):
                    found[lookup.key] = str(item.get("id"))
                    break
        return found


# -- helpers ------------------------------------------------------------------------------------------------------


def recommended_concurrency(limit: RateLimit) -> int:
    """Requests in flight that keep the burst window busy at a few hundred milliseconds of latency without
    tripping it: about 15 % of the window's requests, between 2 and 16."""
    return max(2, min(16, round(limit.requests * 0.15)))


def _positive(text: str, default: int) -> int:
    try:
        value = int(str(text).replace(",", "").strip())
    except ValueError:
        return default
    return value if value > 0 else default


def _is_custom(name: str) -> bool:
    return len(name) == 40 and all(c in "0123456789abcdef" for c in name)


def _token_url(connection: Connection) -> str:
    base_url = connection.setting("base_url").rstrip("/")
    if base_url and base_url != wire.DEFAULT_BASE_URL:
        return f"{base_url}/oauth/token"
    return wire.TOKEN_URL


def _reason(exc: ValidationError) -> RecordError:
    detail = exc.details[0] if exc.details else None
    reason = detail.reason if detail is not None else str(exc)
    return RecordError(reason=reason, code=detail.code if detail is not None else "VALIDATION",
                       field=detail.field if detail is not None else "")
