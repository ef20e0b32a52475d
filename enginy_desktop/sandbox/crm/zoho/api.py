"""The Zoho CRM emulator's endpoints (``/crm/v8``): records (list by ``ids`` or paged with ``page_token``, insert,
update, upsert with ``duplicate_check_fields``, 100 records per call), ``coql`` (a subset: ``select … from …
where F = 'v' | F in (…) [order by id] limit o, n``), ``settings/fields``, ``users``, ``org``; OAuth at the
accounts server's paths (``/oauth/v2/auth``, ``/oauth/v2/token``) answering ``api_domain``. Each request holds one
of the edition's concurrent slots while it runs (past them: 429 ``TOO_MANY_REQUESTS``)."""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ...kit import OAuthEndpoints, OAuthProblem, TokenInfo, VendorError, ok, parse_json
from .state import BATCH, FIELDS, MODULES, ZohoError, ZohoSandbox, invalid

Handler = Callable[[Request], Awaitable[Response]]
_COQL = re.compile(
    r"^\s*select\s+(?P<cols>.+?)\s+from\s+(?P<module>\w+)\s+where\s+(?P<field>\w+(?:\.\w+)?)\s*"
    r"(?:(?P<eq>=)\s*(?P<value>'(?:[^'\\]|\\.)*')|in\s*\((?P<values>.*)\))"
    r"(?:\s+order\s+by\s+id(?:\s+asc)?)?\s+limit\s+(?P<offset>\d+)\s*,\s*(?P<limit>\d+)\s*$", re.I | re.S)
_LITERAL = re.compile(r"'((?:[^'\\]|\\.)*)'")


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


