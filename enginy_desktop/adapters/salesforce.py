"""Salesforce: the REST API (one version, :data:`.salesforce_wire.API_VERSION`) for Contacts, Accounts, Users and
Tasks. (``apis/crm_apis.md`` §4; ``specs/salesforce``; wire details in :mod:`.salesforce_wire`.)

- Sign-in: OAuth 2.0 web-server flow with PKCE from a desktop app (RFC 8252 loopback, the callback
  ``http://localhost:1717/OauthRedirect``) against ``login.salesforce.com``, ``test.salesforce.com`` or the org's
  My Domain, with the user's own connected app / external client app (client secret optional: public clients
  omit it). API calls go to the ``instance_url`` of the token answer. Access tokens are renewed with the refresh
  token after ``INVALID_SESSION_ID`` (once); a refused renewal says "sign in again".
  https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm
- A contact's company is its ``AccountId`` (``CompanyLink.FIELD``), written in the contact's own write.
- Reads and matching through SOQL (``IN`` lists chunked under the URI limit, ``nextRecordsUrl`` paging); writes
  through sObject Collections, 200 records per request with ``allOrNone=false``; upsert on external-ID fields.
- Activities are Tasks (``TaskSubtype`` Email / Call / Task for notes), completed, with ``WhoId``, ``WhatId``,
  ``OwnerId`` and ``ActivityDate``.
- The daily API request allocation: ``Sforce-Limit-Info`` on every answer, ``GET /limits`` before a run;
  ``403 REQUEST_LIMIT_EXCEEDED`` stops a run resumably (:class:`QuotaExhaustedError`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

from . import salesforce_wire as wire
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
    MissingScopeError,
    Operation,
    RateLimit,
    RecordError,
    RecordInput,
    TokenSet,
    WriteResult,
    parse_datetime,
    several_values,
)
from .http import ApiClient, OAuthRefreshAuth, Reply, RetryPolicy, SlidingWindowLimiter, bearer_auth
from .oauth import OAuthProvider
from .spellings import spellings

log = logging.getLogger(__name__)

# Salesforce has no short request window, only the daily allocation and 25 concurrent long requests; the limiter
# keeps a run polite all the same.
RATE_LIMIT = RateLimit(25, 1.0)
RELATIONS_STATE = "account_contact_relations"  # "on" / "off": what the Contact describe said last
PRIMARY = AssociationType("AccountId", "FIELD", "Primary account", primary=True)
RELATED = AssociationType("AccountContactRelation", "RELATION", "Related account (indirect)")
ACCOUNT_NAME = "Account.Name"  # a relationship field of contacts, read for matching by company name
# With Contacts to Multiple Accounts, the names of a contact's other (indirect) accounts come in the same query: a
# parent-to-child sub-query on the Contact's AccountContactRelations, answered per contact as a query result of its
# own ({totalSize, done, records}; null when there is none). The direct relation is the primary account, whose
# name Account.Name already gives. Sub-queries:
# https://developer.salesforce.com/docs/platform/salesforce-soql-sosl/guide/sforce-api-calls-soql-relationships-query-using.md
# their answers: https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_results.htm
RELATED_NAMES = "AccountContactRelations"
RELATED_NAMES_QUERY = "(SELECT Account.Name FROM AccountContactRelations WHERE IsDirect = false)"
INDIRECT_RELATIONS_COUNT = "SELECT COUNT() FROM AccountContactRelation WHERE IsDirect = false"  # the children it reads
IDENTIFIER_FIELDS: dict[CrmObject, dict[str, str]] = {
    CrmObject.CONTACTS: {"first_name": "FirstName", "last_name": "LastName", "email": "Email",
                         "company_name": ACCOUNT_NAME},
    CrmObject.COMPANIES: {"name": "Name", "domain": "Website"},
}
DISPLAY_FIELDS: dict[CrmObject, tuple[str, ...]] = {
    CrmObject.CONTACTS: ("FirstName", "LastName", "Email"),
    CrmObject.COMPANIES: ("Name", "Website"),
}
SUBTYPES: dict[ActivityKind, str] = {ActivityKind.EMAIL: "Email", ActivityKind.CALL: "Call", ActivityKind.NOTE: "Task"}


class SalesforceAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "salesforce"
    name = "Salesforce"
    throttle_signal = "403 REQUEST_LIMIT_EXCEEDED"  # Salesforce throttles with a 403, never a 429

    def __init__(self, api: ApiClient, *, auth_kind: str = "oauth", daily_allocation: int | None = None,
                 usage: list[tuple[int, int]] | None = None, leads: bool = False, relations: bool | None = None,
                 remember: Callable[[str, str], None] | None = None) -> None:
        self.api = api
        # Contacts to Multiple Accounts (AccountContactRelation): seen in the Contact describe's child
        # relationships, and remembered between runs of the program (a run knows it before its first request).
        self._relations = relations
        self._remember = remember
        # People go in as Leads (their company as the Lead's Company text) instead of Contacts with an Account.
        self.leads = leads
        self._usage_box = usage if usage is not None else []  # the last Sforce-Limit-Info (used, allocation)
        self.auth_kind = auth_kind
        self._describe: dict[CrmObject, dict[str, CrmField]] = {}
        self._describe_lock = asyncio.Lock()
        self._usage: tuple[int, int] | None = None
        self._daily = daily_allocation
        self._exhausted = False

    # -- opening ------------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        session = connection.get_secret("access_token")
        base_url = connection.setting("base_url").rstrip("/")
        auth: Any
        if session:
            auth, kind = bearer_auth(session), "session"
        else:
            raw = connection.get_secret("oauth_token")
            client_id = connection.setting("client_id")
            if not raw or not client_id:
                raise AuthError("Salesforce is not connected: in the window, enter your connected app's consumer key "
                                "and sign in with Salesforce (Integrations → Salesforce); on the command line, save "
                                "a session: run `sf org display --target-org YOUR_ORG` and pass its Access Token to "
                                "`enginy-desktop connect salesforce --secret-stdin access_token`.",
                                vendor="salesforce")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved Salesforce sign-in is unreadable. " + wire.sign_in_again("oauth"),
                                vendor="salesforce") from None
            base_url = tokens.api_url.rstrip("/") or base_url
            auth = OAuthRefreshAuth(
                tokens, token_url=f"{_login_url(connection)}/services/oauth2/token", client_id=client_id,
                client_secret=connection.get_secret("client_secret") or "",
                on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()))
            kind = "oauth"
        if not base_url:
            raise AuthError("The Salesforce org's address is unknown: sign in with Salesforce again (or set the API "
                            "base URL to your My Domain URL).", vendor="salesforce")
        usage: list[tuple[int, int]] = []

        def rate_info(reply: Reply) -> Any:
            found = wire.api_usage(reply)
            if found:
                usage.append(found)
                del usage[:-1]
            return wire.rate_info(reply)

        api = ApiClient("salesforce", base_url, vendor_name="Salesforce", auth=auth,
                        limiter=SlidingWindowLimiter(RATE_LIMIT, name="Salesforce"),
                        retry=retry if isinstance(retry, RetryPolicy) else None, transport=transport,
                        error_hook=wire.salesforce_error, rate_info=rate_info)
        daily = _positive(connection.setting("daily_api_requests"))
        leads = connection.setting("contact_object", "Contacts").casefold() in ("leads", "lead")
        known = connection.load_state(RELATIONS_STATE) if connection.load_state is not None else None
        return cls(api, auth_kind=kind, daily_allocation=daily, usage=usage, leads=leads,
                   relations={"on": True, "off": False}.get(str(known or "")), remember=connection.save_state)

    def _sobject(self, object: CrmObject) -> str:
        return "Lead" if self.leads and object is CrmObject.CONTACTS else wire.OBJECTS[object]

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        client_id = connection.setting("client_id")
        if not client_id:
            raise AuthError("Enter the consumer key (client ID) of your Salesforce connected app or external client "
                            "app before signing in.", vendor="salesforce")
        login = _login_url(connection)
        return OAuthProvider(
            name="Salesforce",
            authorize_url=f"{login}/services/oauth2/authorize",
            token_url=f"{login}/services/oauth2/token",
            client_id=client_id,
            client_secret=connection.get_secret("client_secret") or "",
            scopes=wire.SCOPES,
            redirect_host="localhost",
            redirect_port=wire.OAUTH_REDIRECT_PORT,
            redirect_path=wire.OAUTH_REDIRECT_PATH,
        )

    @property
    def capabilities(self) -> Capabilities:
        upsert_keys = {obj: frozenset(f.name for f in fields.values() if f.vendor_type.endswith(":external_id"))
                       for obj, fields in self._describe.items()}
        per_day = self._per_day()
        return Capabilities(
            max_batch={
                Operation.READ: wire.COLLECTION,
                Operation.CREATE: wire.COLLECTION,
                Operation.UPDATE: wire.COLLECTION,
                Operation.UPSERT: wire.COLLECTION,
                Operation.SEARCH_PAGE: 2000,
                Operation.SEARCH_IN_VALUES: wire.COLLECTION,
                Operation.SCAN_PAGE: 2000,
                Operation.ASSOCIATION_READ: wire.COLLECTION,
                Operation.ASSOCIATION_WRITE: wire.COLLECTION,
                Operation.ACTIVITY: wire.COLLECTION,
            },
            upsert=True,
            upsert_keys=upsert_keys,
            multiple_companies=self.relations,
            primary_company=True,
            companies_note=self._companies_note(),
            search_in=True,
            rate_limit=RATE_LIMIT,
            daily_limit=per_day,
            throttle_status=403,
            company_link=CompanyLink.FIELD,
            company_field="" if self.leads else "AccountId",  # a Lead's company is its Company text
            search_folds_case=True,
            budget=DailyBudget(BudgetUnit.REQUESTS, per_day),
            concurrency=4,
        )

    @property
    def relations(self) -> bool:
        """Whether contacts may be related to accounts besides their primary one (AccountContactRelation)."""
        return bool(self._relations) and not self.leads

    def _companies_note(self) -> str:
        if self.leads:
            return ("People go in as Leads, whose company is the Lead's Company text: a Lead has no account to "
                    "associate.")
        if self._relations is False:
            return ("Why: “Contacts to Multiple Accounts” is off in this Salesforce org. An admin can turn it on in "
                    "Setup → Account Settings (Allow users to relate a contact to multiple accounts); then read "
                    "Salesforce's fields again (Refresh in the wizard, or `enginy-desktop crm-fields --object "
                    "contacts`), and additional companies become related accounts.")
        return ""

    def opening_requests(self, objects: Collection[CrmObject]) -> int:
        """A newly opened connection reads each object's describe once before writing it."""
        return len(set(objects))

    def _per_day(self) -> int:
        usage = self._usage_box[-1] if self._usage_box else self._usage
        if usage:
            return usage[1]
        return self._daily or wire.DEFAULT_DAILY

    async def budget_left(self) -> BudgetLeft:
        """``GET /limits`` (``DailyApiRequests``): the org's allocation and what is left of it now."""
        data = await self._json("GET", f"{wire.DATA}/limits")
        daily = (data or {}).get("DailyApiRequests") or {}
        maximum, remaining = int(daily.get("Max") or self._per_day()), int(daily.get("Remaining") or 0)
        self._usage = (maximum - remaining, maximum)
        return BudgetLeft(BudgetUnit.REQUESTS, remaining, maximum, None)

    # -- plumbing -----------------------------------------------------------------------------------------------
    async def _json(self, method: str, path: str, **kw: Any) -> Any:
        try:
            reply = await self.api.request(method, path, **kw)
        except AuthError as exc:
            gone = exc.status == 401 or "INVALID_SESSION_ID" in exc.message or "sign in" in exc.message.lower() \
                or "sign-in" in exc.message.lower()
            if gone and not isinstance(exc, MissingScopeError) and "enginy-desktop connect" not in exc.message:
                # An expired or revoked sign-in: say what to do, in the window and on the command line.
                exc.message = f"{exc.message} {wire.sign_in_again(self.auth_kind)}"
                exc.args = (exc.message,)
            raise
        return reply.json_or_none()

    async def _query(self, soql: str) -> AsyncIterator[list[dict[str, Any]]]:
        """Pages of a SOQL query's records (flattened), following ``nextRecordsUrl`` (a sub-query's own results
        too, where a record has more children than came with it)."""
        data = await self._json("GET", f"{wire.DATA}/query", params={"q": soql})
        while True:
            records = [wire.flatten(r) for r in (data or {}).get("records") or [] if isinstance(r, dict)]
            for record in records:
                await self._all_children(record)
            if records:
                yield records
            following = (data or {}).get("nextRecordsUrl")
            if (data or {}).get("done", True) or not following:
                return
            data = await self._json("GET", str(following))

    async def _all_children(self, record: dict[str, Any]) -> None:
        """A sub-query's result that is not done (many children) gets its remaining records, in place."""
        for name, value in record.items():
            if isinstance(value, dict) and value.get("done") is False and value.get("nextRecordsUrl"):
                rows = list(value.get("records") or [])
                following: Any = value["nextRecordsUrl"]
                while following:
                    more = await self._json("GET", str(following)) or {}
                    rows.extend(more.get("records") or [])
                    following = None if more.get("done", True) else more.get("nextRecordsUrl")
                record[name] = {**value, "done": True, "records": rows}

    # -- who am I, what is there ---------------------------------------------------------------------------------
    async def check(self) -> CrmIdentity:
        """The signed-in user (``/services/oauth2/userinfo``), the org's name and edition (SOQL on Organization),
        and the daily API allocation (``/limits``)."""
        me = await self._json("GET", "/services/oauth2/userinfo") or {}
        org: dict[str, Any] = {}
        async for page in self._query("SELECT Id, Name, OrganizationType, IsSandbox FROM Organization LIMIT 1"):
            org = page[0]
        await self._describe_of(CrmObject.CONTACTS)
        left = await self.budget_left()
        name = str(org.get("Name") or me.get("organization_id") or "Salesforce org")
        edition = str(org.get("OrganizationType") or "")
        user = str(me.get("preferred_username") or me.get("email") or me.get("name") or "")
        how = "Salesforce sign-in (OAuth)" if self.auth_kind == "oauth" else "a session token"
        details = (f"Connected to the Salesforce org {name}" + (f" ({edition}" + (", sandbox" if org.get("IsSandbox")
                                                                               else "") + ")" if edition else "")
                   + (f" as {user}" if user else "") + f" with {how}, on REST API {wire.API_VERSION}. "
                   f"{'Leads' if self.leads else 'Contacts'}, Accounts and Users are readable. "
                   + ("" if self.leads else "Contacts to Multiple Accounts: " + (
                       "on (additional companies become related accounts). " if self.relations
                       else "off (one account per contact). "))
                   + "Daily API requests: "
                   f"{left.remaining:,} of "
                   f"{left.per_day or 0:,} left.")
        return CrmIdentity(crm=self.key, account_id=str(org.get("Id") or me.get("organization_id") or ""),
                           account_name=name, user=user or how, details=details)

    async def _describe_of(self, object: CrmObject) -> dict[str, CrmField]:
        async with self._describe_lock:
            if object not in self._describe:
                data = await self._json("GET", f"{wire.DATA}/sobjects/{self._sobject(object)}/describe")
                if object is CrmObject.CONTACTS and not self.leads:
                    self._seen_relations(data)
                found: dict[str, CrmField] = {}
                for item in (data or {}).get("fields") or []:
                    f = wire.to_field(item, object) if isinstance(item, dict) else None
                    if f is not None:
                        found[f.name] = f
                self._describe[object] = found
            return self._describe[object]

    def _seen_relations(self, describe: Any) -> None:
        """Contacts to Multiple Accounts is on where the Contact describe lists AccountContactRelation among its
        child relationships (the object exists only then)."""
        children = (describe or {}).get("childRelationships") or []
        on = any(isinstance(c, dict) and c.get("childSObject") == wire.RELATION for c in children)
        if on != self._relations and self._remember is not None:
            try:
                self._remember(RELATIONS_STATE, "on" if on else "off")
            except Exception:  # a fact kept for later: failing to keep it must not fail the call
                log.warning("Could not keep whether Salesforce relates contacts to several accounts", exc_info=True)
        self._relations = on

    async def _relations_known(self) -> bool:
        if self._relations is None and not self.leads:
            await self._describe_of(CrmObject.CONTACTS)
        return self.relations

    async def fields(self, object: CrmObject) -> list[CrmField]:
        found = dict(await self._describe_of(object))
        if object is CrmObject.CONTACTS and not self.leads:
            about = ("The names of the contact's accounts: its primary account and the accounts it is related to "
                     "(read for matching)." if self.relations else "The name of the contact's account (read for "
                     "matching).")
            found[ACCOUNT_NAME] = CrmField(ACCOUNT_NAME, "Account name", FieldType.TEXT, object, read_only=True,
                                           description=about)
        return sorted(found.values(), key=lambda f: f.label.casefold())

    async def users(self) -> list[CrmUser]:
        users: list[CrmUser] = []
        async for page in self._query("SELECT Id, Username, Email, FirstName, LastName, IsActive FROM User "
                                      "WHERE IsActive = true ORDER BY Id"):
            for u in page:
                users.append(CrmUser(id=str(u.get("Id")), email=str(u.get("Email") or u.get("Username") or ""),
                                     first_name=str(u.get("FirstName") or ""), last_name=str(u.get("LastName") or ""),
                                     active=bool(u.get("IsActive", True))))
        return users

    # -- declarations -------------------------------------------------------------------------------------------
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        """Standard fields for names, e-mail, the account's name and website; LinkedIn is no standard field, so the
        org's own URL or text field labelled LinkedIn plays that role once describe has been read."""
        roles = dict(IDENTIFIER_FIELDS[object])
        if self.leads and object is CrmObject.CONTACTS:
            roles["company_name"] = "Company"
        linkedin = [f for f in (self._describe.get(object) or {}).values()
                    if "linkedin" in f.label.casefold() and f.type in (FieldType.URL, FieldType.TEXT)
                    and not f.read_only]
        if linkedin:
            roles["linkedin_url"] = linkedin[0].name
        return roles

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object]

    def owner_field(self, object: CrmObject) -> str | None:
        return "OwnerId"

    def unique_fields(self, object: CrmObject) -> frozenset[str]:
        return frozenset(f.name for f in (self._describe.get(object) or {}).values()
                         if f.vendor_type.endswith(":external_id"))

    # -- reading ------------------------------------------------------------------------------------------------
    def _select(self, object: CrmObject, properties: Sequence[str]) -> str:
        known = self._describe.get(object) or {}
        names = ["Id", "CreatedDate", "LastModifiedDate"]
        for p in properties:
            if p in known or (p == ACCOUNT_NAME and not (self.leads and object is CrmObject.CONTACTS)):
                names.append(wire.field_name(p))
        if ACCOUNT_NAME in names and object is CrmObject.CONTACTS and self.relations:
            names.append(RELATED_NAMES_QUERY)  # the other accounts' names, in the same call
        # Names come from describe (checked by wire.field_name); values are quoted by wire.quote.
        return f"SELECT {', '.join(dict.fromkeys(names))} FROM {self._sobject(object)}"  # noqa: S608

    def _record(self, item: Mapping[str, Any], object: CrmObject) -> CrmRecord:
        known = self._describe.get(object) or {}
        props: dict[str, Any] = {}
        for name, value in item.items():
            if name in ("Id", "CreatedDate", "LastModifiedDate", RELATED_NAMES):
                continue
            f = known.get(name)
            props[name] = wire.from_wire(f.type if f else FieldType.TEXT, value)
        if RELATED_NAMES in item:
            props[ACCOUNT_NAME] = _account_names(props.get(ACCOUNT_NAME), item[RELATED_NAMES])
        return CrmRecord(id=str(item.get("Id")), object=object, properties=props,
                         created_at=parse_datetime(_iso(item.get("CreatedDate"))),
                         updated_at=parse_datetime(_iso(item.get("LastModifiedDate"))))

    async def _where_in(self, object: CrmObject, name: str, values: Sequence[str], properties: Sequence[str],
                        extra: str = "") -> AsyncIterator[list[CrmRecord]]:
        await self._describe_of(object)
        head = f"{self._select(object, properties)} WHERE {extra}"
        for soql in wire.in_chunks(head, wire.field_name(name), [str(v) for v in values if str(v)]):
            async for page in self._query(soql):
                yield [self._record(i, object) for i in page]

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        records: list[CrmRecord] = []
        async for page in self._where_in(object, "Id", [i for i in ids if _is_id(i)], properties):
            records.extend(page)
        return records

    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self.search_all(object, {property: values}, properties):
            yield page

    async def search_all(self, object: CrmObject, filters: Mapping[str, Sequence[str]],
                         properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """``first IN (…) AND other IN (…)…`` (SOQL ``=`` on text ignores case); URL fields are asked in the
        spellings websites are typed with (``https://``, ``www.``, a trailing slash)."""
        known = await self._describe_of(object)
        items = list(filters.items())
        wanted = list(dict.fromkeys([*properties, *filters]))
        conditions = []
        for name, values in items[1:]:
            spelled = spellings(known.get(name), values)
            if spelled:
                conditions.append(next(wire.in_chunks("", wire.field_name(name), spelled, max_values=10_000,
                                                      max_chars=100_000)))
        extra = "".join(f"{c} AND " for c in conditions)
        first, values = items[0]
        async for page in self._where_in(object, first, spellings(known.get(first), values), wanted, extra):
            yield page

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        await self._describe_of(object)
        async for page in self._query(f"{self._select(object, properties)} ORDER BY Id"):
            yield [self._record(i, object) for i in page]

    async def changed_since(self, object: CrmObject, since: datetime,
                            properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        await self._describe_of(object)
        moment = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
        soql = f"{self._select(object, properties)} WHERE LastModifiedDate >= {moment:%Y-%m-%dT%H:%M:%SZ} ORDER BY Id"
        async for page in self._query(soql):
            yield [self._record(i, object) for i in page]

    async def count(self, object: CrmObject) -> int | None:
        return await self._count(f"SELECT COUNT() FROM {self._sobject(object)}")  # noqa: S608 - a fixed name

    async def _count(self, soql: str) -> int:
        data = await self._json("GET", f"{wire.DATA}/query", params={"q": soql})
        return int((data or {}).get("totalSize") or 0)

    async def listed_records(self, object: CrmObject, properties: Sequence[str], total: int) -> int:
        """The contacts and, where their related accounts' names come in the same query (:data:`RELATED_NAMES_QUERY`),
        those relations too: Salesforce counts a sub-query's children toward the 2,000 records of a batch. One
        ``COUNT()`` of the indirect relations."""
        if object is CrmObject.CONTACTS and ACCOUNT_NAME in properties and await self._relations_known():
            return total + await self._count(INDIRECT_RELATIONS_COUNT)
        return total

    async def count_changed_since(self, object: CrmObject, since: datetime) -> int | None:
        moment = (since if since.tzinfo else since.replace(tzinfo=UTC)).astimezone(UTC)
        soql = (f"SELECT COUNT() FROM {self._sobject(object)} "  # noqa: S608 - a fixed object name and a date
                f"WHERE LastModifiedDate >= {moment:%Y-%m-%dT%H:%M:%SZ}")
        data = await self._json("GET", f"{wire.DATA}/query", params={"q": soql})
        return int((data or {}).get("totalSize") or 0)

    async def prepare_read(self, object: CrmObject) -> None:
        await self._describe_of(object)

    # -- writes -------------------------------------------------------------------------------------------------
    def _body(self, object: CrmObject, props: Mapping[str, Any]) -> dict[str, Any]:
        known = self._describe.get(object) or {}
        body: dict[str, Any] = {"attributes": {"type": self._sobject(object)}}
        for name, value in props.items():
            f = known.get(name)
            if f is None:
                raise ValueError(f"Salesforce {self._sobject(object)}s have no field “{name}” (or this user cannot see "
                                 "it: field-level security)")
            if f.read_only:
                raise ValueError(f"{f.label} ({name}) cannot be written in Salesforce")
            body[name] = wire.to_wire(f.type, value)
        return body

    async def _collection(self, method: str, path: str, inputs: Sequence[tuple[str, str, dict[str, Any] | None]],
                          *, created: bool | None, idempotent: bool) -> list[WriteResult]:
        """One sObject Collections request per 200 bodies; ``inputs`` are (key, id, body or None when the body
        could not be made: its failure is already decided)."""
        results: list[WriteResult] = []
        try:
            for start in range(0, len(inputs), wire.COLLECTION):
                chunk = inputs[start:start + wire.COLLECTION]
                sendable = [(k, i, b) for k, i, b in chunk if b is not None]
                answers: list[Any] = []
                if sendable:
                    data = await self._json(method, path, json={"allOrNone": False,
                                                                "records": [b for _k, _i, b in sendable]},
                                            idempotent=idempotent)
                    answers = data if isinstance(data, list) else []
                it = iter(answers)
                for key, rid, body in chunk:
                    if body is None:
                        continue
                    answer = next(it, None)
                    if not isinstance(answer, dict):
                        results.append(WriteResult.failure(key, RecordError("Salesforce gave no answer for this "
                                                                            "record.", code="NO_RESULT"), id=rid))
                    elif answer.get("success"):
                        made = answer.get("created") if created is None else created
                        results.append(WriteResult.success(key, str(answer.get("id") or rid), created=made))
                    else:
                        errors = answer.get("errors") or []
                        error = wire.record_error(errors[0]) if errors else RecordError("Salesforce refused it.")
                        results.append(WriteResult.failure(key, error, id=rid))
        except AdapterError as exc:
            exc.completed = results + exc.completed
            raise
        return results

    def _prepared(self, object: CrmObject, records: Sequence[RecordInput], with_id: bool
                  ) -> tuple[list[tuple[str, str, dict[str, Any] | None]], dict[str, WriteResult]]:
        inputs: list[tuple[str, str, dict[str, Any] | None]] = []
        refused: dict[str, WriteResult] = {}
        for n, r in enumerate(records):
            key = r.key or str(n)
            try:
                body = self._body(object, r.properties)
                if with_id:
                    if not _is_id(r.id) or r.id_property:
                        raise ValueError("Salesforce updates records by their 15- or 18-character id")
                    body["Id"] = r.id
            except ValueError as exc:
                refused[key] = WriteResult.failure(r.key, RecordError(str(exc), code="INVALID_VALUE"), id=r.id)
                inputs.append((key, r.id, None))
                continue
            inputs.append((key, r.id, body))
        return inputs, refused

    @staticmethod
    def _in_order(inputs: Sequence[tuple[str, str, Any]], sent: list[WriteResult],
                  refused: Mapping[str, WriteResult]) -> list[WriteResult]:
        it = iter(sent)
        out = []
        for key, _rid, body in inputs:
            out.append(refused[key] if body is None else next(it))
        return out

    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._describe_of(object)
        inputs, refused = self._prepared(object, records, with_id=False)
        sent = await self._collection("POST", f"{wire.DATA}/composite/sobjects", inputs, created=True,
                                      idempotent=False)
        return self._in_order(inputs, sent, refused)

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._describe_of(object)
        inputs, refused = self._prepared(object, records, with_id=True)
        sent = await self._collection("PATCH", f"{wire.DATA}/composite/sobjects", inputs, created=False,
                                      idempotent=True)
        return self._in_order(inputs, sent, refused)

    async def upsert(self, object: CrmObject, records: Sequence[RecordInput], id_property: str
                     ) -> list[WriteResult]:
        """``PATCH composite/sobjects/{SObject}/{ExternalIdField}`` (each input's ``id`` holds the value)."""
        known = await self._describe_of(object)
        f = known.get(id_property)
        if f is None or not f.vendor_type.endswith(":external_id"):
            return [WriteResult.failure(r.key, RecordError(f"{id_property} is not an external ID field in Salesforce "
                                                           "(upsert needs one).", code="NOT_EXTERNAL_ID"))
                    for r in records]
        inputs: list[tuple[str, str, dict[str, Any] | None]] = []
        refused: dict[str, WriteResult] = {}
        for n, r in enumerate(records):
            key = r.key or str(n)
            try:
                body = self._body(object, {k: v for k, v in r.properties.items() if k != id_property})
                body[id_property] = r.id or str(r.properties.get(id_property) or "")
            except ValueError as exc:
                refused[key] = WriteResult.failure(r.key, RecordError(str(exc), code="INVALID_VALUE"))
                inputs.append((key, "", None))
                continue
            inputs.append((key, "", body))
        sent = await self._collection(
            "PATCH", f"{wire.DATA}/composite/sobjects/{self._sobject(object)}/{wire.field_name(id_property)}",
            inputs, created=None, idempotent=True)
        return self._in_order(inputs, sent, refused)

    # -- the companies of a contact: its AccountId, and AccountContactRelation where the org has it -------------------
    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        """The primary account (``AccountId``, the direct relation) and, with Contacts to Multiple Accounts, the
        indirect ``AccountContactRelation`` accounts: one SOQL query per 200 contacts."""
        found: dict[str, list[Association]] = {str(i): [] for i in ids}
        if (from_object, to_object) != (CrmObject.CONTACTS, CrmObject.COMPANIES) or self.leads:
            return found  # a Lead has no account: its company is the Company text
        contacts = [i for i in found if _is_id(i)]
        if await self._relations_known():
            for rel in await self._relation_rows(contacts):
                contact = self._key_of(found, str(rel.get("ContactId") or ""))
                if contact is not None and rel.get("AccountId"):
                    kind = PRIMARY if rel.get("IsDirect") else RELATED
                    found[contact].append(Association(from_object, contact, to_object, str(rel["AccountId"]),
                                                      (kind,)))
            for links in found.values():
                links.sort(key=lambda a: not a.primary)
            return found
        for soql in wire.in_chunks("SELECT Id, AccountId FROM Contact WHERE ", "Id", contacts):
            async for page in self._query(soql):
                for rec in page:
                    contact = self._key_of(found, str(rec.get("Id") or ""))
                    if contact is not None and rec.get("AccountId"):
                        found[contact] = [Association(from_object, contact, to_object, str(rec["AccountId"]),
                                                      (PRIMARY,))]
        return found

    @staticmethod
    def _key_of(found: Mapping[str, Any], rid: str) -> str | None:
        if rid in found:
            return rid
        return next((k for k in found if _same_id(k, rid)), None)

    async def _relation_rows(self, contacts: Sequence[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        head = f"SELECT Id, AccountId, ContactId, IsDirect FROM {wire.RELATION} WHERE "  # noqa: S608 - fixed names
        for soql in wire.in_chunks(head, "ContactId", contacts):
            async for page in self._query(soql):
                rows.extend(page)
        return rows

    def _refused_for_leads(self, links: Sequence[AssociationInput]) -> list[WriteResult]:
        return [WriteResult.failure(link.key, RecordError(
            "Leads have no account in Salesforce: their company is the Lead's Company field (map the company "
            "name to it), so export Leads without associated companies.", code="LEAD_HAS_NO_ACCOUNT"),
            id=link.to_id) for link in links]

    async def _set_accounts(self, links: Sequence[AssociationInput], accounts: Sequence[str | None]
                            ) -> list[WriteResult]:
        if self.leads:
            return self._refused_for_leads(links)
        inputs: list[tuple[str, str, dict[str, Any] | None]] = []
        refused: dict[str, WriteResult] = {}
        for n, (link, account) in enumerate(zip(links, accounts, strict=True)):
            key = link.key or str(n)
            if not _is_id(link.from_id) or (account is not None and not _is_id(account)):
                refused[key] = WriteResult.failure(link.key, RecordError("Not a Salesforce id.", code="INVALID_ID"),
                                                   id=link.to_id)
                inputs.append((key, link.to_id, None))
            else:
                inputs.append((key, link.to_id, {"attributes": {"type": "Contact"}, "Id": link.from_id,
                                                 "AccountId": account}))
        sent = await self._collection("PATCH", f"{wire.DATA}/composite/sobjects", inputs, created=False,
                                      idempotent=True)
        return self._in_order(inputs, sent, refused)

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """``PRIMARY`` (or an org without Contacts to Multiple Accounts): sets each contact's ``AccountId``, its
        primary account (Salesforce keeps the previous one as an indirect relation where the org relates contacts
        to several accounts). ``ADDITIONAL``: an ``AccountContactRelation`` per link (sObject Collections, 200 a
        request); a contact without any account gets the account as its primary one instead (Salesforce relates
        no other account to a private contact)."""
        if self.leads:
            return self._refused_for_leads(links)
        if kind is AssociationKind.PRIMARY or not await self._relations_known():
            results = await self._set_accounts(links, [link.to_id for link in links])
            return [WriteResult.success(r.key, link.to_id) if r.ok else r
                    for r, link in zip(results, links, strict=True)]
        inputs: list[tuple[str, str, dict[str, Any] | None]] = []
        refused: dict[str, WriteResult] = {}
        for n, link in enumerate(links):
            key = link.key or str(n)
            if not _is_id(link.from_id) or not _is_id(link.to_id):
                refused[key] = WriteResult.failure(link.key, RecordError("Not a Salesforce id.", code="INVALID_ID"),
                                                   id=link.to_id)
                inputs.append((key, link.to_id, None))
            else:
                inputs.append((key, link.to_id, {"attributes": {"type": wire.RELATION}, "AccountId": link.to_id,
                                                 "ContactId": link.from_id}))
        sent = self._in_order(inputs, await self._collection("POST", f"{wire.DATA}/composite/sobjects", inputs,
                                                             created=True, idempotent=False), refused)
        out: list[WriteResult] = []
        private: list[int] = []
        for n, (r, link) in enumerate(zip(sent, links, strict=True)):
            code = r.error.code if r.error is not None else ""
            if r.ok or code == "DUPLICATE_VALUE":  # made now, or related already
                out.append(WriteResult.success(r.key, link.to_id))
            else:
                if code == "FIELD_INTEGRITY_EXCEPTION":
                    private.append(n)
                out.append(r)
        if private:
            primary = await self._set_accounts([links[n] for n in private], [links[n].to_id for n in private])
            for n, r in zip(private, primary, strict=True):
                out[n] = WriteResult.success(r.key, links[n].to_id) if r.ok else r
        return out

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """An indirect relation is deleted (``DELETE composite/sobjects?ids=…``); the primary account is cleared
        from ``AccountId`` where it still names that account (a contact moved meanwhile keeps its new one). One
        SOQL query per 200 links says which is which."""
        if self.leads:
            return self._refused_for_leads(links)
        primary: list[AssociationInput] = []
        related: dict[str, AssociationInput] = {}  # relation id -> link
        contacts = list(dict.fromkeys(link.from_id for link in links if _is_id(link.from_id)))
        if await self._relations_known():
            rows = {(str(r.get("ContactId"))[:15], str(r.get("AccountId"))[:15]): r
                    for r in await self._relation_rows(contacts)}
            for link in links:
                row = rows.get((link.from_id[:15], link.to_id[:15]))
                if row is not None and row.get("IsDirect"):
                    primary.append(link)
                elif row is not None:
                    related[str(row.get("Id"))] = link
        else:
            current = await self.associations(contacts)
            primary = [link for link in links
                       if any(_same_id(a.to_id, link.to_id) for a in current.get(link.from_id, []))]
        done: dict[int, WriteResult] = {}
        if primary:
            for link, r in zip(primary, await self._set_accounts(primary, [None] * len(primary)), strict=True):
                done[id(link)] = r
        for start in range(0, len(related), wire.COLLECTION):
            chunk = list(related.items())[start:start + wire.COLLECTION]
            try:
                data = await self._json("DELETE", f"{wire.DATA}/composite/sobjects",
                                        params={"ids": ",".join(rid for rid, _l in chunk), "allOrNone": "false"},
                                        idempotent=True)
            except AdapterError as exc:
                exc.completed = [r for r in done.values()] + exc.completed
                raise
            answers = {str(a.get("id") or ""): a for a in data if isinstance(a, dict)} if isinstance(data, list) \
                else {}
            for rid, link in chunk:
                answer = answers.get(rid) or {}
                errors = answer.get("errors") or []
                if answer.get("success") or (errors and errors[0].get("statusCode") == "ENTITY_IS_DELETED"):
                    done[id(link)] = WriteResult.success(link.key, link.to_id)
                else:
                    error = wire.record_error(errors[0]) if errors else RecordError(
                        "Salesforce gave no answer for this relation.", code="NO_RESULT")
                    done[id(link)] = WriteResult.failure(link.key, error, id=link.to_id)
        out: list[WriteResult] = []
        for link in links:
            result = done.get(id(link))
            out.append(result if result is not None and not result.ok else WriteResult.success(link.key, link.to_id))
        return out

    # -- activities (Tasks) ----------------------------------------------------------------------------------------
    def _task(self, a: Activity) -> dict[str, Any]:
        moment = (a.timestamp if a.timestamp.tzinfo else a.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
        inbound = a.direction is Direction.INBOUND
        default = {ActivityKind.EMAIL: "Email received" if inbound else "Email sent",
                   ActivityKind.CALL: "Inbound call" if inbound else "Call", ActivityKind.NOTE: "Note"}[a.kind]
        task: dict[str, Any] = {"attributes": {"type": "Task"}, "Subject": (a.subject or default)[:255],
                                "TaskSubtype": SUBTYPES[a.kind], "Status": "Completed",
                                "ActivityDate": moment.strftime("%Y-%m-%d")}
        if a.body:
            task["Description"] = a.body[:32_000]
        if a.contact_ids and _is_id(a.contact_ids[0]):
            task["WhoId"] = a.contact_ids[0]
        if a.company_ids and _is_id(a.company_ids[0]) and not self.leads:  # no WhatId with a Lead as WhoId
            task["WhatId"] = a.company_ids[0]
        if _is_id(a.owner_id):
            task["OwnerId"] = a.owner_id
        if a.kind is ActivityKind.CALL:
            task["CallType"] = "Inbound" if inbound else "Outbound"
            if a.duration_seconds is not None:
                task["CallDurationInSeconds"] = max(0, int(a.duration_seconds))
        task.update(a.properties)
        return task

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        inputs = [(a.key or str(n), "", self._task(a)) for n, a in enumerate(activities)]
        sent = await self._collection("POST", f"{wire.DATA}/composite/sobjects", inputs, created=True,
                                      idempotent=False)
        return [WriteResult(key=a.key, ok=r.ok, id=r.id, created=r.created, error=r.error)
                for a, r in zip(activities, sent, strict=True)]

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Tasks of the lookups' contacts (one SOQL per 200 contacts); the one of the same subtype on the same day
        whose subject starts with the lookup's subject is the same."""
        who = [lookup.contact_id for lookup in lookups if _is_id(lookup.contact_id)]
        tasks: list[dict[str, Any]] = []
        head = "SELECT Id, WhoId, Subject, TaskSubtype, ActivityDate FROM Task WHERE "
        for soql in wire.in_chunks(head, "WhoId", who):
            async for page in self._query(soql):
                tasks.extend(page)
        found: dict[str, str] = {}
        taken: set[str] = set()
        for lookup in lookups:
            moment = (lookup.timestamp if lookup.timestamp.tzinfo
                      else lookup.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
            for t in tasks:
                tid = str(t.get("Id"))
                if (tid not in taken and _same_id(str(t.get("WhoId") or ""), lookup.contact_id)
                        and t.get("TaskSubtype") == SUBTYPES[lookup.kind]
                        and str(t.get("ActivityDate") or "") == moment.strftime("%Y-%m-%d")
                        and (not lookup.subject or str(t.get("Subject") or "").startswith(lookup.subject[:255]))):
                    found[lookup.key] = tid
                    taken.add(tid)
                    break
        return found


# -- helpers --------------------------------------------------------------------------------------------------------


def _login_url(connection: Connection) -> str:
    login = connection.setting("login_url", wire.LOGIN_URL).rstrip("/")
    if not login.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        login = "https://" + login.removeprefix("http://")
    return login


def _positive(text: str) -> int | None:
    try:
        value = int(str(text).replace(",", "").strip())
    except ValueError:
        return None
    return value if value > 0 else None


def _account_names(primary: Any, related: Any) -> str | tuple[str, ...] | None:
    """A contact's account names for matching: the primary account's, then its other accounts' (the answer of
    :data:`RELATED_NAMES_QUERY`, null when there are none), once each; a plain name when there is one only."""
    rows = related.get("records") if isinstance(related, dict) else None
    return several_values([primary, *(wire.flatten(row).get(ACCOUNT_NAME) for row in rows or []
                                       if isinstance(row, dict))])


def _is_id(value: object) -> bool:
    text = str(value or "")
    return len(text) in (15, 18) and text.isalnum()


def _same_id(a: str, b: str) -> bool:
    return a[:15] == b[:15] and bool(a)


def _iso(value: object) -> object:
    """Salesforce's ``2025-01-31T09:00:00.000+0000`` in a form ``datetime.fromisoformat`` reads."""
    if isinstance(value, str) and len(value) > 5 and value[-5] in "+-" and value[-3] != ":":
        return value[:-2] + ":" + value[-2:]
    return value


__all__ = ["SalesforceAdapter"]
