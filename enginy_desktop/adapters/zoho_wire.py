"""Zoho CRM's wire format (API v8): data centres, editions and their limits, errors, fields and values.

Vendor facts (``apis/crm_apis.md`` §6; the OpenAPI files ``specs/zoho/v8.0/*.json`` from zoho/crm-oas):

- Every call goes to ``{api_domain}/crm/v8/…`` with ``Authorization: Zoho-oauthtoken <access token>``
  (https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html). The accounts server and the API host
  depend on the organisation's **data centre**; the token answer names the API host in ``api_domain``
  (https://www.zoho.com/accounts/protocol/oauth/multi-dc.html).
- Writes take at most 100 records per call and answer one ``{code, details, message, status}`` per record
  (spec ``record.json``: ``ActionWrapper``); upsert matches on ``duplicate_check_fields``
  (https://www.zoho.com/crm/developer/docs/api/v8/upsert-records.html).
- Limits: API **credits per rolling 24 hours** by edition and user licences, and a **concurrency** limit per
  edition, past which Zoho answers HTTP 429 (Kaizen #93, "Credit calculation and concurrency in Zoho CRM APIs",
  https://help.zoho.com/portal/en/community/topic/credit-calculation-and-concurrency-in-zoho-crm-apis).
- Errors: ``{"code": "INVALID_TOKEN", "details": {}, "message": "invalid oauth token", "status": "error"}``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
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
    RateLimitedError,
    RecordError,
    ValidationError,
    parse_datetime,
)
from .http import Reply, parse_retry_after

V8 = "/crm/v8"
MODULES: dict[CrmObject, str] = {CrmObject.CONTACTS: "Contacts", CrmObject.COMPANIES: "Accounts"}
BATCH = 100  # records per insert/update/upsert call
PAGE = 200  # records per page of a list or a COQL query
IDS_PER_READ = 100
IN_VALUES = 50  # values of one COQL ``in`` condition
SCOPES = ("ZohoCRM.modules.ALL", "ZohoCRM.settings.ALL", "ZohoCRM.users.READ", "ZohoCRM.coql.READ")
OAUTH_REDIRECT_PORT = 53682
OAUTH_REDIRECT_PATH = "/oauth-callback"

# The data centres: the choice shown in the connection dialog -> (accounts server, API host).
# https://www.zoho.com/crm/developer/docs/api/v8/multi-dc.html
DATA_CENTRES: dict[str, tuple[str, str]] = {
    "US (zoho.com)": ("https://accounts.zoho.com", "https://www.zohoapis.com"),
    "EU (zoho.eu)": ("https://accounts.zoho.eu", "https://www.zohoapis.eu"),
    "IN (zoho.in)": ("https://accounts.zoho.in", "https://www.zohoapis.in"),
    "AU (zoho.com.au)": ("https://accounts.zoho.com.au", "https://www.zohoapis.com.au"),
    "JP (zoho.jp)": ("https://accounts.zoho.jp", "https://www.zohoapis.jp"),
    "CA (zohocloud.ca)": ("https://accounts.zohocloud.ca", "https://www.zohoapis.ca"),
    "SA (zoho.sa)": ("https://accounts.zoho.sa", "https://www.zohoapis.sa"),
    "UK (zoho.uk)": ("https://accounts.zoho.uk", "https://www.zohoapis.uk"),
    "CN (zoho.com.cn)": ("https://accounts.zoho.com.cn", "https://www.zohoapis.com.cn"),
}
DEFAULT_DC = "US (zoho.com)"


def data_centre(choice: str) -> tuple[str, str]:
    """(accounts server, API host) of a data centre given as the dialog's choice, a domain (``zoho.eu``), an
    accounts server URL (``https://accounts.zoho.eu``, what the authorization answers as ``accounts-server``) or a
    location code (``eu``)."""
    text = choice.strip().lower().rstrip("/")
    for label, hosts in DATA_CENTRES.items():
        code = label.split(" ")[0].lower()
        domain = label[label.index("(") + 1:-1]
        if text in (label.lower(), code, domain, hosts[0], hosts[0].removeprefix("https://")):
            return hosts
    return DATA_CENTRES[DEFAULT_DC]


def token_url_from_callback(params: Mapping[str, str]) -> str | None:
    """The token endpoint of the data centre the authorization redirect names (``accounts-server``, else
    ``location``), when it is one of Zoho's accounts servers; None otherwise (the chosen data centre's is kept).
    https://www.zoho.com/accounts/protocol/oauth/multi-dc.html"""
    server = str(params.get("accounts-server") or "").strip().rstrip("/").lower()
    known = {hosts[0] for hosts in DATA_CENTRES.values()}
    if server in known:
        return f"{server}/oauth/v2/token"
    location = str(params.get("location") or "").strip().lower()
    codes = {label.split(" ")[0].lower(): hosts[0] for label, hosts in DATA_CENTRES.items()}
    return f"{codes[location]}/oauth/v2/token" if location in codes else None


