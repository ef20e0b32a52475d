"""The Pipedrive emulator's endpoints: API v2 persons, organizations, fields, search and activities; v1 users and
notes; OAuth (authorization page approved at once, token endpoint with HTTP Basic client authentication, PKCE
checked when a challenge was sent, refresh). Shapes as in ``specs/pipedrive`` (v2: ``additional_data.next_cursor``
paging; v1: ``start``/``limit`` paging)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...kit import OAuthEndpoints, OAuthProblem, TokenInfo, VendorError, ok, parse_json
from .state import (
    PipedriveError,
    PipedriveSandbox,
    bad_request,
    decode_cursor,
    encode_cursor,
    not_found,
)

Handler = Callable[[Request], Awaitable[Response]]
ENTITIES = {"persons": "persons", "organizations": "organizations"}


def _int(request: Request, name: str, default: int | None = None, *, lo: int = 0, hi: int | None = None
         ) -> int | None:
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{name} must be an integer") from None
    if value < lo:
        raise bad_request(f"{name} must be at least {lo}")
    return min(value, hi) if hi is not None else value


def _limit(request: Request) -> int:
    value = _int(request, "limit", 100, lo=1)
    assert value is not None
    if value > 500:
        raise bad_request("limit must not be greater than 500")
    return value


async def _json(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise bad_request("The request body is empty")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise bad_request(f"Invalid JSON: {exc}") from None


def _page(items: list[dict[str, Any]], request: Request) -> tuple[list[dict[str, Any]], str | None]:
    start = decode_cursor(request.query_params["cursor"]) if request.query_params.get("cursor") else 0
    size = _limit(request)
    chunk = items[start:start + size]
    more = start + size < len(items)
    return chunk, encode_cursor(start + size) if more else None


def _more(cursor: str | None) -> dict[str, str]:
    """``additional_data``: the next page's cursor, left out on the last page (not nullable in the spec)."""
    return {"next_cursor": cursor} if cursor else {}


