"""Check HTTP exchanges against a vendor's OpenAPI files (``../shared/specs/hubspot``, ``…/pipedrive``).

JSON and YAML files are read; an operation's path is the file's server path (``servers[0].url``, e.g. Pipedrive's
``/api/v2`` and ``/v1``) followed by its template.

Two tools:

* :class:`ContractValidator` matches a request's method and path to an operation across every spec file
  (date-based ``2026-03``/``2026-09`` and legacy ``v1``/``v3``/``v4``; the most specific path template wins, so
  ``/crm/objects/2026-03/contacts/search`` uses the Contacts file rather than the generic Objects one), then
  validates the request (path and query parameters, JSON or form body) and the response (documented status,
  JSON body against the schema of that status or of ``default``) with the OpenAPI 3.0 JSON-Schema dialect
  (``openapi-schema-validator``: formats such as ``uuid``, ``date-time`` and ``int32`` are checked).
* :class:`ContractRecorder` wraps an httpx transport (or hooks into a client) and records every exchange that
  passes through it, with the problems found, so a test can assert that *every* request an adapter sent and
  every response it got was valid.

Using the recorder in an adapter test::

    from tests.support.openapi_contract import ContractRecorder

    def test_export_speaks_hubspot(shared_dir):
        recorder = ContractRecorder.for_shared_dir(shared_dir)          # skips the test if specs are missing
        app = create_app(HubSpotSandboxConfig(seed_contacts=100))
        transport = recorder.wrap(httpx.ASGITransport(app))            # or httpx.AsyncHTTPTransport() for loopback
        async with httpx.AsyncClient(transport=transport, base_url="https://api.hubapi.com") as client:
            ...  # drive the adapter with this client
        recorder.assert_all_valid()                                    # lists every invalid exchange
        assert recorder.exchanges                                      # and something was actually sent

    # When the adapter builds its own client, add the recorder's hooks instead:
    client.event_hooks["request"].append(recorder.async_request_hook)
    client.event_hooks["response"].append(recorder.async_response_hook)

``recorder.assert_all_valid(requests_only=True)`` checks only what was sent (useful when a test provokes
sandbox responses that are deliberately not HubSpot's, such as injected 5xx errors).

Exempt paths (no operation in the spec files, listed in :data:`EXEMPT`) are recorded but not validated:
``/account-info/…`` (HubSpot's account-info API is not among the published CRM/Auth files),
``/oauth/authorize`` (a browser page on app.hubspot.com, not an API) and ``/__sandbox__/…`` (the sandbox's own
admin API). The spec files' ``security`` blocks are not checked: authentication is the sandbox's business.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
from openapi_schema_validator import OAS30Validator, OAS31Validator, oas30_format_checker, oas31_format_checker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SHARED_DIR = Path(__file__).resolve().parents[2].parent / "shared"
HUBSPOT_SPECS = ("specs", "hubspot")
VENDOR_NAMES = {"hubspot": "HubSpot", "pipedrive": "Pipedrive", "zoho": "Zoho CRM", "zoominfo": "ZoomInfo"}

# Path prefix -> why it is not validated.
EXEMPT: dict[str, str] = {
    "/account-info/": "HubSpot's account-info API is not part of the published spec files",
    "/oauth/authorize": "the OAuth consent step is a browser page, not an API operation",
    "/oauth/token": "Pipedrive's token endpoint (oauth.pipedrive.com) is not part of its API description",
    "/__sandbox__/": "the sandbox's own admin API",
    "/gtm/oauth/v1/token": "ZoomInfo's token endpoint is not part of the GTM Data API description",
}
_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def hubspot_specs_dir(shared_dir: Path | None = None) -> Path | None:
    """``<shared>/specs/hubspot`` if it exists (by default beside this checkout), else None."""
    return specs_dir("hubspot", shared_dir)


def specs_dir(vendor: str, shared_dir: Path | None = None) -> Path | None:
    """``<shared>/specs/<vendor>`` if it exists (by default beside this checkout), else None."""
    root = (shared_dir or SHARED_DIR) / "specs" / vendor
    return root if root.is_dir() else None


def _load(file: Path) -> Any:
    with file.open(encoding="utf-8") as fh:
        if file.suffix == ".json":
            return json.load(fh)
        import yaml

        return yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506 - safe loaders


def _server_path(doc: dict[str, Any]) -> str:
    servers = doc.get("servers") or []
    url = str(servers[0].get("url") or "") if servers and isinstance(servers[0], dict) else ""
    path = urlsplit(url).path if "://" in url else ""
    return path.rstrip("/")


@dataclass(frozen=True)
class Operation:
    spec_file: str  # relative to the specs root, e.g. CRM/Contacts/2026-03/contacts.json
    template: str
    method: str
    literal_segments: int
    regex: re.Pattern[str]
    param_names: tuple[str, ...]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template} ({self.spec_file})"


@dataclass
class Exchange:
    """One request and its response (None when the transport failed), and what was wrong with them."""

    request: httpx.Request
    response: httpx.Response | None
    operation: str | None
    request_problems: list[str] = field(default_factory=list)
    response_problems: list[str] = field(default_factory=list)
    exempt: str | None = None
    error: str | None = None

    @property
    def problems(self) -> list[str]:
        return self.request_problems + self.response_problems

    def describe(self) -> str:
        status = self.response.status_code if self.response is not None else f"no response ({self.error})"
        return f"{self.request.method} {self.request.url.path} -> {status}"


class ContractValidator:
    """Validates httpx requests and responses against every OpenAPI file under a folder."""

    def __init__(self, specs_root: Path, vendor: str = "") -> None:
        self.root = specs_root
        self.vendor = VENDOR_NAMES.get(vendor or specs_root.name, vendor or specs_root.name)
        self.docs: dict[str, dict[str, Any]] = {}
        self.prefixes: dict[str, str] = {}
        resources = []
        files = [f for pattern in ("*.json", "*.yaml", "*.yml") for f in specs_root.rglob(pattern)]
        for file in sorted(files):
            rel = file.relative_to(specs_root).as_posix()
            doc = _load(file)
            if isinstance(doc, dict):  # every file can be a $ref target (Zoho's common.json has no paths)
                resources.append((_uri(rel), Resource.from_contents(doc, default_specification=DRAFT4)))
            if not isinstance(doc, dict) or "paths" not in doc:
                continue
            self.docs[rel] = doc
            self.prefixes[rel] = _server_path(doc)
        if not self.docs:
            raise FileNotFoundError(f"No OpenAPI files under {specs_root}")
        self.registry: Registry[Any] = Registry().with_resources(resources)
        self.operations = self._index()

    @classmethod
    @functools.cache
    def load(cls, specs_root: Path) -> ContractValidator:
        """Cached per folder: loading the 41 HubSpot files takes a few hundred milliseconds."""
        return cls(specs_root)

    def _index(self) -> list[Operation]:
        ops = []
        for rel, doc in self.docs.items():
            for template, item in doc["paths"].items():
                segments = (self.prefixes[rel] + template).strip("/").split("/")
                pattern = "/".join(
                    "([^/]+)" if s.startswith("{") and s.endswith("}") else re.escape(s) for s in segments
                )
                names = tuple(s[1:-1] for s in segments if s.startswith("{") and s.endswith("}"))
                literal = sum(1 for s in segments if not s.startswith("{")) - self.prefixes[rel].count("/")
                for method in item:
                    if method in _METHODS:
                        ops.append(Operation(rel, template, method, literal, re.compile(f"^/{pattern}$"), names))
        return ops

    # -- matching ---------------------------------------------------------------------------------------------

    @staticmethod
    def exempt_reason(path: str) -> str | None:
        for prefix, reason in EXEMPT.items():
            if path.startswith(prefix) or path == prefix.rstrip("/"):
                return reason
        return None

    def match(self, method: str, path: str) -> tuple[Operation, dict[str, str]] | None:
        """The most specific operation for a method and path, with its path parameters."""
        path = path.rstrip("/") or "/"
        best: tuple[Operation, dict[str, str]] | None = None
        for op in self.operations:
            if op.method != method.lower():
                continue
            m = op.regex.match(path)
            if m is None:
                continue
            if best is None or op.literal_segments > best[0].literal_segments:
                best = (op, dict(zip(op.param_names, m.groups(), strict=True)))
        return best

    def operation_doc(self, op: Operation) -> dict[str, Any]:
        return self.docs[op.spec_file]["paths"][op.template][op.method]

    # -- schemas ----------------------------------------------------------------------------------------------

    def _validator(self, op: Operation, pointer: str) -> OAS30Validator:
        return _validator(self, op.spec_file, pointer)

    def _schema_problems(self, op: Operation, pointer: str, instance: Any, where: str) -> list[str]:
        validator = self._validator(op, pointer)
        problems = []
        for error in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            at = "".join(f"[{p!r}]" for p in error.absolute_path) or "(root)"
            problems.append(f"{where} {at}: {_short(error.message)}")
        return problems

    def _params(self, op: Operation) -> list[dict[str, Any]]:
        doc = self.docs[op.spec_file]
        item = doc["paths"][op.template]
        params = [*item.get("parameters", []), *self.operation_doc(op).get("parameters", [])]
        out = []
        for p in params:
            if "$ref" in p:
                p = _resolve(doc, p["$ref"])
            out.append(p)
        return out

    # -- requests ---------------------------------------------------------------------------------------------

    def validate_request(self, request: httpx.Request) -> tuple[str | None, list[str]]:
        """(operation name, problems). Exempt paths return (None, [])."""
        path = request.url.path
        if self.exempt_reason(path):
            return None, []
        found = self.match(request.method, path)
        if found is None:
            return None, [f"no operation in the spec files for {request.method} {path}"]
        op, path_values = found
        problems: list[str] = []
        query = list(parse_qsl(request.url.query.decode("ascii", "replace")
                               if isinstance(request.url.query, bytes) else str(request.url.query),
                               keep_blank_values=True))
        declared_query = set()
        for param in self._params(op):
            name, where = param["name"], param.get("in")
            schema = param.get("schema", {})
            if where == "path":
                value = path_values.get(name)
                if value is not None:
                    problems += self._param_problems(op, param, [value], f"path parameter {name}")
            elif where == "query":
                declared_query.add(name)
                values = [v for k, v in query if k == name]
                if not values:
                    if param.get("required"):
                        problems.append(f"query parameter {name} is required")
                    continue
                if schema.get("type") != "array" and len(values) > 1:
                    problems.append(f"query parameter {name} is repeated but is not an array")
                problems += self._param_problems(op, param, values, f"query parameter {name}")
        for name in sorted({k for k, _ in query} - declared_query):
            problems.append(f"query parameter {name} is not declared by {op.name}")
        problems += self._body_problems(op, request)
        return op.name, problems

    def _param_problems(self, op: Operation, param: dict[str, Any], values: list[str], where: str) -> list[str]:
        schema = param.get("schema") or {}
        if schema.get("type") == "array":
            items = []
            for v in values:
                items.extend(v.split(",") if param.get("explode") is False else [v])
            instance: Any = [_coerce(schema.get("items") or {}, v) for v in items]
        else:
            instance = _coerce(schema, values[0])
        pointer = self._param_pointer(op, param)
        if pointer is None:
            return []
        return self._schema_problems(op, pointer, instance, where)

    def _param_pointer(self, op: Operation, param: dict[str, Any]) -> str | None:
        item = self.docs[op.spec_file]["paths"][op.template]
        for base, params in ((f"/paths/{_esc(op.template)}", item.get("parameters", [])),
                             (f"/paths/{_esc(op.template)}/{op.method}", self.operation_doc(op).get("parameters", []))):
            for i, p in enumerate(params):
                if p is param or (p.get("name") == param.get("name") and p.get("in") == param.get("in")):
                    return f"{base}/parameters/{i}/schema" if "schema" in p else None
        return None

    def _body_problems(self, op: Operation, request: httpx.Request) -> list[str]:
        body_spec = self.operation_doc(op).get("requestBody")
        try:
            raw = request.content
        except httpx.RequestNotRead:
            raw = request.read()
        if body_spec is None:
            return [f"{op.name} takes no request body, but {len(raw)} bytes were sent"] if raw else []
        if "$ref" in body_spec:
            body_spec = _resolve(self.docs[op.spec_file], body_spec["$ref"])
        if not raw:
            return ["the request body is required"] if body_spec.get("required") else []
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        content = body_spec.get("content", {})
        media = content_type if content_type in content else next(
            (m for m in content if m in ("*/*",) or m.split("/")[0] + "/*" == content_type), None)
        if media is None:
            return [f"request content type '{content_type}' is not one of {sorted(content)}"]
        base = f"/paths/{_esc(op.template)}/{op.method}/requestBody/content/{_esc(media)}/schema"
        if media == "application/x-www-form-urlencoded":
            instance: Any = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        else:
            try:
                instance = json.loads(raw)
            except ValueError as exc:
                return [f"the request body is not JSON: {exc}"]
        return self._schema_problems(op, base, instance, "request body")

    # -- responses --------------------------------------------------------------------------------------------

    def validate_response(self, request: httpx.Request, response: httpx.Response) -> list[str]:
        path = request.url.path
        if self.exempt_reason(path):
            return []
        found = self.match(request.method, path)
        if found is None:
            return []  # already reported for the request
        op = found[0]
        responses = self.operation_doc(op).get("responses", {})
        status = str(response.status_code)
        key = status if status in responses else f"{status[0]}XX" if f"{status[0]}XX" in responses else (
            "default" if "default" in responses else None)
        if key is None:
            return [f"status {status} is not documented for {op.name} (documented: {sorted(responses)})"]
        spec = responses[key]
        doc = self.docs[op.spec_file]
        base = f"/paths/{_esc(op.template)}/{op.method}/responses/{_esc(key)}"
        if "$ref" in spec:
            base = spec["$ref"][1:]
            spec = _resolve(doc, spec["$ref"])
        content = spec.get("content") or {}
        raw = response.content
        if not raw:
            if content and response.status_code != 204:
                return [f"status {status} of {op.name} should have a body"]
            return []
        if not content:
            return [f"status {status} of {op.name} has no body in the spec, but {len(raw)} bytes came back"]
        content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
        media = content_type if content_type in content else ("*/*" if "*/*" in content else None)
        if media is None:
            return [f"response content type '{content_type}' is not one of {sorted(content)}"]
        if "schema" not in content[media]:
            return []
        try:
            instance = json.loads(raw)
        except ValueError as exc:
            return [f"the response body is not JSON: {exc}"]
        return self._schema_problems(op, f"{base}/content/{_esc(media)}/schema", instance,
                                     f"response {status} body")

    def validate(self, request: httpx.Request, response: httpx.Response | None) -> Exchange:
        operation, req_problems = self.validate_request(request)
        resp_problems = self.validate_response(request, response) if response is not None else []
        return Exchange(request, response, operation, req_problems, resp_problems,
                        exempt=self.exempt_reason(request.url.path))

    def assert_valid(self, request: httpx.Request, response: httpx.Response | None = None) -> None:
        exchange = self.validate(request, response)
        if exchange.problems:
            raise AssertionError(_report([exchange]))


@functools.cache
def _validator(cv: ContractValidator, spec_file: str, pointer: str) -> OAS30Validator:
    schema = {"$ref": f"{_uri(spec_file)}#{pointer}"}
    if str(cv.docs[spec_file].get("openapi", "")).startswith("3.1"):  # Apollo's: JSON Schema 2020-12 types
        return OAS31Validator(schema, registry=cv.registry, format_checker=oas31_format_checker)
    return OAS30Validator(schema, registry=cv.registry, format_checker=oas30_format_checker)


def _uri(rel: str) -> str:
    # A hierarchical URI, so that a file's relative $refs to its siblings (``./users.json#/…``) resolve.
    return f"https://specs.invalid/{rel}"


def _esc(segment: str) -> str:
    return segment.replace("~", "~0").replace("/", "~1")


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    node: Any = doc
    for part in ref.lstrip("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _coerce(schema: dict[str, Any], value: str) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        return value
    if kind == "boolean":
        return {"true": True, "false": False}.get(value, value)
    return value


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _report(exchanges: Iterable[Exchange]) -> str:
    lines = []
    for ex in exchanges:
        lines.append(f"{ex.describe()} [{ex.operation or 'no operation'}]")
        lines += [f"    {p}" for p in ex.problems]
    return "Exchanges that do not follow the vendor's published API:\n" + "\n".join(lines)


class ContractRecorder:
    """Records the exchanges passing through an httpx client and validates each against the spec files."""

    def __init__(self, validator: ContractValidator) -> None:
        self.validator = validator
        self.exchanges: list[Exchange] = []

    @classmethod
    def for_shared_dir(cls, shared_dir: Path | None = None, vendor: str = "hubspot") -> ContractRecorder:
        """A recorder over ``<shared>/specs/<vendor>``; skips the calling test when the specs are not there (and
        fails it on CI, where they must be)."""
        root = specs_dir(vendor, shared_dir)
        if root is None:
            import os

            import pytest

            message = f"{vendor} OpenAPI files (../shared/specs/{vendor}) are not beside this checkout"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        return cls(ContractValidator.load(root))

    # -- recording --------------------------------------------------------------------------------------------

    def record(self, request: httpx.Request, response: httpx.Response | None, error: str | None = None
               ) -> Exchange:
        exchange = self.validator.validate(request, response)
        exchange.error = error
        self.exchanges.append(exchange)
        return exchange

    def wrap(self, transport: httpx.AsyncBaseTransport | httpx.BaseTransport) -> Any:
        """A transport that records every exchange through ``transport`` (async or sync)."""
        if isinstance(transport, httpx.AsyncBaseTransport):
            return _AsyncRecordingTransport(transport, self)
        return _RecordingTransport(transport, self)

    async def async_request_hook(self, request: httpx.Request) -> None:
        await request.aread()

    async def async_response_hook(self, response: httpx.Response) -> None:
        await response.aread()
        self.record(response.request, response)

    def request_hook(self, request: httpx.Request) -> None:
        request.read()

    def response_hook(self, response: httpx.Response) -> None:
        response.read()
        self.record(response.request, response)

    # -- assertions -------------------------------------------------------------------------------------------

    @property
    def invalid(self) -> list[Exchange]:
        return [e for e in self.exchanges if e.problems]

    def assert_all_valid(self, *, requests_only: bool = False) -> None:
        bad = [e for e in self.exchanges if (e.request_problems if requests_only else e.problems)]
        if bad:
            raise AssertionError(_report(bad))

    def operations(self) -> list[str]:
        return [e.operation for e in self.exchanges if e.operation]

    def __iter__(self) -> Iterator[Exchange]:
        return iter(self.exchanges)

    def clear(self) -> None:
        self.exchanges.clear()


class _AsyncRecordingTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, recorder: ContractRecorder) -> None:
        self.inner = inner
        self.recorder = recorder

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        try:
            response = await self.inner.handle_async_request(request)
        except httpx.TransportError as exc:
            self.recorder.record(request, None, f"{type(exc).__name__}: {exc}")
            raise
        await response.aread()
        self.recorder.record(request, response)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


class _RecordingTransport(httpx.BaseTransport):
    def __init__(self, inner: httpx.BaseTransport, recorder: ContractRecorder) -> None:
        self.inner = inner
        self.recorder = recorder

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        try:
            response = self.inner.handle_request(request)
        except httpx.TransportError as exc:
            self.recorder.record(request, None, f"{type(exc).__name__}: {exc}")
            raise
        response.read()
        self.recorder.record(request, response)
        return response

    def close(self) -> None:
        self.inner.close()
