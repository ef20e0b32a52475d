"""HubSpot, on the date-based API version ``2026-03`` (DESIGN §7; paths as in ``specs/hubspot/*/2026-03``).

- Auth: a private app token / service key (``Authorization: Bearer``), or OAuth with refresh (the user's own app).
- Limits: the subscription tier (connection setting ``tier``) picks the client-side limiter (100, 190, 190 or
  250 requests per 10 s per app, ``apis/crm_apis.md`` §1.3) plus 4 searches per second; HubSpot's
  ``X-HubSpot-RateLimit-*`` headers feed back into it. A 429 whose ``policyName`` is ``DAILY`` is a quota error.
- Batches of 100 (create, update, upsert, read); an HTTP 207 answer is split into per-record results. A batch
  that HubSpot refuses as a whole (400/409, e.g. one invalid e-mail or one duplicate) is split in halves until
  the bad records are isolated, so the good ones are still written.
- Associations v4; the contact->company "Primary" type id is discovered from the labels endpoint (defaults: 1
  primary, 279 unlabeled). Emails, calls and notes carry ``hubspot_owner_id`` and ``hs_timestamp``.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Self

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
    FatalError,
    FieldOption,
    FieldType,
    MissingScopeError,
    NotFoundError,
    Operation,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    RecordError,
    RecordInput,
    TokenSet,
    ValidationError,
    Value,
    WriteResult,
    as_options,
    parse_datetime,
    utc_ms,
)
from .http import (
    ApiClient,
    OAuthRefreshAuth,
    RateInfo,
    Reply,
    RetryPolicy,
    SlidingWindowLimiter,
    bearer_auth,
    connection_account,
    parse_retry_after,
    shared_limiter,
)
from .oauth import OAuthProvider

log = logging.getLogger(__name__)

API_VERSION = "2026-03"
DEFAULT_BASE_URL = "https://api.hubapi.com"
AUTHORIZE_URL = "https://app.hubspot.com/oauth/authorize"
OAUTH_REDIRECT_PORT = 53682  # the user registers http://localhost:53682/oauth-callback in their HubSpot app
OAUTH_REDIRECT_PATH = "/oauth-callback"

# Requests per 10 s per app, by subscription (usage guidelines, apis/crm_apis.md §1.3).
TIER_LIMITS: dict[str, RateLimit] = {
    "Free / Starter": RateLimit(100, 10),
    "Professional": RateLimit(190, 10),
    "Enterprise": RateLimit(190, 10),
    "API add-on": RateLimit(250, 10),
}
TIER_DAILY: dict[str, int] = {
    "Free / Starter": 250_000,
    "Professional": 625_000,
    "Enterprise": 1_000_000,
    "API add-on": 2_000_000,
}
DEFAULT_TIER = "Professional"
SEARCH_LIMIT = RateLimit(4, 1)

BATCH = 100
SEARCH_PAGE = 200
SEARCH_IN_VALUES = 100
SEARCH_CAP = 10_000
ASSOCIATION_READ = 1000

SCOPES = (
    "crm.objects.contacts.read",
    "crm.objects.contacts.write",
    "crm.objects.companies.read",
    "crm.objects.companies.write",
    "crm.objects.owners.read",
    "crm.schemas.contacts.read",
    "crm.schemas.companies.read",
)
OPTIONAL_SCOPES = ("sales-email-read",)

# The field of each identifier role of the Step 1 presets (core.matching.rules.Role values). The LinkedIn
# properties are HubSpot's own: `hs_linkedin_url` on contacts, `linkedin_company_page` on companies.
IDENTIFIER_FIELDS: dict[str, dict[str, str]] = {
    "contacts": {
        "first_name": "firstname",
        "last_name": "lastname",
        "company_name": "company",
        "linkedin_url": "hs_linkedin_url",
        "email": "email",
    },
    "companies": {"domain": "domain", "name": "name", "linkedin_url": "linkedin_company_page"},
}
# HubSpot keys contacts by e-mail: batch read accepts idProperty=email. No standard company property is unique.
UNIQUE_FIELDS: dict[str, frozenset[str]] = {"contacts": frozenset({"email"}), "companies": frozenset()}
MODIFIED_PROPERTY: dict[str, str] = {"contacts": "lastmodifieddate", "companies": "hs_lastmodifieddate"}
# Fields that name a record to a person (sync results, previews).
DISPLAY_FIELDS: dict[str, tuple[str, ...]] = {
    "contacts": ("firstname", "lastname", "email", "company", "jobtitle", "hs_linkedin_url", "city", "country"),
    "companies": ("name", "domain", "website", "city", "country", "industry", "linkedin_company_page"),
}
OWNER_FIELD = "hubspot_owner_id"
# Search: at most 5 filter groups of at most 6 filters, 18 filters in all; matching folds case, not accents.
SEARCH_FILTERS_PER_GROUP = 6
SEARCH_FILTERS_PER_REQUEST = 18
# Filter groups are ORed, at most five per request (https://developers.hubspot.com/changelog/breaking-change-
# expanded-filtering-capabilities-and-error-messaging-in-hubspots-search-api): one search by e-mail asks for
# 5 × 100 addresses, where a batch read by e-mail takes 100.
SEARCH_FILTER_GROUPS = 5

# HUBSPOT_DEFINED association type ids, used when the labels endpoint cannot be asked.
PRIMARY_CONTACT_TO_COMPANY = 1
UNLABELED_CONTACT_TO_COMPANY = 279
DEFAULT_TYPE_IDS: dict[tuple[str, str], int] = {
    ("contacts", "companies"): UNLABELED_CONTACT_TO_COMPANY,
    ("companies", "contacts"): 280,
    ("emails", "contacts"): 198,
    ("emails", "companies"): 186,
    ("calls", "contacts"): 194,
    ("calls", "companies"): 182,
    ("notes", "contacts"): 202,
    ("notes", "companies"): 190,
}
DEFAULT_PRIMARY_IDS: dict[tuple[str, str], int] = {("contacts", "companies"): 1, ("companies", "contacts"): 2}

ACTIVITY_OBJECTS: dict[ActivityKind, str] = {
    ActivityKind.EMAIL: "emails",
    ActivityKind.CALL: "calls",
    ActivityKind.NOTE: "notes",
}

# Validation codes that concern a property name rather than one record's value: every record carrying that
# property fails the same way, so a refused batch is not split further.
_SYSTEMIC_CODES = frozenset({"PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "CANNOT_EDIT_READ_ONLY"})
_EXISTING_ID = re.compile(r"Existing ID:\s*(\d+)", re.IGNORECASE)


def _p(*parts: str) -> str:
    return "/" + "/".join(parts)


def objects_path(object_type: str, *rest: str) -> str:
    return _p("crm", "objects", API_VERSION, object_type, *rest)


def associations_path(from_type: str, to_type: str, *rest: str) -> str:
    return _p("crm", "associations", API_VERSION, from_type, to_type, *rest)


# -- HubSpot's errors and headers ----------------------------------------------------------------------------------


def _rate_info(reply: Reply) -> RateInfo:
    def num(name: str) -> int | None:
        raw = reply.header(name)
        try:
            return int(raw) if raw else None
        except ValueError:
            return None

    interval = num("x-hubspot-ratelimit-interval-milliseconds")
    return RateInfo(
        maximum=num("x-hubspot-ratelimit-max"),
        remaining=num("x-hubspot-ratelimit-remaining"),
        interval_seconds=interval / 1000 if interval else None,
        daily_remaining=num("x-hubspot-ratelimit-daily-remaining"),
    )


def _validation_details(body: Mapping[str, Any]) -> list[RecordError]:
    """Per-field reasons from a HubSpot error body (``errors[]``, or the JSON list embedded in ``message``)."""
    details: list[RecordError] = []
    message = str(body.get("message") or "")
    start = message.find("[{")
    if start >= 0:
        try:
            embedded = json.loads(message[start:])
        except ValueError:
            embedded = None
        if isinstance(embedded, list):
            for item in embedded:
                if isinstance(item, dict) and item.get("isValid") is not True:
                    details.append(RecordError(
                        reason=str(item.get("message") or message),
                        code=str(item.get("error") or body.get("category") or ""),
                        field=str(item.get("name") or ""),
                    ))
    if not details:
        for item in body.get("errors") or []:
            if not isinstance(item, dict):
                continue
            context = item.get("context") or {}
            names = context.get("propertyName") or context.get("properties") or []
            details.append(RecordError(
                reason=str(item.get("message") or message),
                code=str(item.get("code") or item.get("subCategory") or body.get("category") or ""),
                field=str(names[0]) if isinstance(names, list) and names else "",
            ))
    if not details:
        existing = _EXISTING_ID.search(message)
        details.append(RecordError(
            reason=message or "HubSpot refused this record.",
            code=str(body.get("category") or ""),
            existing_id=existing.group(1) if existing else "",
        ))
    return details


def _missing_scopes(body: Mapping[str, Any]) -> list[str]:
    scopes: list[str] = []
    contexts = [body.get("context") or {}] + [e.get("context") or {} for e in body.get("errors") or []
                                               if isinstance(e, dict)]
    for ctx in contexts:
        for key in ("requiredGranularScopes", "requiredScopes", "missingScopes"):
            for scope in ctx.get(key) or []:
                if scope not in scopes:
                    scopes.append(str(scope))
    return scopes


def hubspot_error(reply: Reply, default: AdapterError) -> AdapterError:
    body = reply.json_or_none()
    if not isinstance(body, dict):
        return default
    category = str(body.get("category") or body.get("errorType") or "")
    message = str(body.get("message") or "").strip()
    kw: dict[str, Any] = {"vendor": "hubspot", "status": reply.status,
                          "request_id": str(body.get("correlationId") or "")}
    said = f" HubSpot said: {message}" if message else ""
    if reply.status == 429:
        policy = str(body.get("policyName") or "").upper()
        if policy == "DAILY":
            return QuotaExhaustedError(
                "HubSpot's daily API allowance for this account is used up. It resets at midnight in the "
                "account's time zone; runs can resume then.", **kw)
        retry_after = parse_retry_after(reply.header("retry-after"))
        if retry_after is None:
            interval = _rate_info(reply).interval_seconds
            retry_after = interval if interval else None
        return RateLimitedError(
            f"HubSpot is limiting requests right now ({policy or 'rate limit'}); Enginy waits and retries.",
            retry_after=retry_after, **kw)
    if reply.status == 401:
        return AuthError(
            "HubSpot did not accept the credentials: the token is wrong, expired or was revoked. Paste a new "
            "private app token (or sign in with HubSpot again) in the HubSpot connection." + said, **kw)
    if reply.status == 403:
        scopes = _missing_scopes(body)
        if category == "MISSING_SCOPES" or scopes:
            needed = ", ".join(scopes) if scopes else "a scope this call needs"
            return MissingScopeError(
                f"The HubSpot token lacks a permission: {needed}. Add it to your private app (Settings > "
                "Integrations > Private apps > Scopes) or sign in again, then test the connection.",
                scopes=scopes, **kw)
        return AuthError(f"HubSpot refused access (HTTP 403).{said}", **kw)
    if reply.status in (400, 409, 422):
        details = _validation_details(body)
        if reply.status == 409 or category == "CONFLICT":
            existing = _EXISTING_ID.search(message)
            details = [RecordError(reason=message or "This record already exists in HubSpot.", code="CONFLICT",
                                   existing_id=existing.group(1) if existing else "")]
        return ValidationError(f"HubSpot refused the request.{said}", details=details, **kw)
    if reply.status == 404:
        return NotFoundError(f"HubSpot did not find what was asked ({reply.method} {reply.url}).{said}", **kw)
    if isinstance(default, AdapterError) and message:
        default.message = f"{default.message}{said}"
        default.args = (default.message,)
    return default


# -- conversions --------------------------------------------------------------------------------------------------


def _field_type(prop: Mapping[str, Any]) -> FieldType:
    kind = str(prop.get("type") or "")
    field_type = str(prop.get("fieldType") or "")
    hint = str(prop.get("textDisplayHint") or "")
    referenced = str(prop.get("referencedObjectType") or "")
    if referenced.upper() == "OWNER":
        return FieldType.OWNER
    if kind == "enumeration":
        if field_type == "checkbox":
            return FieldType.MULTI_PICKLIST
        if field_type == "booleancheckbox":
            return FieldType.BOOLEAN
        return FieldType.PICKLIST
    if kind == "bool":
        return FieldType.BOOLEAN
    if kind == "number":
        return FieldType.NUMBER
    if kind == "date":
        return FieldType.DATE
    if kind == "datetime":
        return FieldType.DATETIME
    if kind == "phone_number" or field_type == "phonenumber" or hint == "phone_number":
        return FieldType.PHONE
    if kind == "string":
        if hint == "email":
            return FieldType.EMAIL
        if field_type in ("textarea", "html"):
            return FieldType.LONG_TEXT
        return FieldType.TEXT
    return FieldType.OTHER


def to_field(prop: Mapping[str, Any], object: CrmObject) -> CrmField:
    meta = prop.get("modificationMetadata") or {}
    name = str(prop.get("name") or "")
    unique = bool(prop.get("hasUniqueValue")) or name == "hs_object_id" or (
        object is CrmObject.CONTACTS and name == "email")  # HubSpot keys contacts by e-mail
    return CrmField(
        name=name,
        label=str(prop.get("label") or name),
        type=_field_type(prop),
        object=object,
        options=tuple(
            FieldOption(value=str(o.get("value", "")), label=str(o.get("label", "")), hidden=bool(o.get("hidden")))
            for o in prop.get("options") or [] if isinstance(o, dict)
        ),
        read_only=bool(meta.get("readOnlyValue")) or bool(prop.get("calculated")),
        unique=unique,
        group=str(prop.get("groupName") or ""),
        description=str(prop.get("description") or ""),
        vendor_type=f"{prop.get('type', '')}/{prop.get('fieldType', '')}",
    )


def _from_wire(name: str, value: Any, multi: frozenset[str]) -> Value | None:
    """HubSpot's value as a canonical one: multi-option values (``a;b``) become tuples."""
    if value is None:
        return None
    text = str(value)
    if name in multi:
        return tuple(part for part in text.split(";") if part)
    return text