def accounts_for_api_host(api_url: str) -> str | None:
    """The accounts server of the data centre whose API host is ``api_url`` (the token answer's ``api_domain``)."""
    wanted = api_url.strip().rstrip("/").lower()
    return next((hosts[0] for hosts in DATA_CENTRES.values() if hosts[1] == wanted), None)


# -- editions: credits per 24 h and concurrency (Kaizen #93) -------------------------------------------------------

EDITIONS = ("Free", "Standard", "Professional", "Enterprise", "Ultimate")
DEFAULT_EDITION = "Enterprise"
_CREDITS: dict[str, tuple[int, int, int | None]] = {  # base, per user licence, maximum
    "Free": (5_000, 0, 5_000),
    "Standard": (50_000, 250, 100_000),
    "Professional": (50_000, 500, 1_000_000),
    "Enterprise": (50_000, 1_000, 2_000_000),
    "Ultimate": (50_000, 2_000, None),
}
CONCURRENCY: dict[str, int] = {"Free": 5, "Standard": 10, "Professional": 15, "Enterprise": 20, "Ultimate": 25}
SUB_CONCURRENCY = 10  # heavy calls (writes of more than 10 records, COQL) have their own limit of 10


def daily_credits(edition: str, users: int) -> int:
    base, per_user, maximum = _CREDITS.get(edition, _CREDITS[DEFAULT_EDITION])
    total = base + per_user * max(1, users)
    return min(total, maximum) if maximum is not None else total


def edition_from_licence(licence: Any) -> tuple[str, int] | None:
    """(edition, user licences) from an organisation's ``license_details`` (``paid_type`` such as ``"enterprise"``,
    or ``trial_type`` while the organisation is on a trial), or ``None`` when it names no edition we know."""
    if not isinstance(licence, dict):
        return None
    names = {e.lower(): e for e in EDITIONS}
    kind = str(licence.get("paid_type") or "").lower() if licence.get("paid") else ""
    kind = kind or str(licence.get("trial_type") or "").lower() or str(licence.get("paid_type") or "").lower()
    edition = names.get(kind)
    if edition is None:
        return None
    users = licence.get("users_license_purchased")
    return edition, users if isinstance(users, int) and users > 0 else 1


def concurrency(edition: str) -> int:
    return CONCURRENCY.get(edition, CONCURRENCY[DEFAULT_EDITION])


# Credits per call: Zoho deducts 1 credit for the calls this app makes (reads of up to 200 records, writes of up
# to 100, COQL, fields, users); the Kaizen post lists heavier calls (convert lead, mass update) it does not use.
OPERATION_COSTS: dict[Operation, int] = {op: 1 for op in Operation}


# -- errors -------------------------------------------------------------------------------------------------------


def _body(reply: Reply) -> dict[str, Any]:
    body = reply.json_or_none()
    return body if isinstance(body, dict) else {}


