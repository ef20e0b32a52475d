"""The base every emulator's state derives from: configuration, faults, request log, control token, and the
hooks the gateway and the control API call.

A vendor emulator subclasses :class:`Emulator` (and :class:`EmulatorConfig` for its settings) and overrides:

- :meth:`Emulator.authenticate` — who is calling (bearer token, a vendor header, a query parameter…), or raise
  the vendor's 401;
- :meth:`Emulator.limit` — count the request against the vendor's limits (rolling windows, bursts, daily
  budgets, per-operation costs, credits) and return the headers to add, or raise the vendor's throttling answer;
- :meth:`Emulator.error` — the vendor's answer for each :data:`~enginy_desktop.sandbox.kit.errors.ErrorKind`;
- :meth:`Emulator.reset`, :meth:`Emulator.counts`, and optionally :meth:`Emulator.seed_sample`,
  :meth:`Emulator.limits_json` / :meth:`Emulator.set_limits`, :meth:`Emulator.control_routes`.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.routing import BaseRoute

from .errors import DEFAULT_STATUS, ErrorKind, KitError, VendorError
from .faults import FaultConfig, FaultInjector
from .http import DEFAULT_MAX_BODY_BYTES, DEFAULT_MAX_JSON_DEPTH
from .limits import WindowSetting
from .tokens import TokenStore

LOOPBACK_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1", "[::1]")


@dataclass
class EmulatorConfig:
    """Settings every emulator has. Vendor configurations subclass it (all fields have defaults)."""

    random_seed: int = 7  # sample data, ids and (unless ``faults.seed`` is set) the fault generator
    faults: FaultConfig = field(default_factory=FaultConfig)
    max_logged_requests: int = 200_000  # the oldest half is dropped when the log is full
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES  # larger request bodies answer the vendor's 413
    max_json_depth: int = DEFAULT_MAX_JSON_DEPTH  # deeper JSON answers the vendor's 400
    control_token: str | None = None  # the control API's token; None: a random one per start
    control_hosts: tuple[str, ...] = LOOPBACK_HOSTS  # Host header values the control API accepts
    clock: Callable[[], float] = time.monotonic  # limits and token lifetimes
    wall_clock: Callable[[], float] = time.time  # record timestamps and the request log


@dataclass
class RequestLogEntry:
    """One request as the emulator saw it. ``at`` is wall-clock seconds, ``t`` the monotonic clock."""

    seq: int
    method: str
    path: str
    query: str
    at: float
    t: float
    status: int | None = None  # None: the connection was dropped
    duration_s: float = 0.0
    token_kind: str | None = None
    fault: str | None = None  # "latency", "error", "timeout", "drop"
    limited_by: str | None = None  # the limit that refused it (the vendor's policy name)

    def as_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GatewayRequest:
    """What the gateway knows of a request before the vendor's routes see it (headers lower-cased)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]

    def bearer(self) -> str | None:
        """The token of ``Authorization: Bearer …``, or None."""
        scheme, _, token = self.headers.get("authorization", "").partition(" ")
        token = token.strip()
        return token if scheme.lower() == "bearer" and token else None

    def query_param(self, name: str) -> str | None:
        from urllib.parse import parse_qs

        values = parse_qs(self.query, keep_blank_values=True).get(name)
        return values[0] if values else None


