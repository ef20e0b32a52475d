"""Zoho CRM on API v8: Contacts and Accounts, fields, users, COQL matching, batch writes and upsert, activities.

(``apis/crm_apis.md`` §6; ``specs/zoho/v8.0``; wire details in :mod:`.zoho_wire`.)

- Auth: OAuth with the user's own client from the Zoho API console (a server-based client whose redirect URI is
  ``http://localhost:53682/oauth-callback``), on the accounts server of the organisation's **data centre**
  (connection setting); ``Authorization: Zoho-oauthtoken …``; refresh on expiry and after a 401
  (https://www.zoho.com/accounts/protocol/oauth/web-apps/authorization.html). An access token made in the console
  (a Self Client) can be pasted instead; it lasts an hour.
- A contact's company is its ``Account_Name`` lookup (one account per contact): ``CompanyLink.FIELD``.
- Reads: ``GET /crm/v8/{module}?ids=…`` (100 ids), lists paged with ``page_token``, and COQL
  (``POST /crm/v8/coql``, ``where Email in (…)``) for matching
  (https://www.zoho.com/crm/developer/docs/api/v8/COQL-Overview.html).
- Writes: insert, update and upsert with ``duplicate_check_fields`` of 100 records per call; one
  ``{code, details, message, status}`` per record becomes a WriteResult / RecordError.
- Activities: notes (``Notes``), calls (``Calls``) and e-mails as completed tasks (``Tasks``), 100 per call.
- Limits: the edition's API credits per 24 h (``Capabilities.budget``; :meth:`budget_left`) and its concurrency
  (requests in flight are held to it by the adapter itself). The edition and the user licences come from the
  organisation's ``license_details`` (``GET /crm/v8/org``), read by :meth:`ZohoAdapter.check` and kept in the
  connection's state; the connection settings are the fallback until Zoho has said
  (https://www.zoho.com/crm/developer/docs/api/v8/get-org-data.html).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self

from . import zoho_wire as wire
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
    Operation,
    QuotaExhaustedError,
    RateLimit,
    RecordError,
    RecordInput,
    TokenSet,
    WriteResult,
    clear_field_links,
    parse_datetime,
)
from .http import ApiClient, OAuthRefreshAuth, Reply, RetryPolicy, header_auth
from .oauth import OAuthProvider

log = logging.getLogger(__name__)

IDENTIFIER_FIELDS: dict[CrmObject, dict[str, str]] = {
    CrmObject.CONTACTS: {"first_name": "First_Name", "last_name": "Last_Name", "email": "Email",
                         "company_name": "Account_Name.Account_Name"},
    CrmObject.COMPANIES: {"name": "Account_Name", "domain": "Website"},
}
DISPLAY_FIELDS: dict[CrmObject, tuple[str, ...]] = {
    CrmObject.CONTACTS: ("First_Name", "Last_Name", "Email"),
    CrmObject.COMPANIES: ("Account_Name", "Website"),
}
COMPANY_FIELD = "Account_Name"
# The name of a contact's account, read from its Account_Name lookup ({id, name}) for matching by company name
# (COQL's dot notation for a lookup's field); read-only.
ACCOUNT_NAME = "Account_Name.Account_Name"
_API_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")  # a field, or a lookup's field


class CreditLedger:
    """Credits this process spent on one Zoho organisation in the last 24 hours (Zoho's window rolls: each credit
    frees up 24 hours after it was spent). Zoho sends no header with the remainder, so what is left is at most
    ``per_day - spent``; a 429 for credits marks the window as used up."""

    _lock: ClassVar[threading.Lock] = threading.Lock()
    _spent: ClassVar[dict[str, list[tuple[datetime, int]]]] = {}
    _exhausted: ClassVar[dict[str, datetime]] = {}

    def __init__(self, account: str) -> None:
        self.account = account

    def _trim(self, now: datetime) -> list[tuple[datetime, int]]:
        items = [(t, c) for t, c in self._spent.get(self.account, []) if now - t < timedelta(hours=24)]
        self._spent[self.account] = items
        return items

    def spend(self, credits: int) -> None:
        with self._lock:
            now = datetime.now(UTC)
            self._trim(now).append((now, credits))

    def mark_exhausted(self) -> None:
        with self._lock:
            self._exhausted[self.account] = datetime.now(UTC)

    def state(self) -> tuple[int, bool, datetime | None]:
        with self._lock:
            now = datetime.now(UTC)
            items = self._trim(now)
            since = self._exhausted.get(self.account)
            exhausted = since is not None and now - since < timedelta(hours=24)
            oldest = items[0][0] + timedelta(hours=24) if items else None
            return sum(c for _, c in items), exhausted, oldest

    @classmethod
    def forget(cls) -> None:
        with cls._lock:
            cls._spent.clear()
            cls._exhausted.clear()


class ZohoAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "zoho"
    name = "Zoho CRM"

    def __init__(self, api: ApiClient, *, edition: str = wire.DEFAULT_EDITION, users: int = 1,
                 credits: int | None = None, ledger: CreditLedger | None = None,
                 licence_from_zoho: bool = False, save_state: Callable[[str], None] | None = None) -> None:
        self.api = api
        self.edition = edition if edition in wire.EDITIONS else wire.DEFAULT_EDITION
        self.user_licences = max(1, users)
        self.credits_override = credits
        self.per_day = credits or wire.daily_credits(self.edition, self.user_licences)
        self.licence_from_zoho = licence_from_zoho  # edition and users as Zoho reported them (else the settings)
        self._save_state = save_state
        self.ledger = ledger or CreditLedger(api.base_url)
        self.credits_spent = 0
        self._gate = asyncio.Semaphore(wire.concurrency(self.edition))
        self._fields: dict[CrmObject, dict[str, CrmField]] = {}

    # -- opening ----------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        accounts, api_host = wire.data_centre(connection.setting("region", wire.DEFAULT_DC))
        base_url = (connection.setting("base_url") or connection.setting("api_domain") or api_host).rstrip("/")
        token = connection.get_secret("access_token")
        auth: Any
        if token:
            auth = header_auth("Authorization", f"Zoho-oauthtoken {token}")
            credential = token
        else:
            raw = connection.get_secret("oauth_token")
            client_id = connection.setting("client_id")
            if not raw or not client_id:
                raise AuthError("Zoho CRM is not connected: choose the data centre, enter your client's ID and "
                                "secret and sign in with Zoho in the Zoho connection.", vendor="zoho")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved Zoho sign-in is unreadable. Sign in with Zoho again.",
                                vendor="zoho") from None
            if tokens.api_url and not connection.setting("base_url"):
                base_url = tokens.api_url.rstrip("/")  # the token answer's api_domain: the organisation's host
                # Renew at the accounts server of that data centre (the sign-in may have gone to another one).
                accounts = wire.accounts_for_api_host(base_url) or accounts
            auth = OAuthRefreshAuth(
                tokens, token_url=_token_url(connection, accounts), client_id=client_id,
                client_secret=connection.get_secret("client_secret") or "",
                on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()),
                scheme="Zoho-oauthtoken")
            credential = client_id
        edition = connection.setting("edition", wire.DEFAULT_EDITION)
        users = _positive(connection.setting("user_licences"), 1)
        credits = _positive(connection.setting("daily_credits"), 0) or None
        account = f"{base_url}|{hashlib.sha256(credential.encode()).hexdigest()[:16]}"
        kept = _kept_licence(connection, account)
        api = ApiClient("zoho", base_url, vendor_name="Zoho CRM", auth=auth,
                        retry=retry if isinstance(retry, RetryPolicy) else None, transport=transport,
                        error_hook=wire.zoho_error, secrets=[token] if token else ())
        save = None
        if connection.save_state is not None:
            store, name = connection.save_state, _licence_state_name(account)
            save = lambda value: store(name, value)  # noqa: E731
        return cls(api, edition=kept[0] if kept else edition, users=kept[1] if kept else users, credits=credits,
                   ledger=CreditLedger(account), licence_from_zoho=kept is not None, save_state=save)

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        client_id = connection.setting("client_id")
        if not client_id:
            raise AuthError("Enter the client ID of your Zoho API console client before signing in.", vendor="zoho")
        accounts, _ = wire.data_centre(connection.setting("region", wire.DEFAULT_DC))
        base_url = connection.setting("base_url").rstrip("/")
        return OAuthProvider(
            name="Zoho",
            # A sandbox given as the API base URL serves the accounts endpoints too.
            authorize_url=f"{base_url or accounts}/oauth/v2/auth",
            token_url=_token_url(connection, accounts),
            client_id=client_id,
            client_secret=connection.get_secret("client_secret") or "",
            scopes=wire.SCOPES,
            scope_separator=",",
            redirect_host="localhost",
            redirect_port=wire.OAUTH_REDIRECT_PORT,
            redirect_path=wire.OAUTH_REDIRECT_PATH,
            extra_authorize_params={"access_type": "offline", "prompt": "consent"},
            # The organisation may live in another data centre than the one chosen: Zoho's redirect names its
            # accounts server, where the code must be exchanged.
            token_url_from_callback=None if base_url else wire.token_url_from_callback,
        )

    @property
    def capabilities(self) -> Capabilities:
        in_flight = wire.concurrency(self.edition)
        return Capabilities(
            max_batch={
                Operation.READ: wire.IDS_PER_READ,
                Operation.CREATE: wire.BATCH,
                Operation.UPDATE: wire.BATCH,
                Operation.UPSERT: wire.BATCH,
                Operation.SEARCH_PAGE: wire.PAGE,
                Operation.SEARCH_IN_VALUES: wire.IN_VALUES,
                Operation.SCAN_PAGE: wire.PAGE,
                Operation.ASSOCIATION_READ: wire.IDS_PER_READ,
                Operation.ASSOCIATION_WRITE: wire.BATCH,
                Operation.ACTIVITY: wire.BATCH,
            },
            upsert=True,
            multiple_companies=False,
            primary_company=False,
            search_in=True,
            # Zoho limits requests in flight, not requests per second: the adapter holds them to the edition's
            # concurrency; the window below only keeps a runaway loop polite.
            rate_limit=RateLimit(in_flight * 10, 1.0),
            throttle_status=429,
            company_link=CompanyLink.FIELD,
            company_field=COMPANY_FIELD,
            upsert_keys={CrmObject.CONTACTS: frozenset({"Email"})},
            search_filters_per_request=1,
            search_filters_per_group=1,
            search_folds_case=False,
            search_folds_accents=False,
            budget=DailyBudget(BudgetUnit.CREDITS, self.per_day, dict(wire.OPERATION_COSTS)),
            concurrency=min(in_flight, wire.SUB_CONCURRENCY),
        )

    async def budget_left(self) -> BudgetLeft | None:
        spent, exhausted, frees = self.ledger.state()
        remaining = 0 if exhausted else max(0, self.per_day - spent)
        return BudgetLeft(BudgetUnit.CREDITS, remaining, self.per_day, frees)

    # -- requests ---------------------------------------------------------------------------------------------
    async def _call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None,
                    idempotent: bool | None = None) -> Reply:
        before = self.api.requests_sent
        try:
            async with self._gate:
                return await self.api.request(method, f"{wire.V8}{path}", params=dict(params) if params else None,
                                              json=json, idempotent=idempotent)
        except QuotaExhaustedError:
            self.ledger.mark_exhausted()
            raise
        finally:
            sent = self.api.requests_sent - before
            if sent:
                self.credits_spent += sent
                self.ledger.spend(sent)

    async def _json(self, method: str, path: str, **kw: Any) -> dict[str, Any]:
        reply = await self._call(method, path, **kw)
        if reply.status == 204:
            return {}
        body = reply.json_or_none()
        return body if isinstance(body, dict) else {}

    # -- who am I, what is there ------------------------------------------------------------------------------
    async def check(self) -> CrmIdentity:
        body = await self._json("GET", "/users", params={"type": "CurrentUser"})
        users = body.get("users") or [{}]
        me = users[0] if isinstance(users[0], dict) else {}
        org = await self._json("GET", "/org")
        info = (org.get("org") or [{}])[0] if isinstance(org.get("org"), list) else {}
        if not isinstance(info, dict):
            info = {}
        self._take_licence(info.get("license_details"))
        left = await self.budget_left()
        source = "as Zoho reports it" if self.licence_from_zoho else "as set in the connection"
        n = self.user_licences
        licences = f"{n:,} user licence{'s' if n != 1 else ''}"
        remaining = f" ({left.remaining:,} left by Enginy's count)" if left is not None else ""
        org_name, email = str(info.get("company_name") or ""), str(me.get("email") or "")
        who = f"Connected to {org_name or 'your Zoho organisation'}" + (f" as {email}" if email else "")
        return CrmIdentity(
            crm=self.key, account_id=str(info.get("id") or ""), account_name=org_name, user=email,
            details=f"{who}. {self.edition} edition, {licences} ({source}): {self.per_day:,} API credits per 24 "
                    f"hours{remaining}, {wire.concurrency(self.edition)} concurrent requests.")

    def _take_licence(self, licence: Any) -> None:
        """Use the edition and user licences the organisation's ``license_details`` name, and keep them for the
        next commands (an organisation on a trial counts as its trial edition)."""
        found = wire.edition_from_licence(licence)
        if found is None:
            return
        self.edition, self.user_licences = found
        self.licence_from_zoho = True
        self.per_day = self.credits_override or wire.daily_credits(self.edition, self.user_licences)
        self._gate = asyncio.Semaphore(wire.concurrency(self.edition))  # no request is in flight here
        if self._save_state is not None:
            try:
                self._save_state(json.dumps({"edition": self.edition, "users": self.user_licences}))
            except (OSError, RuntimeError, ValueError) as exc:  # e.g. a full disk: the settings stay the fallback
                log.warning("Could not keep the Zoho edition: %s", exc)

    async def _field_map(self, object: CrmObject) -> dict[str, CrmField]:
        if object not in self._fields:
            body = await self._json("GET", "/settings/fields", params={"module": wire.MODULES[object]})
            found: dict[str, CrmField] = {}
            for item in body.get("fields") or []:
                f = wire.to_field(item, object) if isinstance(item, dict) else None
                if f is not None:
                    found[f.name] = f
            if object is CrmObject.CONTACTS and COMPANY_FIELD in found:
                found[ACCOUNT_NAME] = CrmField(ACCOUNT_NAME, "Account name (of the contact's account)",
                                               FieldType.TEXT, object, read_only=True, vendor_type="lookup.name")
            self._fields[object] = found
        return self._fields[object]

    async def prepare_read(self, object: CrmObject) -> None:
        await self._field_map(object)  # what reading records needs first

    async def fields(self, object: CrmObject) -> list[CrmField]:
        return list((await self._field_map(object)).values())

    async def users(self) -> list[CrmUser]:
        out: list[CrmUser] = []
        page = 1
        while True:
            body = await self._json("GET", "/users", params={"type": "ActiveUsers", "page": page, "per_page": 200})
            for u in body.get("users") or []:
                if isinstance(u, dict) and u.get("id"):
                    out.append(CrmUser(id=str(u["id"]), email=str(u.get("email") or ""),
                                       first_name=str(u.get("first_name") or ""),
                                       last_name=str(u.get("last_name") or ""),
                                       active=str(u.get("status") or "active") == "active"))
            if not (body.get("info") or {}).get("more_records"):
                return out
            page += 1

    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        return dict(IDENTIFIER_FIELDS[object])

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object]

    def owner_field(self, object: CrmObject) -> str | None:
        return "Owner"

    def unique_fields(self, object: CrmObject) -> frozenset[str]:
        return frozenset({"Email"}) if object is CrmObject.CONTACTS else frozenset()

    # -- reading ----------------------------------------------------------------------------------------------
    async def count(self, object: CrmObject) -> int | None:
        """Zoho's record count of the module (``GET /{module}/actions/count``, one call:
        https://www.zoho.com/crm/developer/docs/api/v8/get-record-count.html)."""
        raw = (await self._json("GET", f"/{wire.MODULES[object]}/actions/count")).get("count")
        return int(raw) if isinstance(raw, int | str) and str(raw).isdigit() else None

    async def _record(self, object: CrmObject, item: Mapping[str, Any], properties: Sequence[str]) -> CrmRecord:
        fields = await self._field_map(object)
        props: dict[str, Any] = {}
        for name in properties:
            if name == ACCOUNT_NAME:
                account = item.get(COMPANY_FIELD)
                props[name] = str(account.get("name") or "") or None if isinstance(account, dict) else None
                continue
            f = fields.get(name)
            props[name] = wire.from_wire(f.type if f else FieldType.TEXT, item.get(name))
        return CrmRecord(str(item.get("id")), object, props, parse_datetime(item.get("Created_Time")),
                         parse_datetime(item.get("Modified_Time")))

    def _columns(self, properties: Sequence[str]) -> list[str]:
        names = (COMPANY_FIELD if p == ACCOUNT_NAME else _name(p) for p in properties)
        return list(dict.fromkeys(["Created_Time", "Modified_Time", *names]))

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        wanted = [i for i in dict.fromkeys(str(i) for i in ids) if i.isdigit()]
        out: list[CrmRecord] = []
        for start in range(0, len(wanted), wire.IDS_PER_READ):
            chunk = wanted[start:start + wire.IDS_PER_READ]
            body = await self._json("GET", f"/{wire.MODULES[object]}",
                                    params={"ids": ",".join(chunk), "fields": ",".join(self._columns(properties))})
            for item in body.get("data") or []:
                out.append(await self._record(object, item, properties))
        return out

    async def _coql(self, object: CrmObject, where: str, properties: Sequence[str]
                    ) -> AsyncIterator[list[CrmRecord]]:
        offset = 0
        columns = ", ".join(["id", *self._columns(properties)])
        while True:
            # Values are quoted by wire.coql_text and names checked by _name: not injectable.
            query = (f"select {columns} from {wire.MODULES[object]} where {where} order by id asc "  # noqa: S608
                     f"limit {offset}, {wire.PAGE}")
            body = await self._json("POST", "/coql", json={"select_query": query}, idempotent=True)
            items = [i for i in body.get("data") or [] if isinstance(i, dict)]
            if items:
                yield [await self._record(object, i, properties) for i in items]
            if not (body.get("info") or {}).get("more_records") or not items:
                return
            offset += len(items)

    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        unique = [v for v in dict.fromkeys(str(v) for v in values) if v]
        wanted = list(dict.fromkeys([*properties, property]))
        for start in range(0, len(unique), wire.IN_VALUES):
            chunk = unique[start:start + wire.IN_VALUES]
            where = f"{_name(property)} in ({', '.join(wire.coql_text(v) for v in chunk)})"
            async for page in self._coql(object, where, wanted):
                yield page

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        token = ""
        while True:
            params: dict[str, Any] = {"fields": ",".join(self._columns(properties)), "per_page": wire.PAGE}
            if token:
                params["page_token"] = token
            body = await self._json("GET", f"/{wire.MODULES[object]}", params=params)
            items = [i for i in body.get("data") or [] if isinstance(i, dict)]
            if items:
                yield [await self._record(object, i, properties) for i in items]
            info = body.get("info") or {}
            token = str(info.get("next_page_token") or "")
            if not info.get("more_records") or not token:
                return

    # -- writes -----------------------------------------------------------------------------------------------
    async def _body(self, object: CrmObject, props: Mapping[str, Any]) -> dict[str, Any]:
        fields = await self._field_map(object)
        body: dict[str, Any] = {}
        for name, value in props.items():
            f = fields.get(name)
            if f is None:
                raise ValueError(f"Zoho CRM {wire.MODULES[object]} have no field “{name}”")
            if f.read_only:
                raise ValueError(f"{f.label} cannot be written")
            body[name] = wire.to_wire(f.type, value, f)
        return body

    async def _batch(self, object: CrmObject, records: Sequence[RecordInput], method: str, path: str,
                     extra: Mapping[str, Any], prepare: Any) -> list[WriteResult]:
        """Send ``records`` 100 per call; one result per input, in input order."""
        results: list[WriteResult | None] = [None] * len(records)
        bodies: list[tuple[int, dict[str, Any]]] = []
        for i, r in enumerate(records):
            try:
                bodies.append((i, await prepare(r)))
            except ValueError as exc:
                results[i] = WriteResult.failure(r.key, RecordError(str(exc), code="INVALID_VALUE"), id=r.id)
        chunks = [bodies[s:s + wire.BATCH] for s in range(0, len(bodies), wire.BATCH)]

        async def send(chunk: list[tuple[int, dict[str, Any]]]) -> None:
            payload = {"data": [b for _, b in chunk], **extra}
            try:
                items = (await self._json(method, path, json=payload, idempotent=method != "POST" or
                                          path.endswith("/upsert"))).get("data") or []
            except wire.ZohoRefused as exc:
                items = exc.items
            for (i, _), item in zip(chunk, items, strict=False):
                results[i] = _result(records[i], item if isinstance(item, dict) else {})

        failure: list[AdapterError] = []

        async def guarded(chunk: list[tuple[int, dict[str, Any]]]) -> None:
            if failure:
                return
            try:
                await send(chunk)
            except AdapterError as exc:
                failure.append(exc)

        await asyncio.gather(*(guarded(c) for c in chunks))
        if failure:
            first = failure[0]
            first.completed = [r for r in results if r is not None]
            raise first
        return [r if r is not None else WriteResult.failure(
            records[i].key, RecordError("Zoho CRM gave no answer for this record.", code="NO_RESULT"))
            for i, r in enumerate(results)]

    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        async def prepare(r: RecordInput) -> dict[str, Any]:
            return await self._body(object, r.properties)

        return await self._batch(object, records, "POST", f"/{wire.MODULES[object]}", {}, prepare)

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        if any(r.id_property for r in records):  # by a unique property: find the ids first, never create
            records = await self._ids_of(object, records)

        async def prepare(r: RecordInput) -> dict[str, Any]:
            if not r.id.isdigit():
                raise ValueError("No Zoho CRM record has this id (or unique value).")
            return {"id": r.id, **await self._body(object, r.properties)}

        return await self._batch(object, records, "PUT", f"/{wire.MODULES[object]}", {}, prepare)

    async def _ids_of(self, object: CrmObject, records: Sequence[RecordInput]) -> list[RecordInput]:
        """Inputs keyed by a unique property turned into inputs keyed by id (an unknown value keeps no id, so its
        update fails as "Not a Zoho CRM record id")."""
        out: list[RecordInput] = list(records)
        by_property: dict[str, list[int]] = {}
        for i, r in enumerate(records):
            if r.id_property:
                by_property.setdefault(r.id_property, []).append(i)
        for prop, positions in by_property.items():
            found = await self.read_by_unique(object, prop, [records[i].id for i in positions], [prop])
            ids = {str(rec.get(prop) or "").casefold(): rec.id for rec in found}
            for i in positions:
                r = records[i]
                out[i] = RecordInput(r.properties, key=r.key, id=ids.get(r.id.casefold(), ""))
        return out

    async def upsert(self, object: CrmObject, records: Sequence[RecordInput], id_property: str
                     ) -> list[WriteResult]:
        async def prepare(r: RecordInput) -> dict[str, Any]:
            body = await self._body(object, r.properties)
            if r.id:
                body[id_property] = wire.to_wire(FieldType.TEXT, r.id)
            return body

        return await self._batch(object, records, "POST", f"/{wire.MODULES[object]}/upsert",
                                 {"duplicate_check_fields": [id_property]}, prepare)

    # -- the company of a contact (its Account_Name) ----------------------------------------------------------
    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        found: dict[str, list[Association]] = {str(i): [] for i in ids}
        if (from_object, to_object) != (CrmObject.CONTACTS, CrmObject.COMPANIES):
            return found
        primary = (AssociationType(COMPANY_FIELD, "FIELD", "Account", primary=True),)
        for rec in await self.read(CrmObject.CONTACTS, list(found), [COMPANY_FIELD]):
            account = rec.get(COMPANY_FIELD)
            if account:
                found[rec.id] = [Association(from_object, rec.id, to_object, str(account), primary)]
        return found

    async def _set_accounts(self, links: Sequence[AssociationInput], to: Sequence[str | None]) -> list[WriteResult]:
        records = [RecordInput({COMPANY_FIELD: account or ""}, key=link.key, id=link.from_id)
                   for link, account in zip(links, to, strict=True)]
        results = await self.update(CrmObject.CONTACTS, records)
        return [WriteResult(r.key, r.ok, link.to_id, r.created, r.error) for r, link in zip(results, links,
                                                                                        strict=True)]

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Sets each contact's ``Account_Name`` (one account per contact: it replaces the previous one)."""
        return await self._set_accounts(links, [link.to_id for link in links])

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Clears ``Account_Name`` where it still names that account."""
        return await clear_field_links(self, links, lambda linked: self._set_accounts(linked, [None] * len(linked)))

    # -- activities -------------------------------------------------------------------------------------------
    def _activity(self, a: Activity) -> tuple[str, dict[str, Any]]:
        contact = a.contact_ids[0] if a.contact_ids else ""
        account = a.company_ids[0] if a.company_ids else ""
        owner = {"Owner": {"id": a.owner_id}} if a.owner_id else {}
        if a.kind is ActivityKind.NOTE:
            parent = (("Contacts", contact) if contact else ("Accounts", account))
            return "Notes", {"Note_Title": a.subject or "Note", "Note_Content": a.body or a.subject or "(empty note)",
                             "Parent_Id": {"module": {"api_name": parent[0]}, "id": parent[1]}, **owner}
        inbound = a.direction is Direction.INBOUND
        links: dict[str, Any] = {}
        if contact:
            links["Who_Id"] = {"id": contact}
        if account:
            links["What_Id"] = {"id": account}
            links["$se_module"] = "Accounts"
        if a.kind is ActivityKind.CALL:
            seconds = max(0, int(a.duration_seconds or 0))
            return "Calls", {"Subject": a.subject or ("Inbound call" if inbound else "Call"),
                             "Call_Type": "Inbound" if inbound else "Outbound",
                             "Call_Start_Time": wire.zoho_time(a.timestamp),
                             "Call_Duration": f"{seconds // 60:02d}:{seconds % 60:02d}",
                             **({"Description": a.body} if a.body else {}), **links, **owner}
        day = (a.timestamp if a.timestamp.tzinfo else a.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
        return "Tasks", {"Subject": a.subject or ("Email received" if inbound else "Email sent"),
                         "Status": "Completed", "Due_Date": day.strftime("%Y-%m-%d"),
                         "Description": a.body or "", **links, **owner}

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(activities)
        by_module: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        for i, a in enumerate(activities):
            module, body = self._activity(a)
            by_module.setdefault(module, []).append((i, body))
        completed: list[WriteResult] = []
        for module, items in by_module.items():
            for s in range(0, len(items), wire.BATCH):
                chunk = items[s:s + wire.BATCH]
                try:
                    answer = (await self._json("POST", f"/{module}", json={"data": [b for _, b in chunk]},
                                               idempotent=False)).get("data") or []
                except wire.ZohoRefused as exc:
                    answer = exc.items
                except AdapterError as exc:
                    exc.completed = [*completed, *(r for r in results if r is not None)]
                    raise
                for (i, _), item in zip(chunk, answer, strict=False):
                    results[i] = _result(RecordInput({}, key=activities[i].key), item if isinstance(item, dict)
                                         else {}, created=True)
        return [r if r is not None else WriteResult.failure(activities[i].key, RecordError(
            "Zoho CRM gave no answer for this activity.", code="NO_RESULT")) for i, r in enumerate(results)]

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Calls, tasks and notes of each contact (one COQL query per contact and module); the one with the same
        subject (and, for calls, the same start time; for tasks the same day) is the same."""
        found: dict[str, str] = {}
        cache: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for lookup in lookups:
            if not lookup.contact_id.isdigit():
                continue
            module = {ActivityKind.NOTE: "Notes", ActivityKind.CALL: "Calls"}.get(lookup.kind, "Tasks")
            key = (lookup.contact_id, module)
            if key not in cache:
                columns = {"Notes": "Note_Title", "Calls": "Subject, Call_Start_Time",
                           "Tasks": "Subject, Due_Date"}[module]
                link = "Parent_Id" if module == "Notes" else "Who_Id"
                body = await self._json("POST", "/coql", idempotent=True, json={
                    "select_query": f"select id, {columns} from {module} where {link} = "  # noqa: S608
                                    f"{wire.coql_text(lookup.contact_id)} limit 0, {wire.PAGE}"})
                cache[key] = [i for i in body.get("data") or [] if isinstance(i, dict)]
            moment = lookup.timestamp if lookup.timestamp.tzinfo else lookup.timestamp.replace(tzinfo=UTC)
            for item in cache[key]:
                subject = str(item.get("Note_Title" if module == "Notes" else "Subject") or "")
                if lookup.subject and subject != lookup.subject:
                    continue
                if module == "Calls":
                    start = parse_datetime(item.get("Call_Start_Time"))
                    if start is None or abs((start - moment).total_seconds()) >= 1:
                        continue
                elif module == "Tasks" and str(item.get("Due_Date") or "") != moment.astimezone(UTC).strftime(
                        "%Y-%m-%d"):
                    continue
                found[lookup.key] = str(item.get("id"))
                break
        return found


