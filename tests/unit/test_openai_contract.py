"""Contract: every request the AI-column engine sends and every answer the OpenAI emulator returns is valid against
OpenAI's official OpenAPI description (``../shared/specs/openai/openapi.yaml``, made loadable for strict validators
by its ``patch_for_validators.py``), validated with openapi-core."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from enginy_desktop.core.ai.columns import AiColumnService
from enginy_desktop.core.ai.run import preview, run_column
from enginy_desktop.core.services.adapters import AdapterFactory
from enginy_desktop.sandbox.ai.openai import OpenAISandboxConfig
from tests.support.ai_world import contacts_list, openai_sandbox

SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "specs" / "openai"


@pytest.fixture(scope="session")
def openai_api(tmp_path_factory: pytest.TempPathFactory) -> Any:
    if not (SPEC_DIR / "openapi.yaml").is_file():
        if os.environ.get("CI"):
            pytest.fail("../shared/specs/openai is missing")
        pytest.skip("../shared/specs/openai is not beside this checkout")
    from openapi_core import Config, OpenAPI

    out = tmp_path_factory.mktemp("openai-spec") / "openapi.json"
    # The description's own patch script, with PyYAML's C loader in place of the pure-Python one it calls (the
    # same document, four times faster on its 3 MB).
    runner = ("import runpy, sys, yaml\n"
              "fast = getattr(yaml, 'CSafeLoader', yaml.SafeLoader)\n"
              "yaml.safe_load = lambda stream: yaml.load(stream, Loader=fast)\n"
              "sys.argv = sys.argv[1:]\n"
              "runpy.run_path(sys.argv[0], run_name='__main__')\n")
    subprocess.run([sys.executable, "-c", runner, str(SPEC_DIR / "patch_for_validators.py"),
                    str(SPEC_DIR / "openapi.yaml"), str(out)], check=True)
    # The whole-document check trips on a 3.0-style ``exclusiveMinimum: true`` in a fine-tuning schema we never
    # use; validating requests and responses does not need it.
    spec = json.loads(out.read_text())
    api = OpenAPI.from_dict(spec, config=Config(spec_validator_cls=None))
    error_schema = {"$ref": "#/components/schemas/ErrorResponse", "components": spec["components"]}
    api.error_schema = error_schema  # type: ignore[attr-defined]
    return api


class Recorder(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport) -> None:
        self.inner = inner
        self.exchanges: list[tuple[httpx.Request, bytes, httpx.Response, bytes]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        self.exchanges.append((request, body, response, content))
        return httpx.Response(response.status_code, headers=response.headers, content=content, request=request)


def _problems(api: Any, rec: Recorder) -> list[str]:
    from openapi_core.testing import MockRequest, MockResponse

    problems = []
    for request, body, response, content in rec.exchanges:
        path = "/v1" + request.url.path.removeprefix("/v1")
        mock = MockRequest("https://api.openai.com", request.method.lower(), path,
                           headers={"Authorization": request.headers.get("authorization", "")},
                           data=body or None, content_type="application/json")
        try:
            api.validate_request(mock)
        except Exception as exc:  # noqa: BLE001 - every validation error is reported
            problems.append(f"request {request.method} {path}: {exc!r}")
        if response.status_code >= 500:  # not described per operation: the spec's ErrorResponse envelope
            import jsonschema

            errors = list(jsonschema.Draft202012Validator(api.error_schema).iter_errors(json.loads(content)))
            problems += [f"error {response.status_code}: {e.message}" for e in errors]
            continue
        try:
            api.validate_response(mock, MockResponse(content, response.status_code,
                                                     content_type="application/json"))
        except Exception as exc:  # noqa: BLE001
            problems.append(f"response {response.status_code} to {request.method} {path}: {exc!r}"[:2000])
    return problems


@pytest.mark.parametrize("style", ["Chat Completions", "Responses"])
def test_requests_and_answers_follow_the_official_spec(ctx: Any, openai_api: Any, style: str) -> None:
    list_id, ids = contacts_list(ctx, 6)
    sandbox, transport = openai_sandbox(ctx, OpenAISandboxConfig(fail_every=5), style=style)
    rec = Recorder(transport)
    ctx.adapters = AdapterFactory(ctx, transport=rec)  # every request the engines send is recorded
    service = AiColumnService(ctx.store)
    yes_no = service.create(list_id, "B2B", "{{first_name}} at {{company_name}}: B2B?", "yes_no")
    text = service.create(list_id, "Opener", "Opener for {{first_name}}, {{job_title}}", "text", {"max_length": 90})
    label = service.create(list_id, "Seg", "Segment of {{company_name}} ({{first_name}})", "label",
                           {"labels": ["SMB", "Enterprise"]})
    asyncio.run(preview(ctx, yes_no.id, ids[:2]))
    for column in (yes_no, text, label):
        assert asyncio.run(run_column(ctx, column.id)).run.state == "finished"

    async def models() -> None:
        from enginy_desktop.core.ai.connection import open_ai_adapter

        async with open_ai_adapter(ctx) as ai:
            assert "gpt-4o-mini" in await ai.models()

    asyncio.run(models())
    statuses = {r.status_code for _q, _b, r, _c in rec.exchanges}
    assert {200, 500} <= statuses  # answers and injected server errors were both checked
    assert _problems(openai_api, rec) == []
    assert sandbox.stats.bad_requests == 0


def test_the_emulator_refuses_a_schema_strict_mode_would_refuse(openai_api: Any) -> None:
    from enginy_desktop.sandbox.ai.openai import SANDBOX_KEY, OpenAISandbox

    sandbox = OpenAISandbox()
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "x", "strict": True, "schema": {"type": "object", "properties": {"a": {"type": "string"}}}}}}

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox.app), base_url="http://t") as c:
            return await c.post("/v1/chat/completions", json=body, headers={"Authorization": f"Bearer {SANDBOX_KEY}"})

    response = asyncio.run(go())
    assert response.status_code == 400
    assert "additionalProperties" in response.json()["error"]["message"]
