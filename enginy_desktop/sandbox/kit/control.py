"""The control API under ``/__sandbox__/``: inspect and steer an emulator while it runs.

Every emulator on the kit has these routes (the gateway checks the loopback ``Host``, the control token and the
JSON content type before any of them runs):

===========================================  =====================================================================
``GET  /__sandbox__/state``                  counts, limits, faults (never tokens or other credentials)
``POST /__sandbox__/reset`` ``{"seed": b}``  forget records, tokens and counters; seed again unless ``false``
``POST /__sandbox__/seed`` ``{…}``           add sample records (the vendor says which keys it takes)
``GET/POST /__sandbox__/faults``             read or change faults (``FaultConfig`` names; ``seed`` restarts)
``GET/POST /__sandbox__/rate-limit``         read or change limits (the vendor says which; alias ``limits``)
``GET  /__sandbox__/requests?since=N``       the request log
``POST /__sandbox__/tokens/expire``          make issued access tokens expire now
``POST /__sandbox__/oauth/code``             mint an authorization code without the browser step
===========================================  =====================================================================

Errors answer in the kit's shape (:class:`~enginy_desktop.sandbox.kit.errors.ControlError`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from itertools import islice
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from .emulator import Emulator
from .errors import ControlError
from .http import ok, parse_json


async def control_json(request: Request, emulator: Emulator, *, required: bool = True) -> Any:
    """The JSON body of a control request (``{}`` when empty and not required)."""
    raw = await request.body()
    if not raw.strip():
        if required:
            raise ControlError(400, "bad_json", "Send a JSON object.")
        return {}
    try:
        data = parse_json(raw, emulator.config.max_json_depth)
    except ValueError as exc:
        raise ControlError(400, "bad_json", f"The body is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ControlError(400, "bad_json", "Send a JSON object.")
    return data


def _bad(exc: Exception) -> ControlError:
    return ControlError(400, "bad_value", str(exc))


class Control:
    """The handlers; :func:`control_routes` mounts them."""

    def __init__(self, emulator: Emulator) -> None:
        self.em = emulator

    async def state(self, request: Request) -> Response:
        return ok(self.em.state_json())

    async def reset(self, request: Request) -> Response:
        body = await control_json(request, self.em, required=False)
        self.em.reset(seed=bool(body.get("seed", True)))
        return ok({"counts": self.em.counts()})

    async def seed(self, request: Request) -> Response:
        body = await control_json(request, self.em, required=False)
        try:
            done = self.em.seed_sample(body)
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from None
        return ok({"seeded": done, "counts": self.em.counts()})

    async def faults(self, request: Request) -> Response:
        if request.method == "POST":
            body = await control_json(request, self.em)
            try:
                return ok(self.em.set_faults(body))
            except (TypeError, ValueError) as exc:
                raise _bad(exc) from None
        return ok(self.em.config.faults.as_json())

    async def limits(self, request: Request) -> Response:
        if request.method == "POST":
            body = await control_json(request, self.em)
            try:
                return ok(self.em.set_limits(body))
            except (TypeError, ValueError) as exc:
                raise _bad(exc) from None
        return ok(self.em.limits_json())

    async def requests(self, request: Request) -> Response:
        raw = request.query_params.get("since", "0") or "0"
        if not raw.isdigit():
            raise ControlError(400, "bad_value", f"since must be a whole number, got '{raw}'.")
        entries = [e.as_json() for e in islice(self.em.requests, int(raw), None)]
        return ok({"total": len(self.em.requests), "results": entries})

    async def expire_tokens(self, request: Request) -> Response:
        return ok({"expired": self.em.expire_tokens()})

    async def oauth_code(self, request: Request) -> Response:
        body = await control_json(request, self.em, required=False)
        try:
            return ok({"code": self.em.issue_code_for_control(body)})
        except (TypeError, ValueError) as exc:
            raise _bad(exc) from None


def control_routes(emulator: Emulator) -> list[BaseRoute]:
    """The ``/__sandbox__/…`` routes of ``emulator`` (the standard ones, then the vendor's own)."""
    c = Control(emulator)
    table: list[tuple[str, Callable[[Request], Awaitable[Response]], tuple[str, ...]]] = [
        ("/state", c.state, ("GET",)),
        ("/reset", c.reset, ("POST",)),
        ("/seed", c.seed, ("POST",)),
        ("/faults", c.faults, ("GET", "POST")),
        ("/rate-limit", c.limits, ("GET", "POST")),
        ("/limits", c.limits, ("GET", "POST")),
        ("/requests", c.requests, ("GET",)),
        ("/tokens/expire", c.expire_tokens, ("POST",)),
        ("/oauth/code", c.oauth_code, ("POST",)),
    ]
    routes: list[BaseRoute] = [Route("/__sandbox__" + p, fn, methods=list(m)) for p, fn, m in table]
    routes.extend(emulator.control_routes())
    return routes
