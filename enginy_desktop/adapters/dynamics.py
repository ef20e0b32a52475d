"""Dynamics 365 (Dataverse Web API v9.2) for contacts, accounts, system users, e-mails, phone calls and notes,
on the shared OData layer (:mod:`.odata`).

- Sign-in: Microsoft Entra ID, authorization code with PKCE for a public client (no secret) and the loopback
  redirect ``http://localhost`` (Entra matches any port for localhost), scope ``{environment URL}/.default``
  plus ``offline_access`` for a refresh token:
  https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow and
  https://learn.microsoft.com/en-us/entra/identity-platform/reply-url#localhost-exceptions. A bearer token
  pasted in the connection (the emulator's, or one from the Azure CLI) takes precedence.
- API calls go to ``{environment URL}/api/data/v9.2``. ``$metadata`` is read once per connection and the
  entity sets and properties the adapter uses are checked against it.
- A contact's company is its ``parentcustomerid`` lookup (``CompanyLink.FIELD``), written in the contact's own
  create or update as ``parentcustomerid_account@odata.bind`` and cleared with ``null``:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/associate-disassociate-entities-using-web-api
- Columns and choices from the table definitions (``EntityDefinitions(LogicalName='contact')/Attributes`` and the
  ``PicklistAttributeMetadata`` cast with its ``OptionSet``):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query-metadata-web-api
- Owners are ``systemusers``; the owner is written as ``ownerid@odata.bind``.
- Matching with ``$filter`` and ``Microsoft.Dynamics.CRM.In``; ``@odata.nextLink`` paging.
- Writes go through ``$batch``, 100 operations per request, each its own change set (so each succeeds or fails
  alone) with ``Prefer: odata.continue-on-error``, one result per record in input order (``POST`` create, ``PATCH``
  with ``If-Match: *`` update):
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api
  Upsert is a ``PATCH`` on an alternate key where the table defines one:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/use-upsert-insert-update-record
- Service protection limits, per user over a 5-minute sliding window: 6,000 requests, 1,200 s of execution time,
  52 concurrent requests; a 429 carries ``Retry-After``, which is waited:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/api-limits
  One limiter per connection for the whole process (the plan and the run of an export share its window); a
  ``$batch`` takes one slot per operation, all at once. The connection setting ``service_protection_limit``
  (``requests/seconds``, e.g. ``200/10``) replaces 6,000/300 for an environment counted differently (the
  emulator on a shorter window).
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Self

from . import odata
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
    Capabilities,
    ClientCrmAdapter,
    CompanyLink,
    Connection,
    CrmField,
    CrmIdentity,
    CrmObject,
    CrmRecord,
    CrmUser,
    Direction,
    FieldOption,
    FieldType,
    Operation,
    RateLimit,
    RateLimitedError,
    RecordError,
    RecordInput,
    TokenSet,
    WriteResult,
    clear_field_links,
    parse_datetime,
)
from .http import (
    ApiClient,
    OAuthRefreshAuth,
    Reply,
    RetryPolicy,
    bearer_auth,
    connection_account,
    parse_retry_after,
    shared_limiter,
)
from .oauth import OAuthProvider
from .spellings import spellings

API_PATH = "/api/data/v9.2"
LOGIN = "https://login.microsoftonline.com"
# Service protection: 6,000 requests per user in any 5 minutes; 52 concurrent requests (we use far fewer).
RATE_LIMIT = RateLimit(6000, 300.0)
CONCURRENCY = 8
READ_CHUNK = 100  # ids or values per $filter (well under the 32 KB URL limit)
BATCH = 100  # operations per $batch (Dataverse takes up to 1,000; smaller batches answer well within time-outs)
MIN_BATCH = 10  # a $batch sent with fewer operations when the service protection window has no room for BATCH
PAGE = 5000  # Prefer: odata.maxpagesize
THROTTLE_CODES = {"0x80072322": "number of requests", "0x80072321": "combined execution time",
                  "0x80072326": "concurrent requests"}
TABLES: dict[CrmObject, tuple[str, str, str]] = {  # logical name, entity set, primary id
    CrmObject.CONTACTS: ("contact", "contacts", "contactid"),
    CrmObject.COMPANIES: ("account", "accounts", "accountid"),
}
COMPANY_FIELD = "parentcustomerid"
COMPANY_BIND = "parentcustomerid_account"
OWNER_FIELD = "ownerid"
COMPANY_NAME = "parentcustomerid_account.name"  # the contact's account's name, read with $expand (for matching)
IDENTIFIER_FIELDS: dict[CrmObject, dict[str, str]] = {
    CrmObject.CONTACTS: {"first_name": "firstname", "last_name": "lastname", "email": "emailaddress1",
                         "company_name": COMPANY_NAME},
    CrmObject.COMPANIES: {"name": "name", "domain": "websiteurl"},
}
DISPLAY_FIELDS: dict[CrmObject, tuple[str, ...]] = {
    CrmObject.CONTACTS: ("firstname", "lastname", "emailaddress1"),
    CrmObject.COMPANIES: ("name", "websiteurl"),
}
ACTIVITY_SETS: dict[ActivityKind, tuple[str, str, str]] = {  # entity set, regarding navigation, its lookup
    ActivityKind.EMAIL: ("emails", "regardingobjectid_contact_email", "_regardingobjectid_value"),
    ActivityKind.CALL: ("phonecalls", "regardingobjectid_contact_phonecall", "_regardingobjectid_value"),
    ActivityKind.NOTE: ("annotations", "objectid_contact", "_objectid_value"),
}
LOOKUPS = ("Lookup", "Customer", "Owner")
TYPES: dict[str, FieldType] = {
    "Memo": FieldType.LONG_TEXT, "Integer": FieldType.NUMBER, "BigInt": FieldType.NUMBER,
    "Decimal": FieldType.NUMBER, "Double": FieldType.NUMBER, "Money": FieldType.NUMBER,
    "Boolean": FieldType.BOOLEAN, "Picklist": FieldType.PICKLIST, "State": FieldType.PICKLIST,
    "Status": FieldType.PICKLIST, "Owner": FieldType.OWNER, "Customer": FieldType.REFERENCE,
    "Lookup": FieldType.REFERENCE, "Uniqueidentifier": FieldType.OTHER,
}
STRING_FORMATS = {"Email": FieldType.EMAIL, "Phone": FieldType.PHONE, "Url": FieldType.URL}
ANNOTATIONS = 'odata.include-annotations="Microsoft.Dynamics.CRM.lookuplogicalname"'


def environment_url(connection: Connection) -> str:
    """``https://ORG.crmN.dynamics.com`` from the connection (the organization URL, else the API base URL)."""
    url = (connection.setting("org_url") or connection.setting("base_url")).strip().rstrip("/")
    url = re.sub(r"/api/data/v\d+(\.\d+)?$", "", url)
    if url and not url.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        url = "https://" + url.removeprefix("http://")
    return url


