"""Check Salesforce exchanges: ``/sobjects…`` traffic against Salesforce's generated sObjects OpenAPI description
(``../shared/specs/salesforce``, whose paths have no ``/services/data/vXX.X`` prefix), and the query, collections
(create, update, upsert, delete), composite, limits and error traffic against the JSON Schemas below, written from
Salesforce's REST API Developer Guide (each schema cites its page in ``$comment``).

    recorder = SalesforceRecorder.for_shared_dir(shared_dir)
    transport = recorder.wrap(httpx.ASGITransport(app))
    ...                                  # drive the adapter with this transport
    recorder.assert_all_valid()          # every exchange valid, or the list of problems
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator

from tests.support.openapi_contract import ContractValidator, specs_dir

_PREFIX = re.compile(r"^/services/data/v\d+\.\d+")

ERROR_ARRAY = {
    "$comment": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/errorcodes.htm "
                "(status codes and error responses: an array of {message, errorCode, fields})",
    "type": "array", "minItems": 1,
    "items": {"type": "object", "required": ["message", "errorCode"],
              "properties": {"message": {"type": "string"}, "errorCode": {"type": "string"},
                             "fields": {"type": "array", "items": {"type": "string"}}}},
}
SOBJECT = {"type": "object", "required": ["attributes"],
           "properties": {"attributes": {"type": "object", "required": ["type"],
                                         "properties": {"type": {"type": "string"}, "url": {"type": "string"}}}}}


def _query_result(rows: dict[str, Any], comment: str) -> dict[str, Any]:
    return {
        "$comment": comment,
        "type": "object", "required": ["totalSize", "done", "records"], "additionalProperties": False,
        "properties": {"totalSize": {"type": "integer", "minimum": 0}, "done": {"type": "boolean"},
                       "nextRecordsUrl": {"type": "string", "pattern": r"^/services/data/v\d+\.\d+/query/[^/]+$"},
                       "records": {"type": "array", "maxItems": 2000, "items": rows}},
        "if": {"properties": {"done": {"const": False}}}, "then": {"required": ["nextRecordsUrl"]},
    }


CHILD_RESULT = _query_result(
    SOBJECT, "https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_"
    "relationships_query_results.htm (a parent-to-child sub-query's children: a query result of their own under "
    "the relationship's name, {totalSize, done, records}, with nextRecordsUrl when not done; null when none)")
QUERY_ROW = {**SOBJECT, "additionalProperties": {"if": {"type": "object", "required": ["totalSize"]},
                                                 "then": CHILD_RESULT}}
QUERY_RESULT = _query_result(
    QUERY_ROW, "https://developer.salesforce.com/docs/platform/api-rest/guide/resources-query.md (totalSize, done, "
    "nextRecordsUrl, records; up to 2,000 records a batch, children of sub-queries counted: https://developer."
    "salesforce.com/docs/platform/api/guide/sforce-api-header-queryoptions.md) and "
    "https://developer.salesforce.com/docs/platform/api-rest/guide/dome-query.html (query more results)")
SAVE_ERROR = {"type": "object", "required": ["statusCode", "message"],
              "properties": {"statusCode": {"type": "string"}, "message": {"type": "string"},
                             "fields": {"type": "array", "items": {"type": "string"}}}}
COLLECTION_REQUEST = {
    "$comment": "https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-"
                "collections-create.html (records: up to 200, each with attributes.type; no Id on create; "
                "allOrNone optional, default false); update and upsert pages of the same family",
    "type": "object", "required": ["records"], "additionalProperties": False,
    "properties": {"allOrNone": {"type": "boolean"},
                   "records": {"type": "array", "minItems": 1, "maxItems": 200, "items": SOBJECT}},
}
SAVE_RESULTS = {
    "$comment": "https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-"
                "collections-create.html (200 OK with one SaveResult per record, in order: id, success, errors[]); "
                "upsert adds created: https://developer.salesforce.com/docs/platform/api-rest/guide/resources-"
                "composite-sobjects-collections-upsert.html",
    "type": "array", "maxItems": 200,
    "items": {"type": "object", "required": ["success", "errors"],
              "properties": {"id": {"type": ["string", "null"]}, "success": {"type": "boolean"},
                             "created": {"type": "boolean"}, "errors": {"type": "array", "items": SAVE_ERROR}}},
}
DELETE_RESULTS = {
    "$comment": "https://developer.salesforce.com/docs/platform/api-rest/guide/resources-composite-sobjects-"
                "collections-delete.html (DELETE composite/sobjects?ids=…: up to 200 ids; 200 OK with one "
                "DeleteResult per id, in the order of the ids: id, success, errors[])",
    "type": "array", "minItems": 1, "maxItems": 200,
    "items": {"type": "object", "required": ["id", "success", "errors"],
              "properties": {"id": {"type": ["string", "null"]}, "success": {"type": "boolean"},
                             "errors": {"type": "array", "items": SAVE_ERROR}}},
}
COMPOSITE_REQUEST = {
    "$comment": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_"
                "composite.htm (compositeRequest: up to 25 subrequests, each with method, url, referenceId and an "
                "optional body; allOrNone and collateSubrequests optional)",
    "type": "object", "required": ["compositeRequest"],
    "properties": {
        "allOrNone": {"type": "boolean"}, "collateSubrequests": {"type": "boolean"},
        "compositeRequest": {"type": "array", "minItems": 1, "maxItems": 25, "items": {
            "type": "object", "required": ["method", "url", "referenceId"], "additionalProperties": False,
            "properties": {"method": {"enum": ["GET", "POST", "PATCH", "PUT", "DELETE", "HEAD"]},
                           "url": {"type": "string", "pattern": r"^/services/data/v\d+\.\d+/"},
                           "referenceId": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
                           "body": {}, "httpHeaders": {"type": "object"}}}}},
}
COMPOSITE_RESPONSE = {
    "$comment": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_composite_"
                "composite.htm (compositeResponse: one result per subrequest with body, httpHeaders, "
                "httpStatusCode and referenceId; a failed subrequest's body is the error array)",
    "type": "object", "required": ["compositeResponse"], "additionalProperties": False,
    "properties": {"compositeResponse": {"type": "array", "items": {
        "type": "object", "required": ["body", "httpHeaders", "httpStatusCode", "referenceId"],
        "properties": {"httpHeaders": {"type": "object"}, "httpStatusCode": {"type": "integer"},
                       "referenceId": {"type": "string"}},
        "if": {"properties": {"httpStatusCode": {"minimum": 400}}}, "then": {"properties": {"body": ERROR_ARRAY}},
    }}},
}
LIMITS = {
    "$comment": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_limits.htm "
                "(each limit as {Max, Remaining}; DailyApiRequests is the daily API request allocation)",
    "type": "object", "required": ["DailyApiRequests"],
    "additionalProperties": {"type": "object", "required": ["Max", "Remaining"],
                             "properties": {"Max": {"type": "integer"}, "Remaining": {"type": "integer"}}},
}
USERINFO = {
    "$comment": "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_using_userinfo_endpoint.htm",
    "type": "object", "required": ["user_id", "organization_id", "preferred_username"],
}
TOKEN = {
    "$comment": "https://help.salesforce.com/s/articleView?id=xcloud.remoteaccess_oauth_web_server_flow.htm "
                "(access_token, refresh_token, instance_url, id, issued_at, signature, token_type, scope)",
    "type": "object", "required": ["access_token", "instance_url", "id", "issued_at", "signature", "token_type"],
    "properties": {"instance_url": {"type": "string", "pattern": "^https?://"}},
}
DESCRIBE = {
    "$comment": "https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_sobject_"
                "describe.htm (fields[] with name, label, type, createable, updateable, nillable, picklistValues, "
                "referenceTo, externalId)",
    "type": "object", "required": ["name", "fields"],
    "properties": {"fields": {"type": "array", "items": {
        "type": "object",
        "required": ["name", "label", "type", "createable", "updateable", "nillable", "picklistValues",
                     "referenceTo", "externalId"]}}},
}

# (method, path after the version prefix) -> (request schema or None, response schema for 2xx)
SCHEMAS: list[tuple[str, re.Pattern[str], dict[str, Any] | None, dict[str, Any] | None]] = [
    ("GET", re.compile(r"^/query(/[^/]+)?$"), None, QUERY_RESULT),
    ("POST", re.compile(r"^/composite/sobjects$"), COLLECTION_REQUEST, SAVE_RESULTS),
    ("PATCH", re.compile(r"^/composite/sobjects$"), COLLECTION_REQUEST, SAVE_RESULTS),
    ("PATCH", re.compile(r"^/composite/sobjects/[A-Za-z_]+/[A-Za-z_]+$"), COLLECTION_REQUEST, SAVE_RESULTS),
    ("DELETE", re.compile(r"^/composite/sobjects$"), None, DELETE_RESULTS),
    ("POST", re.compile(r"^/composite$"), COMPOSITE_REQUEST, COMPOSITE_RESPONSE),
    ("GET", re.compile(r"^/limits$"), None, LIMITS),
    ("GET", re.compile(r"^/sobjects/[A-Za-z_]+/describe$"), None, DESCRIBE),
]


def _known_gap(problem: str) -> bool:
    """Two places where Salesforce's generated description disagrees with what Salesforce sends: every field of a
    record comes back, ``null`` when empty, though the description declares none nullable; and date-times come
    as ``2025-01-31T09:00:00.000+0000`` (no colon in the offset), which JSON Schema's ``date-time`` refuses."""
    return ("None for not nullable" in problem or "None is not of type" in problem
            or bool(re.search(r"'\d{4}-\d{2}-\d{2}T[\d:.]+\+0000' is not a 'date-time'", problem)))


