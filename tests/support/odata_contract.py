"""Every exchange with an OData service checked against the service's own ``$metadata``: the entity sets named in
paths, the properties in ``$select`` / ``$filter`` (navigation paths such as ``Person/ID`` included) /
``$orderby`` and alternate keys, the properties and references of request bodies (Dataverse's
``nav@odata.bind`` — the navigation property exists and the bound record's entity set has its target type — and
TribeCRM's ``{"Nav": {"ID": …}}``), and the properties of the records that come back (expanded ones too)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import httpx

from enginy_desktop.adapters.odata import Metadata

COMPARISON = re.compile(r"([A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)?) (?:eq|ne|gt|ge|lt|le) ")
IN_NAME = re.compile(r"PropertyName='([^']+)'")
BATCH_OP = re.compile(r"^(GET|POST|PATCH|DELETE) (\S+) HTTP/1\.1\n(?:[^\n]+\n)*\n(.*?)\n--changeset", re.M | re.S)
SET_AND_KEY = re.compile(r"^([A-Za-z_]+)(?:\((.*)\))?$")


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    inner: httpx.AsyncBaseTransport
    api_path: str = "/api/data/v9.2"
    exchanges: list[tuple[httpx.Request, int, bytes]] = field(default_factory=list)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append((request, response.status_code, content))
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)

    async def aclose(self) -> None:
        await self.inner.aclose()


    def problems(self, meta: Metadata) -> list[str]:
        out: list[str] = []
        for request, status, content in self.exchanges:
            out += check_exchange(meta, request, status, content, self.api_path)
        return out


def _set_properties(meta: Metadata, entity_set: str) -> set[str]:
    return set(meta.properties(entity_set))


def check_exchange(meta: Metadata, request: httpx.Request, status: int, content: bytes, api_path: str
                   ) -> list[str]:
    parts = urlsplit(str(request.url))
    path = unquote(parts.path)
    if not path.startswith(api_path + "/"):
        return [f"{request.method} {path}: not under {api_path}"]
    rest = path[len(api_path) + 1:]
    if rest in ("$metadata", "WhoAmI") or rest.startswith("EntityDefinitions("):
        return []
    if rest.endswith("()"):  # a function import (TribeCRM's GetCurrentEmployee()): declared in the container
        return []
    if rest == "$batch":  # every operation of the batch, checked as if it had been sent alone
        found: list[str] = []
        text = request.content.decode().replace("\r\n", "\n")
        for found_op in BATCH_OP.finditer(text):
            op = httpx.Request(found_op.group(1), f"{parts.scheme}://{parts.netloc}{found_op.group(2)}",
                               content=found_op.group(3).strip().encode())
            found += check_exchange(meta, op, 0, b"", api_path)
        if not found and not BATCH_OP.search(text):
            found.append("POST $batch: no operation in the batch")
        return found
    m = SET_AND_KEY.match(rest)
    where = f"{request.method} {rest}"
    if not m or m.group(1) not in meta.entity_sets:
        return [f"{where}: no entity set {rest.split('(')[0]!r} in $metadata"]
    entity_set, key = m.group(1), m.group(2)
    props = _set_properties(meta, entity_set)
    problems: list[str] = []
    if key and not re.fullmatch(r"[0-9a-f-]{36}", key):
        for name in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)=", key):
            if name not in props:
                problems.append(f"{where}: alternate key {name!r} is not a property")
    query = dict(parse_qsl(parts.query))
    for name in (query.get("$select") or "").split(","):
        if name and name not in props:
            problems.append(f"{where}: $select {name!r} is not a property of {entity_set}")
    text = query.get("$filter") or ""
    nav_all = meta.navigation(entity_set)
    for name in COMPARISON.findall(re.sub(r"'(?:[^']|'')*'", "''", text)) + IN_NAME.findall(text):
        if "/" in name:
            nav_name, _, inner = name.partition("/")
            target = meta.entity_types.get(nav_all.get(nav_name, ""))
            if target is None or inner not in _type_properties(meta, target.name):
                problems.append(f"{where}: $filter on {name!r}, not a navigation path of {entity_set}")
        elif name not in props:
            problems.append(f"{where}: $filter on {name!r}, not a property of {entity_set}")
    order = (query.get("$orderby") or "").split(" ")[0]
    if order and order not in props:
        problems.append(f"{where}: $orderby {order!r} is not a property")
    for nav in re.findall(r"(?:^|,)([A-Za-z_]+)", re.sub(r"\([^)]*\)", "", query.get("$expand") or "")):
        if nav not in nav_all:
            problems.append(f"{where}: $expand {nav!r} is not a navigation property of {entity_set}")
    if request.method in ("POST", "PATCH") and request.content:
        body = json.loads(request.content)
        nav = meta.navigation(entity_set)
        for k, v in body.items():
            if k.endswith("@odata.bind"):
                name = k.removesuffix("@odata.bind")
                if name not in nav:
                    problems.append(f"{where}: {name!r} is not a navigation property of {entity_set}")
                elif v is not None:
                    bm = re.fullmatch(r"/?([a-z_]+)\(([0-9a-f-]{36})\)", str(v))
                    if not bm or bm.group(1) not in meta.entity_sets:
                        problems.append(f"{where}: {k} = {v!r} names no entity set")
                    elif meta.entity_sets[bm.group(1)] != nav[name] and nav[name] != f"{meta.namespace}.principal":
                        problems.append(f"{where}: {k} binds {bm.group(1)}, not a {nav[name]}")
            elif k in nav and (v is None or (isinstance(v, dict) and set(v) == {"ID"})):
                continue  # a reference written as {"ID": …} (TribeCRM), or cleared with null
            elif k not in props or (k.startswith("_") and not _custom(k)) or meta.properties(entity_set)[k].computed:
                problems.append(f"{where}: body property {k!r} is not a writable property of {entity_set}")
    if request.method == "GET" and 200 <= status < 300 and content:
        data: Any = json.loads(content)
        rows = data.get("value") if isinstance(data, dict) and "value" in data else [data]
        for row in rows or []:
            for k, v in row.items():
                if "@" not in k and k not in props and k not in nav_all:
                    problems.append(f"{where}: the answer holds {k!r}, not a property of {entity_set}")
                elif k in nav_all and isinstance(v, dict):
                    inner_props = _type_properties(meta, nav_all[k])
                    problems += [f"{where}: the expanded {k} holds {x!r}, not a property of {nav_all[k]}"
                                 for x in v if "@" not in x and x not in inner_props]
    return problems


def _type_properties(meta: Metadata, qualified: str) -> set[str]:
    """Every property of an entity type, its base types' included."""
    out: set[str] = set()
    t = meta.entity_types.get(qualified)
    while t is not None:
        out |= set(t.properties)
        t = meta.entity_types.get(t.base) if t.base else None
    return out


def _custom(name: str) -> bool:
    """TribeCRM's custom fields: ``_`` and a UUID with ``-`` as ``__``."""
    return re.fullmatch(r"_[0-9a-f]{8}(__[0-9a-f]{4}){3}__[0-9a-f]{12}", name) is not None
