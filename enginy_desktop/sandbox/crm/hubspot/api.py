"""Endpoints of the HubSpot sandbox and its route table.

Paths follow the official OpenAPI files: the date-based version ``2026-03`` and the legacy ``v3``/``v4``
equivalents with the same shapes (where the versions disagree, e.g. the status of association archive
batches, each answers its own). Handlers parse and shape; state changes go through :class:`HubSpotSandbox`.
Search, OAuth and the admin API live in their own modules; the kit's gateway in front of all of them
(faults, auth, limits, request log) and the control API come from :mod:`enginy_desktop.sandbox.kit`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .data import (
    DEFAULT_PROPERTIES,
    DEFAULT_TYPE,
    OBJECT_TYPE_IDS,
    SINGULAR,
    resolve_object_type,
)
from .http import (
    after_param,
    batch_inputs,
    bool_param,
    int_param,
    json_body,
    list_param,
    no_content,
    object_type,
    ok,
    trace_context,
)
from .oauth import OAuthApi
from .search import Search
from .state import (
    HubSpotError,
    HubSpotSandbox,
    Record,
    iso,
    not_found,
    validation_error,
)

DATE_VERSION = "2026-03"


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


# --- routes ---------------------------------------------------------------------------------------------------------


def build_routes(sandbox: HubSpotSandbox) -> list[BaseRoute]:
    api = Api(sandbox)
    oauth = OAuthApi(sandbox)
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
        add(f"/oauth/{version}/token", oauth.token, "POST")
    for version in ("v3", DATE_VERSION):
        add(f"/oauth/{version}/token/introspect", oauth.introspect, "POST")
        add(f"/oauth/{version}/token/revoke", oauth.revoke, "POST")
    add("/oauth/v1/access-tokens/{token}", oauth.access_token_info, "GET")
    add("/oauth/v1/refresh-tokens/{token}", oauth.refresh_token_info, "GET")
    add("/oauth/v1/refresh-tokens/{token}", oauth.delete_refresh_token, "DELETE")
    add("/oauth/authorize", oauth.authorize, "GET")
    return routes