# -- helpers ------------------------------------------------------------------------------------------------------


def _result(record: RecordInput, item: Mapping[str, Any], created: bool | None = None) -> WriteResult:
    if str(item.get("status") or "") == "success":
        details = item.get("details") if isinstance(item.get("details"), dict) else {}
        assert isinstance(details, dict)
        if created is None:
            action = str(item.get("action") or "")
            created = action == "insert" if action else not record.id
        return WriteResult.success(record.key, str(details.get("id") or record.id), created=created)
    return WriteResult.failure(record.key, wire.record_error(item), id=record.id)


def _name(field: str) -> str:
    """A field's API name, checked before it goes into a query (letters, digits and underscores)."""
    if not _API_NAME.match(field):
        raise ValueError(f"“{field}” is not a Zoho CRM field name")
    return field


def _licence_state_name(account: str) -> str:
    return "zoho-licence-" + hashlib.sha256(account.encode()).hexdigest()[:16]


def _kept_licence(connection: Connection, account: str) -> tuple[str, int] | None:
    """The edition and user licences an earlier connection test read from Zoho for this organisation."""
    if connection.load_state is None:
        return None
    try:
        data = json.loads(connection.load_state(_licence_state_name(account)) or "{}")
    except (ValueError, OSError, RuntimeError):
        return None
    if not isinstance(data, dict) or data.get("edition") not in wire.EDITIONS:
        return None
    users = data.get("users")
    return str(data["edition"]), users if isinstance(users, int) and users > 0 else 1


def _positive(text: str, default: int) -> int:
    try:
        value = int(str(text).replace(",", "").strip())
    except ValueError:
        return default
    return value if value > 0 else default


def _token_url(connection: Connection, accounts: str) -> str:
    base_url = connection.setting("base_url").rstrip("/")
    return f"{base_url or accounts}/oauth/v2/token"
