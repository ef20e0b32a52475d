"""Pipedrive's wire format: paths, plans and limits, token costs, errors, and value conversions.

Vendor facts (``apis/crm_apis.md`` §3; the OpenAPI descriptions in ``specs/pipedrive/v1.yaml`` and ``v2.yaml``,
copies of https://developers.pipedrive.com/docs/api/v1/openapi.yaml and …/openapi-v2.yaml):

- API v2 (``/api/v2``) for persons, organizations, their fields, search and activities; v1 (``/v1``) where v2
  has no endpoint: users and notes.
- Rate limits (https://pipedrive.readme.io/docs/core-api-concepts-rate-limiting): a **burst** limit per token
  in a 2-second window, by plan and by kind of credential (API token or OAuth access token), with the search
  endpoints limited to 10 requests per 2 seconds on every plan; and a **daily token budget** per company
  ("30,000 base tokens × plan multiplier × seats"; https://pipedrive.readme.io/docs/guide-for-optimizing-api-usage)
  from which each request spends its endpoint's ``x-token-cost`` (spec). Answers carry ``x-ratelimit-limit``,
  ``x-ratelimit-remaining`` and ``x-ratelimit-reset`` (seconds until the window frees up); an exceeded limit is
  HTTP 429 with Pipedrive's error body.
- Errors: ``{"success": false, "error": "…", "error_info": "…", "data": null, "additional_data": null}``
  (https://pipedrive.readme.io/docs/core-api-concepts-responses).

Values cross the contract in canonical form (``base.Value``); this module turns them into Pipedrive's JSON
(option ids as integers, ``set`` fields as lists of ids, numbers as numbers, ``emails``/``phones`` as lists of
``{value, primary, label}``) and back.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from .base import (
    AdapterError,
    AuthError,
    CrmField,
    CrmObject,
    FieldOption,
    FieldType,
    MissingScopeError,
    NotFoundError,
    Operation,
    QuotaExhaustedError,
    RateLimit,
    RateLimitedError,
    RecordError,
    ValidationError,
)
from .http import RateInfo, Reply, parse_retry_after

DEFAULT_BASE_URL = "https://api.pipedrive.com"
V2 = "/api/v2"
V1 = "/v1"
AUTHORIZE_URL = "https://oauth.pipedrive.com/oauth/authorize"
TOKEN_URL = "https://oauth.pipedrive.com/oauth/token"
# Pipedrive allows one callback URL per app (https://pipedrive.readme.io/docs/client-id-and-client-secret), so
# the port is fixed: the user registers http://localhost:53682/oauth-callback in their app.
OAUTH_REDIRECT_PORT = 53682
OAUTH_REDIRECT_PATH = "/oauth-callback"
# Scopes are chosen in the app registration, not asked in the authorization URL (spec: securitySchemes.oauth2).
SCOPES = ("base", "contacts:full", "users:read", "activities:full", "search:read")

WINDOW_S = 2.0
PLANS = ("Essential", "Advanced", "Professional", "Power", "Enterprise")
DEFAULT_PLAN = "Professional"
# Requests per 2 s per token (rate-limiting page; Power from apis/crm_apis.md §3.3).
BURST_API_TOKEN: dict[str, int] = {"Essential": 20, "Advanced": 40, "Professional": 80, "Power": 100,
                                   "Enterprise": 120}
BURST_OAUTH: dict[str, int] = {"Essential": 80, "Advanced": 160, "Professional": 320, "Power": 400,
                               "Enterprise": 480}
SEARCH_LIMIT = RateLimit(10, WINDOW_S)
# Daily token budget = BASE_TOKENS × plan multiplier × seats. The multipliers range from 1 (lowest plan) to 7
# (highest) (https://rate-limits.apis.io/rate-limits/pipedrive/pipedrive-rate-limits/, third-party); the figure
# an account really has is on Pipedrive's Company settings > Usage page and can be entered as a setting.
BASE_TOKENS = 30_000
PLAN_MULTIPLIER: dict[str, int] = {"Essential": 1, "Advanced": 2, "Professional": 4, "Power": 5, "Enterprise": 7}

# Token cost of each request the adapter sends: the spec's ``x-token-cost`` per operation (checked against
# specs/pipedrive by tests/unit/test_pipedrive_adapter.py).
TOKEN_COSTS: dict[tuple[str, str], int] = {
    ("GET", "/api/v2/persons"): 10,
    ("POST", "/api/v2/persons"): 5,
    ("GET", "/api/v2/persons/{id}"): 1,
    ("PATCH", "/api/v2/persons/{id}"): 5,
    ("GET", "/api/v2/organizations"): 10,
    ("POST", "/api/v2/organizations"): 5,
    ("GET", "/api/v2/organizations/{id}"): 1,
    ("PATCH", "/api/v2/organizations/{id}"): 5,
    ("GET", "/api/v2/personFields"): 10,
    ("GET", "/api/v2/organizationFields"): 10,
    ("GET", "/api/v2/persons/search"): 20,
    ("GET", "/api/v2/organizations/search"): 20,
    ("GET", "/api/v2/activities"): 10,
    ("POST", "/api/v2/activities"): 5,
    ("GET", "/v1/users"): 20,
    ("GET", "/v1/users/me"): 2,
    ("GET", "/v1/notes"): 20,
    ("POST", "/v1/notes"): 10,
}
# The same costs per contract operation (what an engine multiplies by the requests a plan needs). An activity
# is an activity (5) or a note (10): the higher figure, so an estimate never falls short.
OPERATION_COSTS: dict[Operation, int] = {
    Operation.READ: 10,
    Operation.CREATE: 5,
    Operation.UPDATE: 5,
    Operation.UPSERT: 5,
    Operation.SEARCH_PAGE: 20,
    Operation.SEARCH_IN_VALUES: 20,
    Operation.SCAN_PAGE: 10,
    Operation.ASSOCIATION_READ: 10,
    Operation.ASSOCIATION_WRITE: 5,
    Operation.ACTIVITY: 10,
}

_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")


def token_cost(method: str, path: str) -> int:
    """Tokens one request costs (``path`` without query; numeric ids stand for ``{id}``); 10 when unknown."""
    template = _NUMERIC_SEGMENT.sub("/{id}", path.split("?", 1)[0].rstrip("/"))
    return TOKEN_COSTS.get((method.upper(), template), 10)


def burst_limit(plan: str, oauth: bool) -> RateLimit:
    table = BURST_OAUTH if oauth else BURST_API_TOKEN
    return RateLimit(table.get(plan, table[DEFAULT_PLAN]), WINDOW_S)


def daily_budget(plan: str, seats: int) -> int:
    return BASE_TOKENS * PLAN_MULTIPLIER.get(plan, PLAN_MULTIPLIER[DEFAULT_PLAN]) * max(1, seats)


# -- headers and errors ------------------------------------------------------------------------------------------


def _int_header(reply: Reply, name: str) -> int | None:
    raw = reply.header(name)
    try:
        return int(float(raw)) if raw else None
    except ValueError:
        return None


def rate_info(reply: Reply) -> RateInfo:
    """The burst window's headers. Search answers report the search limit (10 per 2 s), not the general one, so
    they are not fed to the general limiter."""
    if "/search" in reply.url:
        return RateInfo()
    maximum = _int_header(reply, "x-ratelimit-limit")
    remaining = _int_header(reply, "x-ratelimit-remaining")
    return RateInfo(maximum=maximum, remaining=remaining,
                    interval_seconds=WINDOW_S if maximum is not None or remaining is not None else None)


def _body(reply: Reply) -> dict[str, Any]:
    body = reply.json_or_none()
    return body if isinstance(body, dict) else {}


def _said(body: Mapping[str, Any]) -> str:
    parts = [str(body.get(k) or "").strip() for k in ("error", "error_info")]
    text = " ".join(p.rstrip(".") + "." for p in parts if p)
    return f" Pipedrive said: {text}" if text else ""


def is_daily_budget(reply: Reply) -> bool:
    """A 429 for the daily token budget rather than the 2-second window: Pipedrive says so in its error, and
    the window still has room (``x-ratelimit-remaining`` above 0)."""
    body = _body(reply)
    text = f"{body.get('error') or ''} {body.get('error_info') or ''}".casefold()
    if "daily" in text or "budget" in text:
        return True
    remaining = _int_header(reply, "x-ratelimit-remaining")
    return remaining is not None and remaining > 0


def pipedrive_error(reply: Reply, default: AdapterError) -> AdapterError:
    """One readable error per failure, from Pipedrive's status and error body."""
    body = _body(reply)
    said = _said(body)
    kw: dict[str, Any] = {"vendor": "pipedrive", "status": reply.status,
                          "request_id": reply.header("x-correlation-id")}
    message = str(body.get("error") or "").strip()
    if reply.status == 429:
        if is_daily_budget(reply):
            return QuotaExhaustedError(
                "Pipedrive's daily API token budget for this company is used up. It resets at midnight (UTC); "
                "runs can resume then, or buy more tokens in Pipedrive (Company settings > Usage)." + said, **kw)
        retry_after = parse_retry_after(reply.header("retry-after"))
        if retry_after is None:
            reset = _int_header(reply, "x-ratelimit-reset")
            retry_after = float(reset) if reset is not None else WINDOW_S
        return RateLimitedError("Pipedrive is limiting requests right now (2-second window); Enginy waits and "
                                "retries.", retry_after=retry_after, **kw)
    if reply.status == 401:
        return AuthError("Pipedrive did not accept the credentials: the API token is wrong or was regenerated, "
                         "or the sign-in expired. Paste the API token again (Pipedrive > Personal preferences > "
                         "API) or sign in with Pipedrive again." + said, **kw)
    if reply.status == 403:
        if "scope" in message.casefold() or "permission" in message.casefold():
            return MissingScopeError(
                "The Pipedrive sign-in lacks a permission this call needs. Give your Pipedrive app the scopes "
                f"{', '.join(SCOPES)} and sign in again.{said}", scopes=SCOPES, **kw)
        return AuthError(f"Pipedrive refused access (HTTP 403).{said}", **kw)
    if reply.status in (400, 409, 422):
        detail = RecordError(reason=message or f"HTTP {reply.status}", code=str(body.get("code") or reply.status))
        return ValidationError(f"Pipedrive refused the request.{said}", details=[detail], **kw)
    if reply.status == 404:
        return NotFoundError(f"Pipedrive did not find {reply.method} {reply.url}.{said}", **kw)
    if message:
        default.message = f"{default.message}{said}"
        default.args = (default.message,)
    return default