def _batch_problems(body: Any) -> list[str]:
    """A query batch holds at most 2,000 records, the children of its sub-queries counted among them."""
    rows = body.get("records") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        return []
    size = len(rows) + sum(len(v.get("records") or []) for r in rows if isinstance(r, dict) for v in r.values()
                           if isinstance(v, dict) and "totalSize" in v)
    return [f"response: a batch of {size:,} records, children counted (at most 2,000)"] if size > 2000 else []


@dataclass
class Checked:
    request: httpx.Request
    response: httpx.Response
    by: str
    problems: list[str] = field(default_factory=list)

    def describe(self) -> str:
        return f"{self.request.method} {self.request.url.path} -> {self.response.status_code} [{self.by}]: " + \
            "; ".join(self.problems)


def _schema_problems(schema: dict[str, Any], instance: Any, where: str) -> list[str]:
    return [f"{where}: {e.message[:200]} at {list(e.absolute_path)}"
            for e in Draft202012Validator(schema).iter_errors(instance)]


class SalesforceRecorder:
    def __init__(self, spec: ContractValidator) -> None:
        self.spec = spec
        self.checked: list[Checked] = []

    @classmethod
    def for_shared_dir(cls, shared_dir: Path | None = None) -> SalesforceRecorder:
        root = specs_dir("salesforce", shared_dir)
        if root is None:
            import pytest

            pytest.skip("Salesforce's sObjects description (../shared/specs/salesforce) is not beside this checkout")
        return cls(ContractValidator.load(root))

    def check(self, request: httpx.Request, response: httpx.Response) -> Checked:
        path = request.url.path
        rest = _PREFIX.sub("", path)
        body: Any = None
        if response.content:
            try:
                body = json.loads(response.content)
            except ValueError:
                body = None
        if path.startswith("/__sandbox__") or path == "/services/oauth2/authorize":
            return Checked(request, response, "exempt")
        if path == "/services/oauth2/token":
            by, problems = "token", (_schema_problems(TOKEN, body, "token answer") if response.status_code == 200
                                     else [])
        elif path == "/services/oauth2/userinfo":
            by, problems = "userinfo", _schema_problems(USERINFO, body, "userinfo") if response.is_success else []
        else:
            by, problems = "", []
            for method, pattern, req_schema, resp_schema in SCHEMAS:
                if request.method == method and pattern.match(rest):
                    by = f"schema {pattern.pattern}"
                    if req_schema is not None:
                        problems += _schema_problems(req_schema, json.loads(request.content or b"null"), "request")
                    if response.is_success and resp_schema is not None:
                        problems += _schema_problems(resp_schema, body, "response")
                    break
            else:
                if rest.startswith("/sobjects"):
                    by = "sObjects OpenAPI"
                    stripped = httpx.Request(request.method, request.url.copy_with(path=rest),
                                             headers=request.headers, content=request.content)
                    exchange = self.spec.validate(stripped, httpx.Response(
                        response.status_code, headers=response.headers, content=response.content,
                        request=stripped))
                    problems += [p for p in exchange.problems if not _known_gap(p)]
                else:
                    problems.append("no schema for this operation")
        if request.method == "GET" and rest.startswith("/query") and response.is_success:
            problems += _batch_problems(body)
        if response.status_code >= 400 and path != "/services/oauth2/token":
            problems += _schema_problems(ERROR_ARRAY, body, "error body")
        checked = Checked(request, response, by, problems)
        self.checked.append(checked)
        return checked

    def wrap(self, inner: httpx.AsyncBaseTransport) -> httpx.AsyncBaseTransport:
        recorder = self

        class _Recording(httpx.AsyncBaseTransport):
            async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
                await request.aread()
                response = await inner.handle_async_request(request)
                content = await response.aread()
                copy = httpx.Response(response.status_code, headers=response.headers, content=content,
                                      request=request)
                recorder.check(request, copy)
                return copy

            async def aclose(self) -> None:
                await inner.aclose()

        return _Recording()

    def assert_all_valid(self) -> None:
        bad = [c for c in self.checked if c.problems]
        assert not bad, "\n".join(c.describe() for c in bad)

    def operations(self) -> set[str]:
        return {f"{c.request.method} {_PREFIX.sub('', c.request.url.path)}" for c in self.checked}