class Api:
    def __init__(self, sandbox: ZohoSandbox) -> None:
        self.sb = sandbox

    def slot(self, handler: Handler) -> Handler:
        async def wrapped(request: Request) -> Response:
            sb = self.sb
            limit = sb.config.max_in_flight()
            if limit is not None and sb.in_flight >= limit:
                raise ZohoError(429, "TOO_MANY_REQUESTS", "concurrency limit exceeded",
                                details={"limit_type": "concurrency"}, limited_by="concurrency")
            sb.in_flight += 1
            sb.max_in_flight_seen = max(sb.max_in_flight_seen, sb.in_flight)
            try:
                if sb.config.processing_ms:
                    await asyncio.sleep(sb.config.processing_ms / 1000)
                return await handler(request)
            finally:
                sb.in_flight -= 1
        return wrapped

    def _view(self, record: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        if fields is None:
            return dict(record)
        return {k: record[k] for k in ["id", *fields] if k in record}

    def _fields_param(self, request: Request) -> list[str]:
        raw = request.query_params.get("fields", "")
        if not raw:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            details={"param": "fields"})
        return [f.strip() for f in raw.split(",") if f.strip()]

    def _module(self, request: Request) -> str:
        module = request.path_params["module"]
        if module not in MODULES:
            raise ZohoError(400, "INVALID_MODULE", "the module name given seems to be invalid",
                            details={"resource_path_index": 0})
        return str(module)

    async def list_records(self, request: Request) -> Response:
        module = self._module(request)
        fields = self._fields_param(request)
        records = list(self.sb.records[module].values())
        ids = request.query_params.get("ids")
        if ids:
            wanted = [i.strip() for i in ids.split(",") if i.strip()]
            if len(wanted) > 100:
                raise invalid("ids takes at most 100 ids")
            records = [self.sb.records[module][i] for i in wanted if i in self.sb.records[module]]
            if not records:
                return Response(status_code=204)
            return ok({"data": [self._view(r, fields) for r in records]})
        try:
            per_page = min(200, max(1, int(request.query_params.get("per_page", "200"))))
            token = request.query_params.get("page_token")
            start = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
        except ValueError:
            raise invalid("invalid page_token or per_page") from None
        chunk = records[start:start + per_page]
        if not chunk:
            return Response(status_code=204)
        more = start + per_page < len(records)
        info: dict[str, Any] = {"per_page": per_page, "count": len(chunk), "more_records": more}
        if more:
            info["next_page_token"] = base64.urlsafe_b64encode(str(start + per_page).encode()).decode()
        return ok({"data": [self._view(r, fields) for r in chunk], "info": info})

    async def _data(self, request: Request) -> tuple[list[Any], dict[str, Any]]:
        raw = await request.body()
        try:
            body = parse_json(raw) if raw.strip() else None
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("data"), list):
            raise ZohoError(400, "INVALID_DATA", "body is not a valid json with the key data")
        if len(body["data"]) > BATCH:
            raise ZohoError(400, "LIMIT_EXCEEDED", "the limit of records per request is exceeded",
                            details={"limit": BATCH})
        return body["data"], body

    def _answer(self, items: list[dict[str, Any]], created: bool) -> Response:
        ok_count = sum(1 for i in items if i["status"] == "success")
        status = (201 if created else 200) if ok_count == len(items) else (400 if ok_count == 0 else 207)
        return JSONResponse({"data": items}, status_code=status)

    def _success(self, record: dict[str, Any], action: str | None = None) -> dict[str, Any]:
        item: dict[str, Any] = {"code": "SUCCESS", "details": {
            "id": record["id"], "Created_Time": record["Created_Time"], "Modified_Time": record["Modified_Time"],
            "Created_By": {"id": self.sb.users[0]["id"], "name": self.sb.users[0]["full_name"]},
            "Modified_By": {"id": self.sb.users[0]["id"], "name": self.sb.users[0]["full_name"]}},
            "message": "record added" if action != "update" else "record updated", "status": "success"}
        if action:
            item["action"] = action
            item["duplicate_field"] = None
        return item

    async def insert(self, request: Request) -> Response:
        module = self._module(request)
        data, _ = await self._data(request)
        items = []
        for values in data:
            problem = self.sb.check_record(module, values, creating=True)
            dup = self.sb.duplicate(module, values, None) if problem is None else None
            if dup:
                problem = {"code": "DUPLICATE_DATA", "details": {"api_name": "Email", "json_path": "$.data[0].Email",
                                                                 "duplicate_record": {"id": dup,
                                                                                      "module": {"api_name": module}}},
                           "message": "duplicate data", "status": "error"}
            items.append(problem or self._success(self.sb.insert(module, dict(values))))
        return self._answer(items, True)

    async def update(self, request: Request) -> Response:
        module = self._module(request)
        data, _ = await self._data(request)
        items = []
        for values in data:
            rid = str(values.get("id") or "") if isinstance(values, dict) else ""
            if rid not in self.sb.records[module]:
                items.append({"code": "INVALID_DATA", "details": {"api_name": "id", "json_path": "$.data[0].id"},
                              "message": "the related id given seems to be invalid", "status": "error"})
                continue
            problem = self.sb.check_record(module, values, creating=False)
            dup = self.sb.duplicate(module, values, rid) if problem is None else None
            if dup:
                problem = {"code": "DUPLICATE_DATA", "details": {"api_name": "Email", "duplicate_record": {
                    "id": dup, "module": {"api_name": module}}}, "message": "duplicate data", "status": "error"}
            changes = {k: v for k, v in values.items() if k != "id"}
            items.append(problem or {**self._success(self.sb.modify(module, rid, changes)),
                                     "message": "record updated"})
        return self._answer(items, False)

    async def upsert(self, request: Request) -> Response:
        module = self._module(request)
        data, body = await self._data(request)
        keys = body.get("duplicate_check_fields") or (["Email"] if module == "Contacts" else ["Account_Name"])
        names = {f["api_name"] for f in FIELDS.get(module, [])}
        if not isinstance(keys, list) or any(k not in names for k in keys):
            raise invalid("invalid duplicate_check_fields", param="duplicate_check_fields")
        items = []
        for values in data:
            if not isinstance(values, dict):
                items.append({"code": "INVALID_DATA", "details": {}, "message": "invalid data", "status": "error"})
                continue
            match = None
            for key in keys:
                wanted = str(values.get(key) or "").lower()
                if wanted:
                    match = next((r for r in self.sb.records[module].values()
                                  if str(r.get(key) or "").lower() == wanted), None)
                if match:
                    break
            problem = self.sb.check_record(module, values, creating=match is None)
            if problem:
                items.append(problem)
            elif match:
                items.append(self._success(self.sb.modify(module, match["id"], dict(values)), "update"))
            else:
                items.append(self._success(self.sb.insert(module, dict(values)), "insert"))
        return self._answer(items, False)

    async def coql(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = parse_json(raw)
        except ValueError:
            body = None
        query = body.get("select_query") if isinstance(body, dict) else None
        m = _COQL.match(query or "") if isinstance(query, str) else None
        if m is None:
            raise ZohoError(400, "SYNTAX_ERROR", "error occured while parsing the query",
                            details={"clause": "where"})
        module = m["module"]
        if module not in MODULES:
            raise ZohoError(400, "INVALID_QUERY", "invalid module", details={"clause": "from"})
        field = m["field"]
        wanted = ({_unquote(m["value"][1:-1]).lower()} if m["eq"]
                  else {_unquote(v).lower() for v in _LITERAL.findall(m["values"] or "")})
        if not m["eq"] and len(wanted) > 50:
            raise ZohoError(400, "LIMIT_EXCEEDED", "more than 50 values in the in clause", details={"clause": "where"})
        columns = [c.strip() for c in m["cols"].split(",") if c.strip()]
        offset, limit = int(m["offset"]), int(m["limit"])
        if limit > 2000:
            raise ZohoError(400, "LIMIT_EXCEEDED", "limit exceeds 2000", details={"clause": "limit"})

        lookup, _, sub = field.partition(".")

        def value_of(r: dict[str, Any]) -> str:
            v = r.get(lookup)
            if sub and isinstance(v, dict):  # a lookup's field: the looked-up record's name
                return str(v.get("name") or "").lower()
            if isinstance(v, dict):
                return str(v.get("id") or "").lower()
            return str(v or "").lower()

        hits = [r for r in self.sb.records[module].values() if value_of(r) in wanted]
        chunk = hits[offset:offset + limit]
        if not chunk:
            return Response(status_code=204)
        return ok({"data": [{c: r.get(c) for c in ["id", *columns] if c in r or c == "id"} for r in chunk],
                   "info": {"count": len(chunk), "more_records": offset + limit < len(hits)}})

    async def count(self, request: Request) -> Response:
        """The module's record count (no criteria), ``{"count": "N"}`` as specs/zoho record.json describes it
        (https://www.zoho.com/crm/developer/docs/api/v8/get-record-count.html)."""
        if set(request.query_params) & {"cvid", "criteria", "email", "phone", "word"}:
            raise invalid("the emulator counts a whole module only")
        return ok({"count": str(len(self.sb.records[self._module(request)]))})

    async def fields(self, request: Request) -> Response:
        module = request.query_params.get("module", "")
        if module not in FIELDS:
            raise ZohoError(400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing",
                            details={"param": "module"})
        return ok({"fields": FIELDS[module]})

    async def users(self, request: Request) -> Response:
        kind = request.query_params.get("type", "AllUsers")
        users = self.sb.users
        if kind == "ActiveUsers":
            users = [u for u in users if u["status"] == "active"]
        elif kind == "CurrentUser":
            users = users[:1]
        return ok({"users": users, "info": {"per_page": 200, "count": len(users), "page": 1,
                                            "more_records": False}})

    async def org(self, request: Request) -> Response:
        c = self.sb.config
        licence = {"paid_expiry": None, "users_license_purchased": c.user_licences, "trial_type": None,
                   "trial_expiry": None, "paid": c.edition != "Free", "paid_type": c.edition.lower(),
                   "trial_action": None}
        return ok({"org": [{"id": "5725767000000000000", "company_name": c.org_name,
                            "domain_name": "org5725767", "country_code": "US", "time_zone": "UTC",
                            "license_details": licence}]})


def build_routes(sb: ZohoSandbox, base_url: Callable[[Request], str] | None = None) -> list[BaseRoute]:
    api = Api(sb)

    def token_body(info: TokenInfo) -> dict[str, Any]:
        body = {"access_token": info.token, "scope": " ".join(info.scopes), "token_type": "Bearer",
                "expires_in": sb.tokens.lifetime_left(info)}
        if info.refresh_token:
            body["refresh_token"] = info.refresh_token
        return body

    def error(problem: OAuthProblem) -> VendorError:
        return ZohoError(400, "invalid_code" if problem.reason == "bad_code" else "invalid_client", problem.message)

    oauth = OAuthEndpoints(sb.tokens, error=error, token_body=token_body)

    async def token(request: Request) -> Response:
        # Zoho answers 200 with {"error": …} for a refused grant; api_domain names the API host of the data
        # centre (here: this emulator).
        from ...kit.oauth import read_form

        try:
            info = oauth.grant(await read_form(request))
        except ZohoError as exc:
            return ok({"error": exc.code})
        return ok({**token_body(info), "api_domain": str(request.base_url).rstrip("/")})

    async def authorize(request: Request) -> Response:
        # Zoho's redirect names the user's data centre: ``location`` and ``accounts-server`` (here: this emulator).
        answer = oauth.redirect_with_code(request)
        server = urlencode({"location": "us", "accounts-server": str(request.base_url).rstrip("/")})
        answer.headers["location"] = f"{answer.headers['location']}&{server}"
        return answer

    s = api.slot
    return [
        Route("/oauth/v2/auth", authorize, methods=["GET"]),
        Route("/oauth/v2/token", token, methods=["POST"]),
        Route("/crm/v8/coql", s(api.coql), methods=["POST"]),
        Route("/crm/v8/settings/fields", s(api.fields), methods=["GET"]),
        Route("/crm/v8/users", s(api.users), methods=["GET"]),
        Route("/crm/v8/org", s(api.org), methods=["GET"]),
        Route("/crm/v8/{module}/actions/count", s(api.count), methods=["GET"]),
        Route("/crm/v8/{module}/upsert", s(api.upsert), methods=["POST"]),
        Route("/crm/v8/{module}", s(api.list_records), methods=["GET"]),
        Route("/crm/v8/{module}", s(api.insert), methods=["POST"]),
        Route("/crm/v8/{module}", s(api.update), methods=["PUT"]),
    ]