def to_wire(properties: Mapping[str, Value]) -> dict[str, str]:
    """Canonical values as HubSpot takes them: several options joined with ``;``, everything else as is."""
    out: dict[str, str] = {}
    for name, value in properties.items():
        out[name] = ";".join(as_options(value)) if isinstance(value, list | tuple) else str(value)
    return out


def to_record(item: Mapping[str, Any], object: CrmObject, multi: frozenset[str] = frozenset()) -> CrmRecord:
    props = item.get("properties") or {}
    return CrmRecord(
        id=str(item.get("id")),
        object=object,
        properties={str(k): _from_wire(str(k), v, multi) for k, v in props.items()},
        created_at=parse_datetime(item.get("createdAt")),
        updated_at=parse_datetime(item.get("updatedAt")),
    )


def to_user(owner: Mapping[str, Any]) -> CrmUser:
    return CrmUser(
        id=str(owner.get("id")),
        email=str(owner.get("email") or ""),
        first_name=str(owner.get("firstName") or ""),
        last_name=str(owner.get("lastName") or ""),
        active=not owner.get("archived", False),
        kind=str(owner.get("type") or "PERSON").lower(),
        user_id=str(owner.get("userId") or ""),
    )


def _chunks(items: Sequence[Any], size: int, key: Callable[[Any], str] | None = None) -> Iterable[list[Any]]:
    """Consecutive chunks of at most ``size``; with ``key``, no two items of a chunk share a key (HubSpot
    refuses a batch that names the same record twice)."""
    if key is None:
        for start in range(0, len(items), size):
            yield list(items[start:start + size])
        return
    pending = list(items)
    while pending:
        chunk: list[Any] = []
        seen: set[str] = set()
        rest: list[Any] = []
        for item in pending:
            k = key(item)
            if len(chunk) < size and (not k or k not in seen):
                chunk.append(item)
                if k:
                    seen.add(k)
            else:
                rest.append(item)
        yield chunk
        pending = rest