class Emulator:
    """State and behaviour of one emulated vendor account. See the module docstring for the hooks."""

    vendor = "Sandbox"  # the vendor's display name
    public_paths: tuple[str, ...] = ()  # path prefixes that need no credentials (e.g. OAuth token endpoints)
    # The vendor's credentials, when they live in a TokenStore: ``reset`` forgets the issued ones and
    # ``/__sandbox__/tokens/expire`` expires them.
    tokens: TokenStore | None = None
    # With ``tokens``: the redirect URI ``/__sandbox__/oauth/code`` mints codes for unless the body names one (and
    # the client id is the body's or the configuration's ``client_id``); None: the vendor has no such control.
    oauth_redirect_uri: str | None = None
    # The vendor's one rolling-window limit, when that is all ``/__sandbox__/rate-limit`` reads and changes (the
    # default ``limits_json``/``set_limits`` use it, ``reset`` empties it); ``limit`` is yours to write.
    window_limit: WindowSetting | None = None

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self.faults = FaultInjector(config.faults, config.random_seed + 1)
        self.requests: list[RequestLogEntry] = []
        self.control_token = config.control_token or secrets.token_urlsafe(24)

    # -- hooks for the gateway ----------------------------------------------------------------------------

    def is_public(self, path: str) -> bool:
        return any(path.startswith(p) for p in self.public_paths)

    def authenticate(self, request: GatewayRequest) -> Any:
        """Who calls: return a principal (anything; a :class:`~.tokens.TokenInfo` has ``kind`` for the log and
        ``token`` as the key of per-caller limits), or raise the vendor's error. Default: everyone may call."""
        return None

    def limit(self, principal: Any, request: GatewayRequest) -> Mapping[str, str]:
        """Count the request against the limits: the headers to add to the answer, or raise the vendor's
        throttling error (with ``limited_by`` set). Default: no limits."""
        return {}

    def error(self, kind: ErrorKind, message: str, *, status: int | None = None) -> VendorError:
        """The vendor's answer for ``kind``. Override to give the vendor's own status, body and headers."""
        return KitError(status or DEFAULT_STATUS[kind], kind, message)

    def log_request(self, method: str, path: str, query: str) -> RequestLogEntry:
        cfg = self.config
        if len(self.requests) >= cfg.max_logged_requests:
            del self.requests[: len(self.requests) // 2]
        entry = RequestLogEntry(len(self.requests) + 1, method, path, query, cfg.wall_clock(), cfg.clock())
        self.requests.append(entry)
        return entry

    # -- hooks for the control API ------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Record counts and request figures for ``/__sandbox__/state``."""
        return {"requests": len(self.requests),
                "rate_limited": sum(1 for r in self.requests if r.limited_by is not None)}

    def state_json(self) -> dict[str, Any]:
        """``GET /__sandbox__/state``. Never lists tokens or other credentials."""
        return {"vendor": self.vendor, "counts": self.counts(), "limits": self.limits_json(),
                "faults": self.config.faults.as_json()}

    def reset(self, *, seed: bool = True) -> None:
        """Forget every record, token and counter (and seed the sample data again unless ``seed`` is False)."""
        self.requests.clear()
        self.faults.reseed()
        if self.tokens is not None:
            self.tokens.reset()
        if self.window_limit is not None:
            self.window_limit.reset()

    def seed_sample(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /__sandbox__/seed``: add sample records; raise ``ValueError`` for bad values."""
        raise ValueError(f"The {self.vendor} sandbox has no sample data to add.")

    def set_faults(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """Change fault settings (``ValueError`` for bad ones); a ``seed`` restarts the fault generator."""
        self.config.faults.update(values)
        if "seed" in values:
            self.faults.reseed()
        return self.config.faults.as_json()

    def limits_json(self) -> dict[str, Any]:
        return self.window_limit.as_json() if self.window_limit is not None else {}

    def set_limits(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /__sandbox__/rate-limit``; raise ``ValueError`` for bad values."""
        if self.window_limit is not None:
            self.window_limit.update(values)
        elif values:
            raise ValueError(f"The {self.vendor} sandbox has no limits to change.")
        return self.limits_json()

    def expire_tokens(self) -> int:
        """``POST /__sandbox__/tokens/expire``: make issued access tokens expire now; how many."""
        return self.tokens.expire_all() if self.tokens is not None else 0

    def issue_code_for_control(self, body: Mapping[str, Any]) -> str:
        """``POST /__sandbox__/oauth/code``: an authorization code without the browser step."""
        if self.tokens is None or self.oauth_redirect_uri is None:
            raise ValueError(f"The {self.vendor} sandbox has no OAuth.")
        return self.tokens.issue_code(str(body.get("client_id") or getattr(self.config, "client_id", "")),
                                      str(body.get("redirect_uri") or self.oauth_redirect_uri),
                                      code_challenge=str(body.get("code_challenge") or "") or None,
                                      method=str(body.get("code_challenge_method") or "S256"))

    def control_routes(self) -> Iterable[BaseRoute]:
        """Extra ``/__sandbox__/…`` routes of this vendor (they get the control API's checks)."""
        return ()


def sample_counts(body: Mapping[str, Any], records: tuple[str, ...], parents: tuple[str, ...]
                  ) -> tuple[int, int | None]:
    """The two counts of ``POST /__sandbox__/seed`` for an emulator whose records hang off parents (contacts and
    their companies): the first of the ``records`` keys the body has (0 when none), the first of the ``parents``
    keys (None when none: the emulator's default share). ``ValueError`` for a negative or non-numeric count."""
    main = next((body[k] for k in records if k in body), 0)
    other = next((body[k] for k in parents if k in body), None)
    count = int(main or 0)
    parent_count = int(other) if other is not None else None
    if count < 0 or (parent_count is not None and parent_count < 0):
        raise ValueError("counts cannot be negative")
    return count, parent_count
