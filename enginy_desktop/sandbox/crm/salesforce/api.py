"""The Salesforce emulator's endpoints under ``/services/data/v62.0``: describe (global and per object), SOQL
``query`` with ``nextRecordsUrl`` paging, single-record CRUD, sObject Collections create / update / upsert, the
``composite`` request, ``limits``; ``/services/oauth2/userinfo``; OAuth (authorize approved at once, token with
PKCE and refresh, ``instance_url`` in the answer).

Shapes: the sObjects description in ``specs/salesforce`` and Salesforce's REST API Developer Guide —
collections https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections.htm,
query https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm,
limits https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm,
composite https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_composite.htm,
the token answer https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...kit import OAuthEndpoints, OAuthError, OAuthProblem, TokenInfo, ok, parse_json
from ...kit.oauth import read_form
from .soql import SoqlError, Subquery, parse
from .state import ACR, DATA, DESCRIBE, ORG_ID, PREFIXES, RecordProblem, SalesforceError, SalesforceSandbox, bad

Handler = Callable[[Request], Awaitable[Response]]
COLLECTION_MAX = 200
QUERYABLE = ("Account", "Contact", "Lead", "Task", "User", "Organization", ACR)


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad("JSON_PARSER_ERROR", "The request body is empty")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise bad("JSON_PARSER_ERROR", f"Invalid JSON: {exc}") from None


def _check_fields(obj: str, names: list[str], defs: set[str]) -> None:
    """Salesforce's INVALID_FIELD for a field ``obj`` does not have or a relationship the emulator does not know."""
    for name in names:
        if "." in name:
            relation = name.split(".")[0]
            if relation not in ("Account", "Contact", "Owner", "Who", "What") or obj == "Organization":
                raise bad("INVALID_FIELD", f"Didn't understand relationship '{relation}' in field path.")
        elif name not in defs:
            raise bad("INVALID_FIELD", f"No such column '{name}' on entity '{obj}'. If you are attempting to use a "
                      "custom field, be sure to append the '__c' after the custom field name.")


