"""Salesforce's wire format: the REST API version, SOQL quoting and chunking, describe types, values, errors.

Vendor facts (``apis/crm_apis.md`` §4) and Salesforce's REST API Developer Guide:

- error bodies are arrays ``[{"message", "errorCode", "fields"}]`` and ``403 REQUEST_LIMIT_EXCEEDED`` signals the
  limits: https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm
- ``Sforce-Limit-Info: api-usage=N/M`` on every answer and ``GET /limits`` (``DailyApiRequests``):
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_limits.htm
- sObject Collections (200 records per request, ``allOrNone``):
  https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections.htm
  and the upsert by external ID:
  https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-collections-upsert.html
- SOQL ``query`` with ``nextRecordsUrl`` paging; statements up to 100,000 characters, URIs up to 16,384:
  https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select.htm
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
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
    QuotaExhaustedError,
    RateLimitedError,
    RecordError,
    TransientError,
    ValidationError,
)
from .http import RateInfo, Reply

API_VERSION = "v62.0"  # the one REST API version every call uses (Winter '25; v46+ is needed for upsert)
DATA = f"/services/data/{API_VERSION}"
LOGIN_URL = "https://login.salesforce.com"
SANDBOX_LOGIN_URL = "https://test.salesforce.com"
OAUTH_REDIRECT_PORT = 1717  # the callback the Salesforce CLI registers: http://localhost:1717/OauthRedirect
OAUTH_REDIRECT_PATH = "/OauthRedirect"
SCOPES = ("api", "refresh_token")
COLLECTION = 200  # records per sObject Collections request
MAX_QUERY_CHARS = 8_000  # well under the 16,384-character URI limit once encoded
DEFAULT_DAILY = 100_000  # the base of a production org's daily allocation (plus per-licence additions)

OBJECTS: dict[CrmObject, str] = {CrmObject.CONTACTS: "Contact", CrmObject.COMPANIES: "Account"}
# A contact's accounts besides its primary one, where the org has "Contacts to Multiple Accounts":
# https://developer.salesforce.com/docs/atlas.en-us.264.0.object_reference.meta/object_reference/sforce_api_objects_accountcontactrelation.htm
RELATION = "AccountContactRelation"

# describe's ``type`` -> our canonical type (Field types: https://developer.salesforce.com/docs/atlas.en-us.api.meta/
# api/field_types.htm).
TYPES: dict[str, FieldType] = {
    "string": FieldType.TEXT, "textarea": FieldType.LONG_TEXT, "email": FieldType.EMAIL, "phone": FieldType.PHONE,
    "url": FieldType.URL, "boolean": FieldType.BOOLEAN, "int": FieldType.NUMBER, "double": FieldType.NUMBER,
    "currency": FieldType.NUMBER, "percent": FieldType.NUMBER, "long": FieldType.NUMBER, "date": FieldType.DATE,
    "datetime": FieldType.DATETIME, "picklist": FieldType.PICKLIST, "multipicklist": FieldType.MULTI_PICKLIST,
    "reference": FieldType.REFERENCE, "id": FieldType.OTHER, "combobox": FieldType.TEXT,
}


def to_field(item: Mapping[str, Any], object: CrmObject) -> CrmField | None:
    """A describe ``fields[]`` entry as a :class:`CrmField` (compound address/name parts are kept as they are)."""
    name = str(item.get("name") or "")
    if not name:
        return None
    vendor = str(item.get("type") or "")
    kind = TYPES.get(vendor, FieldType.OTHER)
    refs = [str(r) for r in item.get("referenceTo") or []]
    if vendor == "reference" and name.endswith("OwnerId") and (name == "OwnerId" or refs == ["User"]):
        kind = FieldType.OWNER
    options = tuple(FieldOption(str(o.get("value")), str(o.get("label") or o.get("value")),
                                hidden=not o.get("active", True))
                    for o in item.get("picklistValues") or [] if isinstance(o, dict) and o.get("value") is not None)
    writable = bool(item.get("createable")) or bool(item.get("updateable"))
    description = str(item.get("inlineHelpText") or "")
    if refs:
        description = (description + " " if description else "") + f"Refers to {', '.join(refs)}."
    return CrmField(
        name=name, label=str(item.get("label") or name), type=kind, object=object, options=options,
        read_only=not writable or bool(item.get("calculated")),
        unique=bool(item.get("externalId")) or bool(item.get("unique")),
        required=bool(item.get("createable")) and not item.get("nillable", True)
        and not item.get("defaultedOnCreate", False) and vendor != "boolean",
        group="Custom fields" if item.get("custom") else "",
        description=description,
        vendor_type=vendor + (":external_id" if item.get("externalId") else ""),
    )


# -- values ------------------------------------------------------------------------------------------------------


def to_wire(kind: FieldType, value: Any) -> Any:
    """A canonical value as Salesforce's JSON (None and "" clear the field)."""
    if value is None or value == "" or value == ():
        return None
    if kind is FieldType.MULTI_PICKLIST:
        items = value if isinstance(value, list | tuple) else [value]
        return ";".join(str(v) for v in items if str(v)) or None
    if isinstance(value, list | tuple):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value)
    if kind is FieldType.BOOLEAN:
        return text.strip().lower() == "true"
    if kind is FieldType.NUMBER:
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"“{text}” is not a number") from None
        return int(number) if number == number.to_integral_value() and "." not in text else float(number)
    if kind is FieldType.DATETIME:
        return text.replace("Z", "+0000") if text.endswith("Z") else text
    return text


