"""The emulator kit: what every local emulator of a vendor API shares (DESIGN §9).

An emulator is an :class:`Emulator` subclass (its state and the vendor's rules) plus Starlette routes (its
endpoints), assembled by :func:`build_app`::

    from enginy_desktop.sandbox.kit import Emulator, EmulatorConfig, KitError, build_app, ok

    class AcmeSandbox(Emulator):
        vendor = "Acme"
        def authenticate(self, request): ...      # bearer token, vendor header or query parameter, or raise 401
        def limit(self, principal, request): ...  # rolling windows, bursts, budgets, costs: headers or raise 429
        def error(self, kind, message, *, status=None): ...  # the vendor's shape for each ErrorKind

    app = build_app(AcmeSandbox(EmulatorConfig()), routes=[Route("/v1/things", list_things)])

The pieces:

- :mod:`.gateway` — the outermost ASGI layer: request log, faults, body and nesting limits, credentials, limits;
  and the checks of the control API (loopback ``Host``, control token, JSON only).
- :mod:`.emulator` — :class:`Emulator` (the hooks) and :class:`EmulatorConfig` (seed, faults, clocks, limits).
- :mod:`.errors` — :class:`VendorError` (an answer in the vendor's shape) and the :data:`ErrorKind` names.
- :mod:`.faults` — :class:`FaultConfig` (latency, 5xx rate, hangs, drops, token TTL, exhausted credits, seed).
- :mod:`.limits` — :class:`RateLimit` / :class:`RollingWindow` (windows and bursts), :class:`Budget` (daily or
  monthly allocations, per-operation costs, credits).
- :mod:`.store` — :class:`RecordStore`: records by type with one id sequence, timestamps, unique and lookup
  indexes (case-insensitive), paging by id, archiving.
- :mod:`.tokens` — :class:`TokenStore`: API keys and private-app tokens, OAuth access and refresh tokens,
  authorization codes with PKCE, the token-lifetime faults.
- :mod:`.oauth` — :class:`OAuthEndpoints`: authorize / token / revoke handlers to mount at the vendor's paths.
- :mod:`.control` — the control API under ``/__sandbox__/``.
- :mod:`.http` — JSON responses and parsing with a nesting limit.
- :mod:`.server` — :func:`serve` (background thread) and :func:`run_forever` (the ``sandbox`` command).

``docs/sandbox.md`` ("Writing an emulator on the kit") walks through a complete example.
"""

from __future__ import annotations

from .app import EmulatorApp, build_app
from .emulator import LOOPBACK_HOSTS, Emulator, EmulatorConfig, GatewayRequest, RequestLogEntry, sample_counts
from .errors import ControlError, ErrorKind, KitError, ODataError, VendorError
from .faults import FaultConfig, FaultInjector
from .http import JSONBody, no_content, ok, parse_json
from .limits import Budget, RateLimit, RollingWindow, WindowSetting
from .oauth import OAuthEndpoints, OAuthError
from .store import Record, RecordStore
from .tokens import OAuthProblem, TokenInfo, TokenProblem, TokenStore

__all__ = [
    "LOOPBACK_HOSTS",
    "Budget",
    "ControlError",
    "Emulator",
    "EmulatorApp",
    "EmulatorConfig",
    "ErrorKind",
    "FaultConfig",
    "FaultInjector",
    "GatewayRequest",
    "JSONBody",
    "KitError",
    "OAuthEndpoints",
    "OAuthError",
    "OAuthProblem",
    "ODataError",
    "RateLimit",
    "Record",
    "RecordStore",
    "RequestLogEntry",
    "RollingWindow",
    "TokenInfo",
    "TokenProblem",
    "TokenStore",
    "VendorError",
    "WindowSetting",
    "build_app",
    "no_content",
    "ok",
    "parse_json",
    "sample_counts",
]