class Api:
    def __init__(self, sandbox: SalesforceSandbox) -> None:
        self.sb = sandbox

    def _object(self, name: str) -> str:
        if not self.sb.visible(name):
            raise bad("NOT_FOUND", f"The requested resource does not exist: sObject type '{name}' is not supported.",
                      status=404)
        return name

    # -- describe -------------------------------------------------------------------------------------------------
    async def sobjects(self, request: Request) -> Response:
        return ok({"encoding": "UTF-8", "maxBatchSize": 200, "sobjects": [
            {"name": o, "label": o, "keyPrefix": PREFIXES[o], "createable": True, "updateable": True,
             "queryable": True, "custom": False, "urls": {"sobject": f"{DATA}/sobjects/{o}",
                                                           "describe": f"{DATA}/sobjects/{o}/describe"}}
            for o in DESCRIBE if self.sb.visible(o)]})

    async def describe(self, request: Request) -> Response:
        obj = self._object(request.path_params["object"])
        return ok({"name": obj, "label": obj, "keyPrefix": PREFIXES[obj], "createable": True, "updateable": True,
                   "queryable": True, "custom": False, "fields": DESCRIBE[obj],
                   "childRelationships": self.sb.child_relationships(obj),
                   "urls": {"sobject": f"{DATA}/sobjects/{obj}"}})

    # -- SOQL -------------------------------------------------------------------------------------------------------
    def _run(self, soql: str) -> tuple[list[dict[str, Any]], int, bool]:
        try:
            q = parse(soql)
        except SoqlError as exc:
            raise bad("MALFORMED_QUERY", str(exc)) from None
        if q.object not in QUERYABLE or (q.object != "Organization" and not self.sb.visible(q.object)):
            raise bad("INVALID_TYPE", f"sObject type '{q.object}' is not supported.")
        if q.object == "Organization":
            rows = [self.sb.organization()]
            defs = set(rows[0])
        else:
            rows = list(self.sb.records[q.object].values())
            defs = set(self.sb.field_defs(q.object))
        _check_fields(q.object, [*q.fields, *q.filter_fields, *([q.order_by] if q.order_by else [])], defs)
        children = [self._child(q.object, sub) for sub in q.children]
        getter = self.sb.getter if q.object != "Organization" else (lambda _o, r: r.get)
        if q.where is not None:
            rows = [r for r in rows if q.where(getter(q.object, r))]
        if q.order_by:
            rows.sort(key=lambda r: (getter(q.object, r)(q.order_by) is None, str(getter(q.object, r)(q.order_by))),
                      reverse=q.descending)
        if q.limit is not None:
            rows = rows[:q.limit]
        if q.count:
            return [], len(rows), True
        if q.object == "Organization":
            views = [{"attributes": {"type": "Organization", "url": f"{DATA}/sobjects/Organization/{ORG_ID}"},
                      **{f: r.get(f) for f in q.fields}} for r in rows]
        else:
            views = [self.sb.view(q.object, r, q.fields) for r in rows]
            for sub, (child, link) in zip(q.children, children, strict=True):
                self._attach_children(views, rows, sub, child, link)
        return views, len(views), False

    def _child(self, obj: str, sub: Subquery) -> tuple[str, str]:
        """The child object and its field naming the parent, for a sub-query's relationship of ``obj``; Salesforce's
        INVALID_TYPE for a relationship the object does not have (AccountContactRelations without Contacts to
        Multiple Accounts)."""
        found = next((c for c in self.sb.child_relationships(obj)
                      if c["relationshipName"].casefold() == sub.relationship.casefold()), None)
        if found is None:
            raise bad("INVALID_TYPE", f"Didn't understand relationship '{sub.relationship}' in FROM part of query "
                      "call. If you are attempting to use a custom relationship, be sure to append the '__r' after "
                      "the custom relationship name. Please reference your WSDL or the describe call for the "
                      "appropriate names.")
        child = str(found["childSObject"])
        _check_fields(child, [*sub.fields, *sub.filter_fields], set(self.sb.field_defs(child)))
        return child, str(found["field"])

    def _attach_children(self, views: list[dict[str, Any]], rows: list[dict[str, Any]], sub: Subquery, child: str,
                         link: str) -> None:
        """Each record's children through ``sub``: a query result of their own under the relationship's name
        (``{totalSize, done, records}``, paged past ``child_page_size`` with a ``nextRecordsUrl`` of its own), or
        null when there is none — the shape of Salesforce's parent-to-child answers
        (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_relationships_query_results.htm)."""
        by_parent: dict[str, list[dict[str, Any]]] = {}
        for record in self.sb.records[child].values():
            if sub.where is None or sub.where(self.sb.getter(child, record)):
                by_parent.setdefault(str(record.get(link)), []).append(record)
        size = self.sb.config.child_page_size or self.sb.config.page_size
        for view, record in zip(views, rows, strict=True):
            found = [self.sb.view(child, r, sub.fields) for r in by_parent.get(str(record["Id"]), [])]
            if not found:
                view[sub.relationship] = None
                continue
            answer: dict[str, Any] = {"totalSize": len(found), "done": len(found) <= size, "records": found[:size]}
            if not answer["done"]:
                cursor = "01g" + secrets.token_hex(6).upper() + "AAA"
                self.sb.cursors[cursor] = found
                answer["nextRecordsUrl"] = f"{DATA}/query/{cursor}-{size}"
            view[sub.relationship] = answer

    def _page(self, rows: list[dict[str, Any]], total: int, start: int, cursor: str) -> dict[str, Any]:
        """The batch from ``start``: up to ``page_size`` records, children of sub-queries counted among them, as
        Salesforce counts them ("Child objects count toward the number of records for the batch size":
        https://developer.salesforce.com/docs/platform/api/guide/sforce-api-header-queryoptions.md); at least one
        record."""
        room = self.sb.config.page_size
        end = start
        while end < len(rows):
            weight = 1 + sum(len(v["records"]) for v in rows[end].values()
                             if isinstance(v, dict) and "totalSize" in v)
            if end > start and weight > room:
                break
            room -= weight
            end += 1
        body: dict[str, Any] = {"totalSize": total, "done": end >= len(rows), "records": rows[start:end]}
        if not body["done"]:
            body["nextRecordsUrl"] = f"{DATA}/query/{cursor}-{end}"
        return body

    async def query(self, request: Request) -> Response:
        soql = request.query_params.get("q")
        if not soql:
            raise bad("MALFORMED_QUERY", "A query string (q) is required")
        rows, total, _ = self._run(soql)
        cursor = "01g" + secrets.token_hex(6).upper() + "AAA"
        first = self._page(rows, total, 0, cursor)
        if not first["done"]:
            self.sb.cursors[cursor] = rows
        return ok(first)

    async def query_more(self, request: Request) -> Response:
        cursor, _, start = request.path_params["locator"].rpartition("-")
        rows = self.sb.cursors.get(cursor)
        if rows is None or not start.isdigit():
            raise bad("INVALID_QUERY_LOCATOR", "invalid query locator")
        return ok(self._page(rows, len(rows), int(start), cursor))

    # -- single records ---------------------------------------------------------------------------------------------
    def _problem(self, problem: RecordProblem) -> SalesforceError:
        return SalesforceError(400, problem.code, problem.message, fields=problem.fields)

    async def create_one(self, request: Request) -> Response:
        obj = self._object(request.path_params["object"])
        try:
            record = self.sb.insert(obj, await _json(request))
        except RecordProblem as problem:
            raise self._problem(problem) from None
        return ok({"id": record["Id"], "success": True, "errors": []}, status=201)

    async def get_one(self, request: Request) -> Response:
        obj = self._object(request.path_params["object"])
        record = self.sb.find(obj, request.path_params["id"])
        if record is None:
            raise bad("NOT_FOUND", "The requested resource does not exist", status=404)
        fields = request.query_params.get("fields")
        return ok(self.sb.view(obj, record, [f.strip() for f in fields.split(",")] if fields else None))

    async def update_one(self, request: Request) -> Response:
        obj = self._object(request.path_params["object"])
        if self.sb.find(obj, request.path_params["id"]) is None:
            raise bad("NOT_FOUND", "The requested resource does not exist", status=404)
        try:
            self.sb.modify(obj, request.path_params["id"], await _json(request))
        except RecordProblem as problem:
            raise self._problem(problem) from None
        return Response(status_code=204)

    async def delete_one(self, request: Request) -> Response:
        try:
            self.sb.delete(self._object(request.path_params["object"]), request.path_params["id"])
        except RecordProblem as problem:
            raise self._problem(problem) from None
        return Response(status_code=204)

    # -- sObject Collections ------------------------------------------------------------------------------------------
    async def _records(self, request: Request) -> tuple[list[Any], bool]:
        body = await _json(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            raise bad("JSON_PARSER_ERROR", "The body must be an object with a records array")
        records = body["records"]
        if len(records) > COLLECTION_MAX:
            raise bad("EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {COLLECTION_MAX} records "
                      "into this call")
        return records, bool(body.get("allOrNone", False))

    def _each(self, records: list[Any], all_or_none: bool, one: Callable[[dict[str, Any]], dict[str, Any]]
              ) -> list[dict[str, Any]]:
        snapshot = ({o: {k: dict(v) for k, v in t.items()} for o, t in self.sb.records.items()}
                    if all_or_none else None)
        next_n = dict(self.sb.next_n)
        results: list[dict[str, Any]] = []
        failed = False
        for item in records:
            if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict):
                results.append({"success": False, "errors": [{"statusCode": "INVALID_TYPE", "message":
                                "Must send a concrete entity type.", "fields": []}]})
                failed = True
                continue
            try:
                results.append(one(item))
            except RecordProblem as problem:
                results.append({"id": item.get("Id"), "success": False, "errors": [problem.as_error()]})
                failed = True
        if all_or_none and failed and snapshot is not None:
            self.sb.records.update(snapshot)
            self.sb.next_n.update(next_n)
            results = [r if not r.get("success") else {"id": None, "success": False, "errors": [{
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
                "records were valid and the request was using AllOrNone header", "fields": []}]} for r in results]
        for r in results:
            r.setdefault("id", None)
        return results

    async def collection_create(self, request: Request) -> Response:
        records, all_or_none = await self._records(request)

        def one(item: dict[str, Any]) -> dict[str, Any]:
            if item.get("Id"):
                raise RecordProblem("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
            obj = str(item["attributes"].get("type") or "")
            if not self.sb.visible(obj) or obj == "User":
                raise RecordProblem("INVALID_TYPE", f"sObject type '{obj}' is not supported.")
            record = self.sb.insert(obj, item)
            return {"id": record["Id"], "success": True, "errors": []}

        return ok(self._each(records, all_or_none, one))

    async def collection_update(self, request: Request) -> Response:
        records, all_or_none = await self._records(request)

        def one(item: dict[str, Any]) -> dict[str, Any]:
            obj = str(item["attributes"].get("type") or "")
            rid = str(item.get("Id") or "")
            if not self.sb.visible(obj) or obj == "User":
                raise RecordProblem("INVALID_TYPE", f"sObject type '{obj}' is not supported.")
            if not rid:
                raise RecordProblem("MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
            if self.sb.find(obj, rid) is None:
                raise RecordProblem("ENTITY_IS_DELETED", "entity is deleted", [])
            record = self.sb.modify(obj, rid, item)
            return {"id": record["Id"], "success": True, "errors": []}

        return ok(self._each(records, all_or_none, one))

    async def collection_upsert(self, request: Request) -> Response:
        obj = self._object(request.path_params["object"])
        key = request.path_params["field"]
        f = self.sb.field_defs(obj).get(key)
        if f is None or not (f["externalId"] or key == "Id"):
            raise bad("INVALID_FIELD", f"Field {key} is not an external ID or indexed field for {obj}", [key])
        records, all_or_none = await self._records(request)

        def one(item: dict[str, Any]) -> dict[str, Any]:
            if item["attributes"].get("type") != obj:
                raise RecordProblem("INVALID_TYPE", f"Records must be of type {obj}")
            record, created = self.sb.upsert_one(obj, key, item)
            return {"id": record["Id"], "success": True, "errors": [], "created": created}

        return ok(self._each(records, all_or_none, one))

    async def collection_delete(self, request: Request) -> Response:
        """``DELETE composite/sobjects?ids=…&allOrNone=…``: up to 200 records of any type, one result each in
        order (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_sobjects_collections_delete.htm)."""
        ids = [i for i in (request.query_params.get("ids") or "").split(",") if i]
        if not ids:
            raise bad("MISSING_ARGUMENT", "ids parameter is required", ["ids"])
        if len(ids) > COLLECTION_MAX:
            raise bad("EXCEEDED_ID_LIMIT", f"record limit reached. cannot submit more than {COLLECTION_MAX} records "
                      "into this call")
        all_or_none = (request.query_params.get("allOrNone") or "false").lower() == "true"
        snapshot = {o: dict(t) for o, t in self.sb.records.items()} if all_or_none else None
        results: list[dict[str, Any]] = []
        for rid in ids:
            obj = self.sb.object_of(rid)
            try:
                if obj is None or not self.sb.visible(obj) or self.sb.find(obj, rid) is None:
                    raise RecordProblem("ENTITY_IS_DELETED", "entity is deleted")
                self.sb.delete(obj, rid)
                results.append({"id": rid, "success": True, "errors": []})
            except (RecordProblem, SalesforceError) as exc:
                code = getattr(exc, "code", "ENTITY_IS_DELETED")
                results.append({"id": rid, "success": False, "errors": [
                    {"statusCode": code, "message": getattr(exc, "message", str(exc)), "fields": []}]})
        if all_or_none and snapshot is not None and not all(r["success"] for r in results):
            self.sb.records.update(snapshot)
            results = [r if not r["success"] else {"id": r["id"], "success": False, "errors": [{
                "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK", "message": "Record rolled back because not all "
                "records were valid and the request was using AllOrNone header", "fields": []}]} for r in results]
        return ok(results)

    # -- composite (a few subrequests in one call) ------------------------------------------------------------------
    async def composite(self, request: Request) -> Response:
        body = await _json(request)
        subs = body.get("compositeRequest") if isinstance(body, dict) else None
        if not isinstance(subs, list) or len(subs) > 25:
            raise bad("INVALID_INPUT", "compositeRequest must be an array of at most 25 subrequests")
        out = []
        for sub in subs:
            method = str(sub.get("method") or "GET").upper()
            url = str(sub.get("url") or "")
            parts = urlsplit(url)
            status: int = 200
            answer: Any = None
            try:
                path = parts.path.removeprefix(DATA)
                bits = [b for b in path.split("/") if b]
                if bits[:1] == ["query"]:
                    rows, total, _ = self._run(dict(parse_qsl(parts.query)).get("q", ""))
                    answer = {"totalSize": total, "done": True, "records": rows}
                elif bits[:1] == ["sobjects"] and len(bits) == 2 and method == "POST":
                    record = self.sb.insert(self._object(bits[1]), sub.get("body") or {})
                    status, answer = 201, {"id": record["Id"], "success": True, "errors": []}
                elif bits[:1] == ["sobjects"] and len(bits) == 3 and method == "PATCH":
                    self.sb.modify(self._object(bits[1]), bits[2], sub.get("body") or {})
                    status = 204
                elif bits[:1] == ["sobjects"] and len(bits) == 3 and method == "DELETE":
                    self.sb.delete(self._object(bits[1]), bits[2])
                    status = 204
                elif bits[:1] == ["sobjects"] and len(bits) == 3 and method == "GET":
                    found = self.sb.find(self._object(bits[1]), bits[2])
                    if found is None:
                        raise bad("NOT_FOUND", "The requested resource does not exist", status=404)
                    answer = self.sb.view(bits[1], found)
                else:
                    raise bad("NOT_FOUND", f"The requested resource does not exist: {url}", status=404)
            except RecordProblem as problem:
                status, answer = 400, [{"message": problem.message, "errorCode": problem.code,
                                        "fields": problem.fields}]
            except SalesforceError as exc:
                status, answer = exc.status, exc.payload(self.sb)
            out.append({"body": answer, "httpHeaders": {}, "httpStatusCode": status,
                        "referenceId": str(sub.get("referenceId") or "")})
        return ok({"compositeResponse": out})

    # -- limits, who am I ---------------------------------------------------------------------------------------------
    async def limits(self, request: Request) -> Response:
        alloc = self.sb.allocation
        maximum = alloc.limit if alloc else 15_000_000
        remaining = alloc.remaining("org") if alloc else maximum
        return ok({"DailyApiRequests": {"Max": maximum, "Remaining": remaining},
                   "DailyBulkV2QueryJobs": {"Max": 10000, "Remaining": 10000},
                   "ConcurrentAsyncGetReportInstances": {"Max": 200, "Remaining": 200}})

    async def userinfo(self, request: Request) -> Response:
        principal = request.scope.get("sandbox.token")
        uid = principal.user_id if isinstance(principal, TokenInfo) and principal.user_id else 1
        users = list(self.sb.records["User"].values())
        user = users[min(len(users), uid) - 1]
        base = str(request.base_url).rstrip("/")
        return ok({"sub": f"{base}/id/{ORG_ID}/{user['Id']}", "user_id": user["Id"],
                   "organization_id": ORG_ID,
                   "preferred_username": user["Username"], "name": f"{user['FirstName']} {user['LastName']}",
                   "email": user["Email"], "active": user["IsActive"], "user_type": "STANDARD",
                   "urls": {"rest": f"{base}{DATA.rsplit('/', 1)[0]}/v{{version}}/"}})

    async def versions(self, request: Request) -> Response:
        return ok([{"label": "Winter '25", "url": DATA, "version": DATA.rsplit("/v", 1)[1]}])

    # -- OAuth -----------------------------------------------------------------------------------------------
    def oauth(self) -> OAuthEndpoints:
        def refused(problem: OAuthProblem) -> OAuthError:
            error = OAuthError(problem)
            if problem.reason == "bad_refresh_token":
                error.message = "expired access/refresh token"
            return error

        return OAuthEndpoints(self.sb.tokens, error=refused)

    async def token(self, request: Request) -> Response:
        """Salesforce's token answer: ``access_token``, ``refresh_token``, ``instance_url``, ``id``,
        ``issued_at``, ``signature``, ``scope``, ``token_type``; no ``expires_in``."""
        info = self.oauth().grant(await read_form(request))
        base = str(request.base_url).rstrip("/")
        users = list(self.sb.records["User"].values())
        body = {"access_token": info.token, "instance_url": base,
                "id": f"{base}/id/{ORG_ID}/{users[0]['Id']}", "token_type": "Bearer",
                "issued_at": str(int(self.sb.config.wall_clock() * 1000)), "signature": secrets.token_urlsafe(32),
                "scope": " ".join(info.scopes) or "api refresh_token"}
        if info.refresh_token:
            body["refresh_token"] = info.refresh_token
        return ok(body)


def build_routes(sb: SalesforceSandbox) -> list[BaseRoute]:
    api = Api(sb)
    oauth = api.oauth()
    return [
        Route("/services/data", api.versions, methods=["GET"]),
        Route(f"{DATA}/sobjects", api.sobjects, methods=["GET"]),
        Route(f"{DATA}/sobjects/{{object}}/describe", api.describe, methods=["GET"]),
        Route(f"{DATA}/sobjects/{{object}}", api.create_one, methods=["POST"]),
        Route(f"{DATA}/sobjects/{{object}}/{{id}}", api.get_one, methods=["GET"]),
        Route(f"{DATA}/sobjects/{{object}}/{{id}}", api.update_one, methods=["PATCH"]),
        Route(f"{DATA}/sobjects/{{object}}/{{id}}", api.delete_one, methods=["DELETE"]),
        Route(f"{DATA}/query", api.query, methods=["GET"]),
        Route(f"{DATA}/query/{{locator}}", api.query_more, methods=["GET"]),
        Route(f"{DATA}/composite/sobjects", api.collection_create, methods=["POST"]),
        Route(f"{DATA}/composite/sobjects", api.collection_update, methods=["PATCH"]),
        Route(f"{DATA}/composite/sobjects", api.collection_delete, methods=["DELETE"]),
        Route(f"{DATA}/composite/sobjects/{{object}}/{{field}}", api.collection_upsert, methods=["PATCH"]),
        Route(f"{DATA}/composite", api.composite, methods=["POST"]),
        Route(f"{DATA}/limits", api.limits, methods=["GET"]),
        Route("/services/oauth2/userinfo", api.userinfo, methods=["GET"]),
        Route("/services/oauth2/token", api.token, methods=["POST"]),
        *oauth.routes(authorize="/services/oauth2/authorize", revoke="/services/oauth2/revoke"),
    ]


__all__ = ["build_routes"]