def from_wire(kind: FieldType, value: Any) -> Any:
    """Salesforce's JSON value as a canonical value."""
    if value is None or value == "":
        return None
    if kind is FieldType.MULTI_PICKLIST:
        return tuple(v for v in str(value).split(";") if v)
    if kind is FieldType.BOOLEAN or isinstance(value, bool):
        return "true" if value is True or str(value).lower() == "true" else "false"
    if kind is FieldType.NUMBER or isinstance(value, int | float):
        number = Decimal(str(value))
        text = format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
        return text
    if kind is FieldType.DATETIME:
        text = str(value)
        try:
            moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")
        except ValueError:
            return text
        moment = moment.astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return str(value)


# -- SOQL ------------------------------------------------------------------------------------------------------------

_SAFE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)?$")


def quote(value: str) -> str:
    """A SOQL string literal (quotes, backslashes and line breaks escaped)."""
    escaped = (str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
               .replace("\t", "\\t").replace('"', '\\"'))
    return f"'{escaped}'"


def field_name(name: str) -> str:
    """A field name fit for a SOQL statement (the engine passes names from describe, never user text)."""
    if not _SAFE_NAME.match(name):
        raise ValueError(f"“{name}” is not a Salesforce field name")
    return name


def in_chunks(head: str, name: str, values: Sequence[str], tail: str = "", *,
              max_values: int = COLLECTION, max_chars: int = MAX_QUERY_CHARS) -> Iterator[str]:
    """``head + name IN (…) + tail`` statements, each with at most ``max_values`` values and ``max_chars``
    characters, covering every value once."""
    current: list[str] = []
    size = len(head) + len(name) + len(tail) + 8
    for value in dict.fromkeys(values):
        literal = quote(value)
        if current and (len(current) >= max_values or size + len(literal) + 1 > max_chars):
            yield f"{head}{name} IN ({','.join(current)}){tail}"
            current, size = [], len(head) + len(name) + len(tail) + 8
        current.append(literal)
        size += len(literal) + 1
    if current:
        yield f"{head}{name} IN ({','.join(current)}){tail}"