# -- fields ------------------------------------------------------------------------------------------------------

# Standard fields: our property name -> how it is written. ``emails``/``phones`` are lists on the wire; the
# contract shows the primary one as ``email``/``phone``.
PERSON_FIELDS: dict[str, FieldType] = {
    "name": FieldType.TEXT,
    "first_name": FieldType.TEXT,
    "last_name": FieldType.TEXT,
    "email": FieldType.EMAIL,
    "phone": FieldType.PHONE,
    "owner_id": FieldType.OWNER,
    "org_id": FieldType.REFERENCE,
    "job_title": FieldType.TEXT,
    "birthday": FieldType.DATE,
    "notes": FieldType.LONG_TEXT,
}
ORG_FIELDS: dict[str, FieldType] = {
    "name": FieldType.TEXT,
    "owner_id": FieldType.OWNER,
    "website": FieldType.URL,
    "linkedin": FieldType.URL,
    "industry": FieldType.PICKLIST,
    "annual_revenue": FieldType.NUMBER,
    "employee_count": FieldType.NUMBER,
    "address": FieldType.TEXT,
}
# Standard fields Pipedrive sets itself, or that this app does not write.
_READ_ONLY_CODES = frozenset({
    "id", "add_time", "update_time", "visible_to", "label_ids", "label", "picture_id", "next_activity_id",
    "last_activity_id", "open_deals_count", "related_open_deals_count", "closed_deals_count",
    "related_closed_deals_count", "won_deals_count", "lost_deals_count", "activities_count", "done_activities_count",
    "undone_activities_count", "email_messages_count", "followers_count", "people_count", "marketing_status",
    "doi_status", "im", "postal_address", "cc_email", "is_deleted",
})
_TYPES: dict[str, FieldType] = {
    "varchar": FieldType.TEXT,
    "varchar_auto": FieldType.TEXT,
    "varchar_options": FieldType.TEXT,
    "text": FieldType.LONG_TEXT,
    "int": FieldType.NUMBER,
    "double": FieldType.NUMBER,
    "monetary": FieldType.NUMBER,
    "boolean": FieldType.BOOLEAN,
    "date": FieldType.DATE,
    "enum": FieldType.PICKLIST,
    "set": FieldType.MULTI_PICKLIST,
    "phone": FieldType.PHONE,
    "user": FieldType.OWNER,
    "org": FieldType.REFERENCE,
    "people": FieldType.REFERENCE,
    "address": FieldType.TEXT,
    "time": FieldType.TEXT,
}
# Custom field types Pipedrive's search can look in (spec: persons/search ``fields``).
SEARCHABLE_CUSTOM = frozenset({"address", "varchar", "text", "varchar_auto", "double", "monetary", "phone"})
WRITABLE_CUSTOM = frozenset(_TYPES)


