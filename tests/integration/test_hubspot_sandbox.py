"""The HubSpot sandbox against HubSpot's official OpenAPI files, and its limits, errors and faults.

Every endpoint is driven with plain httpx through a :class:`ContractRecorder`, in-process (ASGITransport) and
once over loopback (uvicorn), and every request and response must validate against the spec files.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from enginy_desktop.sandbox.crm.hubspot import DEFAULT_TOKEN, HubSpotSandbox, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.kit.faults import FaultConfig
from enginy_desktop.sandbox.kit.limits import RateLimit
from enginy_desktop.sandbox.kit.server import serve
from tests.support.openapi_contract import ContractRecorder

API = "https://api.hubapi.com"
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(coro)  # type: ignore[arg-type]


def sandbox_app(**config: Any) -> tuple[Any, HubSpotSandbox]:
    app = create_app(HubSpotSandboxConfig(**config))
    return app, app.state.sandbox


def client(app: Any, recorder: ContractRecorder | None = None, **kw: Any) -> httpx.AsyncClient:
    transport: Any = httpx.ASGITransport(app)
    if recorder is not None:
        transport = recorder.wrap(transport)
    return httpx.AsyncClient(transport=transport, base_url=API, headers=kw.pop("headers", AUTH), **kw)


def control_client(app: Any) -> httpx.AsyncClient:
    """A client of the control API: the loopback host and the control token the app was started with."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="http://127.0.0.1:8765",
                             headers={"Authorization": f"Bearer {app.control_token}"})


def drive(app: Any, body: Callable[[httpx.AsyncClient], Awaitable[Any]], recorder: ContractRecorder | None = None,
          **kw: Any) -> Any:
    async def main() -> Any:
        async with client(app, recorder, **kw) as c:
            return await body(c)

    return run(main())


@pytest.fixture
def recorder(shared_dir: Path) -> ContractRecorder:
    return ContractRecorder.for_shared_dir(shared_dir)


# --- the tour: every endpoint once -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flavour:
    objects: str
    assoc_objects: str
    assoc: str
    labels: str
    properties: str
    owners: str
    oauth: str
    legacy: bool


DATED = Flavour("/crm/objects/2026-03", "/crm/objects/2026-03", "/crm/associations/2026-03",
                "/crm/associations/2026-03", "/crm/properties/2026-03", "/crm/owners/2026-03", "/oauth/2026-03", False)
LEGACY = Flavour("/crm/v3/objects", "/crm/v4/objects", "/crm/v4/associations", "/crm/associations/v4",
                 "/crm/v3/properties", "/crm/v3/owners", "/oauth/v1", True)


def search_body(filters: list[dict[str, Any]] | None = None, **kw: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"filterGroups": [{"filters": filters}] if filters else [], "properties": [],
                            "sorts": [], "limit": 10, "after": "0"}
    body.update(kw)
    return body


def expect(response: httpx.Response, status: int) -> Any:
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    return response.json() if response.content else None


