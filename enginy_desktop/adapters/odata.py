"""A small OData v4 layer shared by the CRMs that speak it (Dynamics 365 / Dataverse, TribeCRM): ``$filter``
building with proper quoting (``in`` lists, Dataverse's ``In`` function, or ``eq … or eq …`` chains for services
without ``in``), ``@odata.nextLink`` paging and ``$top``/``$skip`` paging, the OData error body as our error tree,
and reading a ``$metadata`` (CSDL) document (with the ``Core.Computed`` and ``Core.Description`` annotations).

- Literals and ``$filter`` syntax: OData v4.01 URL Conventions §5.1.1 (string literals in single quotes, a quote
  inside doubled), https://docs.oasis-open.org/odata/odata/v4.01/odata-v4.01-part2-url-conventions.html
- Paging: a page carries ``@odata.nextLink``, the whole URL of the next page, to be requested as it is
  (Dataverse: https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/page-results).
- Errors: ``{"error": {"code": ..., "message": ...}}`` (OData JSON Format §21; Dataverse:
  https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/compose-http-requests-handle-errors).
- ``$metadata``: CSDL XML, OData v4.01 Part 3 (``edmx:Edmx`` / ``Schema`` / ``EntityType`` / ``EntitySet``),
  https://docs.oasis-open.org/odata/odata-csdl-xml/v4.01/odata-csdl-xml-v4.01.html
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree

from .base import (
    AdapterError,
    AuthError,
    FatalError,
    NotFoundError,
    RateLimitedError,
    RecordError,
    TransientError,
    ValidationError,
)
from .http import ApiClient, Reply, parse_retry_after

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)?$")
EDM = "{http://docs.oasis-open.org/odata/ns/edm}"
EDMX = "{http://docs.oasis-open.org/odata/ns/edmx}"


# -- $filter -------------------------------------------------------------------------------------------------------


def name(value: str) -> str:
    """A property name as it may appear in a URL (anything else is refused: names are never quoted)."""
    if not _NAME.match(value):
        raise ValueError(f"“{value}” is not a property name")
    return value


def literal(value: Any) -> str:
    """A value as an OData literal: strings quoted (``'`` doubled), GUIDs bare, numbers, booleans, ``null``,
    date-times in ISO 8601 UTC."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    return "'" + str(value).replace("'", "''") + "'"


def is_guid(value: object) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return len(str(value)) == 36


def eq(prop: str, value: Any) -> str:
    return f"{name(prop)} eq {literal(value)}"


def ge(prop: str, value: Any) -> str:
    return f"{name(prop)} ge {literal(value)}"


def in_list(prop: str, values: Sequence[Any]) -> str:
    """``prop in (v1, v2…)`` (OData v4.01)."""
    return f"{name(prop)} in ({','.join(literal(v) for v in values)})"


def dataverse_in(prop: str, values: Sequence[Any]) -> str:
    """Dataverse's query function ``Microsoft.Dynamics.CRM.In(PropertyName='p',PropertyValues=['a','b'])``
    (https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/in)."""
    items = ",".join(literal(str(v)) for v in values)
    return f"Microsoft.Dynamics.CRM.In(PropertyName={literal(name(prop))},PropertyValues=[{items}])"


def eq_any(prop: str, values: Sequence[Any]) -> str:
    """``(p eq 'a' or p eq 'b')``: one of several values, for services without ``in`` (TribeCRM)."""
    parts = [f"{name(prop)} eq {literal(v)}" for v in values]
    if not parts:
        raise ValueError("no values")
    return parts[0] if len(parts) == 1 else "(" + " or ".join(parts) + ")"


def chunks_by_length(values: Sequence[Any], prop: str, *, most: int, max_chars: int = 3000) -> list[list[Any]]:
    """``values`` in groups of at most ``most`` whose ``eq`` chain stays under ``max_chars`` (URLs stay short)."""
    out: list[list[Any]] = []
    current: list[Any] = []
    size = 0
    for v in values:
        cost = len(prop) + len(literal(v)) + 8
        if current and (len(current) >= most or size + cost > max_chars):
            out.append(current)
            current, size = [], 0
        current.append(v)
        size += cost
    if current:
        out.append(current)
    return out


def all_of(*conditions: str) -> str:
    parts = [c for c in conditions if c]
    return " and ".join(f"({c})" if " or " in c else c for c in parts)


def any_of(*conditions: str) -> str:
    parts = [c for c in conditions if c]
    return " or ".join(parts)


def key_segment(keys: Mapping[str, Any] | str) -> str:
    """The key of one entity in a URL: ``(guid)`` or an alternate key ``(name='value',other=1)``."""
    if isinstance(keys, str):
        return f"({keys})" if is_guid(keys) else f"({literal(keys)})"
    return "(" + ",".join(f"{name(k)}={literal(v)}" for k, v in keys.items()) + ")"


# -- paging ----------------------------------------------------------------------------------------------------------


async def pages(api: ApiClient, path: str, params: Mapping[str, str] | None = None, *,
                headers: Mapping[str, str] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of ``value`` of a collection, following ``@odata.nextLink`` (an absolute URL, asked as it is)."""
    reply = await api.request("GET", path, params=dict(params or {}), headers=dict(headers or {}))
    while True:
        data = reply.json_or_none() or {}
        rows = [r for r in data.get("value") or [] if isinstance(r, dict)]
        if rows:
            yield rows
        following = data.get("@odata.nextLink")
        if not following:
            return
        reply = await api.request("GET", str(following), headers=dict(headers or {}))


async def skip_pages(api: ApiClient, path: str, params: Mapping[str, str] | None = None, *, page_size: int,
                     headers: Mapping[str, str] | None = None) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of a collection asked ``page_size`` at a time with ``$top`` and ``$skip`` (for services that cap a
    page and give no ``@odata.nextLink``; when one is given, the service pages itself and its links are followed
    to the end). A short page is the last."""
    skip = 0
    while True:
        query = {**dict(params or {}), "$top": str(page_size), **({"$skip": str(skip)} if skip else {})}
        reply = await api.request("GET", path, params=query, headers=dict(headers or {}))
        data = reply.json_or_none() or {}
        rows = [r for r in data.get("value") or [] if isinstance(r, dict)]
        if rows:
            yield rows
        following = data.get("@odata.nextLink")
        if following:
            while following:
                reply = await api.request("GET", str(following), headers=dict(headers or {}))
                data = reply.json_or_none() or {}
                more = [r for r in data.get("value") or [] if isinstance(r, dict)]
                if more:
                    yield more
                following = data.get("@odata.nextLink")
            return
        if len(rows) < page_size:
            return
        skip += page_size


# -- errors ------------------------------------------------------------------------------------------------------------


def error_of(body: Any) -> tuple[str, str]:
    """(code, message) of an OData error body (``{"error": {"code", "message"}}``), or ("", "")."""
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return str(err.get("code") or ""), str(err.get("message") or "")
    return "", ""


def classify(reply: Reply, error: AdapterError, *, vendor: str, vendor_name: str,
             refine: Callable[[str, str, Reply], AdapterError | None] | None = None) -> AdapterError:
    """The OData error body as our error tree; ``refine`` may decide first on the vendor's own codes."""
    code, message = error_of(reply.json_or_none())
    if refine is not None:
        found = refine(code, message, reply)
        if found is not None:
            return found
    kw: dict[str, Any] = {"vendor": vendor, "status": reply.status}
    said = f" ({code}): {message}" if message else "."
    if reply.status == 429:
        return RateLimitedError(f"{vendor_name} is limiting the number of requests{said}",
                                retry_after=parse_retry_after(reply.header("retry-after")), **kw)
    if reply.status == 401:
        return AuthError(f"{vendor_name} did not accept the sign-in (HTTP 401){said} Sign in again.", **kw)
    if reply.status == 403:
        return AuthError(f"{vendor_name} refused access (HTTP 403){said}", **kw)
    if reply.status == 404:
        return NotFoundError(f"{vendor_name} has no such record or resource{said}", **kw)
    if reply.status in (400, 409, 412, 422):
        detail = RecordError(message or f"HTTP {reply.status}", code=code or str(reply.status))
        return ValidationError(f"{vendor_name} refused the request{said}", details=[detail], **kw)
    if reply.status >= 500 or reply.status in (408, 423):
        return TransientError(f"{vendor_name} had a temporary problem (HTTP {reply.status}){said}", **kw)
    return error


def record_error(body: Any, status: int) -> RecordError:
    code, message = error_of(body)
    return RecordError(message or f"HTTP {status}", code=code or str(status), retriable=status in (429, 503))


# -- $metadata -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    name: str
    type: str  # Edm.String, Edm.Guid, Edm.Int32…
    nullable: bool = True
    max_length: int | None = None
    computed: bool = False  # Org.OData.Core.V1.Computed: the service sets it (read-only)
    description: str = ""  # Org.OData.Core.V1.Description (a custom field's label, for instance)


@dataclass(frozen=True)
class EntityType:
    name: str  # qualified: Namespace.Name
    key: tuple[str, ...]
    properties: Mapping[str, Property]
    navigation: Mapping[str, str] = field(default_factory=dict)  # navigation property -> target type
    base: str = ""


@dataclass(frozen=True)
class Metadata:
    namespace: str
    entity_types: Mapping[str, EntityType]
    entity_sets: Mapping[str, str]  # set name -> qualified entity type

    def type_of(self, entity_set: str) -> EntityType:
        try:
            return self.entity_types[self.entity_sets[entity_set]]
        except KeyError:
            raise FatalError(f"The service describes no entity set “{entity_set}”.") from None

    def properties(self, entity_set: str) -> dict[str, Property]:
        """Every property of the set's type, its base types' included."""
        out: dict[str, Property] = {}
        t: EntityType | None = self.type_of(entity_set)
        while t is not None:
            out = {**t.properties, **out}
            t = self.entity_types.get(t.base) if t.base else None
        return out

    def navigation(self, entity_set: str) -> dict[str, str]:
        out: dict[str, str] = {}
        t: EntityType | None = self.type_of(entity_set)
        while t is not None:
            out = {**t.navigation, **out}
            t = self.entity_types.get(t.base) if t.base else None
        return out


async def fetch_metadata(api: ApiClient, needed: Sequence[str]) -> Metadata:
    """The service's ``$metadata``, with the entity sets an adapter cannot work without checked (``needed``)."""
    reply = await api.request("GET", "/$metadata", headers={"Accept": "application/xml"})
    meta = read_metadata(reply.content)
    for entity_set in needed:
        meta.type_of(entity_set)
    return meta


def read_metadata(xml: bytes | str) -> Metadata:
    """A CSDL XML document as :class:`Metadata` (entity types with keys, properties and navigation; entity
    sets). DTDs and entities are refused, so a hostile document cannot expand."""
    raw = xml.encode() if isinstance(xml, str) else xml
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise FatalError("The $metadata document declares a DTD; it is refused.")
    try:
        root = ElementTree.fromstring(raw)  # noqa: S314 - DTDs refused above, so no entity expansion
    except ElementTree.ParseError as exc:
        raise FatalError(f"The $metadata document is not valid XML: {exc}") from None
    types: dict[str, EntityType] = {}
    sets: dict[str, str] = {}
    namespace = ""
    for schema in root.iter(f"{EDM}Schema"):
        ns = schema.get("Namespace") or ""
        alias = schema.get("Alias") or ""
        namespace = namespace or ns

        def qualify(type_name: str, ns: str = ns, alias: str = alias) -> str:
            if alias and type_name.startswith(alias + "."):
                return ns + type_name[len(alias):]
            return type_name

        for et in schema.findall(f"{EDM}EntityType"):
            key = tuple(ref.get("Name") or "" for ref in et.findall(f"{EDM}Key/{EDM}PropertyRef"))
            props = {}
            for p in et.findall(f"{EDM}Property"):
                length = p.get("MaxLength")
                notes = {(a.get("Term") or "").rsplit(".", 1)[-1]: a for a in p.findall(f"{EDM}Annotation")}
                computed = notes.get("Computed")
                described = notes.get("Description")
                props[p.get("Name") or ""] = Property(
                    p.get("Name") or "", p.get("Type") or "Edm.String", p.get("Nullable", "true") != "false",
                    int(length) if length and length.isdigit() else None,
                    computed=computed is not None and computed.get("Bool", "true") != "false",
                    description=(described.get("String") or "") if described is not None else "")
            nav = {n.get("Name") or "": qualify((n.get("Type") or "").removeprefix("Collection(").rstrip(")"))
                   for n in et.findall(f"{EDM}NavigationProperty")}
            base = qualify(et.get("BaseType") or "")
            types[f"{ns}.{et.get('Name')}"] = EntityType(f"{ns}.{et.get('Name')}", key, props, nav, base)
        for container in schema.findall(f"{EDM}EntityContainer"):
            for es in container.findall(f"{EDM}EntitySet"):
                sets[es.get("Name") or ""] = qualify(es.get("EntityType") or "")
    if not sets:
        raise FatalError("The $metadata document describes no entity sets.")
    return Metadata(namespace, types, sets)


__all__ = [
    "BatchAnswer",
    "BatchOperation",
    "EntityType",
    "Metadata",
    "Property",
    "all_of",
    "any_of",
    "batch_answers",
    "batch_body",
    "chunks_by_length",
    "classify",
    "dataverse_in",
    "eq",
    "eq_any",
    "error_of",
    "ge",
    "in_list",
    "is_guid",
    "key_segment",
    "literal",
    "name",
    "pages",
    "read_metadata",
    "record_error",
    "skip_pages",
]


# -- $batch (multipart/mixed, one change set per operation) ---------------------------------------------------------


@dataclass(frozen=True)
class BatchOperation:
    method: str
    url: str  # the path under the service root, e.g. ``/contacts(…)``
    body: Mapping[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class BatchAnswer:
    status: int
    headers: Mapping[str, str]
    body: Any


def batch_body(root_path: str, operations: Sequence[BatchOperation], boundary: str) -> bytes:
    """A ``$batch`` request body where every operation is its own change set, so each one succeeds or fails alone
    and, with ``Prefer: odata.continue-on-error``, the others go on (OData v4.01 Part 1 §11.7;
    https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/execute-batch-operations-using-web-api)."""
    import json as jsonlib

    lines: list[str] = []
    for n, op in enumerate(operations, start=1):
        changeset = f"changeset_{boundary}_{n}"
        lines += [f"--batch_{boundary}", f"Content-Type: multipart/mixed; boundary={changeset}", "",
                  f"--{changeset}", "Content-Type: application/http", "Content-Transfer-Encoding: binary",
                  f"Content-ID: {n}", "", f"{op.method} {root_path}{op.url} HTTP/1.1",
                  "Content-Type: application/json; type=entry"]
        lines += [f"{k}: {v}" for k, v in op.headers.items()]
        lines += ["", jsonlib.dumps(op.body if op.body is not None else {}, separators=(",", ":")),
                  f"--{changeset}--"]
    lines.append(f"--batch_{boundary}--")
    return ("\r\n".join(lines) + "\r\n").encode()


def _boundary(content_type: str) -> str:
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    return m.group(1) if m else ""


def _parts(raw: str, boundary: str) -> list[str]:
    chunks = raw.split(f"--{boundary}")
    return [c.strip("\r\n") for c in chunks[1:] if not c.startswith("--")]


def _split_head(text: str) -> tuple[dict[str, str], str]:
    head, _, rest = text.replace("\r\n", "\n").partition("\n\n")
    headers = {}
    for line in head.split("\n"):
        k, sep, v = line.partition(":")
        if sep:
            headers[k.strip().lower()] = v.strip()
    return headers, rest


def batch_answers(content_type: str, content: bytes) -> dict[int, BatchAnswer]:
    """The answers of a ``$batch`` response by ``Content-ID`` (an operation with no answer was not executed)."""
    import json as jsonlib

    out: dict[int, BatchAnswer] = {}
    raw = content.decode("utf-8", errors="replace")
    order = 0

    def answer(part: str) -> None:
        nonlocal order
        headers, rest = _split_head(part)
        if headers.get("content-type", "").startswith("multipart/mixed"):
            for inner in _parts(rest, _boundary(headers["content-type"])):
                answer(inner)
            return
        order += 1
        cid = int(headers["content-id"]) if headers.get("content-id", "").isdigit() else order
        status_line, _, after = rest.replace("\r\n", "\n").partition("\n")
        m = re.match(r"HTTP/1\.1 (\d{3})", status_line)
        inner_headers, body_text = _split_head(after) if "\n\n" in after or after.endswith("\n") else (
            _split_head(after + "\n\n"))
        body: Any = None
        if body_text.strip():
            try:
                body = jsonlib.loads(body_text.strip())
            except ValueError:
                body = body_text.strip()
        out[cid] = BatchAnswer(int(m.group(1)) if m else 500, inner_headers, body)

    for part in _parts(raw, _boundary(content_type)):
        answer(part)
    return out