def standard_fields(object: CrmObject) -> dict[str, FieldType]:
    return PERSON_FIELDS if object is CrmObject.CONTACTS else ORG_FIELDS


def to_field(item: Mapping[str, Any], object: CrmObject) -> CrmField | None:
    """A ``personFields``/``organizationFields`` item as a CrmField; None for fields this app cannot use."""
    code = str(item.get("field_code") or "")
    if not code:
        return None
    vendor_type = str(item.get("field_type") or "")
    custom = bool(item.get("is_custom_field"))
    if code == "emails":
        code = "email"
    elif code == "phones":
        code = "phone"
    if not custom and item.get("is_optional_response_field"):
        return None  # not returned by default: reading it would take extra parameters on every call
    standard = standard_fields(object)
    if custom:
        kind = _TYPES.get(vendor_type, FieldType.OTHER)
        read_only = vendor_type not in WRITABLE_CUSTOM
    else:
        kind = standard.get(code) or _TYPES.get(vendor_type, FieldType.OTHER)
        read_only = code in _READ_ONLY_CODES or code not in standard
    if code == "email":
        kind = FieldType.EMAIL
    options = tuple(
        FieldOption(value=str(o.get("id")), label=str(o.get("label") or o.get("id")))
        for o in item.get("options") or [] if isinstance(o, dict) and o.get("id") is not None
    )
    required = bool((item.get("required_fields") or {}).get("enabled")) or code == "name"
    return CrmField(
        name=code,
        label=str(item.get("field_name") or code),
        type=kind,
        object=object,
        options=options,
        read_only=read_only,
        unique=False,  # nothing is unique in Pipedrive (two persons may share an e-mail)
        required=required and not read_only,
        group="Custom fields" if custom else "",
        description=str(item.get("description") or ""),
        vendor_type=vendor_type,
    )


