"""HubSpot adapter details that the sandbox does not exercise by default, with a scripted transport:
whole-batch refusals split in halves, 207 answers without trace ids, HubSpot's error bodies."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import httpx
import pytest

from enginy_desktop.adapters.base import (
    AdapterError,
    AssociationInput,
    AuthError,
    CrmObject,
    MissingScopeError,
    QuotaExhaustedError,
    RateLimitedError,
    RecordInput,
    TransientError,
)
from enginy_desktop.adapters.http import ApiClient, RetryPolicy
from enginy_desktop.adapters.hubspot import HubSpotAdapter, _rate_info, hubspot_error

Handler = Callable[[httpx.Request], httpx.Response]


def adapter(handler: Handler) -> HubSpotAdapter:
    api = ApiClient("hubspot", "https://api.hubapi.test", vendor_name="HubSpot",
                    transport=httpx.MockTransport(handler), error_hook=hubspot_error, rate_info=_rate_info,
                    retry=RetryPolicy(max_attempts=1))
    return HubSpotAdapter(api)


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


async def _create(a: HubSpotAdapter, records: list[RecordInput]):  # type: ignore[no-untyped-def]
    try:
        return await a.create(CrmObject.CONTACTS, records)
    finally:
        await a.aclose()


def _batch_ok(inputs: list[dict[str, object]], start: int = 1000) -> dict[str, object]:
    return {
        "status": "COMPLETE", "startedAt": "2026-03-01T00:00:00Z", "completedAt": "2026-03-01T00:00:01Z",
        "results": [{"id": str(start + n), "properties": i["properties"], "createdAt": "2026-03-01T00:00:00Z",
                     "updatedAt": "2026-03-01T00:00:00Z", "archived": False,
                     "objectWriteTraceId": i["objectWriteTraceId"]} for n, i in enumerate(inputs)],
    }


def test_a_refused_batch_is_split_until_the_bad_record_is_isolated() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        sizes.append(len(inputs))
        if any(i["properties"]["email"] == "bad" for i in inputs):
            return httpx.Response(400, json={
                "status": "error", "category": "VALIDATION_ERROR", "correlationId": "c-1",
                "message": 'Property values were not valid: [{"isValid":false,"message":"Email address bad is '
                           'invalid","error":"INVALID_EMAIL","name":"email"}]'})
        return httpx.Response(201, json=_batch_ok(inputs))

    records = [RecordInput({"email": f"p{n}@x.com"}, key=f"k{n}") for n in range(10)]
    records[6] = RecordInput({"email": "bad"}, key="k6")
    results = run(_create(adapter(handler), records))
    assert [r.key for r in results] == [f"k{n}" for n in range(10)]
    assert [r.ok for r in results] == [n != 6 for n in range(10)]
    assert results[6].error is not None
    assert results[6].error.code == "INVALID_EMAIL"
    assert results[6].error.field == "email"
    assert "invalid" in results[6].error.reason
    assert sizes[0] == 10
    assert len(sizes) <= 1 + 2 * 4  # halves down to one record: a few calls, not one per record


def test_an_unknown_property_fails_the_batch_without_splitting() -> None:
    sizes: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sizes.append(len(json.loads(request.content)["inputs"]))
        return httpx.Response(400, json={
            "status": "error", "category": "VALIDATION_ERROR", "correlationId": "c-2",
            "message": 'Property values were not valid: [{"isValid":false,"message":"Property \\"nope\\" does '
                       'not exist","error":"PROPERTY_DOESNT_EXIST","name":"nope"}]'})

    records = [RecordInput({"email": f"p{n}@x.com", "nope": "1"}, key=str(n)) for n in range(50)]
    results = run(_create(adapter(handler), records))
    assert sizes == [50]
    assert not any(r.ok for r in results)
    assert all(r.error is not None and r.error.code == "PROPERTY_DOESNT_EXIST" for r in results)


def test_duplicates_report_the_existing_record() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        if any(i["properties"]["email"] == "dup@x.com" for i in inputs):
            return httpx.Response(409, json={"status": "error", "category": "CONFLICT", "correlationId": "c-3",
                                             "message": "Contact already exists. Existing ID: 4242"})
        return httpx.Response(201, json=_batch_ok(inputs))

    records = [RecordInput({"email": "a@x.com"}, key="a"), RecordInput({"email": "dup@x.com"}, key="d")]
    results = run(_create(adapter(handler), records))
    assert results[0].ok
    assert not results[1].ok
    assert results[1].error is not None
    assert results[1].error.existing_id == "4242"


def test_results_without_trace_ids_map_in_order_and_errors_by_id() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        inputs = json.loads(request.content)["inputs"]
        ok = [i for i in inputs if i["id"] != "2"]
        body = _batch_ok(ok)
        for r, i in zip(body["results"], ok, strict=True):  # type: ignore[arg-type]
            r.pop("objectWriteTraceId")
            r["id"] = i["id"]
        body["numErrors"] = 1
        body["errors"] = [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Object not found",
                           "context": {"ids": ["2"]}, "errors": [], "links": {}}]
        return httpx.Response(207, json=body)

    a = adapter(handler)

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await a.update(CrmObject.CONTACTS, [RecordInput({"x": "1"}, key=f"k{i}", id=str(i))
                                                        for i in (1, 2, 3)])
        finally:
            await a.aclose()

    results = run(go())
    assert [(r.key, r.ok, r.id) for r in results] == [("k1", True, "1"), ("k2", False, "2"), ("k3", True, "3")]
    assert results[1].error is not None
    assert results[1].error.code == "OBJECT_NOT_FOUND"


def test_a_failure_part_way_keeps_the_earlier_results() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        inputs = json.loads(request.content)["inputs"]
        if len(calls) == 2:
            return httpx.Response(502, json={"message": "bad gateway"})
        return httpx.Response(201, json=_batch_ok(inputs))

    records = [RecordInput({"email": f"p{n}@x.com"}, key=str(n)) for n in range(150)]
    with pytest.raises(TransientError) as info:
        run(_create(adapter(handler), records))
    assert info.value.maybe_applied  # a create that may have happened is not re-sent blindly
    assert len(info.value.completed) == 100
    assert all(r.ok for r in info.value.completed)


@pytest.mark.parametrize(
    ("status", "body", "cls", "words"),
    [
        (401, {"status": "error", "category": "INVALID_AUTHENTICATION", "message": "The access token is invalid"},
         AuthError, "Paste a new private app token"),
        (403, {"status": "error", "category": "MISSING_SCOPES", "message": "This app hasn't been granted all "
               "required scopes", "errors": [{"message": "One or more of the following scopes are required.",
                                              "context": {"requiredGranularScopes": ["crm.objects.owners.read"]}}]},
         MissingScopeError, "crm.objects.owners.read"),
        (429, {"status": "error", "message": "You have reached your daily limit.", "errorType": "RATE_LIMIT",
               "policyName": "DAILY"}, QuotaExhaustedError, "daily API allowance"),
        (429, {"status": "error", "message": "You have reached your ten_secondly_rolling limit.",
               "errorType": "RATE_LIMIT", "policyName": "TEN_SECONDLY_ROLLING"}, RateLimitedError, "limiting"),
    ],
)
def test_hubspot_error_bodies(status: int, body: dict[str, object], cls: type[AdapterError], words: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=body, headers={"X-HubSpot-RateLimit-Interval-Milliseconds": "10000"})

    a = adapter(handler)

    async def go() -> None:
        try:
            await a.users()
        finally:
            await a.aclose()

    with pytest.raises(cls, match=words) as info:
        run(go())
    if isinstance(info.value, MissingScopeError):
        assert info.value.scopes == ("crm.objects.owners.read",)
    if isinstance(info.value, RateLimitedError):
        assert info.value.retry_after == 10.0


def test_primary_type_is_discovered_and_partial_association_failures_are_per_link() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/labels"):
            return httpx.Response(200, json={"results": [
                {"category": "HUBSPOT_DEFINED", "typeId": 7, "label": "Primary"},
                {"category": "USER_DEFINED", "typeId": 41, "label": "Billing"},
                {"category": "HUBSPOT_DEFINED", "typeId": 300},
            ]})
        body = json.loads(request.content)
        sent.append(body)
        results = [{"fromObjectTypeId": "0-1", "fromObjectId": i["from"]["id"], "toObjectTypeId": "0-2",
                    "toObjectId": i["to"]["id"], "labels": []} for i in body["inputs"] if i["to"]["id"] != "404"]
        return httpx.Response(207, json={
            "status": "COMPLETE", "startedAt": "2026-03-01T00:00:00Z", "completedAt": "2026-03-01T00:00:01Z",
            "results": results, "numErrors": 1,
            "errors": [{"status": "error", "category": "OBJECT_NOT_FOUND", "message": "Company 404 was not found.",
                        "context": {"objectId": ["404"]}, "errors": [], "links": {}}]})

    a = adapter(handler)

    async def go():  # type: ignore[no-untyped-def]
        try:
            return await a.primary_type_id(), await a.set_primary(
                [AssociationInput("1", "10", "ok"), AssociationInput("1", "404", "missing")])
        finally:
            await a.aclose()

    primary, results = run(go())
    assert primary == 7
    assert sent[0]["inputs"][0]["types"] == [  # type: ignore[index]
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 300},
        {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 7},
    ]
    assert [(r.key, r.ok) for r in results] == [("ok", True), ("missing", False)]
    assert results[1].error is not None
    assert "404" in results[1].error.reason
