"""CRM search of the HubSpot sandbox: filter groups, operators, sorting, paging and HubSpot's limits."""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Mapping
from typing import Any

from .data import (
    QUERY_PROPERTIES,
    resolve_object_type,
)
from .http import after_param
from .state import (
    CREATED_PROPERTY,
    MODIFIED_PROPERTY,
    HubSpotSandbox,
    Record,
    parse_timestamp,
    validation_error,
)

MAX_FILTER_GROUPS = 5
MAX_FILTERS_PER_GROUP = 6
MAX_FILTERS = 18
MAX_SEARCH_LIMIT = 200
MAX_SEARCH_RESULTS = 10_000
MAX_QUERY_LENGTH = 3000
_TOKENS = re.compile(r"[0-9a-z]+")


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