class Api:
    def __init__(self, sandbox: PipedriveSandbox) -> None:
        self.sb = sandbox

    # -- persons and organizations ---------------------------------------------------------------------------------
    def _custom(self, request: Request) -> set[str] | None:
        raw = request.query_params.get("custom_fields")
        return {k.strip() for k in raw.split(",") if k.strip()} if raw else None

    def list_records(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            sb = self.sb
            records = sb.live(entity)
            ids = request.query_params.get("ids")
            if ids:
                try:
                    wanted = [int(i) for i in ids.split(",") if i.strip()]
                except ValueError:
                    raise bad_request("ids must be a comma-separated list of integers") from None
                if len(wanted) > 100:
                    raise bad_request("ids takes at most 100 ids")
                chosen = set(wanted)
                records = [r for r in records if r["id"] in chosen]
            for name in ("owner_id", "org_id"):
                value = _int(request, name)
                if value is not None:
                    records = [r for r in records if r.get(name) == value]
            since = request.query_params.get("updated_since")
            if since:
                records = [r for r in records if r["update_time"] >= since]
            sort_by = request.query_params.get("sort_by", "id")
            if sort_by not in ("id", "update_time", "add_time"):
                raise bad_request("sort_by must be id, update_time or add_time")
            records = sorted(records, key=lambda r: (r[sort_by], r["id"]),
                             reverse=request.query_params.get("sort_direction") == "desc")
            chunk, cursor = _page(records, request)
            custom = self._custom(request)
            return ok({"success": True, "data": [sb.view(entity, r, custom) for r in chunk],
                       "additional_data": _more(cursor)})
        return handler

    def get_record(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            rid = int(request.path_params["id"])
            record = self.sb.records[entity].get(rid)
            if record is None or record["is_deleted"]:
                raise not_found("Person" if entity == "persons" else "Organization")
            return ok({"success": True, "data": self.sb.view(entity, record)})
        return handler

    def create_record(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            record = self.sb.create(entity, await _json(request))
            return ok({"success": True, "data": self.sb.view(entity, record)})
        return handler

    def update_record(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            record = self.sb.update(entity, int(request.path_params["id"]), await _json(request))
            return ok({"success": True, "data": self.sb.view(entity, record)})
        return handler

    def delete_record(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            rid = int(request.path_params["id"])
            self.sb.delete(entity, rid)
            return ok({"success": True, "data": {"id": rid}})
        return handler

    def fields(self, entity: str) -> Handler:
        async def handler(request: Request) -> Response:
            chunk, cursor = _page(self.sb.fields[entity], request)
            return ok({"success": True, "data": chunk, "additional_data": _more(cursor)})
        return handler

    def search(self, entity: str) -> Handler:
        allowed = ({"custom_fields", "email", "notes", "phone", "name"} if entity == "persons"
                   else {"address", "custom_fields", "notes", "name"})

        async def handler(request: Request) -> Response:
            term = request.query_params.get("term", "")
            exact = request.query_params.get("exact_match", "false").lower() == "true"
            if len(term.strip()) < (1 if exact else 2):
                raise bad_request("Search term must be at least 2 characters long (1 with exact_match)")
            raw_fields = request.query_params.get("fields")
            fields = [f.strip() for f in raw_fields.split(",") if f.strip()] if raw_fields else None
            if fields and set(fields) - allowed:
                raise bad_request(f"fields must be among {', '.join(sorted(allowed))}")
            org = _int(request, "organization_id") if entity == "persons" else None
            hits = self.sb.search(entity, term, fields, exact, org)
            start = decode_cursor(request.query_params["cursor"]) if request.query_params.get("cursor") else 0
            size = _limit(request)
            chunk = hits[start:start + size]
            cursor = encode_cursor(start + size) if start + size < len(hits) else None
            return ok({"success": True, "data": {"items": [self._hit(entity, s, r) for s, r in chunk]},
                       "additional_data": _more(cursor)})
        return handler

    def _hit(self, entity: str, score: float, record: dict[str, Any]) -> dict[str, Any]:
        custom = [str(v.get("value") if isinstance(v, dict) else v) for v in record["custom_fields"].values()
                  if v is not None and not isinstance(v, list)]
        if entity == "persons":
            org = self.sb.records["organizations"].get(record.get("org_id") or 0)
            item: dict[str, Any] = {
                "id": record["id"], "type": "person", "name": record["name"],
                "phones": [p["value"] for p in record.get("phones") or []],
                "emails": [e["value"] for e in record.get("emails") or []],
                "visible_to": record["visible_to"], "owner": {"id": record["owner_id"]},
                **({"organization": {"id": org["id"], "name": org["name"]}} if org else {}),
                "custom_fields": custom, "notes": [],
            }
        else:
            address = record.get("address")
            item = {"id": record["id"], "type": "organization", "name": record["name"],
                    "visible_to": record["visible_to"], "owner": {"id": record["owner_id"]},
                    "custom_fields": custom, "notes": []}
            if isinstance(address, dict) and address.get("value"):
                item["address"] = address["value"]
        return {"result_score": score, "item": item}

    # -- activities -------------------------------------------------------------------------------------------------
    async def list_activities(self, request: Request) -> Response:
        items = [a for a in self.sb.activities.values() if not a["is_deleted"]]
        for name in ("person_id", "org_id", "owner_id"):
            value = _int(request, name)
            if value is not None:
                items = [a for a in items if a.get(name) == value]
        chunk, cursor = _page(sorted(items, key=lambda a: a["id"]), request)
        chunk = [{k: v for k, v in a.items() if v is not None} for a in chunk]
        return ok({"success": True, "data": chunk, "additional_data": _more(cursor)})

    async def add_activity(self, request: Request) -> Response:
        return ok({"success": True, "data": self.sb.add_activity(await _json(request))})

    async def get_activity(self, request: Request) -> Response:
        activity = self.sb.activities.get(int(request.path_params["id"]))
        if activity is None:
            raise not_found("Activity")
        return ok({"success": True, "data": {k: v for k, v in activity.items() if v is not None}})

    # -- v1: users, notes, activity types ----------------------------------------------------------------------------
    def _user(self, user: dict[str, Any]) -> dict[str, Any]:
        return {"id": user["id"], "name": user["name"], "email": user["email"], "active_flag": user["active_flag"],
                "is_admin": 1 if user["id"] == 1 else 0, "default_currency": "EUR", "locale": "en_US",
                "lang": 1, "activated": True, "has_created_company": user["id"] == 1, "is_you": user["id"] == 1}

    async def users(self, request: Request) -> Response:
        return ok({"success": True, "data": [self._user(u) for u in self.sb.users]})

    async def me(self, request: Request) -> Response:
        principal = request.scope.get("sandbox.token")
        uid = principal.user_id if isinstance(principal, TokenInfo) and principal.user_id else 1
        user = next(u for u in self.sb.users if u["id"] == uid)
        cfg = self.sb.config
        data = {**self._user(user), "company_id": 1, "company_name": cfg.company_name,
                "company_domain": cfg.company_domain, "company_country": "EE", "company_industry": "Software"}
        return ok({"success": True, "data": data})

    async def notes(self, request: Request) -> Response:
        items = [n for n in self.sb.notes.values() if n["active_flag"]]
        for name in ("person_id", "org_id", "user_id"):
            value = _int(request, name)
            if value is not None:
                items = [n for n in items if n.get(name) == value]
        start = _int(request, "start", 0) or 0
        size = _int(request, "limit", 100, lo=1, hi=500) or 100
        chunk = [{k: v for k, v in n.items() if v is not None} for n in items[start:start + size]]
        more = start + size < len(items)
        return ok({"success": True, "data": chunk, "additional_data": {"pagination": {
            "start": start, "limit": size, "more_items_in_collection": more,
            **({"next_start": start + size} if more else {})}}})

    async def add_note(self, request: Request) -> Response:
        principal = request.scope.get("sandbox.token")
        uid = principal.user_id if isinstance(principal, TokenInfo) and principal.user_id else 1
        return ok({"success": True, "data": self.sb.add_note(await _json(request), uid)})

    # -- OAuth: the kit's endpoints with Pipedrive's shapes -------------------------------------------------------
    def oauth(self) -> OAuthEndpoints:
        """``/oauth/authorize`` (approved at once) and ``/oauth/token`` (authorization code with PKCE, refresh;
        the client authenticates with HTTP Basic), answering as oauth.pipedrive.com does: the tokens with
        ``api_domain``, refusals as ``{"success": false, "error": …}``."""
        sb = self.sb

        def refused(problem: OAuthProblem) -> VendorError:
            return PipedriveError(401 if problem.rfc_code == "invalid_client" else 400, problem.message,
                                  code=problem.rfc_code)

        def body(info: TokenInfo) -> dict[str, Any]:
            return {"access_token": info.token, "token_type": "Bearer", "refresh_token": info.refresh_token,
                    "scope": ",".join(info.scopes), "expires_in": sb.tokens.lifetime_left(info),
                    "api_domain": f"https://{sb.config.company_domain}.pipedrive.com"}

        return OAuthEndpoints(sb.tokens, error=refused, token_body=body)


def build_routes(sb: PipedriveSandbox) -> list[BaseRoute]:
    api = Api(sb)
    routes: list[BaseRoute] = []
    for entity in ENTITIES:
        base = f"/api/v2/{entity}"
        routes += [
            Route(f"{base}/search", api.search(entity), methods=["GET"]),
            Route(base, api.list_records(entity), methods=["GET"]),
            Route(base, api.create_record(entity), methods=["POST"]),
            Route(f"{base}/{{id:int}}", api.get_record(entity), methods=["GET"]),
            Route(f"{base}/{{id:int}}", api.update_record(entity), methods=["PATCH"]),
            Route(f"{base}/{{id:int}}", api.delete_record(entity), methods=["DELETE"]),
        ]
    routes += [
        Route("/api/v2/personFields", api.fields("persons"), methods=["GET"]),
        Route("/api/v2/organizationFields", api.fields("organizations"), methods=["GET"]),
        Route("/api/v2/activities", api.list_activities, methods=["GET"]),
        Route("/api/v2/activities", api.add_activity, methods=["POST"]),
        Route("/api/v2/activities/{id:int}", api.get_activity, methods=["GET"]),
        Route("/v1/users", api.users, methods=["GET"]),
        Route("/v1/users/me", api.me, methods=["GET"]),
        Route("/v1/notes", api.notes, methods=["GET"]),
        Route("/v1/notes", api.add_note, methods=["POST"]),
        *api.oauth().routes(authorize="/oauth/authorize", token="/oauth/token"),
    ]
    return routes


__all__ = ["PipedriveError", "build_routes"]