# -- values --------------------------------------------------------------------------------------------------------


def _number(text: str) -> int | float:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"“{text}” is not a number") from None
    if not number.is_finite():
        raise ValueError(f"“{text}” is not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def _canonical_number(value: object) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        text = format(Decimal(repr(value)).normalize(), "f")
        return text[:-2] if text.endswith(".0") else text
    return str(value)


def _options(value: object) -> tuple[str, ...]:
    if value is None or value == "":
        return ()
    if isinstance(value, list | tuple | set | frozenset):
        return tuple(str(v) for v in value if str(v) != "")
    text = str(value)
    parts = text.split(";") if ";" in text else text.split(",")
    return tuple(p.strip() for p in parts if p.strip())


def _option_id(field: CrmField | None, value: str) -> int | str:
    """Pipedrive takes option ids (integers for custom fields); a label is accepted and turned into its id."""
    if field is not None and field.options:
        found = field.option_value(value)
        if found is None:
            labels = ", ".join(o.label for o in field.options[:8])
            raise ValueError(f"{field.label} has no option “{value}” (options: {labels})")
        value = found
    return int(value) if value.lstrip("-").isdigit() else value


def to_wire(field_type: FieldType, value: object, field: CrmField | None = None) -> Any:
    """A canonical value as Pipedrive's JSON for a field of ``field_type``; None (JSON null) clears the field.

    Raises ValueError with a readable reason for a value the field cannot take."""
    if value is None or value == "" or value == ():
        return None
    if field_type is FieldType.MULTI_PICKLIST:
        ids = [_option_id(field, v) for v in _options(value)]
        return ids or None  # Pipedrive refuses [] for a set field: null clears it (spec)
    text = str(value).strip() if not isinstance(value, list | tuple) else ",".join(str(v) for v in value)
    if field_type is FieldType.PICKLIST:
        return _option_id(field, text)
    if field_type is FieldType.NUMBER:
        return _number(text)
    if field_type is FieldType.BOOLEAN:
        low = text.casefold()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"“{text}” is not yes or no")
    if field_type in (FieldType.OWNER, FieldType.REFERENCE):
        if not text.isdigit():
            raise ValueError(f"“{text}” is not a Pipedrive id")
        return int(text)
    if field_type is FieldType.DATE:
        return text[:10]
    return text


