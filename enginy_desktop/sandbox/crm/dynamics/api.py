"""The Dynamics emulator's endpoints under ``/api/data/v9.2``: ``$metadata``, ``WhoAmI``, entity sets (query with
``$select`` / ``$filter`` / ``$orderby`` / ``$top``, ``Prefer: odata.maxpagesize`` and ``@odata.nextLink``), one
record by id or by alternate key (GET, PATCH as update or upsert, DELETE), create (``OData-EntityId``, or the record
with ``Prefer: return=representation``), and the table definitions (``EntityDefinitions(LogicalName='…')`` with
``Attributes``, the picklist cast with its ``OptionSet``, and ``Keys``).

Shapes from Microsoft's Web API documentation:
query https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/overview,
paging https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query/page-results,
create https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/create-entity-web-api,
update and upsert https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/update-delete-entities-using-web-api,
table definitions https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/query-metadata-web-api,
WhoAmI https://learn.microsoft.com/en-us/power-apps/developer/data-platform/webapi/reference/whoami.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...kit import OAuthEndpoints, parse_json
from ...kit.http import ok
from .filter import FilterError, parse_filter
from .metadata import BY_SET, LOOKUP_KINDS, TABLES, csdl, property_name
from .state import API, BUSINESS_UNIT, ORG_ID, DynamicsError, DynamicsSandbox, bad, missing

_ONE = re.compile(r"^([a-z_]+)\((.+)\)$")
_DEFS = re.compile(r"^EntityDefinitions\(LogicalName='([a-z_]+)'\)(?:/(Attributes|Keys)"
                   r"(?:/Microsoft\.Dynamics\.CRM\.(PicklistAttributeMetadata|BooleanAttributeMetadata))?)?$")
_KEYPART = re.compile(r"([a-z_0-9]+)=('(?:[^']|'')*'|[^,]+)")
_HEADERS = {"OData-Version": "4.0"}


def _label(text: str) -> dict[str, Any]:
    return {"LocalizedLabels": [{"Label": text, "LanguageCode": 1033}],
            "UserLocalizedLabel": {"Label": text, "LanguageCode": 1033}}


def _attribute(c: Any, table: str) -> dict[str, Any]:
    odata = {"String": "StringAttributeMetadata", "Memo": "MemoAttributeMetadata",
             "Integer": "IntegerAttributeMetadata", "Money": "MoneyAttributeMetadata",
             "Decimal": "DecimalAttributeMetadata", "Boolean": "BooleanAttributeMetadata",
             "DateTime": "DateTimeAttributeMetadata", "Picklist": "PicklistAttributeMetadata",
             "Lookup": "LookupAttributeMetadata", "Customer": "LookupAttributeMetadata",
             "Owner": "LookupAttributeMetadata", "Uniqueidentifier": "UniqueIdentifierAttributeMetadata"}[c.kind]
    out: dict[str, Any] = {
        "@odata.type": f"#Microsoft.Dynamics.CRM.{odata}", "LogicalName": c.name, "SchemaName": c.name,
        "EntityLogicalName": table, "AttributeType": c.kind, "DisplayName": _label(c.label),
        "IsValidForCreate": c.create, "IsValidForUpdate": c.update, "IsValidForRead": True,
        "IsPrimaryId": c.name == TABLES[table].primary_id, "IsPrimaryName": c.name == TABLES[table].primary_name,
        "IsCustomAttribute": False, "RequiredLevel": {"Value": c.required, "CanBeChanged": True},
        "AttributeOf": None}
    if c.kind in ("String", "Memo"):
        out["MaxLength"] = c.max_length
        out["Format"] = c.format or "Text"
    if c.kind in LOOKUP_KINDS:
        out["Targets"] = list(c.targets)
    if c.kind == "DateTime":
        out["Format"] = "DateOnly" if c.date_only else "DateAndTime"
    return out


class Api:
    def __init__(self, sandbox: DynamicsSandbox) -> None:
        self.sb = sandbox

    async def batch(self, request: Request) -> Response:
        return await batch(self, request)

    async def dispatch(self, request: Request) -> Response:
        rest = request.path_params["rest"]
        method = request.method
        if rest == "$metadata" and method == "GET":
            return Response(csdl(), media_type="application/xml", headers=_HEADERS)
        if rest == "$batch" and method == "POST":
            return await self.batch(request)
        if rest == "WhoAmI" and method == "GET":
            principal = request.scope.get("sandbox.token")
            users = self.sb.user_ids()
            n = getattr(principal, "user_id", 1) or 1
            return ok({"@odata.context": f"{request.base_url}{API.lstrip('/')}/$metadata#Microsoft.Dynamics.CRM."
                       "WhoAmIResponse", "BusinessUnitId": BUSINESS_UNIT, "UserId": users[min(n, len(users)) - 1],
                       "OrganizationId": ORG_ID}, headers=_HEADERS)
        if rest == "organizations" and method == "GET":
            return ok({"value": [{"organizationid": ORG_ID, "name": self.sb.config.org_name}]}, headers=_HEADERS)
        m = _DEFS.match(rest)
        if m and method == "GET":
            return self.definitions(m.group(1), m.group(2), m.group(3))
        if rest in BY_SET:
            if method == "GET":
                return self.query(request, rest)
            if method == "POST":
                return await self.create(request, rest)
        m = _ONE.match(rest)
        if m and m.group(1) in BY_SET:
            table = BY_SET[m.group(1)].name
            if method == "GET":
                return self.get_one(request, table, m.group(2))
            if method == "PATCH":
                return await self.patch(request, table, m.group(2))
            if method == "DELETE":
                record = self._locate(table, m.group(2))
                if record is None:
                    raise missing(table, m.group(2))
                self.sb.delete(table, record[TABLES[table].primary_id])
                return Response(status_code=204, headers=_HEADERS)
        raise bad(f"Resource not found for the segment '{rest.split('(')[0]}'.", "0x80060888", 404)

    # -- metadata ------------------------------------------------------------------------------------------------
    def definitions(self, table: str, part: str | None, cast: str | None) -> Response:
        t = TABLES.get(table)
        if t is None:
            raise bad(f"Could not find an entity with LogicalName = {table}.", "0x80040217", 404)
        if part is None:
            return ok({"LogicalName": t.name, "EntitySetName": t.entity_set, "PrimaryIdAttribute": t.primary_id,
                       "PrimaryNameAttribute": t.primary_name, "DisplayName": _label(t.name.title())},
                      headers=_HEADERS)
        if part == "Keys":
            key = self.sb.config.alternate_keys.get(table)
            keys = [{"LogicalName": f"{table}_{'_'.join(key)}_key", "KeyAttributes": list(key),
                     "EntityKeyIndexStatus": "Active"}] if key else []
            return ok({"value": keys}, headers=_HEADERS)
        if cast == "PicklistAttributeMetadata":
            return ok({"value": [{"LogicalName": c.name, "OptionSet": {"Options": [
                {"Value": v, "Label": _label(label)} for v, label in c.options]}}
                for c in t.columns if c.kind == "Picklist"]}, headers=_HEADERS)
        if cast == "BooleanAttributeMetadata":
            return ok({"value": [{"LogicalName": c.name, "OptionSet": {
                "FalseOption": {"Value": 0, "Label": _label(c.options[0][1] if c.options else "No")},
                "TrueOption": {"Value": 1, "Label": _label(c.options[1][1] if c.options else "Yes")}}}
                for c in t.columns if c.kind == "Boolean"]}, headers=_HEADERS)
        return ok({"value": [_attribute(c, table) for c in t.columns]}, headers=_HEADERS)

    # -- reading ---------------------------------------------------------------------------------------------------
    def _select(self, table: str, raw: str | None) -> list[str] | None:
        if not raw:
            return None
        known = {property_name(c) for c in TABLES[table].columns}
        names = [n.strip() for n in raw.split(",") if n.strip()]
        for n in names:
            if n not in known:
                raise bad(f"Could not find a property named '{n}' on type 'Microsoft.Dynamics.CRM.{table}'.",
                          "0x80060888")
        return names

    def query(self, request: Request, entity_set: str) -> Response:
        t = BY_SET[entity_set]
        q = request.query_params
        select = self._select(t.name, q.get("$select"))
        rows = list(self.sb.records[t.name].values())
        known = {property_name(c) for c in t.columns}
        if q.get("$filter"):
            try:
                pred, _names = parse_filter(q["$filter"], lambda n: n in known)
            except FilterError as exc:
                raise bad(str(exc).replace("entity'", f"{t.name}'"), "0x80060888") from None
            rows = [r for r in rows if pred(r.get)]
        order = q.get("$orderby")
        if order:
            prop, _, direction = order.strip().partition(" ")
            if prop not in known:
                raise bad(f"Could not find a property named '{prop}' on type 'Microsoft.Dynamics.CRM.{t.name}'.",
                          "0x80060888")
            rows.sort(key=lambda r: (r.get(prop) is None, str(r.get(prop) or "")), reverse=direction == "desc")
        else:
            rows.sort(key=lambda r: str(r[t.primary_id]))
        if q.get("$top"):
            rows = rows[:int(q["$top"])]
        size = self.sb.config.page_size
        prefer = request.headers.get("prefer", "")
        m = re.search(r"odata\.maxpagesize=(\d+)", prefer)
        if m:
            size = max(1, min(size, int(m.group(1))))
        start = int(q.get("$skiptoken") or 0)
        chunk = rows[start:start + size]
        base = f"{str(request.base_url).rstrip('/')}{API}"
        expand = self._expand(t.name, q.get("$expand"))
        body: dict[str, Any] = {"@odata.context": f"{base}/$metadata#{entity_set}",
                                "value": [{**self.sb.view(t.name, r, select), **expand(r)} for r in chunk]}
        if q.get("$count") == "true":
            body["@odata.count"] = len(rows)
        if start + size < len(rows):
            params = {k: v for k, v in q.items() if k != "$skiptoken"}
            params["$skiptoken"] = str(start + size)
            body["@odata.nextLink"] = f"{base}/{entity_set}?{urlencode(params)}"
        return ok(body, headers={**_HEADERS, **({"Preference-Applied": f"odata.maxpagesize={size}"} if m else {})})

    def _expand(self, table: str, raw: str | None) -> Any:
        """``$expand`` of single-valued navigation properties, with an inner ``$select``."""
        wanted: list[tuple[str, str, str, list[str] | None]] = []
        for part in re.findall(r"([a-z_]+)(?:\(\$select=([a-z_,]+)\))?(?:,|$)", raw or ""):
            nav, inner = part
            if nav not in TABLES[table].navigation:
                raise bad(f"Could not find a property named '{nav}' on type 'Microsoft.Dynamics.CRM.{table}'.",
                          "0x80060888")
            column, target = TABLES[table].navigation[nav]
            wanted.append((nav, column, target, self._select(target, inner) if inner else None))

        def expand(record: dict[str, Any]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for nav, column, target, select in wanted:
                rid = record.get(f"_{column}_value")
                kind = record.get(f"_{column}_value@Microsoft.Dynamics.CRM.lookuplogicalname")
                found = self.sb.find(target, rid) if rid and kind in (None, target) else None
                out[nav] = self.sb.view(target, found, select) if found else None
            return out

        return expand

    def _keys(self, raw: str) -> dict[str, Any] | str:
        if re.fullmatch(r"[0-9a-fA-F-]{36}", raw):
            return raw.lower()
        parts = {}
        for name, value in _KEYPART.findall(raw):
            parts[name] = value[1:-1].replace("''", "'") if value.startswith("'") else value
        if not parts:
            raise bad(f"Bad Request - Error in query syntax: '{raw}' is not a key.", "0x80060888")
        return parts

    def _locate(self, table: str, raw: str) -> dict[str, Any] | None:
        keys = self._keys(raw)
        if isinstance(keys, str):
            return self.sb.find(table, keys)
        return self.sb.by_alternate_key(table, keys)

    def get_one(self, request: Request, table: str, raw: str) -> Response:
        record = self._locate(table, raw)
        if record is None:
            raise missing(table, raw)
        return ok(self.sb.view(table, record, self._select(table, request.query_params.get("$select"))),
                  headers=_HEADERS)

    # -- writing -----------------------------------------------------------------------------------------------
    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = parse_json(raw) if raw.strip() else None
        except ValueError as exc:
            raise bad(f"Invalid JSON. {exc}", "0x80040216") from None
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.", "0x80040216")
        return body

    def _written(self, request: Request, table: str, record: dict[str, Any], created: bool) -> Response:
        t = TABLES[table]
        rid = record[t.primary_id]
        entity_id = f"{str(request.base_url).rstrip('/')}{API}/{t.entity_set}({rid})"
        headers = {**_HEADERS, "OData-EntityId": entity_id}
        if "return=representation" in request.headers.get("prefer", ""):
            return ok(self.sb.view(table, record, None), status=201 if created else 200, headers=headers)
        return Response(status_code=204, headers=headers)

    async def create(self, request: Request, entity_set: str) -> Response:
        table = BY_SET[entity_set].name
        if table in ("systemuser", "organization"):
            raise bad(f"Creating {entity_set} is not supported here.", "0x80040216", 405)
        body = await self._body(request)
        record = self.sb.insert(table, body)
        return self._written(request, table, record, True)

    async def patch(self, request: Request, table: str, raw: str) -> Response:
        """Update, or upsert: a PATCH that finds no record creates one unless ``If-Match: *``; with
        ``If-None-Match: *`` it only creates."""
        body = await self._body(request)
        keys = self._keys(raw)
        record = self._locate(table, raw)
        if request.headers.get("if-none-match") == "*" and record is not None:
            raise bad("A record with matching key values already exists.", "0x80040237", 412)
        if record is not None:
            return self._written(request, table, self.sb.modify(table, record[TABLES[table].primary_id], body),
                                 False)
        if request.headers.get("if-match") == "*":
            raise missing(table, raw)
        if isinstance(keys, dict):
            for k in keys:
                if k in body:
                    raise bad(f"The key attribute '{k}' must not be repeated in the body of an upsert.", "0x80060888")
            made = self.sb.insert(table, {**body, **keys})
        else:
            made = self.sb.insert(table, body, rid=keys)
        return self._written(request, table, made, True)


async def _run_one(api: Api, outer: Request, method: str, target: str, headers: dict[str, str], body: bytes
                   ) -> tuple[int, dict[str, str], bytes]:
    """One operation of a ``$batch``, answered as if it had been sent alone."""
    path, _, query = target.partition("?")
    if not path.startswith(API + "/"):
        return 400, {}, json.dumps({"error": {"code": "0x80060888", "message": f"Bad request URL {path}"}}).encode()
    scope = dict(outer.scope)
    scope.update(method=method, path=path, raw_path=path.encode(), query_string=query.encode(),
                 headers=[(k.lower().encode(), v.encode()) for k, v in headers.items()],
                 path_params={"rest": path[len(API) + 1:]})
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        response = await api.dispatch(Request(scope, receive))
    except DynamicsError as exc:
        return exc.status, {}, json.dumps(exc.payload(api.sb)).encode()
    return response.status_code, {k: v for k, v in response.headers.items() if k.lower() != "content-length"}, \
        bytes(response.body)


def _parse_parts(raw: str, boundary: str) -> list[tuple[dict[str, str], str]]:
    out = []
    for chunk in raw.split(f"--{boundary}")[1:]:
        if chunk.startswith("--"):
            break
        head, _, rest = chunk.strip("\r\n").replace("\r\n", "\n").partition("\n\n")
        headers = {}
        for line in head.split("\n"):
            k, sep, v = line.partition(":")
            if sep:
                headers[k.strip().lower()] = v.strip()
        out.append((headers, rest))
    return out


def _boundary(content_type: str) -> str:
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise bad("The $batch request needs a multipart/mixed content type with a boundary.", "0x80040216")
    return m.group(1)


async def batch(api: Api, request: Request) -> Response:
    """``$batch``: parts and change sets executed in order; a change set is atomic (rolled back when one of its
    operations fails); without ``Prefer: odata.continue-on-error`` the batch stops at the first failure. At most
    1,000 operations; each counts against the service protection limit."""
    boundary = _boundary(request.headers.get("content-type", ""))
    raw = (await request.body()).decode("utf-8", errors="replace")
    go_on = "odata.continue-on-error" in request.headers.get("prefer", "")
    parts = _parse_parts(raw, boundary)
    groups: list[tuple[bool, list[tuple[dict[str, str], str]]]] = []
    for headers, rest in parts:
        if headers.get("content-type", "").startswith("multipart/mixed"):
            groups.append((True, _parse_parts(rest, _boundary(headers["content-type"]))))
        else:
            groups.append((False, [(headers, rest)]))
    if sum(len(g) for _c, g in groups) > 1000:
        raise bad("The number of requests in a batch exceeds the limit of 1000.", "0x8004e003")
    out_id = f"batchresponse_{uuid.uuid4()}"
    lines: list[str] = []
    failed = False
    for is_changeset, ops in groups:
        if failed and not go_on:
            break
        snapshot = copy.deepcopy(api.sb.records) if is_changeset and len(ops) > 1 else None
        answers: list[tuple[str, int, dict[str, str], bytes]] = []
        for headers, rest in ops:
            request_line, _, after = rest.partition("\n")
            inner_head, _, body = after.partition("\n\n")
            inner_headers = {}
            for line in inner_head.split("\n"):
                k, sep, v = line.partition(":")
                if sep:
                    inner_headers[k.strip()] = v.strip()
            method, target, *_ = [*request_line.split(" "), "", ""]
            if len(answers) + len(lines) > 0:
                api.sb.requests_used += 1  # every operation after the first counts (the first is the request)
            if api.sb.window is not None and len(answers) + len(lines) > 0:
                allowed, _left = api.sb.window.try_hit(str(getattr(request.scope.get("sandbox.token"), "user_id",
                                                                   "") or "user"), api.sb.config.clock())
                if not allowed:
                    answers.append((headers.get("content-id", ""), 429, {"Retry-After": "5"}, json.dumps(
                        {"error": {"code": "0x80072322", "message": "Number of requests exceeded the limit."}})
                        .encode()))
                    break
            host = request.headers.get("host", "")
            target = re.sub(rf"^https?://{re.escape(host)}", "", target) if host else target
            status, rh, rb = await _run_one(api, request, method.upper(), target, inner_headers, body.strip().encode())
            answers.append((headers.get("content-id", ""), status, rh, rb))
            if status >= 400:
                break
        bad_answer = any(a[1] >= 400 for a in answers)
        if bad_answer:
            failed = True
            if snapshot is not None:
                api.sb.records = snapshot
                answers = [a for a in answers if a[1] >= 400]
        inner_id = f"changesetresponse_{uuid.uuid4()}"
        if is_changeset:
            lines += [f"--{out_id}", f"Content-Type: multipart/mixed; boundary={inner_id}", ""]
        for cid, status, rh, rb in answers:
            lines += [f"--{inner_id}" if is_changeset else f"--{out_id}", "Content-Type: application/http",
                      "Content-Transfer-Encoding: binary"] + ([f"Content-ID: {cid}"] if cid else []) + [
                      "", f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
            lines += [f"{k}: {v}" for k, v in rh.items() if k.lower() not in ("content-type",)]
            if rb:
                lines += ["Content-Type: application/json; odata.metadata=minimal", "", rb.decode()]
            else:
                lines.append("")
        if is_changeset:
            lines.append(f"--{inner_id}--")
    lines.append(f"--{out_id}--")
    return Response(("\r\n".join(lines) + "\r\n").encode(), status_code=200,
                    media_type=f"multipart/mixed; boundary={out_id}", headers=_HEADERS)


_REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 404: "Not Found",
            412: "Precondition Failed", 429: "Too Many Requests", 500: "Internal Server Error"}


def build_routes(sb: DynamicsSandbox) -> list[BaseRoute]:
    api = Api(sb)
    # Microsoft Entra's v2.0 endpoints (authorization code with PKCE, refresh), under any tenant segment the
    # gateway treats as public: https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
    oauth = OAuthEndpoints(sb.tokens)
    routes: list[BaseRoute] = [Route(f"{API}/{{rest:path}}", api.dispatch, methods=["GET", "POST", "PATCH", "DELETE"])]
    for tenant in ("common", "organizations", "sandbox-tenant"):
        routes += oauth.routes(authorize=f"/{tenant}/oauth2/v2.0/authorize", token=f"/{tenant}/oauth2/v2.0/token")
    return routes


__all__ = ["build_routes"]