def api_root(connection: Connection) -> str:
    base = connection.setting("base_url").strip().rstrip("/")
    if base and re.search(r"/api/data/v\d+(\.\d+)?$", base):
        return base
    env = base or environment_url(connection)
    return f"{env}{API_PATH}" if env else ""


def dynamics_error(reply: Reply, error: AdapterError) -> AdapterError:
    def refine(code: str, message: str, r: Reply) -> AdapterError | None:
        kw: dict[str, Any] = {"vendor": "dynamics", "status": r.status}
        if r.status == 429 or code in THROTTLE_CODES:
            what = THROTTLE_CODES.get(code, "requests")
            return RateLimitedError(f"Dynamics 365 service protection limit reached ({what}): {message}",
                                    retry_after=parse_retry_after(r.header("retry-after")) or 5.0, **kw)
        if r.status == 401:
            return AuthError("Dynamics 365 did not accept the sign-in (it expired or was revoked). Sign in with "
                             "Microsoft again in the Dynamics connection.", **kw)
        if r.status == 403:
            return AuthError(f"Dynamics 365 refused access: {message or 'the user lacks a security role for this'}"
                             ". Ask an administrator for a security role that can read and write contacts and "
                             "accounts.", **kw)
        return None

    return odata.classify(reply, error, vendor="dynamics", vendor_name="Dynamics 365", refine=refine)


class DynamicsAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "dynamics"
    name = "Dynamics 365"

    def __init__(self, api: ApiClient, *, auth_kind: str = "oauth") -> None:
        self.api = api
        self.auth_kind = auth_kind
        self._fields: dict[CrmObject, dict[str, CrmField]] = {}
        self._keys: dict[CrmObject, tuple[str, ...]] = {}
        self._metadata: odata.Metadata | None = None

    # -- opening --------------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        root = api_root(connection)
        if not root:
            raise AuthError("Enter the Dynamics 365 environment URL (https://yourorg.crm.dynamics.com) in the "
                            "Dynamics connection.", vendor="dynamics")
        token = connection.get_secret("access_token")
        limit = service_protection_limit(connection)
        auth: Any
        if token:
            auth, kind = bearer_auth(token), "token"
        else:
            raw = connection.get_secret("oauth_token")
            client_id = connection.setting("client_id")
            if not raw or not client_id:
                raise AuthError("Dynamics 365 is not connected: enter your app registration's application (client) "
                                "ID and sign in with Microsoft in the Dynamics connection.", vendor="dynamics")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved Dynamics 365 sign-in is unreadable. Sign in with Microsoft again.",
                                vendor="dynamics") from None
            auth = OAuthRefreshAuth(tokens, token_url=_token_url(connection), client_id=client_id,
                                    on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()))
            kind = "oauth"
        api = ApiClient("dynamics", root, vendor_name="Dynamics 365", auth=auth,
                        limiter=shared_limiter(connection_account(root, token or connection.setting("client_id")),
                                               limit, "Dynamics 365"),
                        retry=retry if isinstance(retry, RetryPolicy) else None, transport=transport,
                        headers={"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"},
                        error_hook=dynamics_error,
                        # The service protection window carried from the previous command to the next.
                        load_state=connection.load_state, save_state=connection.save_state)
        return cls(api, auth_kind=kind)

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        client_id = connection.setting("client_id")
        env = environment_url(connection)
        if not client_id or not env:
            raise AuthError("Enter the environment URL and the application (client) ID of your Microsoft Entra app "
                            "registration before signing in.", vendor="dynamics")
        tenant = _tenant(connection)
        return OAuthProvider(
            name="Microsoft",
            authorize_url=f"{_login(connection)}/{tenant}/oauth2/v2.0/authorize",
            token_url=_token_url(connection),
            client_id=client_id,
            scopes=(f"{env}/.default", "offline_access"),
            redirect_host="localhost",
            redirect_port=0,
            redirect_path="/",
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_batch={
                Operation.READ: READ_CHUNK,
                Operation.CREATE: BATCH,
                Operation.UPDATE: BATCH,
                Operation.UPSERT: BATCH,
                Operation.SEARCH_PAGE: PAGE,
                Operation.SEARCH_IN_VALUES: READ_CHUNK,
                Operation.SCAN_PAGE: PAGE,
                Operation.ASSOCIATION_READ: READ_CHUNK,
                Operation.ASSOCIATION_WRITE: BATCH,
                Operation.ACTIVITY: BATCH,
            },
            upsert=any(self._keys.values()),
            upsert_keys={obj: frozenset(k) for obj, k in self._keys.items() if k},
            multiple_companies=False,
            primary_company=True,
            search_in=True,
            rate_limit=self.api.limiter.limit if self.api.limiter else RATE_LIMIT,
            throttle_status=429,
            company_link=CompanyLink.FIELD,
            company_field=COMPANY_FIELD,
            search_folds_case=True,
            concurrency=CONCURRENCY,
        )

    # -- what is there --------------------------------------------------------------------------------------------
    async def metadata(self) -> odata.Metadata:
        """The service's ``$metadata`` (read once), with the entity sets this adapter needs checked."""
        if self._metadata is None:
            self._metadata = await odata.fetch_metadata(self.api, ("contacts", "accounts", "systemusers"))
        return self._metadata

    async def check(self) -> CrmIdentity:
        """``WhoAmI``, the organization's name, ``$metadata`` and the contact table's columns."""
        me = (await self.api.request("GET", "/WhoAmI")).json_or_none() or {}
        org: dict[str, Any] = {}
        async for page in odata.pages(self.api, "/organizations", {"$select": "name"}):
            org = page[0]
        await self.metadata()
        await self._describe(CrmObject.CONTACTS)
        user = ""
        uid = str(me.get("UserId") or "")
        if odata.is_guid(uid):
            data = (await self.api.request("GET", f"/systemusers({uid})",
                                           params={"$select": "fullname,internalemailaddress"})).json_or_none()
            user = str((data or {}).get("internalemailaddress") or (data or {}).get("fullname") or "")
        name = str(org.get("name") or "Dynamics 365")
        how = "Microsoft sign-in (OAuth)" if self.auth_kind == "oauth" else "an access token"
        details = (f"Connected to the Dynamics 365 environment {name}" + (f" as {user}" if user else "")
                   + f" with {how}, on the Web API v9.2. Contacts, accounts and users are readable. Service "
                   "protection: 6,000 requests and 20 minutes of execution per 5 minutes per user.")
        return CrmIdentity(crm=self.key, account_id=str(me.get("OrganizationId") or ""), account_name=name,
                           user=user or how, details=details)

    async def _describe(self, object: CrmObject) -> dict[str, CrmField]:
        if object in self._fields:
            return self._fields[object]
        table = TABLES[object][0]
        base = f"/EntityDefinitions(LogicalName='{table}')"
        meta = await self.metadata()
        props = meta.properties(TABLES[object][1])
        options: dict[str, tuple[FieldOption, ...]] = {}
        async for page in odata.pages(self.api, f"{base}/Attributes/Microsoft.Dynamics.CRM.PicklistAttributeMetadata",
                                      {"$select": "LogicalName", "$expand": "OptionSet($select=Options)"}):
            for item in page:
                opts = ((item.get("OptionSet") or {}).get("Options")) or []
                options[str(item.get("LogicalName"))] = tuple(
                    FieldOption(str(o.get("Value")), _label(o.get("Label")) or str(o.get("Value")))
                    for o in opts if isinstance(o, dict) and o.get("Value") is not None)
        found: dict[str, CrmField] = {}
        async for page in odata.pages(self.api, f"{base}/Attributes"):
            for item in page:
                f = _to_field(item, object, options)
                if f is not None and _property(f) in props:
                    found[f.name] = f
        keys: tuple[str, ...] = ()
        async for page in odata.pages(self.api, f"{base}/Keys", {"$select": "LogicalName,KeyAttributes"}):
            for item in page:
                attrs = tuple(str(a) for a in item.get("KeyAttributes") or [])
                if len(attrs) == 1 and attrs[0] in found:  # single-column keys: what upsert_keys can express
                    keys = (*keys, attrs[0])
        self._fields[object] = found
        self._keys[object] = keys
        return found

    async def fields(self, object: CrmObject) -> list[CrmField]:
        found = await self._describe(object)
        keys = set(self._keys.get(object, ()))
        out = [CrmField(f.name, f.label, f.type, f.object, f.options, f.read_only, True, f.required, f.group,
                        f.description, f.vendor_type) if f.name in keys else f for f in found.values()]
        if object is CrmObject.CONTACTS:
            out.append(CrmField(COMPANY_NAME, "Company name (account)", FieldType.TEXT, object, read_only=True,
                                description="The name of the contact's account (read for matching)."))
        return sorted(out, key=lambda f: f.label.casefold())

    async def users(self) -> list[CrmUser]:
        users: list[CrmUser] = []
        params = {"$select": "systemuserid,firstname,lastname,internalemailaddress,isdisabled",
                  "$filter": odata.eq("isdisabled", False), "$orderby": "systemuserid"}
        prefer = {"Prefer": f"odata.maxpagesize={PAGE}"}
        async for page in odata.pages(self.api, "/systemusers", params, headers=prefer):
            for u in page:
                users.append(CrmUser(id=str(u.get("systemuserid")), email=str(u.get("internalemailaddress") or ""),
                                     first_name=str(u.get("firstname") or ""), last_name=str(u.get("lastname") or ""),
                                     active=not u.get("isdisabled")))
        return users

    # -- declarations ------------------------------------------------------------------------------------------------
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        return dict(IDENTIFIER_FIELDS[object])

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object]

    def owner_field(self, object: CrmObject) -> str | None:
        return OWNER_FIELD

    def unique_fields(self, object: CrmObject) -> frozenset[str]:
        return frozenset(self._keys.get(object, ()))

    # -- reading ---------------------------------------------------------------------------------------------------
    def _select(self, object: CrmObject, properties: Sequence[str]) -> str:
        known = self._fields.get(object) or {}
        names = [TABLES[object][2], "createdon", "modifiedon"]
        names += [_property(known[p]) for p in properties if p in known]
        return ",".join(dict.fromkeys(names))

    def _record(self, item: Mapping[str, Any], object: CrmObject) -> CrmRecord:
        props: dict[str, Any] = {}
        if object is CrmObject.CONTACTS and COMPANY_BIND in item:
            account = item.get(COMPANY_BIND)
            props[COMPANY_NAME] = str(account.get("name") or "") or None if isinstance(account, dict) else None
        for f in (self._fields.get(object) or {}).values():
            prop = _property(f)
            if prop in item and prop not in (TABLES[object][2], "createdon", "modifiedon"):
                props[f.name] = _from_wire(f, item[prop])
        return CrmRecord(id=str(item.get(TABLES[object][2])), object=object, properties=props,
                         created_at=parse_datetime(item.get("createdon")),
                         updated_at=parse_datetime(item.get("modifiedon")))

    async def _query(self, object: CrmObject, properties: Sequence[str], filter: str = "", order: bool = False
                     ) -> AsyncIterator[list[CrmRecord]]:
        await self._describe(object)
        params = {"$select": self._select(object, properties)}
        if object is CrmObject.CONTACTS and COMPANY_NAME in properties:
            params["$expand"] = f"{COMPANY_BIND}($select=name)"
        if filter:
            params["$filter"] = filter
        if order:
            params["$orderby"] = TABLES[object][2]
        async for page in odata.pages(self.api, f"/{TABLES[object][1]}", params,
                                      headers={"Prefer": f"odata.maxpagesize={PAGE},{ANNOTATIONS}"}):
            yield [self._record(i, object) for i in page]

    async def _where_in(self, object: CrmObject, prop: str, values: Sequence[str], properties: Sequence[str],
                        extra: str = "") -> AsyncIterator[list[CrmRecord]]:
        values = [str(v) for v in dict.fromkeys(values) if str(v)]
        for start in range(0, len(values), READ_CHUNK):
            condition = odata.dataverse_in(prop, values[start:start + READ_CHUNK])
            async for page in self._query(object, properties, odata.all_of(condition, extra)):
                yield page

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        out: list[CrmRecord] = []
        async for page in self._where_in(object, TABLES[object][2], [i for i in ids if odata.is_guid(i)],
                                         properties):
            out.extend(page)
        return out

    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self.search_all(object, {property: values}, properties):
            yield page

    async def search_all(self, object: CrmObject, filters: Mapping[str, Sequence[str]],
                         properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """``In(first, chunk) and In(other, all)…`` (Dataverse compares text without case); website fields are
        asked in the spellings they are typed with."""
        known = await self._describe(object)
        items = [(n, v) for n, v in filters.items() if n in known]
        wanted = list(dict.fromkeys([*properties, *filters]))
        # The account's name is compared here, on what comes back (it is not a column of the contact).
        names = {str(v).casefold() for v in filters.get(COMPANY_NAME, ())} if COMPANY_NAME in filters else None
        if not items:
            return
        extra = odata.all_of(*(odata.dataverse_in(_property(known[n]), spellings(known[n], v))
                               for n, v in items[1:] if v))
        first, values = items[0]
        async for page in self._where_in(object, _property(known[first]), spellings(known[first], values), wanted,
                                         extra):
            kept = page if names is None else [r for r in page
                                                if str(r.get(COMPANY_NAME) or "").casefold() in names]
            if kept:
                yield kept

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self._query(object, properties, order=True):
            yield page

    async def changed_since(self, object: CrmObject, since: datetime,
                            properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self._query(object, properties, odata.ge("modifiedon", since), order=True):
            yield page

    # -- writes ------------------------------------------------------------------------------------------------------
    def _body(self, object: CrmObject, props: Mapping[str, Any]) -> dict[str, Any]:
        known = self._fields.get(object) or {}
        body: dict[str, Any] = {}
        for name, value in props.items():
            f = known.get(name)
            if f is None:
                raise ValueError(f"Dynamics 365 {TABLES[object][0]}s have no column “{name}”")
            if f.read_only:
                raise ValueError(f"{f.label} ({name}) cannot be written in Dynamics 365")
            if name == OWNER_FIELD:
                body["ownerid@odata.bind"] = _bind("systemusers", value)
            elif name == COMPANY_FIELD and object is CrmObject.CONTACTS:
                body[f"{COMPANY_BIND}@odata.bind"] = _bind("accounts", value)
            else:
                body[name] = _to_wire(f, value)
        return body

    async def _batch(self, items: Sequence[tuple[str, str, odata.BatchOperation | None, WriteResult | None]]
                     ) -> list[WriteResult]:
        """Writes through ``$batch``, up to :data:`BATCH` operations per request, each in its own change set with
        ``Prefer: odata.continue-on-error``: one result per item, in order. ``items`` are (key, id, operation, or
        None with the item's failure already decided).

        Each operation counts against the service protection limit: a request takes one slot of the limiter for
        each, all at once (taken one by one, batches in flight together could each hold part of the window and
        wait for the rest for ever). When the window has fewer than :data:`BATCH` slots free, the request carries
        as many operations as it has (at least :data:`MIN_BATCH`) rather than waiting for the window to free a
        whole batch's worth."""
        results: list[WriteResult] = []
        limiter = self.api.limiter
        pos = 0
        try:
            while pos < len(items):
                if items[pos][2] is None:
                    key, rid, _op, failure = items[pos]
                    results.append(failure or WriteResult.failure(key, RecordError("Not sent."), id=rid))
                    pos += 1
                    continue
                ahead: list[tuple[str, str, odata.BatchOperation]] = []
                for key, rid, op, _f in items[pos:pos + BATCH]:
                    if op is None:
                        break
                    ahead.append((key, rid, op))
                held = await limiter.acquire_up_to(len(ahead), at_least=MIN_BATCH) if limiter else []
                chunk = ahead[:len(held)] if held else ahead
                sendable = [op for _k, _i, op in chunk]
                boundary = uuid.uuid4().hex
                reply = await self.api.request(
                    "POST", "/$batch", content=odata.batch_body(API_PATH, sendable, boundary),
                    idempotent=all(op.method == "PATCH" for op in sendable),
                    headers={"Content-Type": f"multipart/mixed; boundary=batch_{boundary}",
                             "Prefer": "odata.continue-on-error"}, held=held)
                answers = odata.batch_answers(reply.header("content-type"), reply.content)
                for n, (key, rid, op) in enumerate(chunk, start=1):
                    results.append(self._result(key, rid, op, answers.get(n)))
                pos += len(chunk)
        except AdapterError as exc:
            exc.completed = results + exc.completed
            raise
        return results

    @staticmethod
    def _result(key: str, rid: str, op: odata.BatchOperation, answer: odata.BatchAnswer | None) -> WriteResult:
        if answer is None:
            return WriteResult.failure(key, RecordError("Dynamics 365 did not run this operation (the batch stopped "
                                                        "before it).", code="NOT_RUN", retriable=True), id=rid)
        if answer.status >= 400:
            error = odata.record_error(answer.body, answer.status)
            if answer.status == 404:
                error = RecordError(f"The record is not in Dynamics 365 any more ({error.reason}).", code=error.code)
            return WriteResult.failure(key, error, id=rid)
        made = _entity_id(answer.headers.get("odata-entityid", "")) or rid
        if isinstance(answer.body, dict):
            made = made or str(answer.body.get("contactid") or answer.body.get("accountid") or "")
        if op.method == "POST":
            return WriteResult.success(key, made, created=True)
        if "return=representation" in op.headers.get("Prefer", ""):  # an upsert: 201 created, 200 updated
            return WriteResult.success(key, made, created=answer.status == 201)
        return WriteResult.success(key, made, created=False)

    async def _each(self, object: CrmObject, records: Sequence[RecordInput], make: Any) -> list[WriteResult]:
        await self._describe(object)
        items: list[tuple[str, str, odata.BatchOperation | None, WriteResult | None]] = []
        for n, r in enumerate(records):
            key = r.key or str(n)
            try:
                method, path, body, headers, _idempotent = make(r)
            except ValueError as exc:
                items.append((key, r.id, None, WriteResult.failure(key, RecordError(str(exc), code="INVALID_VALUE"),
                                                                   id=r.id)))
                continue
            items.append((key, r.id, odata.BatchOperation(method, path, body, headers), None))
        return await self._batch(items)

    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        entity_set = TABLES[object][1]
        return await self._each(object, records, lambda r: ("POST", f"/{entity_set}", self._body(object, r.properties),
                                                            {}, False))

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        entity_set = TABLES[object][1]

        def make(r: RecordInput) -> tuple[Any, ...]:
            if not odata.is_guid(r.id) or r.id_property:
                raise ValueError("Dynamics 365 updates records by their id (a GUID)")
            return ("PATCH", f"/{entity_set}({r.id})", self._body(object, r.properties), {"If-Match": "*"}, True)

        return await self._each(object, records, make)

    async def upsert(self, object: CrmObject, records: Sequence[RecordInput], id_property: str
                     ) -> list[WriteResult]:
        """``PATCH /contacts(emailaddress1='…')`` on the table's alternate key (201 created, 200 updated)."""
        await self._describe(object)
        if id_property not in self._keys.get(object, ()):
            return [WriteResult.failure(r.key, RecordError(f"{id_property} is not an alternate key of the Dynamics "
                                                           "365 table (upsert needs one).", code="NOT_A_KEY"))
                    for r in records]
        entity_set = TABLES[object][1]

        def make(r: RecordInput) -> tuple[Any, ...]:
            value = r.id or str(r.properties.get(id_property) or "")
            if not value:
                raise ValueError(f"No value for the key {id_property}")
            body = self._body(object, {k: v for k, v in r.properties.items() if k != id_property})
            return ("PATCH", f"/{entity_set}{odata.key_segment({id_property: value})}", body,
                    {"Prefer": "return=representation"}, True)

        return await self._each(object, records, make)

    # -- the company of a contact (parentcustomerid) ------------------------------------------------------------------
    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        found: dict[str, list[Association]] = {str(i): [] for i in ids}
        if (from_object, to_object) != (CrmObject.CONTACTS, CrmObject.COMPANIES):
            return found
        primary = (AssociationType(COMPANY_FIELD, "FIELD", "Company Name", primary=True),)
        for rec in await self.read(CrmObject.CONTACTS, list(found), [COMPANY_FIELD]):
            account = rec.get(COMPANY_FIELD)
            if account:
                found[rec.id] = [Association(from_object, rec.id, to_object, str(account), primary)]
        return found

    async def _set_company(self, links: Sequence[AssociationInput], accounts: Sequence[str | None]
                           ) -> list[WriteResult]:
        items: list[tuple[str, str, odata.BatchOperation | None, WriteResult | None]] = []
        for n, (link, account) in enumerate(zip(links, accounts, strict=True)):
            key = link.key or str(n)
            if not odata.is_guid(link.from_id) or (account is not None and not odata.is_guid(account)):
                items.append((key, link.to_id, None, WriteResult.failure(
                    key, RecordError("Not a Dynamics 365 id.", code="INVALID_ID"), id=link.to_id)))
                continue
            items.append((key, link.to_id, odata.BatchOperation(
                "PATCH", f"/contacts({link.from_id})", {f"{COMPANY_BIND}@odata.bind": _bind("accounts", account)},
                {"If-Match": "*"}), None))
        results = await self._batch(items)
        return [WriteResult.success(r.key, link.to_id) if r.ok else r for r, link in zip(results, links, strict=True)]

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Sets each contact's company (one per contact: it replaces the previous one)."""
        return await self._set_company(links, [link.to_id for link in links])

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Clears the company where it still names that account (a contact moved meanwhile keeps its new one)."""
        return await clear_field_links(self, links, lambda todo: self._set_company(todo, [None] * len(todo)))

    # -- activities: e-mails, phone calls, notes -------------------------------------------------------------------
    def _activity(self, a: Activity) -> tuple[str, dict[str, Any]]:
        entity_set, regarding, _lookup = ACTIVITY_SETS[a.kind]
        moment = (a.timestamp if a.timestamp.tzinfo else a.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
        inbound = a.direction is Direction.INBOUND
        default = {ActivityKind.EMAIL: "Email received" if inbound else "Email sent",
                   ActivityKind.CALL: "Inbound call" if inbound else "Call", ActivityKind.NOTE: "Note"}[a.kind]
        subject = a.subject or default
        body: dict[str, Any]
        if a.kind is ActivityKind.NOTE:
            body = {"subject": subject[:500], "notetext": a.body[:100_000] if a.body else None}
        else:
            body = {"subject": subject[:200], "description": a.body or None, "directioncode": not inbound,
                    "actualend": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}
            if a.kind is ActivityKind.CALL and a.duration_seconds is not None:
                body["actualdurationminutes"] = math.ceil(max(0, a.duration_seconds) / 60)
        if a.contact_ids and odata.is_guid(a.contact_ids[0]):
            body[f"{regarding}@odata.bind"] = _bind("contacts", a.contact_ids[0])
        if odata.is_guid(a.owner_id):
            body["ownerid@odata.bind"] = _bind("systemusers", a.owner_id)
        body.update(a.properties)
        return entity_set, body

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        items: list[tuple[str, str, odata.BatchOperation | None, WriteResult | None]] = []
        for n, a in enumerate(activities):
            entity_set, body = self._activity(a)
            items.append((a.key or str(n), "", odata.BatchOperation("POST", f"/{entity_set}", body), None))
        results = await self._batch(items)
        return [WriteResult(key=a.key, ok=r.ok, id=r.id, created=r.created, error=r.error)
                for a, r in zip(activities, results, strict=True)]

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Activities regarding the lookups' contacts: the one of the same kind whose subject starts with the
        lookup's subject (and, for e-mails and calls, that ended the same day) is the same."""
        found: dict[str, str] = {}
        taken: set[str] = set()
        for kind, (entity_set, _regarding, lookup_prop) in ACTIVITY_SETS.items():
            mine = [lk for lk in lookups if lk.kind is kind and odata.is_guid(lk.contact_id)]
            if not mine:
                continue
            primary = "annotationid" if kind is ActivityKind.NOTE else "activityid"
            select = f"{primary},subject,{lookup_prop}" + ("" if kind is ActivityKind.NOTE else ",actualend")
            rows: list[dict[str, Any]] = []
            contacts = list(dict.fromkeys(lk.contact_id for lk in mine))
            for start in range(0, len(contacts), READ_CHUNK):
                params = {"$select": select, "$filter": odata.dataverse_in(lookup_prop, contacts[start:start + 100])}
                async for page in odata.pages(self.api, f"/{entity_set}", params):
                    rows.extend(page)
            for lk in mine:
                moment = (lk.timestamp if lk.timestamp.tzinfo else lk.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
                for row in rows:
                    rid = str(row.get(primary))
                    if (rid not in taken and str(row.get(lookup_prop) or "").lower() == lk.contact_id.lower()
                            and (not lk.subject or str(row.get("subject") or "").startswith(lk.subject[:200]))
                            and (kind is ActivityKind.NOTE
                                 or str(row.get("actualend") or "")[:10] == moment.strftime("%Y-%m-%d"))):
                        found[lk.key] = rid
                        taken.add(rid)
                        break
        return found


# -- helpers ----------------------------------------------------------------------------------------------------------


def service_protection_limit(connection: Connection) -> RateLimit:
    """The requests per window the limiter keeps: 6,000 per 5 minutes, or the connection's
    ``service_protection_limit`` (``requests/seconds``)."""
    text = connection.setting("service_protection_limit")
    if not text:
        return RATE_LIMIT
    try:
        return RateLimit.parse(text)
    except ValueError as exc:
        raise AuthError(f"The Dynamics 365 connection's service protection limit is wrong: {exc}. Clear it to use "
                         "6000/300 (Dataverse's limit).", vendor="dynamics") from None


def _tenant(connection: Connection) -> str:
    tenant = connection.setting("tenant_id").strip() or "organizations"
    if not re.fullmatch(r"[A-Za-z0-9.-]+", tenant):
        raise AuthError("The directory (tenant) ID should be a GUID, a domain such as contoso.onmicrosoft.com, or "
                        "'organizations'.", vendor="dynamics")
    return tenant


def _login(connection: Connection) -> str:
    """Entra's sign-in host: the public cloud's, or the one set (a national cloud, e.g. login.microsoftonline.us)."""
    login = (connection.setting("login_url") or LOGIN).strip().rstrip("/")
    if not login.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        login = "https://" + login.removeprefix("http://")
    return login


def _token_url(connection: Connection) -> str:
    return f"{_login(connection)}/{_tenant(connection)}/oauth2/v2.0/token"


def _label(label: Any) -> str:
    if isinstance(label, dict):
        user = label.get("UserLocalizedLabel")
        if isinstance(user, dict) and user.get("Label"):
            return str(user["Label"])
        for item in label.get("LocalizedLabels") or []:
            if isinstance(item, dict) and item.get("Label"):
                return str(item["Label"])
    return ""


def _to_field(item: Mapping[str, Any], object: CrmObject, options: Mapping[str, tuple[FieldOption, ...]]
              ) -> CrmField | None:
    """An attribute definition as a :class:`CrmField`; virtual and helper columns (``AttributeOf``) are left out."""
    name = str(item.get("LogicalName") or "")
    kind_name = str(item.get("AttributeType") or "")
    if not name or item.get("AttributeOf") or kind_name in ("Virtual", "EntityName", "CalendarRules", "PartyList"):
        return None
    if kind_name == "String":
        kind = STRING_FORMATS.get(str(item.get("Format") or ""), FieldType.TEXT)
    elif kind_name == "DateTime":
        kind = FieldType.DATE if item.get("Format") == "DateOnly" else FieldType.DATETIME
    else:
        kind = TYPES.get(kind_name, FieldType.OTHER)
    writable = bool(item.get("IsValidForCreate")) or bool(item.get("IsValidForUpdate"))
    # Lookups other than the owner and the company need their target's entity set: read-only here.
    if kind_name in LOOKUPS and name not in (OWNER_FIELD, COMPANY_FIELD):
        writable = False
    if item.get("IsPrimaryId"):
        writable = False
    targets = [str(t) for t in item.get("Targets") or []]
    required = str((item.get("RequiredLevel") or {}).get("Value") or "")
    return CrmField(
        name=name, label=_label(item.get("DisplayName")) or name, type=kind, object=object,
        options=options.get(name, ()),
        read_only=not writable, unique=bool(item.get("IsPrimaryId")),
        required=required in ("ApplicationRequired", "SystemRequired") and kind_name not in LOOKUPS,
        group="Custom fields" if item.get("IsCustomAttribute") else "",
        description=f"Refers to {', '.join(targets)}." if targets else "",
        vendor_type=kind_name,
    )


def _property(f: CrmField) -> str:
    """The Web API property that holds a column's value (lookups: ``_name_value``)."""
    return f"_{f.name}_value" if f.vendor_type in LOOKUPS else f.name


def _bind(entity_set: str, value: Any) -> str | None:
    if value is None or value == "" or value == ():
        return None
    if isinstance(value, list | tuple):
        value = value[0]
    if not odata.is_guid(value):
        raise ValueError(f"“{value}” is not a Dynamics 365 id")
    return f"/{entity_set}({value})"


def _entity_id(header: str) -> str:
    m = re.search(r"\(([0-9a-fA-F-]{36})\)$", header or "")
    return m.group(1).lower() if m else ""


def _to_wire(f: CrmField, value: Any) -> Any:
    if value is None or value == "" or value == ():
        return None
    if isinstance(value, list | tuple):
        value = value[0]
    text = str(value)
    if f.type is FieldType.BOOLEAN:
        return text.strip().lower() == "true"
    if f.type is FieldType.PICKLIST:
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"“{text}” is not a choice of {f.label}") from None
    if f.type is FieldType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"“{text}” is not a number") from None
        if f.vendor_type in ("Integer", "BigInt"):
            if number != number.to_integral_value():
                raise ValueError(f"{f.label} takes whole numbers (“{text}”)")
            return int(number)
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)
    return text


def _from_wire(f: CrmField, value: Any) -> Any:
    if value is None or value == "":
        return None
    if f.type is FieldType.BOOLEAN or isinstance(value, bool):
        return "true" if value is True else "false"
    if f.type in (FieldType.NUMBER, FieldType.PICKLIST) or isinstance(value, int | float):
        number = Decimal(str(value))
        return format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
    if f.type is FieldType.DATETIME:
        moment = parse_datetime(value)
        if moment is None:
            return str(value)
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if f.type is FieldType.DATE:
        return str(value)[:10]
    if f.vendor_type in LOOKUPS:
        return str(value).lower()
    return str(value)


__all__ = ["DynamicsAdapter", "api_root", "dynamics_error", "environment_url"]