async def tour(c: httpx.AsyncClient, f: Flavour) -> None:
    o = f.objects
    # Properties
    props = expect(await c.get(f"{f.properties}/contacts"), 200)
    assert {"email", "firstname", "hs_linkedin_url", "createdate"} <= {p["name"] for p in props["results"]}
    industry = expect(await c.get(f"{f.properties}/companies/industry"), 200)
    assert industry["type"] == "enumeration"
    assert industry["options"]
    expect(await c.get(f"{f.properties}/companies/nope"), 404)
    expect(await c.post(f"{f.properties}/contacts", json={
        "name": "enginy_source", "label": "Enginy source", "type": "enumeration", "fieldType": "select",
        "groupName": "contactinformation",
        "options": [{"label": "Enginy", "value": "enginy", "displayOrder": 0, "hidden": False}]}), 201)
    expect(await c.patch(f"{f.properties}/contacts/enginy_source", json={"label": "Source (Enginy)"}), 200)
    expect(await c.post(f"{f.properties}/contacts/batch/read", json={
        "inputs": [{"name": "email"}, {"name": "missing_one"}], "archived": False,
        "dataSensitivity": "non_sensitive"}), 207)
    expect(await c.post(f"{f.properties}/contacts/batch/create", json={"inputs": [
        {"name": "enginy_score", "label": "Score", "type": "number", "fieldType": "number",
         "groupName": "contactinformation"}]}), 201)
    expect(await c.get(f"{f.properties}/contacts/groups"), 200)
    expect(await c.delete(f"{f.properties}/contacts/enginy_score"), 204)
    # Owners
    owners = expect(await c.get(f"{f.owners}", params={"limit": 3}), 200)
    assert len(owners["results"]) == 3
    assert owners["paging"]["next"]["after"]
    owner_id = owners["results"][0]["id"]
    expect(await c.get(f"{f.owners}/{owner_id}"), 200)
    expect(await c.get(f"{f.owners}", params={"after": owners["paging"]["next"]["after"]}), 200)
    # Companies and contacts
    company = expect(await c.post(f"{o}/companies", json={
        "properties": {"name": "Enginy", "domain": "enginy.ai", "industry": "COMPUTER_SOFTWARE"},
        "associations": []}), 201)
    contact = expect(await c.post(f"{o}/contacts", json={
        "properties": {"email": "Ada@Enginy.ai", "firstname": "Ada", "lastname": "Lovelace",
                       "hubspot_owner_id": owner_id, "enginy_source": "enginy"},
        "associations": [{"to": {"id": company["id"]},
                          "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]}), 201)
    assert contact["properties"]["email"] == "ada@enginy.ai"
    got = expect(await c.get(f"{o}/contacts/{contact['id']}",
                             params={"properties": "email,associatedcompanyid", "associations": "companies"}), 200)
    assert got["properties"]["associatedcompanyid"] == company["id"]
    assert {"id": company["id"], "type": "contact_to_company"} in got["associations"]["companies"]["results"]
    expect(await c.get(f"{o}/contacts/ada@enginy.ai", params={"idProperty": "email"}), 200)
    expect(await c.patch(f"{o}/contacts/{contact['id']}", json={"properties": {"jobtitle": "CTO"}}), 200)
    listed = expect(await c.get(f"{o}/contacts", params={"limit": 1}), 200)
    assert len(listed["results"]) == 1
    created = expect(await c.post(f"{o}/contacts/batch/create", json={"inputs": [
        {"properties": {"email": f"p{i}@example.com", "firstname": f"P{i}"}, "associations": [],
         "objectWriteTraceId": f"t{i}"} for i in range(3)]}), 201)
    ids = [r["id"] for r in created["results"]]
    expect(await c.post(f"{o}/contacts/batch/read", json={
        "inputs": [{"id": i} for i in ids], "properties": ["email"], "propertiesWithHistory": []}), 200)
    expect(await c.post(f"{o}/contacts/batch/read", json={
        "inputs": [{"id": "p0@example.com"}, {"id": "nobody@example.com"}], "idProperty": "email",
        "properties": ["email"], "propertiesWithHistory": []}), 207)
    expect(await c.post(f"{o}/contacts/batch/update", json={"inputs": [
        {"id": i, "properties": {"jobtitle": "Engineer"}} for i in ids]}), 200)
    upserted = expect(await c.post(f"{o}/contacts/batch/upsert", json={"inputs": [
        {"id": "p0@example.com", "idProperty": "email", "properties": {"lastname": "Zero"}},
        {"id": "new@example.com", "idProperty": "email", "properties": {"firstname": "New"}}]}), 200)
    assert sorted(r["new"] for r in upserted["results"]) == [False, True]
    found = expect(await c.post(f"{o}/contacts/search", json=search_body(
        [{"propertyName": "email", "operator": "IN", "values": ["p1@example.com", "p2@example.com"]}],
        properties=["email"])), 200)
    assert found["total"] == 2
    expect(await c.post(f"{o}/companies/search", json=search_body(
        [{"propertyName": "domain", "operator": "EQ", "value": "enginy.ai"}])), 200)
    expect(await c.post(f"{o}/contacts/batch/archive", json={"inputs": [{"id": ids[2]}]}), 204)
    expect(await c.delete(f"{o}/contacts/{ids[1]}"), 204)
    expect(await c.get(f"{o}/contacts/{ids[1]}"), 404)
    # Engagements
    for kind, body in (("emails", {"hs_email_subject": "Hello", "hs_email_direction": "EMAIL",
                                   "hs_email_status": "SENT", "hs_email_text": "Hi Ada"}),
                       ("calls", {"hs_call_title": "Intro", "hs_call_direction": "OUTBOUND",
                                  "hs_call_duration": "60000"}),
                       ("notes", {"hs_note_body": "Met at the fair"})):
        type_id = {"emails": 198, "calls": 194, "notes": 202}[kind]
        eng = expect(await c.post(f"{o}/{kind}", json={
            "properties": {"hs_timestamp": "2026-03-01T10:00:00Z", "hubspot_owner_id": owner_id, **body},
            "associations": [{"to": {"id": contact["id"]},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                         "associationTypeId": type_id}]}]}), 201)
        expect(await c.get(f"{o}/{kind}/{eng['id']}"), 200)
        expect(await c.post(f"{o}/{kind}/batch/create", json={"inputs": [
            {"properties": {"hs_timestamp": "1767225600000", **body}, "associations": []}]}), 201)
        expect(await c.post(f"{o}/{kind}/search", json=search_body()), 200)
        expect(await c.get(f"{o}/{kind}", params={"limit": 5}), 200)
    # Associations (v4 shapes)
    second = expect(await c.post(f"{o}/companies", json={"properties": {"name": "Second", "domain": "second.io"},
                                                         "associations": []}), 201)
    pair = expect(await c.put(f"{f.assoc_objects}/contacts/{contact['id']}/associations/companies/{second['id']}",
                              json=[{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]), 201)
    assert pair["labels"] == ["Primary"]
    listed_assoc = expect(await c.get(f"{f.assoc_objects}/contacts/{contact['id']}/associations/companies"), 200)
    assert len(listed_assoc["results"]) == 2
    expect(await c.put(f"{f.assoc_objects}/companies/{company['id']}/associations/default/contacts/{ids[0]}"), 200)
    expect(await c.delete(f"{f.assoc_objects}/contacts/{ids[0]}/associations/companies/{company['id']}"), 204)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/create", json={"inputs": [
        {"from": {"id": ids[0]}, "to": {"id": company["id"]},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 279}]}]}), 201)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/read", json={"inputs": [{"id": contact["id"]}]}), 200)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/read", json={"inputs": [{"id": ids[1]}]}), 207)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/associate/default", json={"inputs": [
        {"from": {"id": contact["id"]}, "to": {"id": company["id"]}}]}), 200)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/labels/archive", json={"inputs": [
        {"from": {"id": contact["id"]}, "to": {"id": second["id"]},
         "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]}]}),
        204 if f.legacy else 200)
    expect(await c.post(f"{f.assoc}/contacts/companies/batch/archive", json={"inputs": [
        {"from": {"id": ids[0]}, "to": [{"id": company["id"]}]}]}), 204 if f.legacy else 200)
    # Labels
    labels = expect(await c.get(f"{f.labels}/contacts/companies/labels"), 200)
    assert {"category": "HUBSPOT_DEFINED", "typeId": 1, "label": "Primary"} in labels["results"]
    made = expect(await c.post(f"{f.labels}/contacts/companies/labels", json={
        "label": "Decision maker", "name": "decision_maker", "inverseLabel": "Decided by"}), 200)
    type_id = made["results"][0]["typeId"]
    expect(await c.put(f"{f.labels}/contacts/companies/labels", json={"associationTypeId": type_id,
                                                                      "label": "Decider"}), 204)
    expect(await c.delete(f"{f.labels}/contacts/companies/labels/{type_id}"), 204)
    # OAuth: authorize (browser step) -> code -> token -> refresh -> introspect -> revoke
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    auth = await c.get("/oauth/authorize", params={
        "client_id": "enginy-test", "redirect_uri": "http://127.0.0.1:53682/callback", "scope": "oauth",
        "state": "xyz", "code_challenge": challenge, "code_challenge_method": "S256"})
    assert auth.status_code == 302
    query = parse_qs(urlsplit(auth.headers["location"]).query)
    assert query["state"] == ["xyz"]
    tokens = expect(await c.post(f"{f.oauth}/token", data={
        "grant_type": "authorization_code", "client_id": "enginy-test", "code": query["code"][0],
        "redirect_uri": "http://127.0.0.1:53682/callback", "code_verifier": verifier}), 200)
    bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
    expect(await c.get(f"{o}/contacts", headers=bearer), 200)
    refreshed = expect(await c.post(f"{f.oauth}/token", data={
        "grant_type": "refresh_token", "client_id": "enginy-test", "refresh_token": tokens["refresh_token"]}), 200)
    assert refreshed["access_token"] != tokens["access_token"]
    if f.legacy:
        expect(await c.get(f"/oauth/v1/access-tokens/{refreshed['access_token']}"), 200)
        expect(await c.get(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}"), 200)
        expect(await c.delete(f"/oauth/v1/refresh-tokens/{tokens['refresh_token']}"), 204)
    else:
        info = expect(await c.post(f"{f.oauth}/token/introspect", data={
            "token": refreshed["access_token"], "client_id": "enginy-test"}), 200)
        assert info["active"] is True
        assert info["hub_id"] == 24681357
        expect(await c.post(f"{f.oauth}/token/introspect", data={"token": tokens["refresh_token"]}), 200)
        expect(await c.post(f"{f.oauth}/token/revoke", data={"token": tokens["refresh_token"]}), 204)
    expect(await c.get(f"{o}/contacts", headers=bearer), 401)
    expect(await c.post(f"{f.oauth}/token", data={
        "grant_type": "refresh_token", "client_id": "enginy-test", "refresh_token": tokens["refresh_token"]}), 400)
    # Who am I
    details = expect(await c.get("/account-info/v3/details"), 200)
    assert details["portalId"] == 24681357


@pytest.mark.parametrize("flavour", [DATED, LEGACY], ids=["2026-03", "v3-v4"])
def test_every_endpoint_follows_the_spec_in_process(recorder: ContractRecorder, flavour: Flavour) -> None:
    app, sb = sandbox_app(seed_contacts=30, search_rate_limit=None)
    drive(app, lambda c: tour(c, flavour), recorder)
    recorder.assert_all_valid()
    assert len(recorder.exchanges) > 60
    assert sum(1 for e in recorder.exchanges if e.exempt) == 2  # /oauth/authorize and account-info
    assert sb.counts()["contacts"] == 30 + 1 + 3 + 1 - 2


def test_every_endpoint_follows_the_spec_over_loopback(recorder: ContractRecorder) -> None:
    app, _ = sandbox_app(seed_contacts=10, search_rate_limit=None)

    async def main(base_url: str) -> None:
        transport = recorder.wrap(httpx.AsyncHTTPTransport())
        async with httpx.AsyncClient(transport=transport, base_url=base_url, headers=AUTH, timeout=10) as c:
            await tour(c, DATED)

    with serve(app) as base_url:
        assert base_url.startswith("http://127.0.0.1:")
        run(main(base_url))
    recorder.assert_all_valid()
    assert len(recorder.exchanges) > 60


def test_the_recorder_catches_requests_that_break_the_spec(recorder: ContractRecorder) -> None:
    app, _ = sandbox_app()

    async def body(c: httpx.AsyncClient) -> None:
        await c.post("/crm/objects/2026-03/contacts/search", json={"filterGroups": []})
        await c.post("/crm/objects/2026-03/contacts", json={"properties": {"email": "a@b.co"}})
        await c.get("/crm/objects/2026-03/contacts", params={"limit": "many", "colour": "red"})
        await c.get("/crm/objects/2026-03/contacts/1/nowhere")

    drive(app, body, recorder)
    problems = [e.problems for e in recorder.exchanges]
    assert any("'after' is a required property" in p for p in problems[0])
    assert any("'associations' is a required property" in p for p in problems[1])
    assert any("limit" in p for p in problems[2])
    assert any("colour" in p for p in problems[2])
    assert problems[3] == ["no operation in the spec files for GET /crm/objects/2026-03/contacts/1/nowhere"]
    with pytest.raises(AssertionError, match="do not follow the vendor's published API"):
        recorder.assert_all_valid()


# --- errors and validation ----------------------------------------------------------------------------------


def test_invalid_properties_answer_hubspots_validation_error(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        out = []
        for props in ({"email": "a@b.co", "favourite_colour": "red"}, {"createdate": "2024-01-01"},
                      {"lifecyclestage": "champion"}, {"email": "not-an-email"}, {"hubspot_owner_id": "1"}):
            out.append(await c.post("/crm/objects/2026-03/contacts", json={"properties": props, "associations": []}))
        out.append(await c.post("/crm/objects/2026-03/calls", json={"properties": {"hs_call_title": "x"},
                                                                    "associations": []}))
        return out

    responses = drive(app, body, recorder)
    codes = []
    for r in responses:
        assert r.status_code == 400
        payload = r.json()
        assert payload["status"] == "error"
        assert payload["category"] == "VALIDATION_ERROR"
        assert payload["message"].startswith("Property values were not valid: [")
        codes.append(payload["errors"][0]["code"])
    assert codes == ["PROPERTY_DOESNT_EXIST", "READ_ONLY_VALUE", "INVALID_OPTION", "INVALID_EMAIL",
                     "INVALID_OWNER_ID", "REQUIRED_PROPERTY"]
    assert responses[0].json()["errors"][0]["context"] == {"propertyName": ["favourite_colour"]}
    assert sb.counts()["contacts"] == 0
    recorder.assert_all_valid()


def test_duplicate_email_is_a_409_conflict_naming_the_existing_contact() -> None:
    app, _ = sandbox_app()

    async def body(c: httpx.AsyncClient) -> tuple[Any, httpx.Response]:
        first = (await c.post("/crm/objects/2026-03/contacts", json={"properties": {"email": "dup@x.io"},
                                                                     "associations": []})).json()
        again = await c.post("/crm/objects/2026-03/contacts", json={"properties": {"email": "DUP@x.io"},
                                                                    "associations": []})
        return first, again

    first, again = drive(app, body)
    assert again.status_code == 409
    assert again.json()["category"] == "CONFLICT"
    assert again.json()["message"] == f"Contact already exists. Existing ID: {first['id']}"


def test_batches_answer_207_with_per_input_errors(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        await c.post("/crm/objects/2026-03/contacts", json={"properties": {"email": "taken@x.io"}, "associations": []})
        created = await c.post("/crm/objects/2026-03/contacts/batch/create", json={"inputs": [
            {"properties": {"email": "ok@x.io"}, "associations": [], "objectWriteTraceId": "row-1"},
            {"properties": {"email": "taken@x.io"}, "associations": [], "objectWriteTraceId": "row-2"},
            {"properties": {"nope": "1"}, "associations": [], "objectWriteTraceId": "row-3"},
            {"properties": {"email": "ok@x.io"}, "associations": [], "objectWriteTraceId": "row-4"},
        ]})
        updated = await c.post("/crm/objects/2026-03/contacts/batch/update", json={"inputs": [
            {"id": "999999", "properties": {"firstname": "Ghost"}},
            {"id": "ok@x.io", "idProperty": "email", "properties": {"firstname": "Okay"}},
        ]})
        return created, updated

    created, updated = drive(app, body, recorder)
    assert created.status_code == 207
    payload = created.json()
    assert payload["numErrors"] == 3
    assert len(payload["results"]) == 1
    assert payload["results"][0]["objectWriteTraceId"] == "row-1"
    by_trace = {e["context"]["objectWriteTraceId"][0]: e for e in payload["errors"]}
    assert by_trace["row-2"]["category"] == "CONFLICT"
    assert by_trace["row-3"]["category"] == "VALIDATION_ERROR"
    assert by_trace["row-4"]["message"].startswith("Duplicate email")
    assert updated.status_code == 207
    assert updated.json()["errors"][0]["context"]["ids"] == ["999999"]
    assert updated.json()["results"][0]["properties"]["firstname"] == "Okay"
    assert sb.counts()["contacts"] == 2
    recorder.assert_all_valid()


def test_all_or_nothing_batches_write_nothing_on_one_bad_input() -> None:
    app, sb = sandbox_app(batch_errors="all")
    response = drive(app, lambda c: c.post("/crm/objects/2026-03/contacts/batch/create", json={"inputs": [
        {"properties": {"email": "ok@x.io"}, "associations": []},
        {"properties": {"email": "bad"}, "associations": []}]}))
    assert response.status_code == 400
    assert sb.counts()["contacts"] == 0


def test_batches_above_100_inputs_are_refused(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app()
    inputs = [{"properties": {"email": f"c{i}@x.io"}, "associations": []} for i in range(101)]
    response = drive(app, lambda c: c.post("/crm/objects/2026-03/contacts/batch/create", json={"inputs": inputs}),
                     recorder)
    assert response.status_code == 400
    assert response.json()["category"] == "VALIDATION_ERROR"
    assert "at most 100" in response.json()["message"]
    assert sb.counts()["contacts"] == 0
    recorder.assert_all_valid()


def test_upsert_needs_a_unique_property_and_reports_new_records(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        by_domain = await c.post("/crm/objects/2026-03/companies/batch/upsert", json={"inputs": [
            {"id": "enginy.ai", "idProperty": "domain", "properties": {"name": "Enginy"}}]})
        prop = await c.post("/crm/properties/2026-03/companies", json={
            "name": "enginy_company_key", "label": "Enginy key", "type": "string", "fieldType": "text",
            "groupName": "companyinformation", "hasUniqueValue": True})
        first = await c.post("/crm/objects/2026-03/companies/batch/upsert", json={"inputs": [
            {"id": "k-1", "idProperty": "enginy_company_key", "properties": {"name": "Enginy"}}]})
        second = await c.post("/crm/objects/2026-03/companies/batch/upsert", json={"inputs": [
            {"id": "k-1", "idProperty": "enginy_company_key", "properties": {"name": "Enginy SL"}}]})
        return [by_domain, prop, first, second]

    by_domain, prop, first, second = drive(app, body, recorder)
    assert by_domain.status_code == 400
    assert "not a unique property" in by_domain.json()["message"]
    assert prop.status_code == 201
    assert prop.json()["hasUniqueValue"] is True
    assert first.json()["results"][0]["new"] is True
    assert second.json()["results"][0]["new"] is False
    assert second.json()["results"][0]["id"] == first.json()["results"][0]["id"]
    assert sb.counts()["companies"] == 1
    recorder.assert_all_valid()


def test_missing_or_wrong_tokens_get_hubspots_401(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/crm/objects/2026-03/contacts", headers={"Authorization": ""}),
                await c.get("/crm/objects/2026-03/contacts", headers={"Authorization": "Bearer pat-wrong"}),
                await c.get("/crm/objects/2026-03/contacts", headers={"Authorization": "Basic abc"})]

    for r in drive(app, body, recorder, headers={}):
        assert r.status_code == 401
        assert r.json()["category"] == "INVALID_AUTHENTICATION"
        assert "x-hubspot-ratelimit-remaining" not in r.headers
    assert sb.interval_window is not None
    assert sb.interval_window.remaining(DEFAULT_TOKEN, 0) == 190
    recorder.assert_all_valid()


def test_unknown_object_types_and_paths() -> None:
    app, _ = sandbox_app()

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        return [await c.get("/crm/objects/2026-03/unicorns"), await c.get("/crm/v2/whatever"),
                await c.put("/crm/objects/2026-03/contacts")]

    bad_type, unknown, wrong_method = drive(app, body)
    assert bad_type.status_code == 400
    assert bad_type.json()["message"] == "Unable to infer object type from: unicorns"
    assert unknown.status_code == 404
    assert unknown.json()["status"] == "error"
    assert wrong_method.status_code == 405


# --- search -------------------------------------------------------------------------------------------------


def test_search_operators_paging_and_sorting(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app(seed_contacts=300, seed_companies=20, search_rate_limit=None)
    live = list(sb.live("contacts"))
    with_phone = sum(1 for r in live if "phone" in r.props)
    someone = live[17]
    company_id = next(iter(sb.associated("contacts", someone.id, "companies")))

    async def s(c: httpx.AsyncClient, filters: list[dict[str, Any]] | None = None, **kw: Any) -> Any:
        r = await c.post("/crm/objects/2026-03/contacts/search", json=search_body(filters, **kw))
        assert r.status_code == 200, r.text
        return r.json()

    async def body(c: httpx.AsyncClient) -> dict[str, Any]:
        out = {}
        out["eq"] = await s(c, [{"propertyName": "email", "operator": "EQ", "value": someone.props["email"].upper()}])
        out["has"] = await s(c, [{"propertyName": "phone", "operator": "HAS_PROPERTY"}])
        out["not_has"] = await s(c, [{"propertyName": "phone", "operator": "NOT_HAS_PROPERTY"}])
        out["in"] = await s(c, [{"propertyName": "email", "operator": "IN",
                                 "values": [live[1].props["email"], live[2].props["email"], "x@nowhere.io"]}])
        out["neq"] = await s(c, [{"propertyName": "email", "operator": "NEQ", "value": live[0].props["email"]}])
        out["not_in"] = await s(c, [{"propertyName": "email", "operator": "NOT_IN",
                                     "values": [live[0].props["email"], live[1].props["email"]]}])
        out["token"] = await s(c, [{"propertyName": "firstname", "operator": "CONTAINS_TOKEN",
                                    "value": someone.props["firstname"].lower()}])
        out["assoc"] = await s(c, [{"propertyName": "associations.company", "operator": "EQ",
                                    "value": str(company_id)}])
        out["between"] = await s(c, [{"propertyName": "hs_object_id", "operator": "BETWEEN",
                                      "value": str(live[10].id), "highValue": str(live[19].id)}])
        out["gt_sorted"] = await s(c, [{"propertyName": "createdate", "operator": "GT",
                                        "value": live[289].props["createdate"]}],
                                   sorts=["-createdate"], properties=["email", "createdate"])
        out["page1"] = await s(c, limit=200)
        out["page2"] = await s(c, limit=200, after=out["page1"]["paging"]["next"]["after"])
        out["or"] = await s(c, filterGroups=[
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": live[3].props["email"]}]},
            {"filters": [{"propertyName": "email", "operator": "EQ", "value": live[4].props["email"]}]}])
        return out

    out = drive(app, body, recorder)
    assert [r["id"] for r in out["eq"]["results"]] == [str(someone.id)]
    assert out["has"]["total"] == with_phone
    assert out["not_has"]["total"] == 300 - with_phone
    assert out["in"]["total"] == 2
    assert out["neq"]["total"] == 299
    assert out["not_in"]["total"] == 298
    assert str(someone.id) in {r["id"] for r in out["token"]["results"]}
    assert str(someone.id) in {r["id"] for r in out["assoc"]["results"]}
    assert out["between"]["total"] == 10
    gt = [r["id"] for r in out["gt_sorted"]["results"]]
    assert gt == [str(r.id) for r in reversed(live[290:])]
    assert set(out["gt_sorted"]["results"][0]["properties"]) >= {"email", "createdate", "hs_object_id"}
    assert out["page1"]["total"] == 300
    assert len(out["page1"]["results"]) == 200
    assert len(out["page2"]["results"]) == 100
    assert "paging" not in out["page2"]
    assert out["or"]["total"] == 2
    recorder.assert_all_valid()


@pytest.mark.parametrize(("changes", "fragment"), [
    ({"filterGroups": [{"filters": []}] * 6}, "Too many filter groups"),
    ({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 7}]},
     "Too many filters in a filter group"),
    ({"filterGroups": [{"filters": [{"propertyName": "email", "operator": "HAS_PROPERTY"}] * 6}] * 4},
     "Too many filters: 24"),
    ({"limit": 201}, "limit must be at most 200"),
    ({"after": "9950", "limit": 100}, "Paging past 10000"),
    ({"filterGroups": [{"filters": [{"propertyName": "shoe_size", "operator": "EQ", "value": "1"}]}]},
     "shoe_size does not exist"),
])
def test_search_limits(changes: dict[str, Any], fragment: str) -> None:
    app, _ = sandbox_app(search_rate_limit=None)
    r = drive(app, lambda c: c.post("/crm/objects/2026-03/contacts/search", json=search_body(**changes)))
    assert r.status_code == 400
    assert r.json()["category"] == "VALIDATION_ERROR"
    assert fragment in r.json()["message"]


# --- associations -------------------------------------------------------------------------------------------


def test_primary_company_moves_and_the_previous_one_stays_associated() -> None:
    app, sb = sandbox_app()
    contact = sb.create("contacts", {"email": "p@x.io"})
    a = sb.create("companies", {"name": "A"})
    b = sb.create("companies", {"name": "B"})
    primary = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 1}]

    async def body(c: httpx.AsyncClient) -> Any:
        base = f"/crm/objects/2026-03/contacts/{contact.id}/associations/companies"
        await c.put(f"{base}/{a.id}", json=primary)
        await c.put(f"{base}/{b.id}", json=primary)
        listed = (await c.get(base)).json()
        reverse = (await c.get(f"/crm/objects/2026-03/companies/{a.id}/associations/contacts")).json()
        return listed, reverse

    listed, reverse = drive(app, body)
    types = {r["toObjectId"]: {t["typeId"] for t in r["associationTypes"]} for r in listed["results"]}
    assert types == {str(a.id): {279}, str(b.id): {1, 279}}
    assert reverse["results"][0]["associationTypes"] == [{"category": "HUBSPOT_DEFINED", "typeId": 280}]
    assert contact.props["associatedcompanyid"] == str(b.id)
    sb.remove_labels("contacts", contact.id, "companies", b.id, [1])
    assert sb.associated("contacts", contact.id, "companies")[b.id] == {279}
    assert "associatedcompanyid" not in contact.props
    sb.remove_labels("companies", a.id, "contacts", contact.id, [280])
    assert a.id not in sb.associated("contacts", contact.id, "companies")


def test_engagements_need_a_timestamp_and_link_to_records() -> None:
    app, sb = sandbox_app()
    contact = sb.create("contacts", {"email": "e@x.io"})
    owner = sb.active_owner_ids()[0]

    async def body(c: httpx.AsyncClient) -> Any:
        email = await c.post("/crm/objects/2026-03/emails", json={
            "properties": {"hs_timestamp": "2026-03-02T09:00:00.000Z", "hubspot_owner_id": owner,
                           "hs_email_subject": "Hi", "hs_email_direction": "EMAIL", "hs_email_status": "SENT"},
            "associations": [{"to": {"id": str(contact.id)},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]}]})
        wrong_type = await c.post("/crm/objects/2026-03/notes", json={
            "properties": {"hs_timestamp": "2026-03-02T09:00:00Z"},
            "associations": [{"to": {"id": str(contact.id)},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 198}]}]})
        ghost = await c.post("/crm/objects/2026-03/notes", json={
            "properties": {"hs_timestamp": "2026-03-02T09:00:00Z"},
            "associations": [{"to": {"id": "424242"},
                              "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}]}]})
        linked = await c.get(f"/crm/objects/2026-03/contacts/{contact.id}/associations/emails")
        return email, wrong_type, ghost, linked

    email, wrong_type, ghost, linked = drive(app, body)
    assert email.status_code == 201
    assert linked.json()["results"][0]["toObjectId"] == email.json()["id"]
    assert linked.json()["results"][0]["associationTypes"][0]["typeId"] == 197
    stored = sb.get("emails", email.json()["id"])
    assert stored is not None
    assert stored.props["hs_timestamp"] == "2026-03-02T09:00:00.000Z"
    assert wrong_type.status_code == 400
    assert ghost.status_code == 400
    assert sb.counts()["notes"] == 0


# --- rate limits --------------------------------------------------------------------------------------------


def test_the_rolling_window_answers_429_exactly_past_the_limit(recorder: ContractRecorder) -> None:
    clock = FakeClock()
    app, sb = sandbox_app(rate_limit=RateLimit(5, 10.0), clock=clock)

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        out = []
        for step in (0, 1, 1, 1, 1, 1, 5.5, 0.6, 0, 0):  # seconds to wait before each request
            clock.now += step
            out.append(await c.get("/crm/objects/2026-03/contacts"))
        return out

    responses = drive(app, body, recorder)
    statuses = [r.status_code for r in responses]
    # t=0..4: five accepted; t=5: sixth in the same 10 s -> 429; t=10.5: the t=0 hit left -> accepted;
    # t=11.1: the t=1 hit left -> accepted; t=11.1 again -> window full again -> 429.
    assert statuses == [200, 200, 200, 200, 200, 429, 200, 200, 429, 429]
    assert [r.headers["x-hubspot-ratelimit-remaining"] for r in responses[:5]] == ["4", "3", "2", "1", "0"]
    limited = responses[5]
    assert limited.headers["x-hubspot-ratelimit-max"] == "5"
    assert limited.headers["x-hubspot-ratelimit-interval-milliseconds"] == "10000"
    assert limited.headers["x-hubspot-ratelimit-remaining"] == "0"
    payload = limited.json()
    assert payload["status"] == "error"
    assert payload["errorType"] == "RATE_LIMIT"
    assert payload["policyName"] == "TEN_SECONDLY_ROLLING"
    assert payload["message"] == "You have reached your ten_secondly_rolling limit."
    assert responses[0].headers["x-hubspot-ratelimit-daily"] == "625000"
    assert [e.limited_by for e in sb.requests if e.status == 429] == ["TEN_SECONDLY_ROLLING"] * 3
    recorder.assert_all_valid()


def test_the_default_limit_is_190_per_10_seconds() -> None:
    clock = FakeClock()
    app, _ = sandbox_app(clock=clock)

    async def body(c: httpx.AsyncClient) -> list[int]:
        return [(await c.get("/crm/owners/2026-03")).status_code for _ in range(191)]

    statuses = drive(app, body)
    assert statuses.count(200) == 190
    assert statuses[-1] == 429


def test_search_has_its_own_limit_of_4_per_second() -> None:
    clock = FakeClock()
    app, sb = sandbox_app(clock=clock)

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        out = [await c.post("/crm/objects/2026-03/contacts/search", json=search_body()) for _ in range(5)]
        clock.now += 1.0
        out.append(await c.post("/crm/objects/2026-03/companies/search", json=search_body()))
        return out

    responses = drive(app, body)
    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429, 200]
    assert responses[4].json()["policyName"] == "SECONDLY"
    assert "x-hubspot-ratelimit-remaining" not in responses[0].headers
    assert sb.interval_window is not None
    assert sb.interval_window.remaining(DEFAULT_TOKEN, clock.now) == 190


def test_daily_limit_and_oauth_tokens_have_no_daily_headers() -> None:
    app, sb = sandbox_app(daily_limit=2)
    oauth = sb.issue_tokens("client")

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        out = [await c.get("/crm/owners/2026-03") for _ in range(3)]
        out.append(await c.get("/crm/owners/2026-03", headers={"Authorization": f"Bearer {oauth.token}"}))
        return out

    first, second, third, with_oauth = drive(app, body)
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert second.headers["x-hubspot-ratelimit-daily-remaining"] == "0"
    assert third.json()["policyName"] == "DAILY"
    assert with_oauth.status_code == 200
    assert "x-hubspot-ratelimit-daily" not in with_oauth.headers
    assert with_oauth.headers["x-hubspot-ratelimit-max"] == "190"


# --- faults -------------------------------------------------------------------------------------------------


def test_injected_errors_are_reproducible_for_a_seed() -> None:
    def statuses() -> list[int]:
        app, _ = sandbox_app(faults=FaultConfig(error_rate=0.5), random_seed=3)

        async def body(c: httpx.AsyncClient) -> list[int]:
            return [(await c.get("/crm/owners/2026-03")).status_code for _ in range(20)]

        return drive(app, body)

    first = statuses()
    assert first == statuses()
    assert set(first) == {200, 503}
    assert 4 <= first.count(503) <= 16


def test_in_process_drops_and_timeouts_surface_as_httpx_transport_errors() -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> None:
        sb.config.faults.update({"drop_rate": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get("/crm/owners/2026-03")
        sb.config.faults.update({"drop_rate": 0, "timeout_rate": 1})
        with pytest.raises(httpx.ReadTimeout):
            await c.get("/crm/owners/2026-03")
        sb.config.faults.update({"timeout_rate": 0, "error_rate": 1, "error_status": 502})
        assert (await c.get("/crm/owners/2026-03")).status_code == 502
        sb.config.faults.update({"error_rate": 0, "latency_ms": 30})
        started = time.perf_counter()
        assert (await c.get("/crm/owners/2026-03")).status_code == 200
        assert time.perf_counter() - started >= 0.03

    drive(app, body)
    assert [e.fault for e in sb.requests] == ["drop", "timeout", "error", "latency"]
    assert [e.status for e in sb.requests] == [None, None, 502, 200]


def test_over_loopback_drops_close_the_connection_and_timeouts_hang() -> None:
    app, sb = sandbox_app(faults=FaultConfig(drop_rate=1, hang_s=30))
    with serve(app) as base_url, httpx.Client(base_url=base_url, headers=AUTH, timeout=0.3) as c:
        with pytest.raises(httpx.RemoteProtocolError):
            c.get("/crm/owners/2026-03")
        sb.config.faults.update({"drop_rate": 0, "timeout_rate": 1})
        started = time.perf_counter()
        with pytest.raises(httpx.ReadTimeout):
            c.get("/crm/owners/2026-03")
        assert time.perf_counter() - started < 5
        sb.config.faults.update({"timeout_rate": 0})
        assert c.get("/crm/owners/2026-03").status_code == 200


def test_tokens_expire_after_n_requests_and_oauth_refresh_recovers(recorder: ContractRecorder) -> None:
    app, sb = sandbox_app(faults=FaultConfig(token_ttl_requests=2))
    first = sb.issue_tokens("client")

    async def body(c: httpx.AsyncClient) -> list[httpx.Response]:
        bearer = {"Authorization": f"Bearer {first.token}"}
        out = [await c.get("/crm/owners/2026-03", headers=bearer) for _ in range(3)]
        fresh = (await c.post("/oauth/v1/token", data={"grant_type": "refresh_token", "client_id": "client",
                                                       "refresh_token": first.refresh_token})).json()
        out.append(await c.get("/crm/owners/2026-03", headers={"Authorization": f"Bearer {fresh['access_token']}"}))
        return out

    responses = drive(app, body, recorder)
    assert [r.status_code for r in responses] == [200, 200, 401, 200]
    expired = responses[2].json()
    assert expired["category"] == "EXPIRED_AUTHENTICATION"
    assert expired["message"].startswith("The OAuth token used to make this call expired")
    recorder.assert_all_valid()


def test_oauth_tokens_expire_after_their_lifetime() -> None:
    clock = FakeClock()
    app, sb = sandbox_app(clock=clock, access_token_lifetime_s=1800)
    info = sb.issue_tokens("client")
    bearer = {"Authorization": f"Bearer {info.token}"}

    async def body(c: httpx.AsyncClient) -> list[int]:
        out = [(await c.get("/crm/owners/2026-03", headers=bearer)).status_code]
        clock.now += 1800
        out.append((await c.get("/crm/owners/2026-03", headers=bearer)).status_code)
        return out

    assert drive(app, body) == [200, 401]


# --- admin API, seeding, request log ---------------------------------------------------------------------------------


def test_admin_api_steers_the_sandbox_at_runtime() -> None:
    app, sb = sandbox_app()

    async def body(c: httpx.AsyncClient) -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with control_client(app) as ctl:
            out["seed"] = (await ctl.post("/__sandbox__/seed", json={"contacts": 50, "companies": 5})).json()
            out["faults"] = (await ctl.post("/__sandbox__/faults", json={"latency_ms": 1, "error_rate": 0.25})).json()
            out["bad_fault"] = await ctl.post("/__sandbox__/faults", json={"error_rate": 3})
            out["limit"] = (await ctl.post("/__sandbox__/rate-limit", json={"rate_limit": "2/1s"})).json()
            out["statuses"] = [(await c.get("/crm/owners/2026-03")).status_code for _ in range(3)]
            out["requests"] = (await ctl.get("/__sandbox__/requests")).json()
            out["state"] = (await ctl.get("/__sandbox__/state")).json()
            out["reset"] = (await ctl.post("/__sandbox__/reset")).json()
        return out

    out = drive(app, body, headers={})
    assert out["seed"]["counts"]["contacts"] == 50
    assert out["seed"]["counts"]["companies"] == 5
    assert out["faults"]["error_rate"] == 0.25
    assert out["bad_fault"].status_code == 400
    assert out["limit"]["rate_limit"] == "2/1s"
    assert set(out["statuses"]) <= {401, 503}  # no token on this client; 25 % errors
    logged = out["requests"]["results"]
    assert [e["path"] for e in logged] == ["/crm/owners/2026-03"] * 3
    assert all(e["at"] > 1e9 and e["t"] > 0 for e in logged)
    assert out["state"]["counts"]["requests"] == 3
    assert out["state"]["rateLimit"] == "2/1s"
    assert out["reset"]["counts"]["contacts"] == 0
    assert sb.requests == []


def test_seeding_is_fast_deterministic_and_realistic() -> None:
    # How fast seeding is gets measured by benchmarks/sandbox.py, never asserted here.
    sb = HubSpotSandbox(HubSpotSandboxConfig(seed_contacts=100_000))
    counts = sb.counts()
    assert counts["contacts"] == 100_000
    assert counts["companies"] == 10_000
    assert 60_000 < counts["associations"] < 90_000
    small = [[r.props["email"] for r in HubSpotSandbox(HubSpotSandboxConfig(seed_contacts=200, random_seed=seed))
              .live("contacts")] for seed in (7, 7, 8)]
    assert small[0] == small[1] != small[2]
    emails = [r.props["email"] for r in sb.live("contacts")]
    assert len(set(emails)) == len(emails)
    sample = next(r for r in sb.live("contacts") if "hs_linkedin_url" in r.props and "company" in r.props)
    assert sample.props["hs_linkedin_url"].startswith("https://www.linkedin.com/in/")
    company_id = int(sample.props["associatedcompanyid"])
    company = sb.get("companies", company_id)
    assert company is not None
    assert company.props["name"] == sample.props["company"]
    assert sample.props["email"].endswith("@" + company.props["domain"])


# --- command line -------------------------------------------------------------------------------------------


def test_sandbox_command_refuses_unknown_crms_and_bad_faults(cli: Any) -> None:
    code, _, err = cli("sandbox", "--crm", "no-such-crm")
    assert code == 2
    assert "hubspot" in err.split("Available:", 1)[1]
    assert "sandbox --list" in err
    code, _, err = cli("sandbox", "--crm", "hubspot", "--fault", "gremlins=1")
    assert code == 2
    assert "unknown fault 'gremlins'" in err
    code, _, err = cli("sandbox", "--crm", "hubspot", "--rate-limit", "lots")
    assert code == 2
    assert "--rate-limit" in err


@pytest.mark.subprocess
def test_sandbox_command_serves_until_interrupted(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "ENGINY_SANDBOX_CONTROL_TOKEN": "ctl-test-456"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "enginy_desktop", "--data-dir", str(tmp_path), "sandbox", "--crm", "hubspot",
         "--port", "0", "--seed", "25", "--token", "pat-test-123", "--fault", "latency=1ms"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line.rstrip("\n"))
            if line.startswith("Press Ctrl+C"):
                break
        assert lines, proc.stderr.read() if proc.stderr else "no output"
        assert lines[0].startswith("HubSpot sandbox listening on http://127.0.0.1:"), lines
        base_url = lines[0].rsplit(" ", 1)[1]
        assert "Token: pat-test-123" in lines
        assert f"  echo pat-test-123 | enginy-desktop connect hubspot --set base_url={base_url} " \
               "--secret-stdin token" in lines
        assert "  enginy-desktop integrations enable hubspot" in lines
        assert "Control token: ctl-test-456" in lines
        assert httpx.get(f"{base_url}/__sandbox__/state", timeout=10).status_code == 401
        state = httpx.get(f"{base_url}/__sandbox__/state", headers={"Authorization": "Bearer ctl-test-456"},
                          timeout=10)
        assert state.json()["counts"]["contacts"] == 25
        assert "pat-test-123" not in state.text
        r = httpx.get(f"{base_url}/crm/objects/2026-03/contacts", params={"limit": 100},
                      headers={"Authorization": "Bearer pat-test-123"}, timeout=10)
        assert r.status_code == 200
        assert len(r.json()["results"]) == 25
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "Sandbox stopped." in out