def record_error(item: Mapping[str, Any]) -> RecordError:
    """One record's ``{code, details, message, status}`` as a RecordError."""
    details = item.get("details") if isinstance(item.get("details"), dict) else {}
    assert isinstance(details, dict)
    code = str(item.get("code") or "ERROR")
    message = str(item.get("message") or code)
    field = str(details.get("api_name") or "")
    existing = ""
    dup = details.get("duplicate_record")
    if isinstance(dup, dict):
        existing = str(dup.get("id") or "")
    reason = f"{message} ({field})" if field and field not in message else message
    return RecordError(reason=f"Zoho: {reason}", code=code, field=field, existing_id=existing)


class ZohoRefused(ValidationError):
    """A write Zoho refused as a whole (HTTP 400) whose body still holds one result per record."""

    def __init__(self, message: str, *, items: list[dict[str, Any]], **kw: Any) -> None:
        super().__init__(message, details=[record_error(i) for i in items], **kw)
        self.items = items


def is_credit_limit(body: Mapping[str, Any]) -> bool:
    text = f"{body.get('code') or ''} {body.get('message') or ''}".casefold()
    return "credit" in text or "limit_reached" in text


def zoho_error(reply: Reply, default: AdapterError) -> AdapterError:
    body = _body(reply)
    code = str(body.get("code") or "")
    message = str(body.get("message") or "")
    said = f" Zoho said: {code}: {message}." if code or message else ""
    kw: dict[str, Any] = {"vendor": "zoho", "status": reply.status}
    if reply.status == 429:
        if is_credit_limit(body):
            return QuotaExhaustedError(
                "Zoho CRM's API credits for the last 24 hours are used up. Credits free up 24 hours after they "
                "were spent; runs can resume then, or buy add-on credits in Zoho CRM (Setup > APIs and SDKs)."
                + said, **kw)
        return RateLimitedError("Zoho CRM is limiting concurrent requests right now; Enginy waits and retries."
                                + said, retry_after=parse_retry_after(reply.header("retry-after")) or 1.0, **kw)
    if reply.status == 401:
        if code == "OAUTH_SCOPE_MISMATCH":
            return MissingScopeError("The Zoho sign-in lacks a permission this call needs. Give the client the "
                                     f"scopes {', '.join(SCOPES)} and sign in again.{said}", scopes=SCOPES, **kw)
        return AuthError("Zoho CRM did not accept the sign-in (expired or revoked, or another data centre). "
                         "Sign in with Zoho again." + said, **kw)
    if reply.status == 403:
        return AuthError(f"Zoho CRM refused access (HTTP 403): the user lacks a permission.{said}", **kw)
    if reply.status == 404:
        return NotFoundError(f"Zoho CRM did not find {reply.method} {reply.url}.{said}", **kw)
    if reply.status in (400, 409, 422):
        items = body.get("data")
        if isinstance(items, list) and items and all(isinstance(i, dict) for i in items):
            return ZohoRefused(f"Zoho CRM refused every record of the request.{said}", items=items, **kw)
        detail = RecordError(reason=message or f"HTTP {reply.status}", code=code or str(reply.status),
                             field=str((body.get("details") or {}).get("api_name") or "")
                             if isinstance(body.get("details"), dict) else "")
        return ValidationError(f"Zoho CRM refused the request.{said}", details=[detail], **kw)
    if said:
        default.message = f"{default.message}{said}"
        default.args = (default.message,)
    return default


# -- fields -------------------------------------------------------------------------------------------------------

_TYPES: dict[str, FieldType] = {
    "text": FieldType.TEXT, "textarea": FieldType.LONG_TEXT, "email": FieldType.EMAIL, "phone": FieldType.PHONE,
    "website": FieldType.URL, "integer": FieldType.NUMBER, "bigint": FieldType.NUMBER, "double": FieldType.NUMBER,
    "currency": FieldType.NUMBER, "decimal": FieldType.NUMBER, "percent": FieldType.NUMBER,
    "boolean": FieldType.BOOLEAN, "date": FieldType.DATE, "datetime": FieldType.DATETIME,
    "picklist": FieldType.PICKLIST, "multiselectpicklist": FieldType.MULTI_PICKLIST,
    "ownerlookup": FieldType.OWNER, "lookup": FieldType.REFERENCE,
}
_SYSTEM_READ_ONLY = frozenset({"id", "Created_Time", "Modified_Time", "Created_By", "Modified_By",
                               "Last_Activity_Time", "Record_Image", "Tag"})


