"""The sandbox's admin API under ``/__sandbox__/`` (no auth, no limits, not logged)."""

from __future__ import annotations

from itertools import islice

from starlette.requests import Request
from starlette.responses import Response

from .hubspot_http import (
    int_param,
    json_body,
    ok,
)
from .hubspot_state import (
    HubSpotSandbox,
    validation_error,
)
from .ratelimit import RateLimit

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
