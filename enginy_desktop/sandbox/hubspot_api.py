"""HTTP layer of the HubSpot sandbox: the gateway (faults, auth, rate limits, request log) and the endpoints.

Paths follow the official OpenAPI files: the date-based version ``2026-03`` and the legacy ``v3``/``v4``
equivalents with the same shapes. Every handler delegates to :class:`HubSpotSandbox`.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import json
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from itertools import islice
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from .faults import drop_connection, hang
from .hubspot_data import (
    DEFAULT_PROPERTIES,
    DEFAULT_TYPE,
    OBJECT_TYPE_IDS,
    QUERY_PROPERTIES,
    SINGULAR,
    resolve_object_type,
)
from .hubspot_state import (
    CREATED_PROPERTY,
    MODIFIED_PROPERTY,
    HubSpotError,
    HubSpotSandbox,
    Record,
    RequestLogEntry,
    TokenInfo,
    iso,
    not_found,
    oauth_error,
    parse_timestamp,
    validation_error,
)
from .ratelimit import RateLimit

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Any, Any], Awaitable[None]]

DATE_VERSION = "2026-03"
SEARCH_PATH = re.compile(r"^/crm/(?:objects/2026-03|v3/objects)/[^/]+/search/?$")
MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
MAX_QUERY_LENGTH = 3000
_TOKENS = re.compile(r"[0-9a-z]+")


class JSONBody(JSONResponse):
    media_type = "application/json;charset=utf-8"


def ok(data: Any, status: int = 200) -> Response:
    return JSONBody(data, status_code=status)


def no_content() -> Response:
    return Response(status_code=204)


# --- gateway -------------------------------------------------------------------------------------------------------


class Gateway:
    """Outermost ASGI layer: faults, authentication, rate limits, rate-limit headers and the request log.

    It must wrap the whole Starlette stack (not be a Starlette middleware) so that it receives the server's
    own ``send``, which the dropped-connection fault needs.
    """

    def __init__(self, app: ASGIApp, sandbox: HubSpotSandbox) -> None:
        self.app = app
        self.sandbox = sandbox
        self.stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def release(self) -> None:
        """Wake every request the timeout fault holds (thread-safe; used when the server stops)."""
        if self.stopping is not None and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):
                self._loop.call_soon_threadsafe(self.stopping.set)

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox__"):
            await self.app(scope, receive, send)
            return
        sb = self.sandbox
        cfg = sb.config
        entry = RequestLogEntry(len(sb.requests) + 1, scope["method"], scope["path"],
                                scope.get("query_string", b"").decode("latin-1"), cfg.wall_clock(), cfg.clock())
        if len(sb.requests) >= cfg.max_logged_requests:
            del sb.requests[: len(sb.requests) // 2]
        sb.requests.append(entry)
        try:
            await self._handle(scope, receive, send, entry)
        finally:
            entry.duration_s = cfg.clock() - entry.t

    async def _handle(self, scope: Scope, receive: Any, send: Any, entry: RequestLogEntry) -> None:
        sb = self.sandbox
        path = scope["path"]
        if sb.faults.applies_to(path):
            delay = sb.faults.latency_s()
            if delay:
                entry.fault = "latency"
                await asyncio.sleep(delay)
            fault = sb.faults.draw()
            if fault == "drop":
                entry.fault = "drop"
                await drop_connection(send)
                return
            if fault == "timeout":
                entry.fault = "timeout"
                if self.stopping is None:
                    self.stopping = asyncio.Event()
                    self._loop = asyncio.get_running_loop()
                if await hang(send, receive, sb.config.faults.hang_s, self.stopping):
                    return
                await self._error(send, entry, HubSpotError(504, "GATEWAY_TIMEOUT", "The request timed out."))
                return
            if fault == "error":
                entry.fault = "error"
                status = sb.config.faults.error_status
                await self._error(send, entry, HubSpotError(
                    status, "INTERNAL_ERROR" if status == 500 else "SERVICE_UNAVAILABLE",
                    "internal error" if status == 500 else "The service is temporarily unavailable; try again."))
                return
        if path.startswith("/oauth/"):
            await self._forward(scope, receive, send, entry, {})
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        try:
            token = sb.authenticate(headers.get("authorization"))
        except HubSpotError as exc:
            await self._error(send, entry, exc)
            return
        entry.token_kind = token.kind
        limited = self._limit(token, path)
        if isinstance(limited, HubSpotError):
            await self._error(send, entry, limited)
            return
        scope["sandbox.token"] = token
        await self._forward(scope, receive, send, entry, limited)

    def _limit(self, token: TokenInfo, path: str) -> dict[str, str] | HubSpotError:
        """Count the request against the limits; the rate-limit headers to add, or the 429 to answer."""
        sb = self.sandbox
        cfg = sb.config
        now = cfg.clock()
        headers: dict[str, str] = {}
        is_search = bool(SEARCH_PATH.match(path))
        if is_search and sb.search_window is not None:
            allowed, _ = sb.search_window.try_hit(token.token, now)
            if not allowed:
                return rate_limited(sb, "SECONDLY", "You have reached your secondly limit.", "publicapi:crm-search")
        if (not is_search or cfg.search_counts_toward_interval) and sb.interval_window is not None:
            limit = sb.interval_window.limit
            allowed, remaining = sb.interval_window.try_hit(token.token, now)
            interval_headers = {
                "X-HubSpot-RateLimit-Interval-Milliseconds": str(limit.interval_ms),
                "X-HubSpot-RateLimit-Max": str(limit.max_requests),
                "X-HubSpot-RateLimit-Remaining": str(remaining),
            }
            if not allowed:
                err = rate_limited(sb, "TEN_SECONDLY_ROLLING", "You have reached your ten_secondly_rolling limit.",
                                   "publicapi:private-apps" if token.kind == "private_app" else "publicapi:oauth")
                err.headers.update(interval_headers)
                return err
            if not is_search:
                headers.update(interval_headers)
        if token.kind == "private_app" and cfg.daily_limit is not None:
            allowed, remaining = sb.daily_hit(token.token)
            daily = {"X-HubSpot-RateLimit-Daily": str(cfg.daily_limit),
                     "X-HubSpot-RateLimit-Daily-Remaining": str(remaining)}
            if not allowed:
                err = rate_limited(sb, "DAILY", "You have reached your daily limit.", "publicapi:private-apps")
                err.headers.update(daily)
                return err
            if not is_search:
                headers.update(daily)
        return headers

    async def _forward(self, scope: Scope, receive: Any, send: Any, entry: RequestLogEntry,
                       extra_headers: Mapping[str, str]) -> None:
        raw_headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in extra_headers.items()]

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                entry.status = message["status"]
                if raw_headers:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *raw_headers]
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _error(self, send: Any, entry: RequestLogEntry, exc: HubSpotError) -> None:
        entry.status = exc.status
        if exc.status == 429:
            entry.limited_by = exc.extra.get("policyName")
        body = json.dumps(exc.body(self.sandbox.correlation_id()), separators=(",", ":")).encode()
        headers = [(b"content-type", b"application/json;charset=utf-8"),
                   (b"content-length", str(len(body)).encode())]
        headers += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in exc.headers.items()]
        await send({"type": "http.response.start", "status": exc.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def rate_limited(sb: HubSpotSandbox, policy: str, message: str, group: str) -> HubSpotError:
    err = HubSpotError(429, "RATE_LIMITS", message)
    err.extra = {"errorType": "RATE_LIMIT", "policyName": policy, "groupName": group,
                 "requestId": sb.correlation_id()}
    return err


# --- request helpers ----------------------------------------------------------------------------------------------


async def json_body(request: Request, *, required: bool = True) -> Any:
    raw = await request.body()
    if not raw.strip():
        if required:
            raise validation_error("Invalid input JSON: the request body is empty.")
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        line = getattr(exc, "lineno", 1)
        col = getattr(exc, "colno", 1)
        raise validation_error(f"Invalid input JSON on line {line}, column {col}: {exc}") from None


def object_type(value: str) -> str:
    otype = resolve_object_type(value)
    if otype is None:
        raise validation_error(f"Unable to infer object type from: {value}")
    return otype


def list_param(request: Request, name: str) -> list[str]:
    out: list[str] = []
    for value in request.query_params.getlist(name):
        out.extend(v.strip() for v in value.split(",") if v.strip())
    return out


def int_param(request: Request, name: str, default: int, *, lo: int = 1, hi: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise validation_error(f"{name} must be an integer, got '{raw}'.") from None
    if value < lo:
        raise validation_error(f"{name} must be at least {lo}.")
    return min(value, hi) if hi is not None else value


def bool_param(request: Request, name: str) -> bool:
    return request.query_params.get(name, "false").strip().lower() == "true"


def after_param(raw: Any) -> int:
    if raw in (None, ""):
        return 0
    try:
        value = int(str(raw))
    except ValueError:
        raise validation_error(f"after must be a paging cursor from a previous response, got '{raw}'.") from None
    return max(value, 0)


def batch_inputs(body: Any, limit: int) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input: 'inputs' is required and must be a list.")
    inputs = body["inputs"]
    if len(inputs) > limit:
        raise validation_error(
            f"Batch input too large: {len(inputs)} inputs were sent and at most {limit} are allowed per request.",
            context={"inputs": [str(len(inputs))], "limit": [str(limit)]})
    return inputs


def trace_context(item: Any) -> dict[str, list[str]]:
    if isinstance(item, dict) and item.get("objectWriteTraceId"):
        return {"objectWriteTraceId": [str(item["objectWriteTraceId"])]}
    return {}


class Api:
    """The endpoints; ``legacy`` selects the v3/v4 response differences where the versions disagree."""

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        self.sb = sandbox

    def batch_response(self, results: list[Any], errors: list[dict[str, Any]], started: str, ok_status: int
                       ) -> Response:
        body: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                "completedAt": iso(self.sb.now_ms())}
        if errors:
            body["numErrors"] = len(errors)
            body["errors"] = errors
            return ok(body, 207)
        return ok(body, ok_status)

    def all_or_nothing(self, failures: list[HubSpotError]) -> None:
        if failures and self.sb.config.batch_errors == "all":
            raise failures[0]

    # -- objects -----------------------------------------------------------------------------------------------

    async def list_objects(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        limit = int_param(request, "limit", 10, hi=100)
        after = after_param(request.query_params.get("after"))
        archived = bool_param(request, "archived")
        props = list_param(request, "properties") or None
        assoc = [t for t in (resolve_object_type(a) for a in list_param(request, "associations")) if t]
        recs, next_after = self.sb.page_ids(otype, after, limit, archived)
        body: dict[str, Any] = {"results": [self.sb.render(r, props, associations=assoc) for r in recs]}
        if next_after is not None:
            body["paging"] = {"next": {"after": str(next_after),
                                       "link": f"{request.url.path}?after={next_after}"}}
        return ok(body)

    async def get_object(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        id_property = request.query_params.get("idProperty")
        archived = bool_param(request, "archived")
        raw_id = request.path_params["object_id"]
        rec = self.sb.get(otype, raw_id, archived=True) if archived else self.sb.find(otype, raw_id, id_property)
        if rec is None:
            raise not_found()
        props = list_param(request, "properties") or None
        assoc = [t for t in (resolve_object_type(a) for a in list_param(request, "associations")) if t]
        return ok(self.sb.render(rec, props, associations=assoc))

    async def create_object(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input: the body must be an object with 'properties'.")
        rec = self.sb.create(otype, body.get("properties"), body.get("associations"))
        return ok(self.sb.render(rec, self._written_names(rec, body.get("properties"))), 201)

    def _written_names(self, rec: Record, raw: Any) -> list[str]:
        names = set(DEFAULT_PROPERTIES[rec.type])
        if isinstance(raw, Mapping):
            names.update(n for n in raw if n in rec.props)
        return sorted(names)

    async def update_object(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        rec = self.sb.find(otype, request.path_params["object_id"], request.query_params.get("idProperty"))
        if rec is None:
            raise not_found()
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input: the body must be an object with 'properties'.")
        self.sb.update(rec, body.get("properties"))
        return ok(self.sb.render(rec, self._written_names(rec, body.get("properties"))))

    async def archive_object(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        rec = self.sb.get(otype, request.path_params["object_id"])
        if rec is not None:
            self.sb.archive(rec)
        return no_content()

    async def batch_read(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        started = iso(self.sb.now_ms())
        body = await json_body(request)
        inputs = batch_inputs(body, self.sb.config.batch_limit)
        id_property = body.get("idProperty") or None
        archived = bool_param(request, "archived")
        props = [str(p) for p in body.get("properties") or []] or None
        if id_property and id_property != "hs_object_id" and id_property not in self.sb.unique_properties(otype):
            raise validation_error(
                f"{id_property} is not a unique property of {otype}; batch read by idProperty needs a property "
                "with unique values (or hs_object_id).")
        results, missing, seen = [], [], set()
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation_error("Invalid input: every input needs an 'id'.")
            key = str(item["id"])
            if key in seen:
                continue
            seen.add(key)
            rec = self.sb.get(otype, key, archived=True) if archived else self.sb.find(otype, key, id_property)
            if rec is None:
                missing.append(key)
            else:
                results.append(self.sb.render(rec, props))
        errors = []
        if missing:
            err = HubSpotError(404, "OBJECT_NOT_FOUND",
                               f"Could not get some {SINGULAR[otype].upper()} objects, they may be deleted or not "
                               "exist. Check that ids are valid.", context={"ids": missing})
            errors.append(err.standard_error())
        return self.batch_response(results, errors, started, 200)

    async def batch_create(self, request: Request) -> Response:
        sb = self.sb
        otype = object_type(request.path_params["object_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.batch_limit)
        unique = sb.unique_properties(otype)
        pending: dict[tuple[str, str], int] = {}
        plans: list[tuple[Any, dict[str, str | None], list[tuple[str, int, list[int]]]]] = []
        failures: list[HubSpotError] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(inputs):
            try:
                if not isinstance(item, dict):
                    raise validation_error("Invalid input: every input needs 'properties'.")
                changes = sb.clean_properties(otype, item.get("properties"), creating=True)
                sb.check_unique(otype, changes, None)
                for name in unique:
                    value = changes.get(name)
                    if value is not None and (name, value.lower()) in pending:
                        raise validation_error(f"Duplicate {name} in batch input: {value}",
                                               context={name: [value]})
                links = sb.parse_inline_associations(otype, item.get("associations"))
            except HubSpotError as exc:
                failures.append(exc)
                errors.append(exc.standard_error(trace_context(item)))
                continue
            for name in unique:
                value = changes.get(name)
                if value is not None:
                    pending[(name, value.lower())] = index
            plans.append((item, changes, links))
        self.all_or_nothing(failures)
        results = []
        for item, changes, links in plans:
            rec = sb.insert(otype, changes)
            for to_type, to_id, type_ids in links:
                sb.associate(otype, rec.id, to_type, to_id, type_ids)
            extra = {"objectWriteTraceId": str(item["objectWriteTraceId"])} if item.get("objectWriteTraceId") else None
            results.append(sb.render(rec, self._written_names(rec, item.get("properties")), extra=extra))
        return self.batch_response(results, errors, started, 201)

    async def batch_update(self, request: Request) -> Response:
        sb = self.sb
        otype = object_type(request.path_params["object_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.batch_limit)
        keys = [(str(i.get("idProperty") or ""), str(i.get("id"))) for i in inputs if isinstance(i, dict)]
        duplicates = sorted({k[1] for k in keys if keys.count(k) > 1})
        if duplicates:
            raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                                   context={"ids": duplicates})
        unique = sb.unique_properties(otype)
        pending: dict[tuple[str, str], int] = {}
        plans: list[tuple[Any, Record, dict[str, str | None]]] = []
        failures: list[HubSpotError] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            try:
                if not isinstance(item, dict) or "id" not in item:
                    raise validation_error("Invalid input: every input needs an 'id' and 'properties'.")
                rec = sb.find(otype, str(item["id"]), item.get("idProperty"))
                if rec is None:
                    raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                       f"Could not find {SINGULAR[otype]} with id {item['id']}.",
                                       context={"ids": [str(item["id"])]})
                changes = sb.clean_properties(otype, item.get("properties"), creating=False)
                sb.check_unique(otype, changes, rec.id)
                for name in unique:
                    value = changes.get(name)
                    if value is not None and pending.get((name, value.lower()), rec.id) != rec.id:
                        raise validation_error(f"Duplicate {name} in batch input: {value}",
                                               context={name: [value]})
            except HubSpotError as exc:
                failures.append(exc)
                errors.append(exc.standard_error(trace_context(item)))
                continue
            for name in unique:
                value = changes.get(name)
                if value is not None:
                    pending[(name, value.lower())] = rec.id
            plans.append((item, rec, changes))
        self.all_or_nothing(failures)
        results = []
        for item, rec, changes in plans:
            sb.apply(rec, changes)
            extra = {"objectWriteTraceId": str(item["objectWriteTraceId"])} if item.get("objectWriteTraceId") else None
            results.append(sb.render(rec, self._written_names(rec, item.get("properties")), extra=extra))
        return self.batch_response(results, errors, started, 200)

    async def batch_upsert(self, request: Request) -> Response:
        sb = self.sb
        otype = object_type(request.path_params["object_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.batch_limit)
        unique = sb.unique_properties(otype)
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation_error("Invalid input: every input needs an 'id', an 'idProperty' and 'properties'.")
            prop = item.get("idProperty")
            if prop and prop != "hs_object_id" and prop not in unique:
                raise validation_error(
                    f"{prop} is not a unique property of {otype}: upsert needs a property with unique values "
                    "(for contacts, email; or a custom property created with hasUniqueValue).",
                    context={"idProperty": [str(prop)]})
        keys = [(str(i.get("idProperty") or ""), str(i["id"]).lower()) for i in inputs]
        duplicates = sorted({k[1] for k in keys if keys.count(k) > 1})
        if duplicates:
            raise validation_error(f"Duplicate IDs found in batch input: {duplicates}. IDs must be unique",
                                   context={"ids": duplicates})
        plans: list[tuple[Any, Record | None, dict[str, str | None]]] = []
        failures: list[HubSpotError] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            prop = item.get("idProperty") or None
            try:
                rec = sb.find(otype, str(item["id"]), prop)
                changes = sb.clean_properties(otype, item.get("properties"), creating=rec is None)
                if rec is None:
                    if not prop or prop == "hs_object_id":
                        raise HubSpotError(404, "OBJECT_NOT_FOUND",
                                           f"Could not find {SINGULAR[otype]} with id {item['id']}; upsert by record "
                                           "id cannot create. Use an idProperty with unique values.",
                                           context={"ids": [str(item["id"])]})
                    clean_id = sb.clean_properties(otype, {prop: item["id"]}, creating=False)
                    changes.update(clean_id)
                sb.check_unique(otype, changes, rec.id if rec else None)
            except HubSpotError as exc:
                failures.append(exc)
                errors.append(exc.standard_error(trace_context(item)))
                continue
            plans.append((item, rec, changes))
        self.all_or_nothing(failures)
        results = []
        for item, rec, changes in plans:
            new = rec is None
            if rec is None:
                rec = sb.insert(otype, changes)
            else:
                sb.apply(rec, changes)
            extra: dict[str, Any] = {"new": new}
            if item.get("objectWriteTraceId"):
                extra["objectWriteTraceId"] = str(item["objectWriteTraceId"])
            results.append(sb.render(rec, self._written_names(rec, item.get("properties")), extra=extra))
        return self.batch_response(results, errors, started, 200)

    async def batch_archive(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        inputs = batch_inputs(await json_body(request), self.sb.config.batch_limit)
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation_error("Invalid input: every input needs an 'id'.")
        for item in inputs:
            rec = self.sb.get(otype, str(item["id"]))
            if rec is not None:
                self.sb.archive(rec)
        return no_content()

    # -- search -----------------------------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        body = await json_body(request, required=False) or {}
        if not isinstance(body, dict):
            raise validation_error("Invalid input: the search body must be an object.")
        result = Search(self.sb, otype, body).run()
        return ok(result)

    # -- associations (v4 shapes) -------------------------------------------------------------------------------

    def _record(self, otype: str, rid: Any) -> Record:
        rec = self.sb.get(otype, str(rid))
        if rec is None:
            raise HubSpotError(404, "OBJECT_NOT_FOUND", f"{SINGULAR[otype].title()} {rid} was not found.",
                               context={"objectId": [str(rid)]})
        return rec

    def _pair_types(self, from_type: str, to_type: str, specs: Any) -> list[int]:
        if not isinstance(specs, list) or not specs:
            raise validation_error("At least one association type (associationCategory, associationTypeId) is needed.")
        ids = []
        for spec in specs:
            if not isinstance(spec, dict) or "associationTypeId" not in spec:
                raise validation_error("Each association type needs associationCategory and associationTypeId.")
            try:
                type_id = int(spec["associationTypeId"])
            except (TypeError, ValueError):
                raise validation_error("associationTypeId must be an integer.") from None
            ids.append(self.sb.association_type(from_type, to_type, type_id, spec.get("associationCategory")).type_id)
        return ids

    def _labels_pair(self, from_type: str, from_id: int, to_type: str, to_id: int) -> dict[str, Any]:
        return {"fromObjectTypeId": OBJECT_TYPE_IDS[from_type], "fromObjectId": str(from_id),
                "toObjectTypeId": OBJECT_TYPE_IDS[to_type], "toObjectId": str(to_id),
                "labels": self.sb.labels_between(from_type, from_id, to_type, to_id)}

    def _with_labels(self, from_type: str, from_id: int, to_type: str, items: Iterable[tuple[int, set[int]]]
                     ) -> list[dict[str, Any]]:
        return [{"toObjectId": str(to_id),
                 "associationTypes": [self.sb.association_spec(t) for t in sorted(type_ids)]}
                for to_id, type_ids in items]

    async def list_associations(self, request: Request) -> Response:
        from_type = object_type(request.path_params["object_type"])
        to_type = object_type(request.path_params["to_type"])
        rec = self._record(from_type, request.path_params["object_id"])
        limit = int_param(request, "limit", 500, hi=500)
        after = after_param(request.query_params.get("after"))
        linked = sorted(self.sb.associated(from_type, rec.id, to_type).items())
        page = [(i, t) for i, t in linked if i > after][:limit]
        body: dict[str, Any] = {"results": self._with_labels(from_type, rec.id, to_type, page)}
        if page and page[-1][0] != linked[-1][0]:
            body["paging"] = {"next": {"after": str(page[-1][0])}}
        return ok(body)

    async def put_association(self, request: Request) -> Response:
        from_type = object_type(request.path_params["object_type"])
        to_type = object_type(request.path_params["to_type"])
        rec = self._record(from_type, request.path_params["object_id"])
        target = self._record(to_type, request.path_params["to_id"])
        type_ids = self._pair_types(from_type, to_type, await json_body(request))
        self.sb.associate(from_type, rec.id, to_type, target.id, type_ids)
        return ok(self._labels_pair(from_type, rec.id, to_type, target.id), 201)

    async def delete_association(self, request: Request) -> Response:
        from_type = object_type(request.path_params["object_type"])
        to_type = object_type(request.path_params["to_type"])
        rec = self._record(from_type, request.path_params["object_id"])
        target = self._record(to_type, request.path_params["to_id"])
        self.sb.disassociate(from_type, rec.id, to_type, target.id)
        return no_content()

    def _default_spec(self, from_type: str, to_type: str) -> int:
        default = DEFAULT_TYPE.get((from_type, to_type))
        if default is None:
            raise validation_error(f"There is no default association from {from_type} to {to_type}.")
        return default

    async def put_default_association(self, request: Request) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        default = self._default_spec(from_type, to_type)
        started = iso(sb.now_ms())
        rec = self._record(from_type, request.path_params["from_id"])
        target = self._record(to_type, request.path_params["to_id"])
        sb.associate(from_type, rec.id, to_type, target.id, [default])
        results = [self._default_result(from_type, rec.id, target.id, default)]
        return self.batch_response(results, [], started, 200)

    def _default_result(self, from_type: str, from_id: int, to_id: int, type_id: int) -> dict[str, Any]:
        t = self.sb.association_types[type_id]
        return {"from": {"id": str(from_id)}, "to": {"id": str(to_id)},
                "associationSpec": {"associationCategory": t.category, "associationTypeId": type_id}}

    def _pair_ids(self, item: Any) -> tuple[str, Any]:
        try:
            return str(item["from"]["id"]), item["to"]
        except (KeyError, TypeError):
            raise validation_error("Invalid input: every input needs 'from.id' and 'to'.") from None

    async def batch_associate(self, request: Request) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.association_batch_limit)
        plans: list[tuple[int, int, list[int]]] = []
        failures: list[HubSpotError] = []
        errors: list[dict[str, Any]] = []
        for item in inputs:
            try:
                raw_from, to = self._pair_ids(item)
                rec = self._record(from_type, raw_from)
                target = self._record(to_type, (to or {}).get("id") if isinstance(to, dict) else None)
                type_ids = self._pair_types(from_type, to_type, item.get("types"))
            except HubSpotError as exc:
                failures.append(exc)
                errors.append(exc.standard_error())
                continue
            plans.append((rec.id, target.id, type_ids))
        self.all_or_nothing(failures)
        results = []
        for from_id, to_id, type_ids in plans:
            sb.associate(from_type, from_id, to_type, to_id, type_ids)
            results.append(self._labels_pair(from_type, from_id, to_type, to_id))
        return self.batch_response(results, errors, started, 201)

    async def batch_associate_default(self, request: Request) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        default = self._default_spec(from_type, to_type)
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.association_batch_limit)
        results, errors = [], []
        for item in inputs:
            try:
                from_id, to = self._pair_ids(item)
                rec = self._record(from_type, from_id)
                target = self._record(to_type, (to or {}).get("id") if isinstance(to, dict) else None)
            except HubSpotError as exc:
                errors.append(exc.standard_error())
                continue
            sb.associate(from_type, rec.id, to_type, target.id, [default])
            results.append(self._default_result(from_type, rec.id, target.id, default))
        return self.batch_response(results, errors, started, 200)

    async def batch_archive_associations(self, request: Request, *, legacy: bool) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.association_batch_limit)
        for item in inputs:
            from_id, to = self._pair_ids(item)
            if not isinstance(to, list):
                raise validation_error("Invalid input: 'to' must be a list of {id}.")
            rec = sb.get(from_type, from_id)
            for target in to:
                target_rec = sb.get(to_type, str((target or {}).get("id")))
                if rec is not None and target_rec is not None:
                    sb.disassociate(from_type, rec.id, to_type, target_rec.id)
        return no_content() if legacy else self.batch_response([], [], started, 200)

    async def batch_archive_labels(self, request: Request, *, legacy: bool) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.association_batch_limit)
        plans: list[tuple[int, int, list[int]]] = []
        for item in inputs:
            raw_from, to = self._pair_ids(item)
            rec = self._record(from_type, raw_from)
            target = self._record(to_type, (to or {}).get("id") if isinstance(to, dict) else None)
            plans.append((rec.id, target.id, self._pair_types(from_type, to_type, item.get("types"))))
        for from_id, to_id, type_ids in plans:
            sb.remove_labels(from_type, from_id, to_type, to_id, type_ids)
        return no_content() if legacy else self.batch_response([], [], started, 200)

    async def batch_read_associations(self, request: Request) -> Response:
        sb = self.sb
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        started = iso(sb.now_ms())
        inputs = batch_inputs(await json_body(request), sb.config.association_read_limit)
        results, errors = [], []
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation_error("Invalid input: every input needs an 'id'.")
            from_id = str(item["id"])
            rec = sb.get(from_type, from_id)
            linked = sorted(sb.associated(from_type, rec.id, to_type).items()) if rec else []
            after = after_param(item.get("after"))
            page = [(i, t) for i, t in linked if i > after][:500]
            if not page:
                err = HubSpotError(404, "OBJECT_NOT_FOUND",
                                   f"No {SINGULAR[to_type]} is associated with {SINGULAR[from_type]} {from_id}.",
                                   context={"fromObjectId": [from_id]})
                errors.append(err.standard_error())
                continue
            result: dict[str, Any] = {"from": {"id": from_id},
                                      "to": self._with_labels(from_type, rec.id, to_type, page)}  # type: ignore[union-attr]
            if page[-1][0] != linked[-1][0]:
                result["paging"] = {"next": {"after": str(page[-1][0])}}
            results.append(result)
        return self.batch_response(results, errors, started, 200)

    # -- association labels ---------------------------------------------------------------------------------------

    async def get_labels(self, request: Request) -> Response:
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        types = self.sb.labels_for(from_type, to_type)
        return ok({"results": [self.sb.association_spec(t.type_id) for t in types]})

    async def create_label(self, request: Request) -> Response:
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input: label and name are required.")
        made = self.sb.create_label(from_type, to_type, str(body.get("label") or ""), str(body.get("name") or ""),
                                    body.get("inverseLabel"))
        return ok({"results": [self.sb.association_spec(t.type_id) for t in made]})

    async def update_label(self, request: Request) -> Response:
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        body = await json_body(request)
        if not isinstance(body, dict) or "associationTypeId" not in body or not body.get("label"):
            raise validation_error("Invalid input: associationTypeId and label are required.")
        t = self.sb.association_type(from_type, to_type, int(body["associationTypeId"]))
        if t.category != "USER_DEFINED":
            raise validation_error(f"Association type {t.type_id} is HubSpot-defined and cannot be renamed.")
        from dataclasses import replace

        self.sb.association_types[t.type_id] = replace(t, label=str(body["label"]))
        if body.get("inverseLabel") and t.inverse_id != t.type_id:
            inv = self.sb.association_types[t.inverse_id]
            self.sb.association_types[inv.type_id] = replace(inv, label=str(body["inverseLabel"]))
        return no_content()

    async def delete_label(self, request: Request) -> Response:
        from_type = object_type(request.path_params["from_type"])
        to_type = object_type(request.path_params["to_type"])
        try:
            type_id = int(request.path_params["type_id"])
        except ValueError:
            raise validation_error("associationTypeId must be an integer.") from None
        t = self.sb.association_type(from_type, to_type, type_id)
        if t.category != "USER_DEFINED":
            raise validation_error(f"Association type {type_id} is HubSpot-defined and cannot be deleted.")
        for key in (t.type_id, t.inverse_id):
            self.sb.association_types.pop(key, None)
        for by_type in self.sb.associations.values():
            for linked in by_type.values():
                for type_ids in linked.values():
                    type_ids.discard(t.type_id)
                    type_ids.discard(t.inverse_id)
        return no_content()

    # -- properties ---------------------------------------------------------------------------------------------

    def _props(self, otype: str, archived: bool) -> dict[str, dict[str, Any]]:
        return self.sb.archived_properties[otype] if archived else self.sb.properties[otype]

    async def list_properties(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        props = self._props(otype, bool_param(request, "archived"))
        wanted = set(list_param(request, "properties"))
        return ok({"results": [self.sb.property_view(otype, p) for n, p in props.items()
                               if not wanted or n in wanted]})

    async def get_property(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        name = request.path_params["property_name"]
        prop = self._props(otype, bool_param(request, "archived")).get(name)
        if prop is None:
            raise not_found(f"Unable to find property {name} on object type {OBJECT_TYPE_IDS[otype]}")
        return ok(self.sb.property_view(otype, prop))

    async def create_property(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input: the body must describe a property.")
        return ok(self.sb.create_property(otype, body), 201)

    async def update_property(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        body = await json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input: the body must be an object.")
        prop = self.sb.update_property(otype, request.path_params["property_name"], body)
        return ok(self.sb.property_view(otype, prop))

    async def archive_property(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        self.sb.archive_property(otype, request.path_params["property_name"])
        return no_content()

    async def batch_read_properties(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        started = iso(self.sb.now_ms())
        body = await json_body(request)
        inputs = batch_inputs(body, self.sb.config.batch_limit)
        props = self._props(otype, bool(body.get("archived")))
        results, missing = [], []
        for item in inputs:
            name = str((item or {}).get("name")) if isinstance(item, dict) else ""
            if name in props:
                results.append(self.sb.property_view(otype, props[name]))
            else:
                missing.append(name)
        errors = []
        if missing:
            errors.append(HubSpotError(404, "OBJECT_NOT_FOUND", f"Unable to find some properties: {missing}",
                                       context={"properties": missing}).standard_error())
        return self.batch_response(results, errors, started, 200)

    async def batch_create_properties(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        started = iso(self.sb.now_ms())
        inputs = batch_inputs(await json_body(request), self.sb.config.batch_limit)
        results, errors = [], []
        for item in inputs:
            try:
                if not isinstance(item, dict):
                    raise validation_error("Invalid input: every input must describe a property.")
                results.append(self.sb.create_property(otype, item))
            except HubSpotError as exc:
                errors.append(exc.standard_error())
        return self.batch_response(results, errors, started, 201)

    async def batch_archive_properties(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        inputs = batch_inputs(await json_body(request), self.sb.config.batch_limit)
        for item in inputs:
            name = str((item or {}).get("name")) if isinstance(item, dict) else ""
            if name in self.sb.properties[otype]:
                self.sb.archive_property(otype, name)
        return no_content()

    async def list_groups(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        return ok({"results": self.sb.property_groups[otype]})

    async def get_group(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        name = request.path_params["group_name"]
        for group in self.sb.property_groups[otype]:
            if group["name"] == name:
                return ok(group)
        raise not_found(f"Unable to find property group {name}")

    async def create_group(self, request: Request) -> Response:
        otype = object_type(request.path_params["object_type"])
        body = await json_body(request)
        if not isinstance(body, dict) or not body.get("name") or not body.get("label"):
            raise validation_error("Invalid input: name and label are required.")
        groups = self.sb.property_groups[otype]
        if any(g["name"] == body["name"] for g in groups):
            raise HubSpotError(409, "OBJECT_ALREADY_EXISTS", f"A property group named {body['name']} already exists.")
        group = {"name": str(body["name"]), "label": str(body["label"]),
                 "displayOrder": int(body.get("displayOrder", len(groups))), "archived": False}
        groups.append(group)
        return ok(group, 201)

    # -- owners -----------------------------------------------------------------------------------------------

    async def list_owners(self, request: Request) -> Response:
        limit = int_param(request, "limit", 100, hi=500)
        after = after_param(request.query_params.get("after"))
        archived = bool_param(request, "archived")
        email = (request.query_params.get("email") or "").strip().lower()
        owners = [o for o in self.sb.owners if o["archived"] == archived and (not email or o["email"] == email)]
        page = owners[after:after + limit]
        body: dict[str, Any] = {"results": page}
        if after + limit < len(owners):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return ok(body)

    async def get_owner(self, request: Request) -> Response:
        key = "userId" if request.query_params.get("idProperty") == "userId" else "id"
        archived = bool_param(request, "archived")
        wanted = request.path_params["owner_id"]
        for owner in self.sb.owners:
            if str(owner[key]) == wanted and owner["archived"] == archived:
                return ok(owner)
        raise not_found(f"Owner {wanted} was not found.")

    # -- account ---------------------------------------------------------------------------------------------------

    async def account_details(self, request: Request) -> Response:
        cfg = self.sb.config
        offset = {"Europe/Madrid": ("+01:00", 3_600_000), "UTC": ("+00:00", 0)}.get(cfg.time_zone, ("+00:00", 0))
        return ok({
            "portalId": cfg.portal_id,
            "accountType": cfg.account_type,
            "timeZone": cfg.time_zone,
            "companyCurrency": cfg.company_currency,
            "additionalCurrencies": [],
            "utcOffset": offset[0],
            "utcOffsetMilliseconds": offset[1],
            "uiDomain": cfg.ui_domain,
            "dataHostingLocation": cfg.data_hosting_location,
        })

    # -- OAuth ----------------------------------------------------------------------------------------------------

    async def _form(self, request: Request) -> dict[str, str]:
        raw = (await request.body()).decode("utf-8", "replace")
        form = dict(parse_qsl(raw, keep_blank_values=True))
        for key in ("client_secret", "refresh_token"):  # v1 also takes these as query parameters
            if key not in form and key in request.query_params:
                form[key] = request.query_params[key]
        return form

    def _token_response(self, info: TokenInfo) -> Response:
        return ok({
            "token_type": "bearer",
            "access_token": info.token,
            "refresh_token": info.refresh_token,
            "expires_in": self.sb.token_lifetime_left(info),
            "token_use": "access_token",
            "hub_id": self.sb.config.portal_id,
            "user_id": info.user_id,
            "scopes": list(info.scopes),
        })

    async def token(self, request: Request) -> Response:
        sb = self.sb
        form = await self._form(request)
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        secret = form.get("client_secret") or None
        if grant == "authorization_code":
            code = sb.auth_codes.get(form.get("code", ""))
            if code is None or code.used or code.expires_at < sb.config.clock():
                raise oauth_error("BAD_AUTH_CODE", "missing or unknown auth code")
            if client_id != code.client_id:
                raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id")
            if form.get("redirect_uri", "") != code.redirect_uri:
                raise oauth_error("BAD_REDIRECT_URI", "redirect_uri does not match the one used to authorize")
            if code.code_challenge is not None:
                verifier = form.get("code_verifier", "")
                if not verifier or not sb.pkce_ok(verifier, code.code_challenge, code.code_challenge_method):
                    raise oauth_error("BAD_AUTH_CODE", "code_verifier does not match the code_challenge")
            sb.check_client(client_id, secret, secret_required=code.code_challenge is None)
            code.used = True
            return self._token_response(sb.issue_tokens(client_id, code.scopes))
        if grant == "refresh_token":
            refresh = sb.refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.revoked or refresh.client_id != client_id:
                raise oauth_error("BAD_REFRESH_TOKEN", "missing or unknown refresh token")
            sb.check_client(client_id, secret, secret_required=False)
            return self._token_response(sb.issue_tokens(client_id, refresh.scopes, refresh.token))
        raise oauth_error("BAD_GRANT_TYPE", f"grant_type must be authorization_code or refresh_token, got '{grant}'")

    def _signed(self, info: TokenInfo) -> dict[str, Any]:
        cfg = self.sb.config
        expires_at = int((cfg.wall_clock() + self.sb.token_lifetime_left(info)) * 1000)
        return {"appId": 4242, "appInstallId": f"{cfg.portal_id}-4242", "audience": "api", "expiresAt": expires_at,
                "hubId": cfg.portal_id, "hublet": cfg.data_hosting_location, "installingUserId": info.user_id,
                "isPrivateDistribution": True, "isServiceAccount": False, "isUserLevel": False,
                "newSignature": "", "scopeToScopeGroupPks": "", "scopes": " ".join(info.scopes),
                "signature": "", "trialScopeToScopeGroupPks": "", "trialScopes": "", "userId": info.user_id}

    def _owner_email(self) -> str:
        return self.sb.owners[0]["email"] if self.sb.owners else "owner@enginy-sandbox.example"

    def _hub_domain(self) -> str:
        return f"enginy-sandbox-{self.sb.config.portal_id}.example"

    async def introspect(self, request: Request) -> Response:
        sb = self.sb
        form = await self._form(request)
        token = form.get("token", "")
        access = sb.access_tokens.get(token)
        if access is not None:
            left = sb.token_lifetime_left(access)
            return ok({"active": left > 0 and not access.revoked, "app_id": 4242, "client_id": access.client_id,
                       "expires_in": left, "hub_id": sb.config.portal_id, "hub_domain": self._hub_domain(),
                       "is_private_distribution": True, "scopes": list(access.scopes),
                       "signed_access_token": self._signed(access), "token": token, "token_type": "bearer",
                       "token_use": "access_token", "user": self._owner_email(), "user_id": access.user_id})
        refresh = sb.refresh_tokens.get(token)
        if refresh is not None:
            return ok({"active": not refresh.revoked, "app_id": 4242, "client_id": refresh.client_id,
                       "hub_id": sb.config.portal_id, "hub_domain": self._hub_domain(), "scopes": list(refresh.scopes),
                       "token": token, "token_type": "refresh", "token_use": "refresh_token",
                       "user": self._owner_email(), "user_id": refresh.user_id})
        raise oauth_error("BAD_TOKEN", "missing or unknown token", 404)

    async def revoke(self, request: Request) -> Response:
        form = await self._form(request)
        self._revoke(form.get("token", ""))
        return no_content()

    def _revoke(self, token: str) -> bool:
        sb = self.sb
        if token in sb.access_tokens:
            sb.access_tokens[token].revoked = True
            return True
        refresh = sb.refresh_tokens.get(token)
        if refresh is None:
            return False
        refresh.revoked = True
        for info in sb.access_tokens.values():
            if info.refresh_token == token:
                info.revoked = True
        return True

    async def access_token_info(self, request: Request) -> Response:
        sb = self.sb
        info = sb.access_tokens.get(request.path_params["token"])
        if info is None or info.revoked:
            raise not_found("Token not found")
        left = sb.token_lifetime_left(info)
        if left <= 0:
            raise HubSpotError(401, "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired.")
        return ok({"token": info.token, "user": self._owner_email(), "hub_domain": self._hub_domain(),
                   "scopes": list(info.scopes), "hub_id": sb.config.portal_id, "app_id": 4242, "expires_in": left,
                   "user_id": info.user_id, "token_type": "access", "is_private_distribution": True})

    async def refresh_token_info(self, request: Request) -> Response:
        refresh = self.sb.refresh_tokens.get(request.path_params["token"])
        if refresh is None or refresh.revoked:
            raise not_found("Token not found")
        return ok({"token": refresh.token, "user": self._owner_email(), "hub_domain": self._hub_domain(),
                   "scopes": list(refresh.scopes), "hub_id": self.sb.config.portal_id, "client_id": refresh.client_id,
                   "user_id": refresh.user_id, "token_type": "refresh"})

    async def delete_refresh_token(self, request: Request) -> Response:
        if not self._revoke(request.path_params["token"]):
            raise not_found("Token not found")
        return no_content()

    async def authorize(self, request: Request) -> Response:
        """The browser step (app.hubspot.com/oauth/authorize), approved at once: redirects with a code."""
        q = request.query_params
        client_id, redirect_uri = q.get("client_id", ""), q.get("redirect_uri", "")
        clients = self.sb.config.oauth_clients
        if not client_id or (clients is not None and client_id not in clients) or not redirect_uri:
            raise oauth_error("BAD_CLIENT_ID", "missing or unknown client id, or no redirect_uri")
        scopes = [s for s in (q.get("scope", "") + " " + q.get("optional_scope", "")).split() if s]
        code = self.sb.issue_code(client_id, redirect_uri, scopes, q.get("code_challenge") or None,
                                  q.get("code_challenge_method", "S256"))
        params = {"code": code}
        if q.get("state") is not None:
            params["state"] = q["state"]
        parts = urlsplit(redirect_uri)
        query = "&".join(p for p in (parts.query, urlencode(params)) if p)
        return RedirectResponse(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)), 302)


# --- search -----------------------------------------------------------------------------------------------------------


class Search:
    """One CRM search request, with HubSpot's limits and operators."""

    def __init__(self, sb: HubSpotSandbox, otype: str, body: Mapping[str, Any]) -> None:
        self.sb = sb
        self.otype = otype
        self.body = body
        self.defs = sb.properties[otype]

    def run(self) -> dict[str, Any]:
        body = self.body
        groups = body.get("filterGroups") or []
        if not isinstance(groups, list):
            raise validation_error("filterGroups must be a list.")
        if len(groups) > MAX_FILTER_GROUPS:
            raise validation_error(f"Too many filter groups: {len(groups)}. At most {MAX_FILTER_GROUPS} are allowed.")
        total_filters = 0
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list):
                raise validation_error("Each filter group needs a 'filters' list.")
            if len(filters) > MAX_FILTERS_PER_GROUP:
                raise validation_error(
                    f"Too many filters in a filter group: {len(filters)}. At most {MAX_FILTERS_PER_GROUP} are allowed.")
            total_filters += len(filters)
        if total_filters > MAX_FILTERS:
            raise validation_error(f"Too many filters: {total_filters}. At most {MAX_FILTERS} are allowed in total.")
        limit = body.get("limit", 10)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
            raise validation_error("limit must be a non-negative integer.")
        if limit > MAX_SEARCH_LIMIT:
            raise validation_error(f"limit must be at most {MAX_SEARCH_LIMIT}, got {limit}.")
        limit = limit or 10
        offset = after_param(body.get("after"))
        if offset + limit > MAX_SEARCH_RESULTS:
            raise validation_error(
                f"Paging past {MAX_SEARCH_RESULTS} results is not supported by search; narrow the filters.",
                context={"after": [str(offset)]})
        query = body.get("query")
        if query is not None and (not isinstance(query, str) or len(query) > MAX_QUERY_LENGTH):
            raise validation_error(f"query must be a string of at most {MAX_QUERY_LENGTH} characters.")
        sorts = body.get("sorts") or []
        if not isinstance(sorts, list) or len(sorts) > 1:
            raise validation_error("sorts must be a list with at most one sort.")
        compiled = [[self._compile(f) for f in g["filters"]] for g in groups]
        matches = [r for r in self._candidates(compiled) if self._match(r, compiled, query)]
        self._sort(matches, sorts[0] if sorts else None)
        page = matches[offset:offset + limit]
        props = [str(p) for p in body.get("properties") or []]
        names = sorted({*props, "hs_object_id", CREATED_PROPERTY.get(self.otype, "hs_createdate"),
                        MODIFIED_PROPERTY.get(self.otype, "hs_lastmodifieddate")}) if props else None
        result: dict[str, Any] = {"total": len(matches), "results": [self.sb.render(r, names) for r in page]}
        if offset + limit < len(matches):
            result["paging"] = {"next": {"after": str(offset + limit)}}
        return result

    def _compile(self, f: Any) -> tuple[str, str, Any]:
        if not isinstance(f, dict) or "propertyName" not in f or "operator" not in f:
            raise validation_error("Each filter needs propertyName and operator.")
        name, op = str(f["propertyName"]), str(f["operator"])
        if name.startswith("associations."):
            to_type = resolve_object_type(name.split(".", 1)[1])
            if to_type is None or op not in ("EQ", "IN"):
                raise validation_error(f"Unsupported association filter: {name} {op}.")
        elif name not in self.defs:
            raise validation_error(f"There was a problem with the request: property {name} does not exist.",
                                   context={"propertyName": [name]})
        if op in ("IN", "NOT_IN"):
            values = f.get("values")
            if not isinstance(values, list) or not values:
                raise validation_error(f"{op} needs a non-empty 'values' list.")
            return name, op, {str(v).lower() for v in values}
        if op in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
            return name, op, None
        if op == "BETWEEN":
            if "value" not in f or "highValue" not in f:
                raise validation_error("BETWEEN needs value and highValue.")
            return name, op, (str(f["value"]), str(f["highValue"]))
        if op in ("EQ", "NEQ", "GT", "GTE", "LT", "LTE", "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            if "value" not in f:
                raise validation_error(f"{op} needs a value.")
            return name, op, str(f["value"])
        raise validation_error(f"Unknown operator {op}.")

    def _candidates(self, compiled: list[list[tuple[str, str, Any]]]) -> Iterable[Record]:
        """Use the value indexes when every filter group has an indexed EQ/IN; else scan."""
        if not compiled:
            return list(self.sb.live(self.otype))
        ids: set[int] = set()
        for group in compiled:
            found: set[int] | None = None
            for name, op, value in group:
                if op == "EQ":
                    found = self.sb.indexed_ids(self.otype, name, value)
                elif op == "IN":
                    per = [self.sb.indexed_ids(self.otype, name, v) for v in value]
                    found = None if any(p is None for p in per) else set().union(*per)  # type: ignore[arg-type]
                if found is not None:
                    break
            if found is None:
                return list(self.sb.live(self.otype))
            ids |= found
        recs = self.sb.objects[self.otype]
        return [recs[i] for i in sorted(ids) if i in recs and not recs[i].archived]

    def _match(self, rec: Record, compiled: list[list[tuple[str, str, Any]]], query: str | None) -> bool:
        if query:
            tokens = query.lower().split()
            text = " ".join(rec.props.get(p, "") for p in QUERY_PROPERTIES[self.otype]).lower()
            words = set(_TOKENS.findall(text))
            for t in tokens:
                if t not in text and not any(w.startswith(t) for w in words):
                    return False
        if not compiled:
            return True
        return any(all(self._test(rec, f) for f in group) for group in compiled)

    def _kind(self, name: str) -> str:
        prop = self.defs.get(name)
        return prop["type"] if prop else "string"

    def _key(self, name: str, value: str) -> Any:
        kind = self._kind(name)
        if kind == "number":
            try:
                return float(value)
            except ValueError:
                return None
        if kind in ("datetime", "date"):
            return parse_timestamp(value)
        return value.lower()

    def _test(self, rec: Record, f: tuple[str, str, Any]) -> bool:
        name, op, value = f
        if name.startswith("associations."):
            to_type = resolve_object_type(name.split(".", 1)[1]) or ""
            linked = {str(i) for i in self.sb.associated(self.otype, rec.id, to_type)}
            wanted = {value.lower()} if op == "EQ" else value
            return bool(linked & wanted)
        actual = rec.props.get(name)
        if op == "HAS_PROPERTY":
            return actual is not None
        if op == "NOT_HAS_PROPERTY":
            return actual is None
        if op == "IN":
            return actual is not None and actual.lower() in value
        if op == "NOT_IN":
            return actual is None or actual.lower() not in value
        if op in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
            found = actual is not None and contains_token(actual, value)
            return found if op == "CONTAINS_TOKEN" else not found
        if op == "NEQ":
            return actual is None or self._key(name, actual) != self._key(name, value)
        if actual is None:
            return False
        a = self._key(name, actual)
        if op == "EQ":
            return a == self._key(name, value)
        if op == "BETWEEN":
            lo, hi = self._key(name, value[0]), self._key(name, value[1])
            return a is not None and lo is not None and hi is not None and lo <= a <= hi
        b = self._key(name, value)
        if a is None or b is None:
            return False
        return {"GT": a > b, "GTE": a >= b, "LT": a < b, "LTE": a <= b}[op]

    def _sort(self, recs: list[Record], sort: Any) -> None:
        if sort is None:
            return  # candidates are already in id (creation) order
        if isinstance(sort, str):
            desc = sort.startswith("-")
            name = sort.lstrip("-")
        elif isinstance(sort, dict) and sort.get("propertyName"):
            name = str(sort["propertyName"])
            desc = str(sort.get("direction", "ASCENDING")).upper() == "DESCENDING"
        else:
            raise validation_error("Each sort is a property name (\"-name\" for descending) or "
                                   "{propertyName, direction}.")
        if name == "id":
            name = "hs_object_id"

        def key(rec: Record) -> tuple[int, Any, int]:
            raw = rec.props.get(name)
            k = self._key(name, raw) if raw is not None else None
            return (k is None, k if k is not None else 0, rec.id)

        present = [r for r in recs if key(r)[1] is not None and not key(r)[0]]
        missing = [r for r in recs if key(r)[0]]
        present.sort(key=key, reverse=desc)
        recs[:] = present + missing


def contains_token(actual: str, wanted: str) -> bool:
    text = actual.lower()
    wanted = wanted.lower().strip()
    if "*" in wanted:
        return fnmatch.fnmatchcase(text, wanted) or any(
            fnmatch.fnmatchcase(t, wanted) for t in _TOKENS.findall(text))
    tokens = _TOKENS.findall(text)
    needle = _TOKENS.findall(wanted)
    if not needle:
        return False
    n = len(needle)
    return any(tokens[i:i + n] == needle for i in range(len(tokens) - n + 1))


# --- admin API ------------------------------------------------------------------------------------------------------


class Admin:
    """``/__sandbox__/…``: inspect and steer the sandbox while it runs (no auth, no limits, not logged)."""

    def __init__(self, sandbox: HubSpotSandbox) -> None:
        self.sb = sandbox

    async def state(self, request: Request) -> Response:
        cfg = self.sb.config
        return ok({
            "counts": self.sb.counts(),
            "portalId": cfg.portal_id,
            "tokens": list(cfg.tokens),
            "rateLimit": str(cfg.rate_limit) if cfg.rate_limit else None,
            "searchRateLimit": str(cfg.search_rate_limit) if cfg.search_rate_limit else None,
            "dailyLimit": cfg.daily_limit,
            "faults": cfg.faults.as_json(),
            "batchErrors": cfg.batch_errors,
        })

    async def reset(self, request: Request) -> Response:
        body = await json_body(request, required=False) or {}
        self.sb.reset(seed=bool(body.get("seed", True)))
        return ok({"counts": self.sb.counts()})

    async def seed(self, request: Request) -> Response:
        body = await json_body(request, required=False) or {}
        try:
            contacts = int(body.get("contacts", 0))
            companies = body.get("companies")
            done = self.sb.seed(contacts, None if companies is None else int(companies))
        except (TypeError, ValueError) as exc:
            raise validation_error(f"contacts and companies must be integers: {exc}") from None
        return ok({"seeded": done, "counts": self.sb.counts()})

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = await json_body(request)
            if not isinstance(body, dict):
                raise validation_error("Send an object of fault settings, e.g. {\"error_rate\": 0.1}.")
            try:
                self.sb.config.faults.update(body)
            except (TypeError, ValueError) as exc:
                raise validation_error(str(exc)) from None
            if "seed" in body:
                self.sb.faults.reseed(int(body["seed"]))
        return ok(self.sb.config.faults.as_json())

    async def rate_limit(self, request: Request) -> Response:
        sb = self.sb
        if request.method == "POST":
            body = await json_body(request)
            if not isinstance(body, dict):
                raise validation_error("Send {\"rate_limit\": \"190/10s\" | null, \"search_rate_limit\": ...}.")
            try:
                limit = (RateLimit.parse(body["rate_limit"]) if body.get("rate_limit") else None
                         ) if "rate_limit" in body else sb.config.rate_limit
                search: RateLimit | bool | None = False
                if "search_rate_limit" in body:
                    search = RateLimit.parse(body["search_rate_limit"]) if body["search_rate_limit"] else None
            except ValueError as exc:
                raise validation_error(str(exc)) from None
            sb.set_rate_limit(limit, search)  # type: ignore[arg-type]
            if "daily_limit" in body:
                sb.config.daily_limit = None if body["daily_limit"] is None else int(body["daily_limit"])
        cfg = sb.config
        return ok({"rate_limit": str(cfg.rate_limit) if cfg.rate_limit else None,
                   "search_rate_limit": str(cfg.search_rate_limit) if cfg.search_rate_limit else None,
                   "daily_limit": cfg.daily_limit})

    async def requests(self, request: Request) -> Response:
        since = int_param(request, "since", 0, lo=0)
        entries = [e.as_json() for e in islice(self.sb.requests, since, None)]
        return ok({"total": len(self.sb.requests), "results": entries})

    async def oauth_code(self, request: Request) -> Response:
        body = await json_body(request, required=False) or {}
        code = self.sb.issue_code(str(body.get("client_id", "sandbox-client")),
                                  str(body.get("redirect_uri", "http://127.0.0.1/callback")),
                                  body.get("scopes") or (), body.get("code_challenge"),
                                  str(body.get("code_challenge_method", "S256")))
        return ok({"code": code})

    async def expire_tokens(self, request: Request) -> Response:
        return ok({"expired": self.sb.expire_tokens()})


# --- routes ---------------------------------------------------------------------------------------------------------


def build_routes(sandbox: HubSpotSandbox) -> list[BaseRoute]:
    api = Api(sandbox)
    admin = Admin(sandbox)
    routes: list[BaseRoute] = []

    def add(path: str, endpoint: Callable[[Request], Awaitable[Response]], *methods: str) -> None:
        routes.append(Route(path, endpoint, methods=list(methods)))

    def bind(fn: Callable[..., Awaitable[Response]], **kw: Any) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await fn(request, **kw)

        return endpoint

    # Objects: /crm/objects/2026-03/{type}… and /crm/v3/objects/{type}…
    for base in (f"/crm/objects/{DATE_VERSION}", "/crm/v3/objects"):
        t = base + "/{object_type}"
        add(t, api.list_objects, "GET")
        add(t, api.create_object, "POST")
        add(t + "/batch/read", api.batch_read, "POST")
        add(t + "/batch/create", api.batch_create, "POST")
        add(t + "/batch/update", api.batch_update, "POST")
        add(t + "/batch/upsert", api.batch_upsert, "POST")
        add(t + "/batch/archive", api.batch_archive, "POST")
        add(t + "/search", api.search, "POST")
    # Associations on records (v4 shapes): /crm/objects/2026-03/… and /crm/v4/objects/…
    for base in (f"/crm/objects/{DATE_VERSION}", "/crm/v4/objects"):
        add(base + "/{from_type}/{from_id}/associations/default/{to_type}/{to_id}", api.put_default_association,
            "PUT")
        add(base + "/{object_type}/{object_id}/associations/{to_type}", api.list_associations, "GET")
        add(base + "/{object_type}/{object_id}/associations/{to_type}/{to_id}", api.put_association, "PUT")
        add(base + "/{object_type}/{object_id}/associations/{to_type}/{to_id}", api.delete_association, "DELETE")
    for base in (f"/crm/objects/{DATE_VERSION}", "/crm/v3/objects"):
        t = base + "/{object_type}/{object_id}"
        add(t, api.get_object, "GET")
        add(t, api.update_object, "PATCH")
        add(t, api.archive_object, "DELETE")
    # Association batches: /crm/associations/2026-03/{from}/{to}/batch/… and /crm/v4/associations/…
    for base, legacy in ((f"/crm/associations/{DATE_VERSION}", False), ("/crm/v4/associations", True)):
        b = base + "/{from_type}/{to_type}/batch"
        add(b + "/create", api.batch_associate, "POST")
        add(b + "/associate/default", api.batch_associate_default, "POST")
        add(b + "/read", api.batch_read_associations, "POST")
        add(b + "/archive", bind(api.batch_archive_associations, legacy=legacy), "POST")
        add(b + "/labels/archive", bind(api.batch_archive_labels, legacy=legacy), "POST")
    # Association labels: the spec's /crm/associations/{2026-03|v4}/… and the documented /crm/v4/associations/…
    for base in (f"/crm/associations/{DATE_VERSION}", "/crm/associations/v4", "/crm/v4/associations"):
        lbl = base + "/{from_type}/{to_type}/labels"
        add(lbl, api.get_labels, "GET")
        add(lbl, api.create_label, "POST")
        add(lbl, api.update_label, "PUT")
        add(lbl + "/{type_id}", api.delete_label, "DELETE")
    # Properties
    for base in (f"/crm/properties/{DATE_VERSION}", "/crm/v3/properties"):
        t = base + "/{object_type}"
        add(t, api.list_properties, "GET")
        add(t, api.create_property, "POST")
        add(t + "/batch/read", api.batch_read_properties, "POST")
        add(t + "/batch/create", api.batch_create_properties, "POST")
        add(t + "/batch/archive", api.batch_archive_properties, "POST")
        add(t + "/groups", api.list_groups, "GET")
        add(t + "/groups", api.create_group, "POST")
        add(t + "/groups/{group_name}", api.get_group, "GET")
        add(t + "/{property_name}", api.get_property, "GET")
        add(t + "/{property_name}", api.update_property, "PATCH")
        add(t + "/{property_name}", api.archive_property, "DELETE")
    # Owners
    for base in (f"/crm/owners/{DATE_VERSION}", "/crm/v3/owners"):
        add(base, api.list_owners, "GET")
        add(base + "/", api.list_owners, "GET")
        add(base + "/{owner_id}", api.get_owner, "GET")
    # Account (not in the spec files: HubSpot's account-info API)
    add("/account-info/v3/details", api.account_details, "GET")
    # OAuth
    for version in ("v1", "v3", DATE_VERSION):
        add(f"/oauth/{version}/token", api.token, "POST")
    for version in ("v3", DATE_VERSION):
        add(f"/oauth/{version}/token/introspect", api.introspect, "POST")
        add(f"/oauth/{version}/token/revoke", api.revoke, "POST")
    add("/oauth/v1/access-tokens/{token}", api.access_token_info, "GET")
    add("/oauth/v1/refresh-tokens/{token}", api.refresh_token_info, "GET")
    add("/oauth/v1/refresh-tokens/{token}", api.delete_refresh_token, "DELETE")
    add("/oauth/authorize", api.authorize, "GET")
    # Admin
    add("/__sandbox__/state", admin.state, "GET")
    add("/__sandbox__/reset", admin.reset, "POST")
    add("/__sandbox__/seed", admin.seed, "POST")
    add("/__sandbox__/faults", admin.faults, "GET", "POST")
    add("/__sandbox__/rate-limit", admin.rate_limit, "GET", "POST")
    add("/__sandbox__/requests", admin.requests, "GET")
    add("/__sandbox__/oauth/code", admin.oauth_code, "POST")
    add("/__sandbox__/tokens/expire", admin.expire_tokens, "POST")
    return routes


def exception_handlers(sandbox: HubSpotSandbox) -> dict[Any, Callable[..., Any]]:
    async def hubspot_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HubSpotError)
        return JSONBody(exc.body(sandbox.correlation_id()), status_code=exc.status, headers=exc.headers or None)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 405:
            err = HubSpotError(405, "METHOD_NOT_ALLOWED", f"{request.method} is not allowed on {request.url.path}.")
        elif exc.status_code == 404:
            err = HubSpotError(404, "OBJECT_NOT_FOUND",
                               f"No endpoint matches {request.method} {request.url.path} in the sandbox.")
        else:
            err = HubSpotError(exc.status_code, "VALIDATION_ERROR", str(exc.detail))
        return JSONBody(err.body(sandbox.correlation_id()), status_code=err.status)

    return {HubSpotError: hubspot_error, HTTPException: http_error}