def _epoch_ms(value: str | None) -> int | None:
    """A HubSpot timestamp (ISO 8601 or epoch milliseconds) as epoch milliseconds."""
    if not value:
        return None
    if value.isdigit():
        return int(value)
    moment = parse_datetime(value)
    return int(moment.timestamp() * 1000) if moment is not None else None


def _not_found(error: Mapping[str, Any]) -> bool:
    category = str(error.get("category") or "")
    return category in ("OBJECT_NOT_FOUND", "NOT_FOUND") or str(error.get("status")) == "404" or \
        "NO_ASSOCIATIONS_FOUND" in str(error.get("subCategory") or "")


# -- the adapter ----------------------------------------------------------------------------------------------


class HubSpotAdapter(ClientCrmAdapter):
    api: ApiClient
    key = "hubspot"
    name = "HubSpot"

    def __init__(
        self,
        api: ApiClient,
        *,
        tier: str = DEFAULT_TIER,
        search_limiter: SlidingWindowLimiter | None = None,
        granted_scopes: Sequence[str] | None = None,
        auth_kind: str = "token",
    ) -> None:
        self.api = api
        self.tier = tier if tier in TIER_LIMITS else DEFAULT_TIER
        self.search_limiter = search_limiter or SlidingWindowLimiter(SEARCH_LIMIT, name="HubSpot search")
        self.granted_scopes = tuple(granted_scopes) if granted_scopes is not None else None
        self.auth_kind = auth_kind
        self._type_cache: dict[tuple[str, str], list[AssociationType]] = {}
        self._multi: dict[CrmObject, frozenset[str]] = {}  # multi-option fields, learnt from fields()

    # -- opening ----------------------------------------------------------------------------------------------
    @classmethod
    def from_connection(cls, connection: Connection, *, transport: Any = None, retry: Any = None) -> Self:
        base_url = connection.setting("base_url", DEFAULT_BASE_URL).rstrip("/")
        tier = connection.setting("tier", DEFAULT_TIER)
        if tier not in TIER_LIMITS:
            log.warning("Unknown HubSpot tier %r; using the %s limits", tier, DEFAULT_TIER)
            tier = DEFAULT_TIER
        token = connection.get_secret("token")
        granted: Sequence[str] | None = None
        auth: Any
        if token:
            auth, kind = bearer_auth(token), "token"
        else:
            raw = connection.get_secret("oauth_token")
            client_id = connection.setting("client_id")
            if not raw or not client_id:
                raise AuthError(
                    "HubSpot is not connected: paste a private app token, or sign in with HubSpot, in the "
                    "HubSpot connection.", vendor="hubspot")
            try:
                tokens = TokenSet.from_json(raw)
            except ValueError:
                raise AuthError("The saved HubSpot sign-in is unreadable. Sign in with HubSpot again.",
                                vendor="hubspot") from None
            granted = tokens.scope.split() if tokens.scope else None
            auth = OAuthRefreshAuth(
                tokens,
                token_url=f"{base_url}/oauth/{API_VERSION}/token",
                client_id=client_id,
                client_secret=connection.get_secret("client_secret") or "",
                on_refresh=lambda t: connection.set_secret("oauth_token", t.to_json()),
            )
            kind = "oauth"
        # One window per connection for the whole process (plan, run, retries, resume, wizard).
        account = connection_account(base_url, token or connection.setting("client_id"))
        limiter = shared_limiter(account, TIER_LIMITS[tier], f"HubSpot {tier}")
        api = ApiClient(
            "hubspot",
            base_url,
            vendor_name="HubSpot",
            auth=auth,
            limiter=limiter,
            retry=retry if isinstance(retry, RetryPolicy) else None,
            transport=transport,
            error_hook=hubspot_error,
            rate_info=_rate_info,
            # The ten-second and search windows carried from the previous command of this data folder to the next.
            load_state=connection.load_state,
            save_state=connection.save_state,
        )
        return cls(api, tier=tier, granted_scopes=granted, auth_kind=kind,
                   search_limiter=shared_limiter(account, SEARCH_LIMIT, "HubSpot search"))

    @classmethod
    def oauth_provider(cls, connection: Connection) -> OAuthProvider:
        base_url = connection.setting("base_url", DEFAULT_BASE_URL).rstrip("/")
        client_id = connection.setting("client_id")
        if not client_id:
            raise AuthError("Enter the OAuth client ID of your HubSpot app before signing in.", vendor="hubspot")
        return OAuthProvider(
            name="HubSpot",
            # A sandbox or proxy given as the API base URL serves the authorization page too.
            authorize_url=AUTHORIZE_URL if base_url == DEFAULT_BASE_URL else f"{base_url}/oauth/authorize",
            token_url=f"{base_url}/oauth/{API_VERSION}/token",
            client_id=client_id,
            client_secret=connection.get_secret("client_secret") or "",
            scopes=SCOPES,
            optional_scopes=OPTIONAL_SCOPES,
            redirect_host="localhost",  # HubSpot accepts plain http only for localhost
            redirect_port=OAUTH_REDIRECT_PORT,
            redirect_path=OAUTH_REDIRECT_PATH,
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            max_batch={
                Operation.READ: BATCH,
                Operation.CREATE: BATCH,
                Operation.UPDATE: BATCH,
                Operation.UPSERT: BATCH,
                Operation.SEARCH_PAGE: SEARCH_PAGE,
                Operation.SEARCH_IN_VALUES: SEARCH_IN_VALUES,
                Operation.SCAN_PAGE: BATCH,
                Operation.ASSOCIATION_READ: ASSOCIATION_READ,
                Operation.ASSOCIATION_WRITE: BATCH,
                Operation.ACTIVITY: BATCH,
            },
            upsert=True,
            multiple_companies=True,
            primary_company=True,
            search_in=True,
            rate_limit=self.api.limiter.limit if self.api.limiter else TIER_LIMITS[self.tier],
            search_rate_limit=self.search_limiter.limit,
            daily_limit=TIER_DAILY[self.tier],
            throttle_status=429,
            max_search_results=SEARCH_CAP,
            company_link=CompanyLink.ASSOCIATIONS,
            upsert_keys={CrmObject.CONTACTS: UNIQUE_FIELDS["contacts"], CrmObject.COMPANIES: frozenset()},
            search_filters_per_request=SEARCH_FILTERS_PER_REQUEST,
            search_filters_per_group=SEARCH_FILTERS_PER_GROUP,
            search_folds_case=True,
            search_folds_accents=False,
            search_in_groups=SEARCH_FILTER_GROUPS,
            budget=DailyBudget(BudgetUnit.REQUESTS, TIER_DAILY[self.tier]) if TIER_DAILY[self.tier] else None,
            concurrency=3,  # enough to keep the 10-second window busy, no more
        )

    # -- who am I, what is there ----------------------------------------------------------------------------------
    async def check(self) -> CrmIdentity:
        """Owners, contacts and companies are each read once: a wrong token fails the first call; a missing
        read scope fails the call that needs it. With OAuth, the granted scopes are compared with ours too.
        The account id comes from the account-info API when it answers (optional: see :meth:`account_info`)."""
        owners = (await self.api.request("GET", _p("crm", "owners", API_VERSION),
                                         params={"limit": 1, "archived": "false"})).json() or {}
        for object in (CrmObject.CONTACTS, CrmObject.COMPANIES):
            await self.api.request("GET", objects_path(object.value),
                                   params={"limit": 1, "archived": "false", "properties": "hs_object_id"})
        if self.granted_scopes is not None:
            missing = [s for s in SCOPES if s not in self.granted_scopes]
            if missing:
                raise MissingScopeError(
                    f"The HubSpot sign-in lacks a permission: {', '.join(missing)}. Add the scopes to your app "
                    "and sign in again.", scopes=missing, vendor="hubspot")
        account = await self.account_info()
        first = (owners.get("results") or [{}])[0]
        how = "a private app token" if self.auth_kind == "token" else "HubSpot sign-in (OAuth)"
        portal = str(account.get("portalId") or "")
        where = ", ".join(str(account[k]) for k in ("timeZone", "dataHostingLocation") if account.get(k))
        details = f"Connected to HubSpot account {portal}" if portal else "Connected to HubSpot"
        details += f" ({where})" if where else ""
        details += f" with {how}. Contacts, companies and owners are readable"
        details += f" (first owner: {to_user(first).name})." if first else "."
        details += f" Enginy keeps to the {self.tier} limit of {self.capabilities.rate_limit.requests} requests "
        details += f"per {self.capabilities.rate_limit.per_seconds:g} seconds."
        return CrmIdentity(
            crm=self.key,
            account_id=portal,
            account_name="HubSpot account" if portal else "HubSpot",
            user="private app token" if self.auth_kind == "token" else "OAuth sign-in",
            scopes=tuple(self.granted_scopes or ()),
            details=details,
        )

    async def account_info(self) -> dict[str, Any]:
        """Portal id, time zone, data location... from ``GET /account-info/v3/details``, or ``{}``.

        This endpoint is not in the date-based spec collection (``specs/hubspot`` has no Account Info file), so
        it is asked only here, once, and any refusal is ignored: the connection works without it.
        """
        try:
            reply = await self.api.request("GET", "/account-info/v3/details", retry=RetryPolicy(max_attempts=1))
        except (AuthError, NotFoundError, ValidationError, FatalError) as exc:
            log.info("HubSpot account details are not available: %s", exc)
            return {}
        data = reply.json_or_none()
        return data if isinstance(data, dict) else {}

    def _record(self, item: Mapping[str, Any], object: CrmObject) -> CrmRecord:
        return to_record(item, object, self._multi.get(object, frozenset()))

    async def fields(self, object: CrmObject) -> list[CrmField]:
        reply = await self.api.request("GET", _p("crm", "properties", API_VERSION, object.value),
                                       params={"archived": "false"})
        results = (reply.json() or {}).get("results") or []
        fields = [to_field(p, object) for p in results if isinstance(p, dict) and not p.get("hidden")]
        self._multi[object] = frozenset(f.name for f in fields if f.type is FieldType.MULTI_PICKLIST)
        return sorted(fields, key=lambda f: f.label.casefold())

    async def users(self) -> list[CrmUser]:
        users: list[CrmUser] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 100, "archived": "false"}
            if after:
                params["after"] = after
            page = (await self.api.request("GET", _p("crm", "owners", API_VERSION), params=params)).json() or {}
            users.extend(to_user(o) for o in page.get("results") or [])
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return users

    # -- lookups ---------------------------------------------------------------------------------------------------
    async def _batch_read(self, object: CrmObject, values: Sequence[str], properties: Sequence[str],
                          id_property: str = "") -> list[CrmRecord]:
        records: list[CrmRecord] = []
        unique = list(dict.fromkeys(v for v in values if v))
        for chunk in _chunks(unique, BATCH):
            body: dict[str, Any] = {
                "inputs": [{"id": v} for v in chunk],
                "properties": list(properties),
                "propertiesWithHistory": [],
            }
            if id_property:
                body["idProperty"] = id_property
            reply = await self.api.request("POST", objects_path(object.value, "batch", "read"), json=body,
                                           params={"archived": "false"}, idempotent=True)
            payload = reply.json() or {}
            records.extend(self._record(r, object) for r in payload.get("results") or [])
            for error in payload.get("errors") or []:
                if not _not_found(error):
                    log.warning("HubSpot batch read: %s", error.get("message"))
        return records

    async def read_by_unique(self, object: CrmObject, id_property: str, values: Sequence[str],
                             properties: Sequence[str]) -> list[CrmRecord]:
        wanted = list(dict.fromkeys([*properties, id_property]))
        return await self._batch_read(object, values, wanted, id_property=id_property)

    async def read(self, object: CrmObject, ids: Sequence[str], properties: Sequence[str]) -> list[CrmRecord]:
        return await self._batch_read(object, ids, properties)

    async def search_in(self, object: CrmObject, property: str, values: Sequence[str],
                        properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """Up to five filter groups of one ``IN`` filter of 100 values each, ORed: 500 values per request."""
        wanted = list(dict.fromkeys([*properties, property]))
        unique = list(dict.fromkeys(v for v in values if v))
        for chunk in _chunks(unique, SEARCH_IN_VALUES * SEARCH_FILTER_GROUPS):
            async for page in self._search_chunk(object, property, chunk, wanted):
                yield page

    async def _search_chunk(self, object: CrmObject, property: str, values: list[str],
                            properties: list[str]) -> AsyncIterator[list[CrmRecord]]:
        after = "0"
        seen = 0
        while True:
            body = {
                "filterGroups": [{"filters": [{"propertyName": property, "operator": "IN", "values": part}]}
                                 for part in _chunks(values, SEARCH_IN_VALUES)],
                "properties": properties,
                "sorts": [],
                "limit": SEARCH_PAGE,
                "after": after,
            }
            reply = await self.api.request("POST", objects_path(object.value, "search"), json=body,
                                           idempotent=True, extra_limiters=[self.search_limiter])
            payload = reply.json() or {}
            total = int(payload.get("total") or 0)
            if after == "0" and total > SEARCH_CAP and len(values) > 1:
                # HubSpot stops paging at 10,000 results: ask again with fewer values at a time.
                half = len(values) // 2
                for part in (values[:half], values[half:]):
                    async for page in self._search_chunk(object, property, part, properties):
                        yield page
                return
            results = [self._record(r, object) for r in payload.get("results") or []]
            seen += len(results)
            if results:
                yield results
            after = ((payload.get("paging") or {}).get("next") or {}).get("after") or ""
            if not after or not results:
                return
            if seen >= SEARCH_CAP:
                log.warning("HubSpot search for %s %s stopped at %d results", object.value, property, seen)
                return

    # -- matching support -------------------------------------------------------------------------------------
    def identifier_fields(self, object: CrmObject) -> dict[str, str]:
        return dict(IDENTIFIER_FIELDS[object.value])

    def unique_fields(self, object: CrmObject) -> frozenset[str]:
        return UNIQUE_FIELDS[object.value]

    def display_fields(self, object: CrmObject) -> tuple[str, ...]:
        return DISPLAY_FIELDS[object.value]

    def owner_field(self, object: CrmObject) -> str | None:
        return OWNER_FIELD

    async def _search(self, object: CrmObject, body: dict[str, Any]) -> dict[str, Any]:
        reply = await self.api.request("POST", objects_path(object.value, "search"), json=body, idempotent=True,
                                       extra_limiters=[self.search_limiter])
        payload = reply.json() or {}
        return payload if isinstance(payload, dict) else {}

    async def count(self, object: CrmObject) -> int | None:
        """One search with no filter and one result: its ``total``."""
        payload = await self._search(object, {"filterGroups": [], "properties": ["hs_object_id"], "sorts": [],
                                              "limit": 1, "after": "0"})
        total = payload.get("total")
        return int(total) if isinstance(total, int | str) and str(total).isdigit() else None

    async def count_changed_since(self, object: CrmObject, since: datetime) -> int | None:
        """The ``total`` of the search :meth:`changed_since` starts with, asked for one result."""
        prop = MODIFIED_PROPERTY[object.value]
        body = {"filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE",
                                               "value": str(int(since.timestamp() * 1000))}]}],
                "properties": ["hs_object_id"], "sorts": [], "limit": 1, "after": "0"}
        total = (await self._search(object, body)).get("total")
        return int(total) if isinstance(total, int | str) and str(total).isdigit() else None

    async def search_all(self, object: CrmObject, filters: Mapping[str, Sequence[str]],
                         properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """One filter group of ``IN`` filters (at most 6: HubSpot's limit per group; the caller checks any
        others). HubSpot takes 100 values per filter: the first filter's values are sent in chunks of 100, the
        other filters must hold at most 100 each."""
        chosen = {k: list(dict.fromkeys(v for v in vals if v)) for k, vals in list(filters.items())[
            :SEARCH_FILTERS_PER_GROUP]}
        if not chosen or any(not vals for vals in chosen.values()):
            return
        wanted = list(dict.fromkeys([*properties, *chosen]))
        first, first_values = next(iter(chosen.items()))
        if len(chosen) == 1:  # one property: several filter groups ORed in each request
            async for page in self.search_in(object, first, first_values, wanted):
                yield page
            return
        others = {k: v for k, v in chosen.items() if k != first}
        if any(len(v) > SEARCH_IN_VALUES for v in others.values()):
            raise ValueError(f"Only the first filter may hold more than {SEARCH_IN_VALUES} values.")
        for chunk in _chunks(first_values, SEARCH_IN_VALUES):
            async for page in self._search_filters(object, {first: chunk, **others}, wanted):
                yield page

    async def _search_filters(self, object: CrmObject, filters: dict[str, list[str]],
                              properties: list[str]) -> AsyncIterator[list[CrmRecord]]:
        after = "0"
        seen = 0
        while True:
            body = {
                "filterGroups": [{"filters": [{"propertyName": name, "operator": "IN", "values": values}
                                              for name, values in filters.items()]}],
                "properties": properties,
                "sorts": [],
                "limit": SEARCH_PAGE,
                "after": after,
            }
            payload = await self._search(object, body)
            total = int(payload.get("total") or 0)
            widest = max(filters, key=lambda k: len(filters[k]))
            if after == "0" and total > SEARCH_CAP and len(filters[widest]) > 1:
                # HubSpot stops paging at 10,000 results: ask again with fewer values at a time.
                half = len(filters[widest]) // 2
                for part in (filters[widest][:half], filters[widest][half:]):
                    async for page in self._search_filters(object, {**filters, widest: part}, properties):
                        yield page
                return
            results = [self._record(r, object) for r in payload.get("results") or []]
            seen += len(results)
            if results:
                yield results
            after = ((payload.get("paging") or {}).get("next") or {}).get("after") or ""
            if not after or not results:
                return
            if seen >= SEARCH_CAP:
                log.warning("HubSpot search for %s stopped at %d results", object.value, seen)
                return

    async def changed_since(self, object: CrmObject, since: datetime,
                            properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        """Search by the last-modified date, oldest first. Past HubSpot's 10,000 results per search, the search
        starts again from the last date seen (records with that date may come twice)."""
        prop = MODIFIED_PROPERTY[object.value]
        wanted = list(dict.fromkeys([*properties, prop]))
        floor = int(since.timestamp() * 1000)
        while True:
            after = 0
            last: int | None = None
            while True:
                body = {
                    "filterGroups": [{"filters": [{"propertyName": prop, "operator": "GTE", "value": str(floor)}]}],
                    "properties": wanted,
                    "sorts": [prop],
                    "limit": SEARCH_PAGE,
                    "after": str(after),
                }
                payload = await self._search(object, body)
                results = [self._record(r, object) for r in payload.get("results") or []]
                if results:
                    yield results
                    last = _epoch_ms(str(results[-1].get(prop) or "") or None) or last
                nxt = ((payload.get("paging") or {}).get("next") or {}).get("after")
                if not nxt or not results:
                    return
                after = int(nxt)
                if after + SEARCH_PAGE > SEARCH_CAP:
                    break
            if last is None or last <= floor:
                log.warning("More than %d HubSpot %s changed at the same moment; the rest are not listed",
                            SEARCH_CAP, object.value)
                return
            floor = last

    async def scan(self, object: CrmObject, properties: Sequence[str]) -> AsyncIterator[list[CrmRecord]]:
        after: str | None = None
        while True:
            params: list[tuple[str, str | int]] = [("limit", BATCH), ("archived", "false")]
            params += [("properties", p) for p in properties]
            if after:
                params.append(("after", after))
            page = (await self.api.request("GET", objects_path(object.value), params=params)).json() or {}
            results = [self._record(r, object) for r in page.get("results") or []]
            if results:
                yield results
            after = ((page.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    # -- writes ------------------------------------------------------------------------------------------------------
    async def create(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        return await self._write(object.value, "create", records)

    async def update(self, object: CrmObject, records: Sequence[RecordInput]) -> list[WriteResult]:
        missing = [r for r in records if not r.id]
        if missing:
            raise ValueError("update() needs the CRM id (or the id_property value) of every record")
        return await self._write(object.value, "update", records)

    async def upsert(self, object: CrmObject, records: Sequence[RecordInput], id_property: str) -> list[WriteResult]:
        if any(not r.id for r in records):
            raise ValueError(f"upsert() needs the {id_property} value of every record in its id")
        prepared = [RecordInput(properties=r.properties, key=r.key, id=r.id, id_property=id_property)
                    for r in records]
        return await self._write(object.value, "upsert", prepared)

    async def _write(self, object_type: str, op: str, records: Sequence[RecordInput],
                     associations: Sequence[list[dict[str, Any]]] | None = None) -> list[WriteResult]:
        """Send ``records`` in batches of 100 and return one result per input, in input order."""
        indexed = list(enumerate(records))
        results: dict[int, WriteResult] = {}
        key = None if op == "create" else (lambda item: item[1].id.casefold())
        for chunk in _chunks(indexed, BATCH, key=key):
            try:
                for index, result in await self._write_chunk(object_type, op, chunk, associations):
                    results[index] = result
            except AdapterError as exc:
                exc.completed = [results[i] for i in sorted(results)]
                raise
        return [results[i] for i in range(len(records))]

    def _input(self, op: str, trace: str, record: RecordInput,
               associations: list[dict[str, Any]] | None) -> dict[str, Any]:
        item: dict[str, Any] = {"properties": to_wire(record.properties), "objectWriteTraceId": trace}
        if op == "create":
            item["associations"] = associations or []
        else:
            item["id"] = record.id
            if record.id_property:
                item["idProperty"] = record.id_property
        return item

    async def _write_chunk(self, object_type: str, op: str, chunk: list[tuple[int, RecordInput]],
                           associations: Sequence[list[dict[str, Any]]] | None,
                           budget: list[int] | None = None) -> list[tuple[int, WriteResult]]:
        prefix = uuid.uuid4().hex[:12]
        traces = {f"{prefix}-{n}": item for n, item in enumerate(chunk)}
        inputs = [self._input(op, trace, rec, associations[i] if associations else None)
                  for trace, (i, rec) in traces.items()]
        try:
            reply = await self.api.request("POST", objects_path(object_type, "batch", op), json={"inputs": inputs},
                                           idempotent=op != "create")
        except ValidationError as exc:
            # The whole batch was refused and nothing was written: find the bad records by halves.
            if budget is None:
                budget = [2 * len(chunk)]
            if len(chunk) == 1 or budget[0] <= 0 or self._systemic(exc, chunk):
                return [(i, WriteResult.failure(rec.key, self._reason(exc), id=rec.id if op != "create" else ""))
                        for i, rec in chunk]
            budget[0] -= 2
            half = len(chunk) // 2
            left = await self._write_chunk(object_type, op, chunk[:half], associations, budget)
            right = await self._write_chunk(object_type, op, chunk[half:], associations, budget)
            return left + right
        return self._batch_results(op, traces, reply)

    @staticmethod
    def _reason(exc: ValidationError) -> RecordError:
        if len(exc.details) == 1:
            return exc.details[0]
        if exc.details:
            reasons = "; ".join(d.reason for d in exc.details)
            first = exc.details[0]
            return RecordError(reason=reasons, code=first.code, field=first.field)
        return RecordError(reason=str(exc), code="VALIDATION_ERROR")

    @staticmethod
    def _systemic(exc: ValidationError, chunk: list[tuple[int, RecordInput]]) -> bool:
        if not exc.details or any(d.code not in _SYSTEMIC_CODES or not d.field for d in exc.details):
            return False
        return all(all(d.field in rec.properties for d in exc.details) for _, rec in chunk)

    def _batch_results(self, op: str, traces: Mapping[str, tuple[int, RecordInput]],
                       reply: Reply) -> list[tuple[int, WriteResult]]:
        payload = reply.json() or {}
        out: dict[int, WriteResult] = {}
        by_id: dict[str, str] = {}
        for trace, (_, rec) in traces.items():
            if rec.id:
                by_id.setdefault(rec.id.casefold(), trace)
        unmatched_results: list[dict[str, Any]] = []
        for result in payload.get("results") or []:
            trace = str(result.get("objectWriteTraceId") or "")
            if trace not in traces:
                trace = self._match_result(op, result, traces, by_id)
            if trace and trace in traces:
                index, rec = traces[trace]
                created = True if op == "create" else (bool(result.get("new")) if op == "upsert" else False)
                out[index] = WriteResult.success(rec.key, str(result.get("id")), created=created)
            else:
                unmatched_results.append(result)
        for error in payload.get("errors") or []:
            reason = self._reason(ValidationError("", details=_validation_details(error)))
            context = error.get("context") or {}
            named = [str(v) for key in ("objectWriteTraceId", "ids", "id") for v in (context.get(key) or [])]
            if error.get("id"):
                named.append(str(error["id"]))
            for name in named:
                trace = name if name in traces else by_id.get(name.casefold(), "")
                if trace:
                    index, rec = traces[trace]
                    out.setdefault(index, WriteResult.failure(rec.key, reason, id=rec.id if op != "create" else ""))
        missing = [t for t, (i, _) in traces.items() if i not in out]
        if missing and len(unmatched_results) == len(missing) and not payload.get("errors"):
            # No trace ids came back: HubSpot answers in input order when everything succeeded.
            for trace, result in zip(missing, unmatched_results, strict=True):
                index, rec = traces[trace]
                out[index] = WriteResult.success(rec.key, str(result.get("id")),
                                                 created=op == "create" or bool(result.get("new")))
        for index, rec in traces.values():
            if index not in out:
                out[index] = WriteResult.failure(rec.key, RecordError(
                    reason="HubSpot did not report what happened to this record; it is checked before any retry.",
                    code="UNKNOWN_OUTCOME", retriable=True))
        return sorted(out.items())

    @staticmethod
    def _match_result(op: str, result: Mapping[str, Any], traces: Mapping[str, tuple[int, RecordInput]],
                      by_id: Mapping[str, str]) -> str:
        if op == "update":
            return by_id.get(str(result.get("id", "")).casefold(), "")
        if op == "upsert":
            props = result.get("properties") or {}
            for _, rec in traces.values():
                value = props.get(rec.id_property)
                if value is not None and str(value).casefold() in by_id:
                    return by_id[str(value).casefold()]
            return by_id.get(str(result.get("id", "")).casefold(), "")
        return ""

    # -- associations -------------------------------------------------------------------------------------------------
    async def association_types(self, from_type: str, to_type: str) -> list[AssociationType]:
        """The pair's association types (labels endpoint), cached; the defaults when HubSpot cannot be asked."""
        pair = (from_type, to_type)
        if pair not in self._type_cache:
            try:
                reply = await self.api.request("GET", associations_path(from_type, to_type, "labels"))
                items = (reply.json() or {}).get("results") or []
                types = [
                    AssociationType(
                        id=str(item.get("typeId")),
                        category=str(item.get("category") or ""),
                        label=str(item.get("label") or ""),
                        primary=str(item.get("label") or "").casefold() == "primary"
                        and item.get("category") == "HUBSPOT_DEFINED",
                    )
                    for item in items if isinstance(item, dict)
                ]
            except NotFoundError:
                types = []
            if not types:
                types = self._default_types(pair)
            self._type_cache[pair] = types
        return self._type_cache[pair]

    @staticmethod
    def _default_types(pair: tuple[str, str]) -> list[AssociationType]:
        types = []
        if pair in DEFAULT_TYPE_IDS:
            types.append(AssociationType(str(DEFAULT_TYPE_IDS[pair]), "HUBSPOT_DEFINED"))
        if pair in DEFAULT_PRIMARY_IDS:
            types.append(AssociationType(str(DEFAULT_PRIMARY_IDS[pair]), "HUBSPOT_DEFINED", "Primary", True))
        return types

    async def _type_id(self, from_type: str, to_type: str, primary: bool) -> int:
        types = await self.association_types(from_type, to_type)
        for t in types:
            if t.category == "HUBSPOT_DEFINED" and t.primary == primary and (primary or not t.label):
                return int(t.id)
        fallback = (DEFAULT_PRIMARY_IDS if primary else DEFAULT_TYPE_IDS).get((from_type, to_type))
        if fallback is None:
            raise NotFoundError(f"HubSpot has no {'primary' if primary else 'default'} association from "
                                f"{from_type} to {to_type}.", vendor="hubspot")
        return fallback

    async def primary_type_id(self) -> int:
        return await self._type_id("contacts", "companies", primary=True)

    async def associations(self, ids: Sequence[str], from_object: CrmObject = CrmObject.CONTACTS,
                           to_object: CrmObject = CrmObject.COMPANIES) -> dict[str, list[Association]]:
        types = {t.id: t for t in await self.association_types(from_object.value, to_object.value)}
        found: dict[str, list[Association]] = {i: [] for i in ids}
        pending: list[dict[str, str]] = [{"id": i} for i in dict.fromkeys(ids) if i]
        while pending:
            chunk, pending = pending[:ASSOCIATION_READ], pending[ASSOCIATION_READ:]
            reply = await self.api.request("POST", associations_path(from_object.value, to_object.value,
                                                                     "batch", "read"),
                                           json={"inputs": chunk}, idempotent=True)
            payload = reply.json() or {}
            for result in payload.get("results") or []:
                from_id = str((result.get("from") or {}).get("id"))
                for to in result.get("to") or []:
                    assoc_types = tuple(
                        types.get(str(t.get("typeId"))) or AssociationType(
                            id=str(t.get("typeId")), category=str(t.get("category") or ""),
                            label=str(t.get("label") or ""),
                            primary=str(t.get("label") or "").casefold() == "primary")
                        for t in to.get("associationTypes") or []
                    )
                    found.setdefault(from_id, []).append(Association(
                        from_object, from_id, to_object, str(to.get("toObjectId")), assoc_types))
                after = ((result.get("paging") or {}).get("next") or {}).get("after")
                if after:
                    pending.append({"id": from_id, "after": str(after)})
            for error in payload.get("errors") or []:
                if not _not_found(error):
                    log.warning("HubSpot association read: %s", error.get("message"))
        return found

    async def associate(self, links: Sequence[AssociationInput], kind: AssociationKind = AssociationKind.ADDITIONAL,
                        from_object: CrmObject = CrmObject.CONTACTS,
                        to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        f, t = from_object.value, to_object.value
        type_ids = [await self._type_id(f, t, primary=False)]
        if kind is AssociationKind.PRIMARY:
            type_ids.append(await self._type_id(f, t, primary=True))
        spec = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": i} for i in type_ids]

        async def send(chunk: list[tuple[int, AssociationInput]]) -> Reply:
            body = {"inputs": [{"from": {"id": link.from_id}, "to": {"id": link.to_id}, "types": spec}
                               for _, link in chunk]}
            return await self.api.request("POST", associations_path(f, t, "batch", "create"), json=body,
                                          idempotent=True)

        return await self._association_batches(links, send, confirms_pairs=True)

    async def remove_associations(self, links: Sequence[AssociationInput],
                                  from_object: CrmObject = CrmObject.CONTACTS,
                                  to_object: CrmObject = CrmObject.COMPANIES) -> list[WriteResult]:
        f, t = from_object.value, to_object.value

        async def send(chunk: list[tuple[int, AssociationInput]]) -> Reply:
            grouped: dict[str, list[dict[str, str]]] = {}
            for _, link in chunk:
                grouped.setdefault(link.from_id, []).append({"id": link.to_id})
            body = {"inputs": [{"from": {"id": k}, "to": v} for k, v in grouped.items()]}
            return await self.api.request("POST", associations_path(f, t, "batch", "archive"), json=body,
                                          idempotent=True)

        return await self._association_batches(links, send, confirms_pairs=False)

    async def _association_batches(
        self, links: Sequence[AssociationInput],
        send: Callable[[list[tuple[int, AssociationInput]]], Awaitable[Reply]],
        confirms_pairs: bool,
    ) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        for chunk in _chunks(list(enumerate(links)), BATCH):
            try:
                reply = await send(chunk)
            except ValidationError as exc:
                reason = self._reason(exc)
                for i, link in chunk:
                    results[i] = WriteResult.failure(link.key, reason, id=link.to_id)
                continue
            except AdapterError as exc:
                exc.completed = [results[i] for i in sorted(results)]
                raise
            payload = reply.json_or_none() or {}
            # A create answers with the pairs it linked; an archive only with errors (if any).
            linked = {(str(r.get("fromObjectId")), str(r.get("toObjectId")))
                      for r in payload.get("results") or [] if isinstance(r, dict)}
            pairs_listed = confirms_pairs and isinstance(payload.get("results"), list)
            failed: dict[str, RecordError] = {}
            for error in payload.get("errors") or []:
                reason = RecordError(reason=str(error.get("message") or "HubSpot refused this association."),
                                     code=str(error.get("category") or ""))
                for values in (error.get("context") or {}).values():
                    for value in values if isinstance(values, list) else [values]:
                        failed.setdefault(str(value), reason)
            for i, link in chunk:
                problem = failed.get(link.to_id) or failed.get(link.from_id)
                if pairs_listed and (link.from_id, link.to_id) not in linked:
                    problem = problem or RecordError("HubSpot did not confirm this association.", "UNKNOWN_OUTCOME",
                                                     retriable=True)
                elif pairs_listed:
                    problem = None
                results[i] = WriteResult.failure(link.key, problem, id=link.to_id) if problem else \
                    WriteResult.success(link.key, link.to_id)
        return [results[i] for i in range(len(links))]

    # -- activities ---------------------------------------------------------------------------------------------------
    def _activity_properties(self, activity: Activity) -> dict[str, str]:
        props: dict[str, str] = {"hs_timestamp": utc_ms(activity.timestamp)}
        if activity.owner_id:
            props["hubspot_owner_id"] = activity.owner_id
        inbound = activity.direction is Direction.INBOUND
        if activity.kind is ActivityKind.EMAIL:
            props["hs_email_direction"] = "INCOMING_EMAIL" if inbound else "EMAIL"
            props["hs_email_status"] = "SENT"
            if activity.subject:
                props["hs_email_subject"] = activity.subject
            if activity.body:
                props["hs_email_text"] = activity.body
        elif activity.kind is ActivityKind.CALL:
            props["hs_call_direction"] = "INBOUND" if inbound else "OUTBOUND"
            props["hs_call_status"] = "COMPLETED"
            if activity.subject:
                props["hs_call_title"] = activity.subject
            if activity.body:
                props["hs_call_body"] = activity.body
            if activity.duration_seconds is not None:
                props["hs_call_duration"] = str(int(activity.duration_seconds * 1000))
        else:
            body = "\n\n".join(part for part in (activity.subject, activity.body) if part)
            if body:
                props["hs_note_body"] = body
        props.update(activity.properties)
        return props

    async def find_activities(self, lookups: Sequence[ActivityLookup]) -> dict[str, str]:
        """Activities already in HubSpot among ``lookups``: ``key -> activity id``.

        For re-checking creations whose answer was lost: the contact's activities of that kind are listed
        (association batch read, 1,000 contacts per call) and read (100 per call), and one with the same
        timestamp (to the millisecond) and subject is the same activity."""
        subject_of = {"emails": "hs_email_subject", "calls": "hs_call_title", "notes": "hs_note_body"}
        found: dict[str, str] = {}
        by_kind: dict[ActivityKind, list[ActivityLookup]] = {}
        for item in lookups:
            by_kind.setdefault(ActivityKind(item.kind), []).append(item)
        for kind, items in by_kind.items():
            object_type = ACTIVITY_OBJECTS[kind]
            linked: dict[str, list[str]] = {}
            contacts = dict.fromkeys(i.contact_id for i in items if i.contact_id)
            pending: list[dict[str, str]] = [{"id": c} for c in contacts]
            while pending:
                chunk, pending = pending[:ASSOCIATION_READ], pending[ASSOCIATION_READ:]
                reply = await self.api.request("POST", associations_path("contacts", object_type, "batch", "read"),
                                               json={"inputs": chunk}, idempotent=True)
                payload = reply.json() or {}
                for result in payload.get("results") or []:
                    from_id = str((result.get("from") or {}).get("id"))
                    linked.setdefault(from_id, []).extend(str(t.get("toObjectId")) for t in result.get("to") or [])
                    after = ((result.get("paging") or {}).get("next") or {}).get("after")
                    if after:
                        pending.append({"id": from_id, "after": str(after)})
            ids = list(dict.fromkeys(a for ids_ in linked.values() for a in ids_))
            props = ["hs_timestamp", subject_of[object_type]]
            details: dict[str, tuple[int | None, str]] = {}
            for chunk_ids in _chunks(ids, BATCH):
                reply = await self.api.request(
                    "POST", objects_path(object_type, "batch", "read"),
                    json={"inputs": [{"id": i} for i in chunk_ids], "properties": props, "propertiesWithHistory": []},
                    params={"archived": "false"}, idempotent=True)
                for r in (reply.json() or {}).get("results") or []:
                    values = r.get("properties") or {}
                    details[str(r.get("id"))] = (_epoch_ms(values.get("hs_timestamp")),
                                                 str(values.get(props[1]) or ""))
            for item in items:
                moment = item.timestamp if item.timestamp.tzinfo else item.timestamp.replace(tzinfo=UTC)
                ms = int(moment.timestamp() * 1000)
                for activity_id in linked.get(item.contact_id, []):
                    at, text = details.get(activity_id, (None, ""))
                    if at is not None and at == ms and (text == item.subject or text.startswith(item.subject)):
                        found[item.key] = activity_id
                        break
        return found

    async def log_activities(self, activities: Sequence[Activity]) -> list[WriteResult]:
        results: list[WriteResult | None] = [None] * len(activities)
        for kind, object_type in ACTIVITY_OBJECTS.items():
            picked = [(i, a) for i, a in enumerate(activities) if a.kind is kind]
            if not picked:
                continue
            to_contact = await self._type_id(object_type, "contacts", primary=False)
            to_company = await self._type_id(object_type, "companies", primary=False)
            inputs = [RecordInput(properties=self._activity_properties(a), key=a.key) for _, a in picked]
            associations = [
                [{"to": {"id": c}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                              "associationTypeId": to_contact}]} for c in a.contact_ids]
                + [{"to": {"id": c}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                                "associationTypeId": to_company}]} for c in a.company_ids]
                for _, a in picked
            ]
            try:
                written = await self._write(object_type, "create", inputs, associations)
            except AdapterError as exc:
                exc.completed = [r for r in results if r is not None] + exc.completed
                raise
            for (i, _), result in zip(picked, written, strict=True):
                results[i] = result
        return [r for r in results if r is not None]
