"""The TribeCRM emulator's endpoints under ``/v1/odata``: ``$metadata``, ``GetCurrentEmployee()``, entity sets
(query with ``$select`` / ``$filter`` / ``$orderby`` / ``$top`` (at most 100) / ``$skip`` / ``$count`` /
``$expand``), one record by ID (GET, ``PUT`` with the changed fields, ``PATCH``, DELETE), create (``POST``; a
``POST`` whose body carries an existing ``ID`` updates it, as Efficy's own client does), and TribeCRM's OAuth 2.0
endpoints ``/oauth2/auth`` and ``/oauth2/token``.

Shapes from TribeCRM's API reference: query options https://developer.tribecrm.nl/docs/api/concepts/odata,
create and update https://developer.tribecrm.nl/docs/api/relations/contacts, contacts between a person and an
organisation https://developer.tribecrm.nl/docs/api/relationships/contact, the current employee
https://developer.tribecrm.nl/docs/api/relationships/employee, authentication
https://developer.tribecrm.nl/docs/api/concepts/authentication.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ...kit import OAuthEndpoints, parse_json
from ...kit.http import ok
from ..dynamics.filter import FilterError, parse_filter
from .metadata import NAMESPACE, SETS, EntitySet, csdl
from .state import API, TribeSandbox, bad, missing

_ONE = re.compile(r"^([A-Za-z_]+)\(([0-9a-fA-F-]{36})\)$")


def _split_top(text: str) -> list[str]:
    """``a,b($select=x,y),c`` -> ``["a", "b($select=x,y)", "c"]`` (commas inside parentheses kept)."""
    out, depth, current = [], 0, ""
    for ch in text:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        current += ch
    if current:
        out.append(current)
    return [p.strip() for p in out if p.strip()]


class Api:
    def __init__(self, sandbox: TribeSandbox) -> None:
        self.sb = sandbox

    async def dispatch(self, request: Request) -> Response:
        rest = request.path_params["rest"]
        method = request.method
        if rest == "$metadata" and method == "GET":
            return Response(csdl(), media_type="application/xml")
        if rest == "GetCurrentEmployee()" and method == "GET":
            employee = self.sb.find("Relationship_Person_Contact_Employee", self.sb.employee_ids()[0])
            assert employee is not None
            s = SETS["Relationship_Person_Contact_Employee"]
            return ok({"@odata.context": f"{self._base(request)}/$metadata#{s.name}/$entity",
                       **self.view(s, employee, None, request.query_params.get("$expand"))})
        if rest in SETS:
            if method == "GET":
                return self.query(request, SETS[rest])
            if method == "POST":
                return await self.create(request, SETS[rest])
        m = _ONE.match(rest)
        if m and m.group(1) in SETS:
            s = SETS[m.group(1)]
            rid = m.group(2).lower()
            if method == "GET":
                record = self.sb.find(s.name, rid)
                if record is None:
                    raise missing(s.name, rid)
                q = request.query_params
                return ok(self.view(s, record, self._select(s, q.get("$select")), q.get("$expand")))
            if method in ("PUT", "PATCH"):
                return ok(self.view(s, self.sb.modify(s.name, rid, await self._body(request)), None, None))
            if method == "DELETE":
                self.sb.delete(s.name, rid)
                return Response(status_code=204)
        raise bad(f"No HTTP resource was found that matches the request URI '{API}/{rest}'.", "NotFound", 404)

    @staticmethod
    def _base(request: Request) -> str:
        return f"{str(request.base_url).rstrip('/')}{API}"

    # -- reading -------------------------------------------------------------------------------------------------
    def _select(self, s: EntitySet, raw: str | None) -> list[str] | None:
        if not raw:
            return None
        names = [n.strip() for n in raw.split(",") if n.strip()]
        for n in names:
            if s.prop(n) is None:
                raise bad(f"Could not find a property named '{n}' on type '{NAMESPACE}.{s.name}'.")
        return names

    def _known(self, s: EntitySet, name: str) -> bool:
        if "/" in name:
            nav, _, prop = name.partition("/")
            return nav in s.navigation and SETS[s.navigation[nav]].prop(prop) is not None
        return s.prop(name) is not None

    def _getter(self, s: EntitySet, record: dict[str, Any]) -> Any:
        def get(name: str) -> Any:
            if "/" in name:
                nav, _, prop = name.partition("/")
                target = self.sb.find(s.navigation[nav], record.get(nav)) if record.get(nav) else None
                return target.get(prop) if target else None
            return record.get(name)
        return get

    def query(self, request: Request, s: EntitySet) -> Response:
        q = request.query_params
        select = self._select(s, q.get("$select"))
        rows = list(self.sb.records[s.name].values())
        if q.get("$filter"):
            try:
                pred, _names = parse_filter(q["$filter"], lambda n: self._known(s, n),
                                            type_name=f"{NAMESPACE}.{s.name}", dataverse_in=False)
            except FilterError as exc:
                raise bad(f"The query specified in the URI is not valid. {exc}") from None
            rows = [r for r in rows if pred(self._getter(s, r))]
        order = (q.get("$orderby") or "ID").strip()
        keys = []
        for part in reversed([p.strip() for p in order.split(",") if p.strip()]):
            prop, _, direction = part.partition(" ")
            if not self._known(s, prop):
                raise bad(f"Could not find a property named '{prop}' on type '{NAMESPACE}.{s.name}'.")
            keys.append((prop, direction.strip().lower() == "desc"))
        for prop, desc in keys:
            def order_key(r: dict[str, Any], p: str = prop) -> tuple[bool, str]:
                return r.get(p) is None, str(r.get(p) or "")

            rows.sort(key=order_key, reverse=desc)
        total = len(rows)
        try:
            top = int(q.get("$top") or self.sb.config.max_page)
            skip = int(q.get("$skip") or 0)
        except ValueError:
            raise bad("$top and $skip take whole numbers.") from None
        if top > self.sb.config.max_page:
            raise bad(f"The limit of '{self.sb.config.max_page}' for Top query has been exceeded. The value from the "
                      f"incoming request is '{top}'.")
        if top < 0 or skip < 0:
            raise bad("$top and $skip cannot be negative.")
        chunk = rows[skip:skip + top]
        body: dict[str, Any] = {"@odata.context": f"{self._base(request)}/$metadata#{s.name}"}
        if q.get("$count") == "true":
            body["@odata.count"] = total
        body["value"] = [self.view(s, r, select, q.get("$expand")) for r in chunk]
        return ok(body)

    def view(self, s: EntitySet, record: dict[str, Any], select: list[str] | None, expand: str | None
             ) -> dict[str, Any]:
        names = select or [p.name for p in s.all_props]
        out: dict[str, Any] = {"ID": record["ID"]}
        for n in names:
            out[n] = record.get(n)
        for part in _split_top(expand or ""):
            m = re.fullmatch(r"([A-Za-z_]+)(?:\((.*)\))?", part)
            if not m or m.group(1) not in s.navigation:
                raise bad(f"Could not find a navigation property named '{part.split('(')[0]}' on type "
                          f"'{NAMESPACE}.{s.name}'.")
            nav, inner = m.group(1), m.group(2) or ""
            target = SETS[s.navigation[nav]]
            found = self.sb.find(target.name, record.get(nav)) if record.get(nav) else None
            options = dict(o.split("=", 1) for o in inner.split(";") if "=" in o)
            out[nav] = self.view(target, found, self._select(target, options.get("$select")),
                                 options.get("$expand")) if found else None
        return out

    # -- writing -------------------------------------------------------------------------------------------------
    async def _body(self, request: Request) -> dict[str, Any]:
        raw = await request.body()
        try:
            body = parse_json(raw) if raw.strip() else None
        except ValueError as exc:
            raise bad(f"The request body is not valid JSON: {exc}") from None
        if not isinstance(body, dict):
            raise bad("The request body must be a JSON object.")
        return body

    async def create(self, request: Request, s: EntitySet) -> Response:
        if not s.creatable:
            raise bad(f"Creating {s.name} through the API is not supported.", "NotSupported", 405)
        body = await self._body(request)
        rid = str(body.get("ID") or "")
        if rid:  # Efficy's client updates with POST and the ID in the body
            record = self.sb.modify(s.name, rid, {k: v for k, v in body.items() if k != "ID"})
            return ok(self.view(s, record, None, None))
        record = self.sb.insert(s.name, body)
        return ok(self.view(s, record, None, None), status=201,
                  headers={"Location": f"{self._base(request)}/{s.name}({record['ID']})"})


def build_routes(sb: TribeSandbox) -> list[BaseRoute]:
    api = Api(sb)
    # TribeCRM's authorization server (auth.tribecrm.nl) at the same paths on the emulator's address.
    oauth = OAuthEndpoints(sb.tokens)
    return [Route(f"{API}/{{rest:path}}", api.dispatch, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            *oauth.routes(authorize="/oauth2/auth", token="/oauth2/token")]


__all__ = ["build_routes"]