def from_wire(field_type: FieldType, value: Any) -> str | tuple[str, ...] | None:
    """Pipedrive's JSON value as a canonical value (None when empty)."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, dict):
        # monetary {value, currency}, address {value, ...}, user/org objects {id|value, name}
        for key in ("value", "id"):
            if key in value:
                return from_wire(field_type, value[key])
        return None
    if field_type is FieldType.MULTI_PICKLIST:
        items = value if isinstance(value, list) else _options(value)
        out = []
        for item in items:
            if isinstance(item, dict):
                item = item.get("id")
            if item is not None and str(item) != "":
                out.append(str(item))
        return tuple(out) or None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _canonical_number(value)
    return str(value)


def primary_of(items: Any) -> str | None:
    """The primary entry of an ``emails``/``phones`` list (else the first), or None."""
    if not isinstance(items, list):
        return None
    values = [i for i in items if isinstance(i, dict) and str(i.get("value") or "").strip()]
    for item in values:
        if item.get("primary"):
            return str(item["value"]).strip()
    return str(values[0]["value"]).strip() if values else None


def with_primary(items: Sequence[Mapping[str, Any]], value: str, label: str) -> list[dict[str, Any]]:
    """``items`` with ``value`` as the primary entry; the previous entries are kept as secondary ones."""
    out: list[dict[str, Any]] = [{"value": value, "primary": True, "label": label}]
    for item in items:
        other = str(item.get("value") or "").strip()
        if other and other.casefold() != value.casefold():
            out.append({"value": other, "primary": False, "label": str(item.get("label") or label)})
    return out


def split_name(name: str) -> tuple[str, str]:
    first, _, last = name.strip().partition(" ")
    return first, last.strip()