def to_field(item: Mapping[str, Any], object: CrmObject) -> CrmField | None:
    """A ``settings/fields`` item (spec ``fields.json``) as a CrmField; None for types this app does not use."""
    name = str(item.get("api_name") or "")
    vendor_type = str(item.get("data_type") or "")
    if not name or vendor_type not in _TYPES:
        return None
    options = tuple(
        FieldOption(value=str(o.get("actual_value") or o.get("display_value")),
                    label=str(o.get("display_value") or o.get("actual_value")))
        for o in item.get("pick_list_values") or []
        if isinstance(o, dict) and str(o.get("actual_value") or "") not in ("", "-None-"))
    read_only = bool(item.get("read_only") or item.get("field_read_only")) or name in _SYSTEM_READ_ONLY
    unique = item.get("unique")
    return CrmField(
        name=name,
        label=str(item.get("display_label") or item.get("field_label") or name),
        type=_TYPES[vendor_type],
        object=object,
        options=options,
        read_only=read_only,
        unique=bool(unique.get("casesensitive") is not None) if isinstance(unique, dict) else bool(unique),
        required=bool(item.get("system_mandatory")) and not read_only,
        group="Custom fields" if item.get("custom_field") else "",
        vendor_type=vendor_type,
    )


# -- values -------------------------------------------------------------------------------------------------------


def _number(text: str) -> int | float:
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"“{text}” is not a number") from None
    if not number.is_finite():
        raise ValueError(f"“{text}” is not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def _option(field: CrmField | None, value: str) -> str:
    if field is not None and field.options:
        found = field.option_value(value)
        if found is None:
            labels = ", ".join(o.label for o in field.options[:8])
            raise ValueError(f"{field.label} has no option “{value}” (options: {labels})")
        return found
    return value


def to_wire(kind: FieldType, value: object, field: CrmField | None = None) -> Any:
    """A canonical value as Zoho's JSON; None (JSON null) clears the field. ValueError for a value the field
    cannot take."""
    if value is None or value == "" or value == ():
        return [] if kind is FieldType.MULTI_PICKLIST else None
    if kind is FieldType.MULTI_PICKLIST:
        values = value if isinstance(value, list | tuple) else str(value).split(";")
        return [_option(field, str(v).strip()) for v in values if str(v).strip()]
    text = str(value).strip()
    if kind is FieldType.PICKLIST:
        return _option(field, text)
    if kind is FieldType.NUMBER:
        return _number(text)
    if kind is FieldType.BOOLEAN:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"“{text}” is not true or false")
        return text.lower() == "true"
    if kind is FieldType.DATETIME:
        moment = parse_datetime(text)
        if moment is None:
            raise ValueError(f"“{text}” is not a date and time")
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    if kind in (FieldType.OWNER, FieldType.REFERENCE):
        return {"id": text}
    return text


def from_wire(kind: FieldType, value: Any) -> str | tuple[str, ...] | None:
    """Zoho's JSON as a canonical value."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, dict):
        return str(value.get("id")) if value.get("id") is not None else None
    if kind is FieldType.MULTI_PICKLIST or isinstance(value, list):
        return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        if isinstance(value, float) and math.isfinite(value) and value == int(value):
            return str(int(value))
        return str(value)
    if kind is FieldType.DATETIME:
        moment = parse_datetime(str(value))
        if moment is not None:
            return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if kind is FieldType.EMAIL:
        return str(value).lower()
    return str(value)


def zoho_time(moment: datetime) -> str:
    """A date-time as Zoho writes it (ISO 8601 with the offset, to the second)."""
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def coql_text(value: str) -> str:
    """A text literal for COQL (single quotes, backslash-escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
