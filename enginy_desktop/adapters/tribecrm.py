"""TribeCRM (Efficy) on its OData v4 API at ``/v1/odata``: persons, organisations, the contact relationships
between them, employees as owners, tasks and notes as activities, on the shared OData layer (:mod:`.odata`).

- Sign-in: OAuth 2.0 authorization code at ``https://auth.tribecrm.nl/oauth2/auth`` and ``/oauth2/token`` with the
  user's own application (Configuration > Applications, Authorization Code tab: its redirect URL must be
  ``http://localhost:53682/oauth-callback``), scopes ``read write offline`` (``offline`` gives a refresh token),
  a ``state`` of at least 8 characters; PKCE is sent too (TribeCRM does not document it; a server that ignores it
  is unaffected): https://developer.tribecrm.nl/docs/api/concepts/authentication. Tokens live in the keyring
  and are renewed before expiry and after a 401.
- Or client credentials, for an application of the Client Credentials tab ("server-to-server integrations operating
  at the organizational level", same page): its client ID and secret (the secret in the keyring) are posted as a
  form ``grant_type=client_credentials`` to ``/oauth2/token``, which answers an access token with ``expires_in``
  and no refresh token (https://developer.tribecrm.nl/docs/tutorials/getting-started-postman, Steps 1.1 and 1.3).
  The token is kept in memory only, asked for again a minute before it expires and once after a 401.
- A pasted access token (a Quick Setup token) takes precedence over both, then the client credentials.
- ``$metadata`` (CSDL) is read once per adapter: the fields of persons and organisations, custom fields
  (``_<uuid>``) included, come from it: https://developer.tribecrm.nl/docs/api/concepts/odata
- A person's companies are ``Relationship_Person_Contact_Standard`` records linking the Person to an
  Organisation (M:N, no primary flag): ``CompanyLink.ASSOCIATIONS``, created with ``POST`` and removed with
  ``DELETE``: https://developer.tribecrm.nl/docs/api/relationships/contact
- Owners are employees (``Relationship_Person_Contact_Employee``; ``GetCurrentEmployee()`` is who signed in):
  https://developer.tribecrm.nl/docs/api/relationships/employee
- Matching with ``$filter`` ``eq … or eq …`` chains (TribeCRM supports neither ``in`` nor ``has``).
- Limits: at most 100 records per read (``$top``/``$skip`` paging), no batch and no upsert (one record per call,
  several in flight), 1,000 calls per minute per application on a sliding window, 429 without headers over it
  ("wait at least one minute"): https://developer.tribecrm.nl/docs/api/concepts/rate-limits
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
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
    FieldType,
    NotFoundError,
    Operation,
    RateLimit,
    RateLimitedError,
    RecordError,
    RecordInput,
    TokenSet,
    TransientError,
    ValidationError,
    WriteResult,
    parse_datetime,
    several_values,
)
from .http import (
    ApiClient,
    FetchedTokenAuth,
    OAuthRefreshAuth,
    Reply,
    RetryPolicy,
    SlidingWindowLimiter,
    TokenRequest,
    bearer_auth,
    connection_account,
    parse_retry_after,
    shared_limiter,
)
from .oauth import OAuthProvider
from .spellings import spellings

API_PATH = "/v1/odata"
DEFAULT_API = "https://api.tribecrm.nl"
DEFAULT_AUTH = "https://auth.tribecrm.nl"
SCOPES = ("read", "write", "offline")
REDIRECT_PORT = 53682
REDIRECT_PATH = "/oauth-callback"
RATE_LIMIT = RateLimit(1000, 60.0)  # calls per minute per application, sliding window
# The minute's allowance spread evenly: at most 33 calls sent in any 2 seconds (16.5 per second, 990 per minute,
# whatever the latency: the pace counts a call when it is sent; the minute's limiter, which holds each call until a
# minute after its answer, stays the guard). Without it the first thousand calls would go out in a burst and every
# call after them would wait most of a minute for a slot.
PACE = RateLimit(33, 2.0)
CONCURRENCY = 8  # single writes in flight: enough to keep the pace at a few hundred ms per call
PAGE = 100  # records per read, TribeCRM's maximum
OR_VALUES = 25  # values per ``eq … or eq …`` chain (URLs stay well under the usual limits)
WAIT_AFTER_429 = 60.0  # TribeCRM: "wait at least one minute before retrying"
SETS: dict[CrmObject, str] = {CrmObject.CONTACTS: "Relation_Person", CrmObject.COMPANIES: "Relation_Organization"}
LINK_SET = "Relationship_Person_Contact_Standard"
EMPLOYEES = "Relationship_Person_Contact_Employee"
TASKS = "Activity_Task"
NOTES = "Note"
OWNER_FIELD = "AccountManager"
COMPANY_NAME = "Organization.Name"  # the person's organisations' names, read through the contact relationships
LINK_TYPE = AssociationType(LINK_SET, "Relationship", "Contact", primary=False)
SYSTEM = ("ID", "_Type", "_Name", "SortIndex", "CreationDate", "ModificationDate")
IDENTIFIER_FIELDS: dict[CrmObject, dict[str, str]] = {
    CrmObject.CONTACTS: {"first_name": "FirstName", "last_name": "LastName", "email": "EmailAddress",
                         "company_name": COMPANY_NAME},
    CrmObject.COMPANIES: {"name": "Name", "domain": "Website"},
}
DISPLAY_FIELDS: dict[CrmObject, tuple[str, ...]] = {
    CrmObject.CONTACTS: ("FirstName", "LastName", "EmailAddress"),
    CrmObject.COMPANIES: ("Name", "Website"),
}
EDM_TYPES: dict[str, FieldType] = {
    "Edm.Int16": FieldType.NUMBER, "Edm.Int32": FieldType.NUMBER, "Edm.Int64": FieldType.NUMBER,
    "Edm.Decimal": FieldType.NUMBER, "Edm.Double": FieldType.NUMBER, "Edm.Single": FieldType.NUMBER,
    "Edm.Boolean": FieldType.BOOLEAN, "Edm.Date": FieldType.DATE, "Edm.DateTimeOffset": FieldType.DATETIME,
    "Edm.Guid": FieldType.OTHER,
}
TASK_SUBJECTS = {(ActivityKind.EMAIL, Direction.OUTBOUND): "E-mail sent", (ActivityKind.EMAIL, Direction.INBOUND):
                 "E-mail received", (ActivityKind.CALL, Direction.OUTBOUND): "Call",
                 (ActivityKind.CALL, Direction.INBOUND): "Inbound call"}


def api_root(connection: Connection) -> str:
    base = (connection.setting("base_url") or DEFAULT_API).strip().rstrip("/")
    base = re.sub(r"/v1/odata$", "", base)
    if not base.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        base = "https://" + base.removeprefix("http://")
    return base + API_PATH


def _auth_server(connection: Connection) -> str:
    auth = (connection.setting("auth_url") or DEFAULT_AUTH).strip().rstrip("/")
    auth = re.sub(r"/oauth2(/(auth|token))?$", "", auth)
    if not auth.startswith(("https://", "http://127.0.0.1", "http://localhost")):
        auth = "https://" + auth.removeprefix("http://")
    return auth


def tribe_error(reply: Reply, error: AdapterError) -> AdapterError:
    def refine(code: str, message: str, r: Reply) -> AdapterError | None:
        kw: dict[str, Any] = {"vendor": "tribecrm", "status": r.status}
        if r.status == 429:
            return RateLimitedError("TribeCRM is limiting the number of calls (1,000 per minute per application)"
                                    + (f": {message}" if message else "."),
                                    retry_after=parse_retry_after(r.header("retry-after")) or WAIT_AFTER_429, **kw)
        if r.status == 401:
            return AuthError("TribeCRM did not accept the sign-in (it expired or was revoked). Sign in with "
                             "TribeCRM again in the TribeCRM connection.", **kw)
        if r.status == 403:
            return AuthError(f"TribeCRM refused access: {message or 'the application lacks a permission'}. Check "
                             "that the application has the scopes read, write and offline.", **kw)
        return None

    return odata.classify(reply, error, vendor="tribecrm", vendor_name="TribeCRM", refine=refine)


def client_credentials_auth(token_url: str, client_id: str, secret: str) -> FetchedTokenAuth:
    """Bearer auth with the application's own token (client credentials): asked for on first use, again a minute
    before it expires and once after a 401; never written anywhere."""
    return FetchedTokenAuth(lambda: TokenRequest(token_url, form={"grant_type": "client_credentials",
                                                                  "client_id": client_id, "client_secret": secret}),
                            _client_token, leeway=60.0)


def _client_token(reply: Reply) -> tuple[str, float | None]:
    """The token endpoint's answer to a client-credentials request: ``(access token, expiry)`` or AuthError."""
    body = reply.json_or_none()
    body = body if isinstance(body, dict) else {}
    token = str(body.get("access_token") or "")
    if reply.status == 200 and token:
        lifetime = body.get("expires_in")
        return token, (time.time() + float(lifetime) if isinstance(lifetime, int | float) and lifetime > 0 else None)
    said = str(body.get("error_description") or body.get("error") or f"HTTP {reply.status}")
    kw: dict[str, Any] = {"vendor": "tribecrm", "status": reply.status}
    if reply.status >= 500 or reply.status == 429:
        raise TransientError(f"TribeCRM's sign-in server could not give a token just now ({said}).", **kw)
    if body.get("error") in ("unauthorized_client", "unsupported_grant_type"):
        raise AuthError(f"TribeCRM does not let this application use client credentials ({said}). Create it on the "
                        "Client Credentials tab of Configuration > Applications in TribeCRM.", **kw)
    raise AuthError(f"TribeCRM did not accept the integration client ID and secret ({said}). Copy them again from "
                    "Configuration > Applications > Client Credentials in TribeCRM into the TribeCRM connection.", **kw)


class TribeCrmAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "tribecrm"
    name = "TribeCRM"

    def __init__(self, api: ApiClient, *, auth_kind: str = "oauth") -> None:
        self.api = api
        self.auth_kind = auth_kind
        self._fields: dict[CrmObject, dict[str, CrmField]] = {}
        self._metadata: odata.Metadata | None = None
        self._gate = asyncio.Semaphore(CONCURRENCY)  # writes in flight across every call of this adapter

    # -- opening --------------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        root = api_root(connection)
        token = connection.get_secret("access_token")
        client_id = connection.setting("client_id")
        integration_id = connection.setting("integration_client_id")
        integration_secret = (connection.get_secret("integration_client_secret") or "").strip() if integration_id \
            else ""
        auth: Any
        if token:
            auth, kind, credential = bearer_auth(token), "token", token
        elif integration_id and integration_secret:
            auth = client_credentials_auth(f"{_auth_server(connection)}/oauth2/token", integration_id,
                                           integration_secret)
            kind, credential = "client_credentials", integration_id
        else:
            raw = connection.get_secret("oauth_token")
            if not raw or not client_id:
                raise AuthError("TribeCRM is not connected: in the TribeCRM connection, enter your application's "
                                "client ID and sign in with TribeCRM, or enter the client ID and secret of an "
                                "application of the Client Credentials tab, or paste an access token.",
                                vendor="tribecrm")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved TribeCRM sign-in is unreadable. Sign in with TribeCRM again.",
                                vendor="tribecrm") from None
            auth = OAuthRefreshAuth(tokens, token_url=f"{_auth_server(connection)}/oauth2/token",
                                    client_id=client_id, client_secret=connection.get_secret("client_secret") or "",
                                    on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()))
            kind, credential = "oauth", client_id
        account = connection_account(root, credential)
        limiter = shared_limiter(account, RATE_LIMIT, "TribeCRM")
        pace = _SendPacer(PACE, name="TribeCRM pace")
        api = ApiClient("tribecrm", root, vendor_name="TribeCRM", auth=auth, limiter=limiter, pacers=(pace,),
                        retry=retry if isinstance(retry, RetryPolicy) else None, transport=transport,
                        headers={"OData-MaxVersion": "4.0", "OData-Version": "4.0", "Accept": "application/json"},
                        error_hook=tribe_error,
                        # The per-minute window carried from the previous command to the next.
                        load_state=connection.load_state, save_state=connection.save_state)
        return cls(api, auth_kind=kind)

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        client_id = connection.setting("client_id")
        if not client_id:
            raise AuthError("Enter the client ID of your TribeCRM application (Configuration > Applications > "
                            "Authorization Code) before signing in.", vendor="tribecrm")
        auth = _auth_server(connection)
        return OAuthProvider(
            name="TribeCRM",
            authorize_url=f"{auth}/oauth2/auth",
            token_url=f"{auth}/oauth2/token",
            client_id=client_id,
            client_secret=connection.get_secret("client_secret") or "",
            scopes=SCOPES,
            redirect_host="localhost",
            redirect_port=REDIRECT_PORT,
            redirect_path=REDIRECT_PATH,
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_batch={
                Operation.READ: OR_VALUES,
                Operation.CREATE: 1,
                Operation.UPDATE: 1,
                Operation.UPSERT: 1,
                Operation.SEARCH_PAGE: PAGE,
                Operation.SEARCH_IN_VALUES: OR_VALUES,
                Operation.SCAN_PAGE: PAGE,
                Operation.ASSOCIATION_READ: OR_VALUES,
                Operation.ASSOCIATION_WRITE: OR_VALUES,  # one read of the pairs already linked, then a POST each
                Operation.ACTIVITY: 1,
            },
            upsert=False,
            multiple_companies=True,
            primary_company=False,
            search_in=True,  # as an ``eq … or eq …`` chain
            rate_limit=RATE_LIMIT,
            throttle_status=429,
            company_link=CompanyLink.ASSOCIATIONS,
            # TribeCRM documents its string functions as case-insensitive, not ``eq``: values are also asked as typed.
            search_folds_case=False,
            concurrency=CONCURRENCY,
        )

    # -- what is there --------------------------------------------------------------------------------------------
    async def metadata(self) -> odata.Metadata:
        """The instance's ``$metadata`` (read once), with the entity sets this adapter uses checked."""
        if self._metadata is None:
            self._metadata = await odata.fetch_metadata(self.api, (*SETS.values(), LINK_SET, EMPLOYEES))
        return self._metadata

    async def check(self) -> CrmIdentity:
        """``GetCurrentEmployee()``, ``$metadata`` and the persons' fields."""
        me = (await self.api.request("GET", "/GetCurrentEmployee()",
                                     params={"$expand": "Person($select=FirstName,LastName)"})).json_or_none() or {}
        await self._describe(CrmObject.CONTACTS)
        person: dict[str, Any] = me["Person"] if isinstance(me.get("Person"), dict) else {}
        who = str(me.get("EmailAddress") or " ".join(str(person.get(k) or "") for k in ("FirstName", "LastName"))
                  ).strip()
        how = {"oauth": "TribeCRM sign-in (OAuth)", "client_credentials": "the client credentials of an integration "
               "application"}.get(self.auth_kind, "an access token")
        host = re.sub(r"^https?://", "", self.api.base_url).split("/")[0]
        details = (f"Connected to TribeCRM ({host})" + (f" as {who}" if who else "") + f" with {how}, on the OData "
                   "API v1. Persons, organisations and employees are readable. Limits: 1,000 calls per minute per "
                   "application, 100 records per read, one record per write.")
        return CrmIdentity(crm=self.key, account_name=f"TribeCRM ({host})",
                           user=who or how, details=details)

    async def _describe(self, object: CrmObject) -> dict[str, CrmField]:
        if object in self._fields:
            return self._fields[object]
        meta = await self.metadata()
        entity_set = SETS[object]
        found: dict[str, CrmField] = {}
        for prop in meta.properties(entity_set).values():
            f = _to_field(prop, object)
            if f is not None:
                found[f.name] = f
        if OWNER_FIELD in meta.navigation(entity_set):
            found[OWNER_FIELD] = CrmField(OWNER_FIELD, "Account manager", FieldType.OWNER, object,
                                          description="The employee responsible (an employee's ID).",
                                          vendor_type="NavigationProperty")
        self._fields[object] = found
        return found

    async def fields(self, object: CrmObject) -> list[CrmField]:
        out = list((await self._describe(object)).values())
        if object is CrmObject.CONTACTS:
            out.append(CrmField(COMPANY_NAME, "Organisation name (contact of)", FieldType.TEXT, object,
                                read_only=True, description="The names of the organisations the person is a contact "
                                "of (read for matching)."))
        return sorted(out, key=lambda f: f.label.casefold())

    async def users(self) -> list[CrmUser]:
        users: list[CrmUser] = []
        params = {"$select": "ID,EmailAddress,IsActive", "$expand": "Person($select=FirstName,LastName)",
                  "$orderby": "ID"}
        async for page in odata.skip_pages(self.api, f"/{EMPLOYEES}", params, page_size=PAGE):
            for e in page:
                person: dict[str, Any] = e["Person"] if isinstance(e.get("Person"), dict) else {}
                active = e.get("IsActive") is not False
                if active:
                    users.append(CrmUser(id=str(e.get("ID")), email=str(e.get("EmailAddress") or ""),
                                         first_name=str(person.get("FirstName") or ""),
                                         last_name=str(person.get("LastName") or ""), active=active))
        return users

    # -- declarations ------------------------------------------------------------------------------------------------
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        out = dict(IDENTIFIER_FIELDS[object])
        linkedin = next((f.name for f in (self._fields.get(object) or {}).values()
                         if f.name.startswith("_") and "linkedin" in f.label.casefold()), None)
        if linkedin and object is CrmObject.CONTACTS:
            out["linkedin_url"] = linkedin
        return out

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object]

    def owner_field(self, object: CrmObject) -> str | None:
        return OWNER_FIELD

    # -- reading ---------------------------------------------------------------------------------------------------
    def _params(self, object: CrmObject, properties: Sequence[str], filter: str = "") -> dict[str, str]:
        known = self._fields.get(object) or {}
        names = ["ID", "CreationDate", "ModificationDate"]
        names += [p for p in properties if p in known and p != OWNER_FIELD]
        params = {"$select": ",".join(dict.fromkeys(names)), "$orderby": "ID"}
        if OWNER_FIELD in properties and OWNER_FIELD in known:
            params["$expand"] = f"{OWNER_FIELD}($select=ID)"
        if filter:
            params["$filter"] = filter
        return params

    def _record(self, item: Mapping[str, Any], object: CrmObject) -> CrmRecord:
        props: dict[str, Any] = {}
        for f in (self._fields.get(object) or {}).values():
            if f.name == OWNER_FIELD:
                if OWNER_FIELD in item:
                    ref = item.get(OWNER_FIELD)
                    props[f.name] = str(ref.get("ID")).lower() if isinstance(ref, dict) and ref.get("ID") else None
            elif f.name in item and f.name not in ("ID", "CreationDate", "ModificationDate"):
                props[f.name] = _from_wire(f, item[f.name])
        return CrmRecord(id=str(item.get("ID")).lower(), object=object, properties=props,
                         created_at=parse_datetime(item.get("CreationDate")),
                         updated_at=parse_datetime(item.get("ModificationDate")))

    async def _query(self, object: CrmObject, properties: Sequence[str], filter: str = ""
                     ) -> AsyncIterator[list[CrmRecord]]:
        await self._describe(object)
        async for page in odata.skip_pages(self.api, f"/{SETS[object]}", self._params(object, properties, filter),
                                           page_size=PAGE):
            records = [self._record(i, object) for i in page]
            if object is CrmObject.CONTACTS and COMPANY_NAME in properties:
                records = await self._with_company_names(records)
            yield records

    async def _links(self, person_ids: Sequence[str], *, names: bool = False) -> list[tuple[str, str, str, str]]:
        """(relationship ID, person ID, organisation ID, organisation name) of these persons' contact
        relationships, oldest first."""
        out: list[tuple[str, str, str, str]] = []
        ids = [uuid.UUID(i) for i in dict.fromkeys(person_ids) if odata.is_guid(i)]
        inner = "($select=ID,Name)" if names else "($select=ID)"
        for chunk in odata.chunks_by_length(ids, "Person/ID", most=OR_VALUES):
            params = {"$select": "ID,CreationDate", "$expand": f"Person($select=ID),Relation{inner}",
                      "$filter": odata.eq_any("Person/ID", chunk)}
            async for page in odata.skip_pages(self.api, f"/{LINK_SET}", params, page_size=PAGE):
                for row in sorted(page, key=lambda r: str(r.get("CreationDate") or "")):
                    person, org = row.get("Person"), row.get("Relation")
                    if isinstance(person, dict) and isinstance(org, dict):
                        out.append((str(row.get("ID")).lower(), str(person.get("ID")).lower(),
                                    str(org.get("ID")).lower(), str(org.get("Name") or "")))
        return out

    async def _with_company_names(self, records: list[CrmRecord]) -> list[CrmRecord]:
        """Each person's organisations' names (:func:`_names`), read for the whole page in one look-up of their
        contact relationships."""
        names: dict[str, list[str]] = {}
        for _rid, person, _org, org_name in await self._links([r.id for r in records], names=True):
            names.setdefault(person, []).append(org_name)
        return [CrmRecord(r.id, r.object, {**r.properties, COMPANY_NAME: several_values(names.get(r.id, ()))},
                          r.created_at, r.updated_at) for r in records]

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        out: list[CrmRecord] = []
        wanted = [uuid.UUID(i) for i in dict.fromkeys(ids) if odata.is_guid(i)]
        for chunk in odata.chunks_by_length(wanted, "ID", most=OR_VALUES):
            async for page in self._query(object, properties, odata.eq_any("ID", chunk)):
                out.extend(page)
        return out

    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self.search_all(object, {property: values}, properties):
            yield page

    async def search_all(self, object: CrmObject, filters: Mapping[str, Sequence[str]],
                         properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """``(F eq a or F eq b…) and (G eq …)``; website fields are asked in the spellings they are typed with. The
        organisation's name is compared on what comes back (it lives on the contact relationships)."""
        known = await self._describe(object)
        names = ({str(v).strip().casefold() for v in filters.get(COMPANY_NAME, ()) if str(v).strip()}
                 if COMPANY_NAME in filters else None)
        items = [(n, [v for v in spellings(known[n], vals)]) for n, vals in filters.items()
                 if n in known and n != COMPANY_NAME]
        items = [(n, v) for n, v in items if v]
        wanted = list(dict.fromkeys([*properties, *(n for n in filters if n != COMPANY_NAME)]))
        if names is not None:
            wanted.append(COMPANY_NAME)
        if not items:
            if names and object is CrmObject.CONTACTS:
                async for page in self._by_company_name(sorted(names), wanted):
                    yield page
            return
        extra = odata.all_of(*(odata.eq_any(n, v) for n, v in items[1:]))
        first, values = items[0]
        for chunk in odata.chunks_by_length(values, first, most=OR_VALUES):
            async for page in self._query(object, wanted, odata.all_of(odata.eq_any(first, chunk), extra)):
                kept = page if names is None else [r for r in page if self._org_match(r, names)]
                if kept:
                    yield kept

    @staticmethod
    def _org_match(record: CrmRecord, names: set[str]) -> bool:
        value = record.get(COMPANY_NAME)
        return any(str(n).casefold() in names for n in (value if isinstance(value, tuple) else (value or "",)))

    async def _by_company_name(self, names: Sequence[str], properties: Sequence[str]
                               ) -> AsyncIterator[list[CrmRecord]]:
        """Persons who are contacts of an organisation named so; each holds the names among ``names`` of the
        organisations it is a contact of (the ones this look-up reads: no further call for the others)."""
        persons: dict[str, list[str]] = {}
        for chunk in odata.chunks_by_length(list(names), "Relation/Name", most=OR_VALUES):
            params = {"$select": "ID,CreationDate", "$expand": "Person($select=ID),Relation($select=Name)",
                      "$filter": odata.eq_any("Relation/Name", chunk)}
            async for page in odata.skip_pages(self.api, f"/{LINK_SET}", params, page_size=PAGE):
                for row in sorted(page, key=lambda r: str(r.get("CreationDate") or "")):
                    if isinstance(row.get("Person"), dict) and isinstance(row.get("Relation"), dict):
                        persons.setdefault(str(row["Person"].get("ID")).lower(), []).append(
                            str(row["Relation"].get("Name") or ""))
        found = await self.read(CrmObject.CONTACTS, list(persons), [p for p in properties if p != COMPANY_NAME])
        if found:
            yield [CrmRecord(r.id, r.object, {**r.properties, COMPANY_NAME: several_values(persons.get(r.id, ()))},
                             r.created_at, r.updated_at) for r in found]

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self._query(object, properties):
            yield page

    async def changed_since(self, object: CrmObject, since: datetime,
                            properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        async for page in self._query(object, properties, odata.ge("ModificationDate", since)):
            yield page

    async def count(self, object: CrmObject) -> int | None:
        reply = await self.api.request("GET", f"/{SETS[object]}", params={"$count": "true", "$top": "1",
                                                                          "$select": "ID"})
        value = (reply.json_or_none() or {}).get("@odata.count")
        return int(value) if isinstance(value, int) else None

    # -- writes: one record per call, several in flight ----------------------------------------------------------
    async def _each(self, inputs: Sequence[Any], one: Callable[[int, Any], Awaitable[WriteResult]]
                    ) -> list[WriteResult]:
        """``one`` for every input, :data:`CONCURRENCY` at a time; one result per input, in input order. An error of
        the call as a whole (sign-in, rate limit, network) is raised with ``completed`` holding the results so far."""
        results: list[WriteResult | None] = [None] * len(inputs)
        failure: list[AdapterError] = []

        async def run(i: int, item: Any) -> None:
            async with self._gate:
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

    def _body(self, object: CrmObject, props: Mapping[str, Any]) -> dict[str, Any]:
        known = self._fields.get(object) or {}
        body: dict[str, Any] = {}
        for name, value in props.items():
            f = known.get(name)
            if f is None:
                raise ValueError(f"TribeCRM {SETS[object]} has no field “{name}”")
            if f.read_only:
                raise ValueError(f"{f.label} ({name}) cannot be written in TribeCRM")
            if name == OWNER_FIELD:
                owner = value[0] if isinstance(value, list | tuple) and value else value
                if owner and not odata.is_guid(owner):
                    raise ValueError(f"“{owner}” is not a TribeCRM employee ID")
                body[name] = {"ID": str(owner)} if owner else None
            else:
                body[name] = _to_wire(f, value)
        return body

    async def _write(self, object: CrmObject, record: RecordInput, rid: str) -> WriteResult:
        try:
            body = self._body(object, record.properties)
        except ValueError as exc:
            return WriteResult.failure(record.key, RecordError(str(exc), code="INVALID_VALUE"), id=rid)
        path = f"/{SETS[object]}" + (f"({rid})" if rid else "")
        try:
            reply = await self.api.request("PUT" if rid else "POST", path, json=body, idempotent=bool(rid))
        except ValidationError as exc:
            detail = exc.details[0] if exc.details else RecordError(str(exc))
            return WriteResult.failure(record.key, detail, id=rid)
        except NotFoundError:
            return WriteResult.failure(record.key, RecordError(
                f"This {object.singular} is not in TribeCRM any more (deleted or merged).", code="NOT_FOUND"), id=rid)
        data = reply.json_or_none() or {}
        new_id = str(data.get("ID") or rid).lower() if isinstance(data, dict) else rid
        return WriteResult.success(record.key, new_id, created=not rid)

    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._describe(object)
        return await self._each(records, lambda _i, r: self._write(object, r, ""))

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        await self._describe(object)

        async def one(_i: int, r: RecordInput) -> WriteResult:
            if not odata.is_guid(r.id) or r.id_property:
                return WriteResult.failure(r.key, RecordError("TribeCRM updates records by their ID (a GUID).",
                                                              code="NO_ID"), id=r.id)
            return await self._write(object, r, r.id.lower())

        return await self._each(records, one)

    # -- the companies of a person: contact relationships --------------------------------------------------------------
    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        found: dict[str, list[Association]] = {str(i): [] for i in ids}
        if (from_object, to_object) != (CrmObject.CONTACTS, CrmObject.COMPANIES):
            return found
        lower = {str(i).lower(): str(i) for i in ids}
        for _rid, person, org, _name in await self._links(list(lower)):
            key = lower.get(person)
            if key is not None and all(a.to_id != org for a in found[key]):
                found[key].append(Association(from_object, key, to_object, org, (LINK_TYPE,)))
        return found

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Makes each person a contact of the organisation (TribeCRM has no primary one: ``kind`` changes nothing);
        a pair already linked is left as it is, so a repeated call creates no second relationship."""
        existing = {(p, o) for _r, p, o, _n in await self._links([link.from_id for link in links])}

        async def one(_i: int, link: AssociationInput) -> WriteResult:
            if not (odata.is_guid(link.from_id) and odata.is_guid(link.to_id)):
                return WriteResult.failure(link.key, RecordError("Not a TribeCRM ID.", code="INVALID_ID"),
                                           id=link.to_id)
            if (link.from_id.lower(), link.to_id.lower()) in existing:
                return WriteResult.success(link.key, link.to_id)
            try:
                await self.api.request("POST", f"/{LINK_SET}", json={"Person": {"ID": link.from_id.lower()},
                                                                     "Relation": {"ID": link.to_id.lower()}})
            except ValidationError as exc:
                return WriteResult.failure(link.key, exc.details[0] if exc.details else RecordError(str(exc)),
                                           id=link.to_id)
            existing.add((link.from_id.lower(), link.to_id.lower()))
            return WriteResult.success(link.key, link.to_id)

        return await self._each(links, one)

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        """Deletes the contact relationships between each pair (none left is a success)."""
        by_pair: dict[tuple[str, str], list[str]] = {}
        for rid, person, org, _name in await self._links([link.from_id for link in links]):
            by_pair.setdefault((person, org), []).append(rid)

        async def one(_i: int, link: AssociationInput) -> WriteResult:
            for rid in by_pair.get((link.from_id.lower(), link.to_id.lower()), []):
                with contextlib.suppress(NotFoundError):  # gone already
                    await self.api.request("DELETE", f"/{LINK_SET}({rid})")
            return WriteResult.success(link.key, link.to_id)

        return await self._each(links, one)

    # -- activities: e-mails and calls as completed tasks, notes as notes ------------------------------------------
    @staticmethod
    def _subject(a: Activity | ActivityLookup, direction: Direction = Direction.OUTBOUND) -> str:
        if a.kind is ActivityKind.NOTE:
            return a.subject or "Note"
        lead = TASK_SUBJECTS[(a.kind, direction)]
        return f"{lead}: {a.subject}"[:255] if a.subject else lead

    def _activity(self, a: Activity) -> tuple[str, dict[str, Any]]:
        moment = (a.timestamp if a.timestamp.tzinfo else a.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
        contact = {"ID": a.contact_ids[0].lower()} if a.contact_ids and odata.is_guid(a.contact_ids[0]) else None
        owner = {"ID": a.owner_id.lower()} if odata.is_guid(a.owner_id) else None
        if a.kind is ActivityKind.NOTE:
            text = self._subject(a) + (f"\n\n{a.body}" if a.body else "")
            body: dict[str, Any] = {"Content": text[:100_000], "Entity": contact, "Owner": owner}
            return NOTES, {k: v for k, v in body.items() if v is not None}
        end = moment + timedelta(seconds=max(0, a.duration_seconds or 0))
        body = {"Subject": self._subject(a, a.direction), "Description": a.body or None,
                "StartDate": _stamp(moment), "EndDate": _stamp(end), "IsCompleted": True,
                "Contact": contact, "Assignee": owner}
        body.update(a.properties)
        return TASKS, {k: v for k, v in body.items() if v is not None}

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        async def one(n: int, a: Activity) -> WriteResult:
            key = a.key or str(n)
            entity_set, body = self._activity(a)
            try:
                reply = await self.api.request("POST", f"/{entity_set}", json=body)
            except ValidationError as exc:
                return WriteResult.failure(key, exc.details[0] if exc.details else RecordError(str(exc)))
            data = reply.json_or_none() or {}
            return WriteResult.success(key, str(data.get("ID") or "").lower(), created=True)

        return await self._each(activities, one)

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Tasks and notes of the lookups' persons: the one of the same kind whose subject (a note: its text)
        starts with the lookup's subject and, for tasks, that started the same day, is the same."""
        found: dict[str, str] = {}
        taken: set[str] = set()
        for entity_set, nav, kinds, select in ((TASKS, "Contact", (ActivityKind.EMAIL, ActivityKind.CALL),
                                                "ID,Subject,StartDate"), (NOTES, "Entity", (ActivityKind.NOTE,),
                                                                          "ID,Content")):
            mine = [lk for lk in lookups if lk.kind in kinds and odata.is_guid(lk.contact_id)]
            if not mine:
                continue
            rows: list[dict[str, Any]] = []
            persons = [uuid.UUID(i) for i in dict.fromkeys(lk.contact_id.lower() for lk in mine)]
            for chunk in odata.chunks_by_length(persons, f"{nav}/ID", most=OR_VALUES):
                params = {"$select": select, "$expand": f"{nav}($select=ID)",
                          "$filter": odata.eq_any(f"{nav}/ID", chunk)}
                async for page in odata.skip_pages(self.api, f"/{entity_set}", params, page_size=PAGE):
                    rows.extend(page)
            for lk in mine:
                day = (lk.timestamp if lk.timestamp.tzinfo else lk.timestamp.replace(tzinfo=UTC)).astimezone(UTC)
                for row in rows:
                    rid = str(row.get("ID")).lower()
                    ref = row.get(nav)
                    if rid in taken or not isinstance(ref, dict) or str(ref.get("ID")).lower() != lk.contact_id.lower():
                        continue
                    if lk.kind is ActivityKind.NOTE:
                        same = not lk.subject or str(row.get("Content") or "").startswith(lk.subject)
                    else:
                        subjects = {self._subject(lk, d) for d in Direction}
                        same = (not lk.subject or any(str(row.get("Subject") or "").startswith(s[:255])
                                                      for s in subjects)) and \
                            str(row.get("StartDate") or "")[:10] == day.strftime("%Y-%m-%d")
                    if same:
                        found[lk.key] = rid
                        taken.add(rid)
                        break
        return found


# -- helpers ----------------------------------------------------------------------------------------------------------


class _SendPacer(SlidingWindowLimiter):
    """A pace, not a guard: a call counts from its sending only (its slot ends when it is answered, dated at its
    sending), so the pace does not slow down when answers do."""

    def release(self, slot: Any) -> None:
        super().release(slot)
        slot.end = slot.start


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _label(name: str) -> str:
    words = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.strip("_")).split()
    text = " ".join([words[0], *(w.lower() for w in words[1:])]) if words else name
    return text.replace("Email", "E-mail").replace("e-mail address", "e-mail address")


def _to_field(prop: odata.Property, object: CrmObject) -> CrmField | None:
    if prop.name in ("_Type", "SortIndex"):
        return None
    custom = prop.name.startswith("_") and prop.name not in ("_Name",)
    if prop.type == "Edm.String":
        lower = prop.name.lower()
        if "emailaddress" in lower:
            kind = FieldType.EMAIL
        elif "phonenumber" in lower:
            kind = FieldType.PHONE
        elif lower in ("website",) or "linkedin" in (prop.description or "").lower():
            kind = FieldType.URL
        elif prop.max_length is not None and prop.max_length > 1000:
            kind = FieldType.LONG_TEXT
        else:
            kind = FieldType.TEXT
    else:
        kind = EDM_TYPES.get(prop.type, FieldType.OTHER)
    read_only = prop.computed or prop.name in SYSTEM or kind is FieldType.OTHER
    label = prop.description or ("Display name" if prop.name == "_Name" else _label(prop.name))
    if custom and not prop.description:
        label = f"Custom field {prop.name[1:9]}"
    return CrmField(name=prop.name, label=label, type=kind, object=object, read_only=read_only,
                    unique=prop.name == "ID", required=not prop.nullable and not read_only,
                    group="Custom fields" if custom else "", vendor_type=prop.type)


def _to_wire(f: CrmField, value: Any) -> Any:
    if value is None or value == "" or value == ():
        return None
    if isinstance(value, list | tuple):
        value = value[0]
    text = str(value)
    if f.type is FieldType.BOOLEAN:
        return text.strip().lower() == "true"
    if f.type is FieldType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"“{text}” is not a number") from None
        if f.vendor_type in ("Edm.Int16", "Edm.Int32", "Edm.Int64"):
            if number != number.to_integral_value():
                raise ValueError(f"{f.label} takes whole numbers (“{text}”)")
            return int(number)
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)
    if f.type is FieldType.DATE:
        return text[:10]
    if f.type is FieldType.DATETIME:
        moment = parse_datetime(text)
        if moment is None:
            raise ValueError(f"“{text}” is not a date and time")
        return _stamp((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC))
    return text


def _from_wire(f: CrmField, value: Any) -> Any:
    if value is None or value == "":
        return None
    if f.type is FieldType.BOOLEAN or isinstance(value, bool):
        return "true" if value is True else "false"
    if f.type is FieldType.NUMBER or isinstance(value, int | float):
        number = Decimal(str(value))
        return format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
    if f.type is FieldType.DATETIME:
        moment = parse_datetime(value)
        return _stamp(moment.astimezone(UTC)) if moment else str(value)
    if f.type is FieldType.DATE:
        return str(value)[:10]
    return str(value)


__all__ = ["TribeCrmAdapter", "api_root", "tribe_error"]