def flatten(item: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A query record with relationship fields as dotted names (``{"Account": {"Name": "x"}}`` ->
    ``Account.Name``); ``attributes`` is left out."""
    out: dict[str, Any] = {}
    for key, value in item.items():
        if key == "attributes":
            continue
        if isinstance(value, dict) and "attributes" in value:
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


# -- limits -------------------------------------------------------------------------------------------------------

_USAGE = re.compile(r"api-usage=(\d+)/(\d+)")


def api_usage(reply: Reply) -> tuple[int, int] | None:
    """``Sforce-Limit-Info: api-usage=N/M``: requests used in the last 24 hours and the org's allocation."""
    match = _USAGE.search(reply.header("sforce-limit-info"))
    return (int(match.group(1)), int(match.group(2))) if match else None


def rate_info(reply: Reply) -> RateInfo:
    usage = api_usage(reply)
    return RateInfo(daily_remaining=max(0, usage[1] - usage[0]) if usage else None)


# -- errors -------------------------------------------------------------------------------------------------------


def sign_in_again(kind: str) -> str:
    """What to do when the sign-in is gone, in the window and on the command line (``kind``: ``oauth`` for the
    browser sign-in, ``session`` for a saved access token)."""
    cli = ("on the command line, save a fresh session: run `sf org display --target-org YOUR_ORG` and pass its "
           "Access Token to `enginy-desktop connect salesforce --secret-stdin access_token`")
    if kind == "session":
        return (f"The saved access token no longer works: {cli}; or, in the window, paste it in the Salesforce "
                "connection or sign in with Salesforce there (Integrations → Salesforce).")
    return ("Sign in with Salesforce again in the window (Integrations → Salesforce → Sign in with Salesforce); "
            f"or, {cli}.")


def errors_of(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, list):
        return [e for e in body if isinstance(e, dict)]
    if isinstance(body, dict):
        return [body]
    return []


def record_error(error: Mapping[str, Any]) -> RecordError:
    """One entry of an ``errors`` array (``statusCode`` in collections, ``errorCode`` elsewhere) in our words."""
    code = str(error.get("statusCode") or error.get("errorCode") or "")
    message = str(error.get("message") or code or "Salesforce refused this record.")
    fields = [str(f) for f in error.get("fields") or []]
    field = fields[0] if fields else ""
    existing = ""
    duplicate = error.get("duplicateResult")
    if isinstance(duplicate, dict):
        for match in duplicate.get("matchResults") or []:
            for rec in (match or {}).get("matchRecords") or []:
                existing = str(((rec or {}).get("record") or {}).get("Id") or "")
                if existing:
                    break
            if existing:
                break
    if code in ("INVALID_FIELD_FOR_INSERT_UPDATE", "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY") and fields:
        message = (f"Salesforce does not let this user write {', '.join(fields)} (field-level security or a "
                   f"read-only field): {message}")
    elif code == "DUPLICATES_DETECTED":
        message = f"A Salesforce duplicate rule blocked this record: {message}"
    retriable = code in ("UNABLE_TO_LOCK_ROW", "REQUEST_RUNNING_TOO_LONG")
    return RecordError(message, code=code, field=field, existing_id=existing, retriable=retriable)


def salesforce_error(reply: Reply, error: AdapterError) -> AdapterError:
    """Refines the status-based classification with Salesforce's ``errorCode``."""
    errors = errors_of(reply.json_or_none())
    first = errors[0] if errors else {}
    code = str(first.get("errorCode") or first.get("error") or "")
    message = str(first.get("message") or first.get("error_description") or "")
    kw: dict[str, Any] = {"vendor": "salesforce", "status": reply.status}
    if code == "REQUEST_LIMIT_EXCEEDED":
        if "concurrent" in message.lower() or "ConcurrentPerOrg" in message:
            return RateLimitedError(f"Salesforce is limiting concurrent requests: {message}", retry_after=5.0, **kw)
        latest = datetime.now(UTC) + timedelta(hours=24)
        return QuotaExhaustedError(
            "The Salesforce org has used its daily API request allocation "
            f"({message or 'REQUEST_LIMIT_EXCEEDED'}). Salesforce counts it over the last 24 hours, so requests "
            f"free up as older ones age out (all of them by {latest:%Y-%m-%d %H:%M} UTC). What was exported is "
            "kept; resume the run later.", resets_at=latest, **kw)
    if code == "INVALID_SESSION_ID" or reply.status == 401:
        return AuthError("The Salesforce session has expired or was revoked (INVALID_SESSION_ID).", **kw)
    if code in ("API_DISABLED_FOR_ORG", "API_CURRENTLY_DISABLED"):
        return MissingScopeError("The Salesforce user cannot use the API: turn on “API Enabled” in its profile or "
                                 f"a permission set ({message}).", scopes=("api",), **kw)
    if code in ("INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "FUNCTIONALITY_NOT_ENABLED"):
        return AuthError(f"Salesforce refused access ({code}): {message}", **kw)
    if code == "NOT_FOUND" or reply.status == 404:
        return NotFoundError(f"Salesforce has no such record or resource: {message or reply.url}", **kw)
    if reply.status in (400, 409, 422, 300) or code:
        if reply.status >= 500:
            return TransientError(f"Salesforce had a temporary problem ({code}): {message}", **kw)
        details = [record_error(e) for e in errors] or [RecordError(message or f"HTTP {reply.status}")]
        if code == "INVALID_FIELD":
            # "No such column 'X' on entity 'Contact'": name the field.
            found = re.search(r"No such column '([^']+)'", message)
            column = found.group(1) if found else ""
            details = [RecordError(f"Salesforce has no field {column} (or this user cannot see it: field-level "
                                   f"security).", code=code, field=column)] if column else details
        return ValidationError(f"Salesforce refused the request ({code or reply.status}): {details[0].reason}",
                               details=details, **kw)
    return error
