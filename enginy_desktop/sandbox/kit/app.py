"""Assemble an emulator's ASGI app: the vendor's routes and the control API behind the gateway."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from .control import control_routes
from .emulator import Emulator
from .errors import ControlError, VendorError
from .gateway import CONTROL_PREFIX, Gateway


class EmulatorApp(Starlette):
    """Starlette with the kit's gateway outside every middleware, so it sees the server's own ``send``.

    ``app.state.sandbox`` is the emulator; ``app.control_token`` the control API's token.
    """

    gateway: Gateway

    def build_middleware_stack(self) -> Any:
        self.gateway = Gateway(super().build_middleware_stack(), self.state.sandbox)
        return self.gateway

    @property
    def emulator(self) -> Emulator:
        em: Emulator = self.state.sandbox
        return em

    @property
    def control_token(self) -> str:
        return self.emulator.control_token


def build_app(emulator: Emulator, routes: Iterable[BaseRoute]) -> EmulatorApp:
    """The app of ``emulator``: its ``routes``, the control API, and answers in the vendor's shape for
    :class:`VendorError`, unknown paths, wrong methods and unexpected failures (never a plain-text 500)."""

    async def vendor_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, VendorError)
        return _response(exc, emulator)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        control = request.url.path.startswith(CONTROL_PREFIX)
        if exc.status_code == 404:
            message = f"No endpoint matches {request.method} {request.url.path} in the sandbox."
            err = ControlError(404, "not_found", message) if control else emulator.error("not_found", message)
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}."
            err = (ControlError(405, "method_not_allowed", message) if control
                   else emulator.error("method_not_allowed", message))
        else:
            err = (ControlError(exc.status_code, "bad_request", str(exc.detail)) if control
                   else emulator.error("bad_request", str(exc.detail), status=exc.status_code))
        return _response(err, emulator)

    async def unexpected(request: Request, exc: Exception) -> Response:
        return _response(emulator.error("server_error", f"The sandbox failed: {type(exc).__name__}.", status=500),
                         emulator)

    app = EmulatorApp(
        routes=[*routes, *control_routes(emulator)],
        exception_handlers={VendorError: vendor_error, HTTPException: http_error, Exception: unexpected},
    )
    app.state.sandbox = emulator
    return app


def _response(exc: VendorError, emulator: Emulator) -> Response:
    status, headers, body = exc.render(emulator)
    out = Response(body, status_code=status)
    out.raw_headers = [h for h in out.raw_headers if h[0] not in (b"content-length", b"content-type")] + headers
    return out
