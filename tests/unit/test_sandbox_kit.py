"""The emulator kit: the control API's guards, body and nesting limits, the fault seed, budgets, the registry,
and a small emulator written on the kit the way docs/sandbox.md shows."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from enginy_desktop.sandbox.crm.hubspot import DEFAULT_TOKEN, HubSpotSandboxConfig, create_app
from enginy_desktop.sandbox.kit import (
    Budget,
    Emulator,
    EmulatorConfig,
    ErrorKind,
    FaultConfig,
    GatewayRequest,
    KitError,
    RateLimit,
    RollingWindow,
    VendorError,
    build_app,
    ok,
)
from enginy_desktop.sandbox.kit.http import json_too_deep, parse_json
from enginy_desktop.sandbox.kit.oauth import OAuthEndpoints
from enginy_desktop.sandbox.kit.server import serve
from enginy_desktop.sandbox.kit.store import RecordStore
from enginy_desktop.sandbox.kit.tokens import TokenProblem, TokenStore, pkce_ok
from enginy_desktop.sandbox.notify.slack import SlackSandboxConfig
from enginy_desktop.sandbox.notify.slack import create_app as slack_app
from enginy_desktop.sandbox.registry import EMULATORS, emulator_spec

API = "https://api.hubapi.com"
LOCAL = "http://127.0.0.1:8765"


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def call(app: Any, method: str, url: str, **kw: Any) -> httpx.Response:
    base = kw.pop("base_url", LOCAL)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=base) as c:
        return await c.request(method, url, **kw)


def control(app: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {app.control_token}"}


# --- the control API --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [lambda: create_app(HubSpotSandboxConfig()), lambda: slack_app(SlackSandboxConfig())],
                         ids=["hubspot", "slack"])
def test_control_api_needs_the_control_token(make: Any) -> None:
    app = make()
    assert run(call(app, "GET", "/__sandbox__/state")).status_code == 401
    wrong = run(call(app, "GET", "/__sandbox__/state", headers={"Authorization": "Bearer nope"}))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "control_token_required"
    # A vendor credential is not the control token either.
    vendor = run(call(app, "POST", "/__sandbox__/reset", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}))
    assert vendor.status_code == 401
    assert run(call(app, "GET", "/__sandbox__/state", headers=control(app))).status_code == 200
    assert run(call(app, "GET", "/__sandbox__/state", headers={"X-Sandbox-Token": app.control_token})).status_code \
        == 200


def test_control_api_accepts_only_json_bodies() -> None:
    app = create_app(HubSpotSandboxConfig())
    sb = app.state.sandbox
    for ctype in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        r = run(call(app, "POST", "/__sandbox__/faults", content=b'{"error_rate": 1}',
                     headers={**control(app), "Content-Type": ctype}))
        assert r.status_code == 415, ctype
        assert r.json()["error"] == "json_required"
    assert sb.config.faults.error_rate == 0  # nothing changed
    r = run(call(app, "POST", "/__sandbox__/faults", json={"error_rate": 0.5}, headers=control(app)))
    assert r.status_code == 200
    assert sb.config.faults.error_rate == 0.5
    assert run(call(app, "POST", "/__sandbox__/reset", headers=control(app))).status_code == 200  # no body


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8765", "127.0.0.1.nip.io", "10.0.0.5:8765"])
def test_control_api_answers_only_on_the_loopback_host(host: str) -> None:
    app = create_app(HubSpotSandboxConfig())
    r = run(call(app, "GET", "/__sandbox__/state", headers={**control(app), "Host": host}))
    assert r.status_code == 403
    assert r.json()["error"] == "host_not_allowed"


@pytest.mark.parametrize("host", ["127.0.0.1:8765", "localhost:1234", "[::1]:8765", "localhost"])
def test_control_api_accepts_loopback_names(host: str) -> None:
    app = create_app(HubSpotSandboxConfig())
    assert run(call(app, "GET", "/__sandbox__/state", headers={**control(app), "Host": host})).status_code == 200


def test_state_never_lists_tokens() -> None:
    app = create_app(HubSpotSandboxConfig(tokens=("pat-secret-abc",)))
    sb = app.state.sandbox
    issued = sb.issue_tokens("client")
    state = run(call(app, "GET", "/__sandbox__/state", headers=control(app)))
    assert state.status_code == 200
    text = state.text
    for secret in ("pat-secret-abc", issued.token, issued.refresh_token, app.control_token):
        assert secret not in text
    assert "tokens" not in state.json()


def test_control_token_over_loopback() -> None:
    app = create_app(HubSpotSandboxConfig(control_token="ctl-fixed-token"))
    with serve(app) as url:
        assert httpx.get(f"{url}/__sandbox__/state", timeout=5).status_code == 401
        r = httpx.get(f"{url}/__sandbox__/state", headers={"Authorization": "Bearer ctl-fixed-token"}, timeout=5)
        assert r.status_code == 200
        r = httpx.get(f"{url}/__sandbox__/state", timeout=5,
                      headers={"Authorization": "Bearer ctl-fixed-token", "Host": "attacker.example"})
        assert r.status_code == 403


# --- body size and nesting ----------------------------------------------------------------------------------------


def _asgi(app: Any, method: str, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
          ) -> tuple[int, bytes, int]:
    """Drive the ASGI app directly: (status, body, how many body chunks the app read)."""
    read = 0
    out: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read < len(chunks):
            read += 1
            return {"type": "http.request", "body": chunks[read - 1], "more_body": read < len(chunks)}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] += message.get("body", b"")

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(b"host", b"127.0.0.1:8765"), *headers], "client": ("127.0.0.1", 5000),
             "server": ("127.0.0.1", 8765)}
    run(app(scope, receive, send))
    return out["status"], out["body"], read


AUTH_HEADER = (b"authorization", f"Bearer {DEFAULT_TOKEN}".encode())
BATCH = "/crm/objects/2026-03/contacts/batch/create"


def test_a_declared_300_mb_body_is_refused_without_reading_it() -> None:
    app = create_app(HubSpotSandboxConfig())
    status, body, read = _asgi(app, "POST", BATCH, [AUTH_HEADER, (b"content-type", b"application/json"),
                                                      (b"content-length", str(300 * 1024 * 1024).encode())],
                               [b"{" * 1024] * 4)
    assert status == 413
    assert read == 0
    error = json.loads(body)
    assert error["status"] == "error"
    assert error["category"] == "VALIDATION_ERROR"
    assert error["correlationId"]
    assert "larger than" in error["message"]


def test_a_streamed_body_over_the_limit_is_cut_off() -> None:
    app = create_app(HubSpotSandboxConfig(max_body_bytes=100_000))
    chunk = b" " * 40_000
    status, body, read = _asgi(app, "POST", BATCH, [AUTH_HEADER, (b"content-type", b"application/json"),
                                                      (b"transfer-encoding", b"chunked")], [chunk] * 50)
    assert status == 413
    assert read == 3  # stopped as soon as the limit was passed
    assert json.loads(body)["category"] == "VALIDATION_ERROR"
    assert app.state.sandbox.counts()["contacts"] == 0


def test_a_large_batch_is_refused_over_loopback_and_nothing_stored() -> None:
    app = create_app(HubSpotSandboxConfig(max_body_bytes=1_000_000, rate_limit=None))
    sb = app.state.sandbox
    inputs = [{"properties": {"email": f"p{i}@x.test", "jobtitle": "x" * 20_000}} for i in range(60)]
    with serve(app) as url:
        r = httpx.post(f"{url}{BATCH}", json={"inputs": inputs}, headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"},
                       timeout=10)
    assert r.status_code == 413
    assert r.json()["category"] == "VALIDATION_ERROR"
    assert sb.counts()["contacts"] == 0


@pytest.mark.parametrize("depth", [513, 200_000])
def test_deep_json_gets_the_vendors_400(depth: int) -> None:
    app = create_app(HubSpotSandboxConfig())
    body = b'{"inputs": ' + b"[" * depth + b"]" * depth + b"}"
    r = run(call(app, "POST", BATCH, content=body, base_url=API,
                 headers={"Authorization": f"Bearer {DEFAULT_TOKEN}", "Content-Type": "application/json"}))
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["category"] == "VALIDATION_ERROR"
    assert "nested" in r.json()["message"]


def test_deep_json_on_the_control_api_is_refused() -> None:
    app = create_app(HubSpotSandboxConfig())
    r = run(call(app, "POST", "/__sandbox__/faults", content=b"[" * 100_000 + b"]" * 100_000,
                 headers={**control(app), "Content-Type": "application/json"}))
    assert r.status_code == 400
    assert r.json()["error"] == "bad_json"


def test_json_depth_check() -> None:
    assert not json_too_deep(b'{"a": [1, {"b": [2]}]}', 4)
    assert json_too_deep(b'{"a": [1, {"b": [2]}]}', 3)
    assert json_too_deep(b'[[[[{}]]]]', 4)
    assert not json_too_deep(b'{"a": "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}', 3)  # brackets in strings do not nest
    assert not json_too_deep(b'{"a": "\\"[[[[[[[[[[[[[[[[[[[[[[[[[\\\\"}', 3)
    assert not json_too_deep(b"[" * 50 + b"]" * 50, 64)
    assert json_too_deep(b"[" * 70 + b"]" * 70, 64)
    assert json_too_deep(b"[[[[[[[[[[[", 3)  # unbalanced, and deep either way
    with pytest.raises(ValueError, match="nested"):
        parse_json(b"[" * 100_000 + b"]" * 100_000)
    assert parse_json('[{"a": [1]}]') == [{"a": [1]}]


# --- faults ---------------------------------------------------------------------------------------------------------


def test_fault_seed_is_a_setting_and_makes_faults_reproducible() -> None:
    def statuses(seed: int) -> list[int]:
        app = create_app(HubSpotSandboxConfig(rate_limit=None))
        r = run(call(app, "POST", "/__sandbox__/faults", json={"error_rate": 0.5, "seed": seed},
                     headers=control(app)))
        assert r.status_code == 200, r.text
        assert r.json()["seed"] == seed

        async def go() -> list[int]:
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url=API,
                                         headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}) as c:
                return [(await c.get("/crm/owners/2026-03")).status_code for _ in range(24)]

        return run(go())

    first, again, other = statuses(11), statuses(11), statuses(12)
    assert first == again
    assert first != other
    assert set(first) == {200, 503}
    assert FaultConfig.from_cli(["seed=42", "error-rate=0.1"]).seed == 42
    with pytest.raises(ValueError, match="seed"):
        FaultConfig.from_cli(["seed=many"])


def test_bad_fault_settings_change_nothing() -> None:
    app = create_app(HubSpotSandboxConfig())
    r = run(call(app, "POST", "/__sandbox__/faults", json={"error_rate": 0.2, "seed": "x"}, headers=control(app)))
    assert r.status_code == 400
    assert app.state.sandbox.config.faults.error_rate == 0


# --- limits ---------------------------------------------------------------------------------------------------------


def test_budget_spends_costs_and_refills_each_day() -> None:
    day1, day2 = 1_767_225_600.0, 1_767_225_600.0 + 86_400  # 2026-01-01 and 2026-01-02, 00:00 UTC
    budget = Budget(10, "day")
    assert budget.spend("k", 4, wall=day1) == (True, 6)
    assert budget.spend("k", 7, wall=day1) == (False, 6)  # refused whole: nothing spent
    assert budget.spend("k", 6, wall=day1 + 3600) == (True, 0)
    assert budget.spend("other", 1, wall=day1) == (True, 9)  # per key
    assert budget.remaining("k", wall=day2) == 10
    credits = Budget(3, "never")
    assert [credits.spend("k", wall=w)[0] for w in (day1, day2, day2 + 1e7, day2 + 2e7)] == [True, True, True, False]


# --- an emulator written on the kit, as docs/sandbox.md shows ------------------------------------------------------


class AcmeError(VendorError):
    def __init__(self, status: int, code: str, message: str, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.code = code

    def payload(self, emulator: Emulator) -> Any:
        return {"errors": [{"code": self.code, "details": self.message}]}


class AcmeSandbox(Emulator):
    vendor = "Acme"
    COSTS: ClassVar[dict[str, int]] = {"/v2/lookup": 2}

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        super().__init__(config or EmulatorConfig())
        self.window = RollingWindow(RateLimit(2, 1.0))
        self.credits = Budget(5, "never")

    def authenticate(self, request: GatewayRequest) -> Any:
        key = request.headers.get("x-api-key") or request.query_param("api_key")
        if key != "acme-key":
            raise AcmeError(401, "unauthorized", "No valid API key.")
        return key

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        allowed, remaining = self.window.try_hit(principal, self.config.clock())
        if not allowed:
            raise AcmeError(403, "rate_limited", "Too many requests per second.", limited_by="second")
        cost = self.COSTS.get(request.path, 0)
        if cost and (self.config.faults.credits_exhausted or not self.credits.spend(principal, cost)[0]):
            raise AcmeError(429, "credits_exhausted", "No credits left.", limited_by="credits")
        return {"X-RateLimit-Remaining": str(remaining)}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        return AcmeError(status or {"too_large": 413, "not_found": 404}.get(kind, 400), kind, message)


async def acme_lookup(request: Request) -> Response:
    return ok({"data": {"email": request.query_params.get("email")}})


def test_an_emulator_on_the_kit_gets_gateway_faults_limits_and_control_api() -> None:
    sb = AcmeSandbox()
    app = build_app(sb, [Route("/v2/lookup", acme_lookup)])

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://api.acme.test") as c:
            out = [await c.get("/v2/lookup", params={"email": "a@b.test"})]
            out.append(await c.get("/v2/lookup", params={"email": "a@b.test"}, headers={"X-Api-Key": "acme-key"}))
            out.append(await c.get("/v2/lookup", params={"email": "a@b.test", "api_key": "acme-key"}))
            out.append(await c.get("/v2/lookup", headers={"X-Api-Key": "acme-key"}))  # window: 2 per second
            out.append(await c.get("/v2/nowhere", headers={"X-Api-Key": "acme-key"}))
            return out

    unauth, first, by_query, throttled, missing = run(go())
    assert unauth.status_code == 401
    assert unauth.json() == {"errors": [{"code": "unauthorized",
                                                                     "details": "No valid API key."}]}
    assert first.status_code == 200
    assert first.json()["data"]["email"] == "a@b.test"
    assert first.headers["X-RateLimit-Remaining"] == "1"
    assert by_query.status_code == 200
    assert throttled.status_code == 403
    assert throttled.json()["errors"][0]["code"] == "rate_limited"
    assert missing.status_code == 403  # limits come before routing, as at the vendor's gateway
    assert [e.limited_by for e in sb.requests] == [None, None, None, "second", "second"]
    assert sb.credits.remaining("acme-key") == 1  # two lookups at 2 credits each

    state = run(call(app, "GET", "/__sandbox__/state", headers=control(app))).json()
    assert state["vendor"] == "Acme"
    assert state["counts"]["requests"] == 5
    sb.window.reset()
    r = run(call(app, "GET", "/v2/nowhere", base_url="https://api.acme.test", headers={"X-Api-Key": "acme-key"}))
    assert r.status_code == 404
    assert r.json()["errors"][0]["code"] == "not_found"
    sb.set_faults({"credits_exhausted": True})
    r = run(call(app, "GET", "/v2/lookup", base_url="https://api.acme.test", headers={"X-Api-Key": "acme-key"}))
    assert r.status_code == 429
    assert r.json()["errors"][0]["code"] == "credits_exhausted"


def test_generic_errors_have_the_kits_shape() -> None:
    sb = Emulator(EmulatorConfig(faults=FaultConfig(error_rate=1.0, error_status=502)))
    app = build_app(sb, [Route("/ping", lambda request: ok({"pong": True}))])
    r = run(call(app, "GET", "/ping"))
    assert r.status_code == 502
    assert r.json() == {"error": "server_error", "message": "The service is temporarily unavailable; try again."}
    assert isinstance(sb.error("too_large", "big"), KitError)


# --- the registry -------------------------------------------------------------------------------------------------


def test_every_registered_emulator_starts_and_tells_how_to_connect() -> None:
    from enginy_desktop.sandbox.kit.launch import StartOptions

    assert {"hubspot", "slack"} <= set(EMULATORS)
    for key in EMULATORS:
        spec = emulator_spec(key)
        assert spec.key == key
        started = spec.start(StartOptions(control_token="ctl"))
        assert started.app.control_token == "ctl"
        assert started.credentials
        lines = started.connect("http://127.0.0.1:9999")
        assert any(f"enginy-desktop connect {key} " in line and "--secret-stdin" in line for line in lines)
        assert f"enginy-desktop integrations enable {key}" in lines
        for value in started.credentials.values():
            assert not any(f"--set {value}" in line for line in lines)  # secrets go through stdin


def test_sandbox_list_and_integration_flags(cli: Any) -> None:
    code, out, _ = cli("sandbox", "--list")
    assert code == 0
    for key in EMULATORS:
        assert key in out
    code, _, err = cli("sandbox", "--crm", "slack")
    assert code == 2
    assert "--integration slack" in err
    code, _, err = cli("sandbox", "--integration", "nowhere")
    assert code == 2
    assert "sandbox --list" in err
    code, _, err = cli("sandbox", "--integration", "slack", "--option", "colour=blue")
    assert code == 2
    assert "no option colour" in err
    code, _, err = cli("sandbox", "--crm", "hubspot", "--daily-limit", "lots")
    assert code == 2
    assert "daily-limit" in err


def test_every_integration_has_an_emulator_and_the_docs_name_it() -> None:
    import re

    from enginy_desktop.core import catalog

    assert set(EMULATORS) == set(catalog.integration_keys())
    text = (Path(__file__).resolve().parents[2] / "docs" / "sandbox.md").read_text("utf-8")
    intro = text[:text.index("The pages of those integrations")]
    assert set(re.findall(r"`([a-z]+)`", intro)) >= set(EMULATORS)


# --- tokens and OAuth -----------------------------------------------------------------------------------------------


class OAuthSandbox(Emulator):
    vendor = "Acme"
    public_paths = ("/oauth/",)

    def __init__(self, clock: Any) -> None:
        super().__init__(EmulatorConfig(clock=clock))
        self.tokens = TokenStore(static=("key-1",), clock=clock, faults=lambda: self.config.faults,
                                 access_lifetime_s=3600, clients={"app-1": "secret-1"})

    def authenticate(self, request: GatewayRequest) -> Any:
        try:
            return self.tokens.use(request.bearer())
        except TokenProblem as problem:
            raise KitError(401, "token_" + problem.kind, "Bad token.") from None


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_oauth_with_pkce_and_refresh_at_the_vendors_paths() -> None:
    clock = Clock()
    sb = OAuthSandbox(clock)
    endpoints = OAuthEndpoints(sb.tokens, rotate_refresh=True)
    app = build_app(sb, [*endpoints.routes(authorize="/oauth/authorize", token="/oauth/token",
                                           revoke="/oauth/revoke"),
                         Route("/v1/me", lambda request: ok({"me": True}))])
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).decode().rstrip("=")
    basic = "Basic " + base64.b64encode(b"app-1:secret-1").decode()

    async def go() -> dict[str, Any]:
        out: dict[str, Any] = {}
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app), base_url="https://acme.test") as c:
            r = await c.get("/oauth/authorize", params={"client_id": "app-1", "redirect_uri": "http://127.0.0.1:5/cb",
                                                         "state": "s1", "code_challenge": challenge,
                                                         "code_challenge_method": "S256", "scope": "read write"})
            out["redirect"] = r
            query = dict(parse_qsl(urlsplit(r.headers["location"]).query))
            form = {"grant_type": "authorization_code", "code": query["code"],
                    "redirect_uri": "http://127.0.0.1:5/cb", "code_verifier": "wrong" * 10}
            out["bad_verifier"] = await c.post("/oauth/token", data=form, headers={"Authorization": basic})
            form["code_verifier"] = verifier
            out["token"] = await c.post("/oauth/token", data=form, headers={"Authorization": basic})
            out["reuse"] = await c.post("/oauth/token", data=form, headers={"Authorization": basic})
            access = out["token"].json()["access_token"]
            refresh = out["token"].json()["refresh_token"]
            out["me"] = await c.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
            clock.now += 3601
            out["expired"] = await c.get("/v1/me", headers={"Authorization": f"Bearer {access}"})
            out["refreshed"] = await c.post("/oauth/token", json={"grant_type": "refresh_token",
                                                                  "refresh_token": refresh, "client_id": "app-1",
                                                                  "client_secret": "secret-1"})
            out["old_refresh"] = await c.post("/oauth/token", data={"grant_type": "refresh_token",
                                                                    "refresh_token": refresh, "client_id": "app-1"})
            new = out["refreshed"].json()["access_token"]
            out["me_again"] = await c.get("/v1/me", headers={"Authorization": f"Bearer {new}"})
            out["revoke"] = await c.post("/oauth/revoke", data={"token": new})
            out["revoked"] = await c.get("/v1/me", headers={"Authorization": f"Bearer {new}"})
            out["bad_client"] = await c.post("/oauth/token", data={
                "grant_type": "refresh_token", "refresh_token": out["refreshed"].json()["refresh_token"],
                "client_id": "app-1", "client_secret": "wrong"})
            out["bad_grant"] = await c.post("/oauth/token", data={"grant_type": "password", "client_id": "app-1"})
        return out

    out = run(go())
    assert out["redirect"].status_code == 302
    assert "state=s1" in out["redirect"].headers["location"]
    assert out["bad_verifier"].status_code == 400
    assert out["bad_verifier"].json()["error"] == "invalid_grant"
    token = out["token"].json()
    assert out["token"].status_code == 200
    assert token["token_type"] == "bearer"
    assert token["expires_in"] == 3600
    assert token["scope"] == "read write"
    assert out["reuse"].json()["error"] == "invalid_grant"  # a code works once
    assert out["me"].status_code == 200
    assert out["expired"].status_code == 401
    assert out["expired"].json()["error"] == "token_expired"
    assert out["refreshed"].status_code == 200
    assert out["refreshed"].json()["refresh_token"] != token["refresh_token"]  # rotated
    assert out["old_refresh"].json()["error"] == "invalid_grant"
    assert out["me_again"].status_code == 200
    assert out["revoke"].status_code == 204
    assert out["revoked"].json()["error"] == "token_unknown"
    assert out["bad_client"].status_code == 401
    assert out["bad_client"].json()["error"] == "invalid_client"
    assert out["bad_grant"].json()["error"] == "unsupported_grant_type"


def test_token_ttl_faults_apply_to_static_tokens() -> None:
    clock = Clock()
    faults = FaultConfig(token_ttl_requests=2)
    store = TokenStore(static=("key-1",), clock=clock, faults=faults)
    assert store.use("key-1").uses == 1
    assert store.use("key-1").uses == 2
    with pytest.raises(TokenProblem) as info:
        store.use("key-1")
    assert info.value.kind == "expired"
    faults.update({"token_ttl_requests": None, "token_ttl_s": 5})
    fresh = TokenStore(static=("key-2",), clock=clock, faults=faults)
    fresh.use("key-2")
    clock.now += 6
    with pytest.raises(TokenProblem, match="expired"):
        fresh.use("key-2")
    with pytest.raises(TokenProblem, match="unknown"):
        fresh.use("nope")
    assert pkce_ok("abc", "abc", "plain")
    assert not pkce_ok("abc", "abd", "S256")


# --- the record store -----------------------------------------------------------------------------------------------


def test_record_store_ids_indexes_paging_and_archive() -> None:
    now = [1_000]
    stamped: list[tuple[int, int, bool]] = []
    store = RecordStore(("persons", "orgs"), now_ms=lambda: now[0], first_id=10,
                        stamp=lambda rec, t, created: stamped.append((rec.id, t, created)),
                        unique={"persons": ("email",)}, lookups={"orgs": ("domain",)})
    ana = store.insert("persons", {"email": "Ana@X.test", "name": "Ana", "phone": None})
    org = store.insert("orgs", {"name": "X", "domain": "x.test"})
    bob = store.insert("persons", {"email": "bob@x.test"}, created=500)
    assert (ana.id, org.id, bob.id) == (10, 11, 12)  # one id sequence across types
    assert "phone" not in ana.props
    assert (bob.created, bob.updated) == (500, 500)
    assert store.find_unique("persons", "email", " ana@x.TEST ") is ana  # case-insensitive
    assert store.indexed_ids("orgs", "domain", "X.test") == {org.id}
    assert store.indexed_ids("persons", "name", "Ana") is None  # not indexed: the caller scans
    assert store.conflict("persons", {"email": "BOB@x.test"}, ana.id, ["email"]) == ("email", "BOB@x.test", bob.id)
    assert store.conflict("persons", {"email": "bob@x.test"}, bob.id, ["email"]) is None  # its own value
    assert store.conflict("persons", {"email": "new@x.test"}, None, ["email"],
                          pending={("email", "new@x.test"): 99}) == ("email", "new@x.test", 99)
    now[0] = 2_000
    store.apply(ana, {"email": "ana@y.test", "name": None})
    assert ana.updated == 2_000
    assert "name" not in ana.props
    assert store.find_unique("persons", "email", "ana@x.test") is None
    assert store.find_unique("persons", "email", "ana@y.test") is ana
    assert stamped[-1] == (ana.id, 2_000, False)
    more = [store.insert("persons", {"email": f"p{i}@x.test"}) for i in range(5)]
    assert store.archive(more[1])
    assert not store.archive(more[1])
    assert store.get("persons", more[1].id) is None
    assert store.get("persons", more[1].id, archived=True) is more[1]
    assert store.find_unique("persons", "email", "p1@x.test") is None  # archived records leave the indexes
    page, cursor = store.page("persons", 0, 3)
    assert [r.id for r in page] == [ana.id, bob.id, more[0].id]
    page, cursor = store.page("persons", cursor or 0, 3)
    assert [r.id for r in page] == [more[2].id, more[3].id, more[4].id]
    assert cursor is None
    assert store.page("persons", 0, 10, archived=True)[0] == [more[1]]
    assert store.count("persons") == 6
    store.unique_index("orgs", "name")  # a unique index added later is built from the records
    assert store.find_unique("orgs", "name", "x") is org
    store.clear()
    assert store.count("persons") == 0
    assert store.insert("orgs", {}).id == 10


def test_an_unexpected_failure_answers_the_vendors_500_not_plain_text() -> None:
    def broken(request: Request) -> Response:
        raise RuntimeError("bug")

    app = build_app(AcmeSandbox(), [Route("/v2/broken", broken)])

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.acme.test") as c:
            return await c.get("/v2/broken", headers={"X-Api-Key": "acme-key"})

    r = run(go())
    assert r.status_code == 500
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["errors"][0]["code"] == "server_error"


def test_printed_connect_lines_paste_into_a_shell_as_they_are() -> None:
    """The line a user pastes gives the connect command the exact secret: a secret with a '!' (a real Salesforce
    session id has one) is single-quoted, or an interactive bash expands it as a history event and refuses the
    line."""
    import shlex

    from enginy_desktop.sandbox.kit.launch import StartOptions

    for key in EMULATORS:
        started = emulator_spec(key).start(StartOptions(control_token="ctl"))
        for line in started.connect("http://127.0.0.1:9999"):
            if not line.startswith("echo "):
                continue
            echo, _, command = line.partition(" | ")
            words = shlex.split(echo)
            assert words[0] == "echo"
            assert len(words) == 2
            assert words[1] in started.credentials.values() or words[1].startswith("http://127.0.0.1:9999")
            assert shlex.split(command)[:3] == ["enginy-desktop", "connect", key]

    from enginy_desktop.sandbox.kit.launch import connect_commands

    secret = "00DSANDBOX!AQ session$token"  # a session id's '!', a space, a '$': single-quoted, given back exactly
    line = connect_commands("salesforce", {"base_url": "http://127.0.0.1:9999"}, "access_token", secret)[0]
    echo, _, _ = line.partition(" | ")
    assert echo == f"echo '{secret}'"
    assert shlex.split(echo) == ["echo", secret]
