"""Fault injection shared by the emulators: latency, 5xx errors, hangs, dropped connections, expiring tokens,
exhausted credits.

Faults are set when an app is created and can be changed while it runs (the control API under
``/__sandbox__/faults``). Every random choice comes from one seeded generator (``seed``), so a test that sends
the same requests in the same order sees the same faults.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Literal

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)?\s*$", re.IGNORECASE)

FaultKind = Literal["drop", "timeout", "error"]


def parse_duration(text: str, default_unit: str = "ms") -> float:
    """``"50ms"`` -> 0.05, ``"2s"`` -> 2.0, ``"1m"`` -> 60.0; a bare number uses ``default_unit``. Seconds."""
    m = _DURATION.match(str(text))
    if not m:
        raise ValueError(f"'{text}' is not a duration; write e.g. 50ms, 2s or 1m")
    value = float(m.group(1))
    unit = (m.group(2) or default_unit).lower()
    return value / 1000 if unit == "ms" else value * 60 if unit == "m" else value


def _rate(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name} must be a number between 0 and 1, got '{text}'") from None
    if not 0 <= value <= 1:
        raise ValueError(f"{name} must be between 0 and 1, got {value}")
    return value


@dataclass
class FaultConfig:
    """What goes wrong, and how often. Rates are probabilities per request (0..1); their sum is at most 1.

    - ``latency_ms`` (+ up to ``jitter_ms``) is added to every request before it is answered.
    - ``error_rate``: answer with ``error_status`` (a 5xx) and the vendor's error body.
    - ``timeout_rate``: hang for ``hang_s`` seconds (longer than any sane client timeout) and then answer 504.
      In-process (ASGITransport, which has no timeouts) the hang raises the client's read-timeout error at once.
    - ``drop_rate``: close the connection without a response. In-process it raises the client's
      "server disconnected" transport error.
    - ``token_ttl_requests`` / ``token_ttl_s``: each access token stops working after that many requests or
      seconds from its first use (401 with the vendor's expired-token body); a refreshed token starts afresh.
    - ``credits_exhausted``: every request that spends credits is refused the way the vendor says "out of
      credits" (for vendors that sell credits; others ignore it).
    - ``path_prefix``: when set, faults only hit paths that start with it (token expiry is not filtered).
    - ``seed``: the seed of the fault generator; setting it restarts the generator, so the same requests in the
      same order meet the same faults. ``None``: derived from the emulator's ``random_seed``.
    """

    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    timeout_rate: float = 0.0
    hang_s: float = 120.0
    drop_rate: float = 0.0
    token_ttl_requests: int | None = None
    token_ttl_s: float | None = None
    credits_exhausted: bool = False
    path_prefix: str = ""
    seed: int | None = None

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        for name in ("error_rate", "timeout_rate", "drop_rate"):
            value = getattr(self, name)
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        if self.error_rate + self.timeout_rate + self.drop_rate > 1:
            raise ValueError("error_rate + timeout_rate + drop_rate must not exceed 1")
        if not 500 <= self.error_status <= 599:
            raise ValueError(f"error_status must be a 5xx status, got {self.error_status}")
        if self.latency_ms < 0 or self.jitter_ms < 0 or self.hang_s < 0:
            raise ValueError("latency, jitter and hang durations cannot be negative")
        if self.token_ttl_requests is not None and self.token_ttl_requests < 1:
            raise ValueError("token_ttl_requests must be at least 1")
        if self.token_ttl_s is not None and self.token_ttl_s <= 0:
            raise ValueError("token_ttl_s must be positive")

    def update(self, values: Mapping[str, Any]) -> None:
        """Change some fields (JSON names as in :meth:`as_json`); unknown names or bad values raise ValueError."""
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(f"unknown fault setting(s): {', '.join(unknown)}; known: {', '.join(known)}")
        before = asdict(self)
        try:
            for name, value in values.items():
                if value is None and name in ("token_ttl_requests", "token_ttl_s", "seed"):
                    setattr(self, name, None)
                elif name == "path_prefix":
                    setattr(self, name, str(value))
                elif name == "credits_exhausted":
                    if not isinstance(value, bool):
                        raise ValueError(f"credits_exhausted must be true or false, got {value!r}")
                    setattr(self, name, value)
                elif name in ("error_status", "token_ttl_requests", "seed"):
                    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                        raise ValueError(f"{name} must be a whole number, got {value!r}")
                    setattr(self, name, int(value))
                else:
                    setattr(self, name, float(value))
            self.validate()
        except (TypeError, ValueError):
            for name, value in before.items():
                setattr(self, name, value)
            raise

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def active(self) -> bool:
        return bool(
            self.latency_ms or self.jitter_ms or self.error_rate or self.timeout_rate or self.drop_rate
            or self.token_ttl_requests or self.token_ttl_s or self.credits_exhausted
        )

    @classmethod
    def from_cli(cls, items: list[str]) -> FaultConfig:
        """Parse ``--fault NAME=VALUE`` items: ``latency=50ms``, ``jitter=20ms``, ``error-rate=0.05``,
        ``error-status=502``, ``timeout-rate=0.01``, ``hang=30s``, ``drop-rate=0.01``,
        ``token-ttl=100`` (requests) or ``token-ttl=30s`` (seconds), ``credits=exhausted``, ``path=/crm/objects``,
        ``seed=42``."""
        config = cls()
        values: dict[str, Any] = {}
        for item in items:
            name, sep, value = item.partition("=")
            name = name.strip().lower().replace("_", "-")
            if not sep or not value.strip():
                raise ValueError(f"--fault expects NAME=VALUE, got '{item}'")
            value = value.strip()
            if name == "latency":
                values["latency_ms"] = parse_duration(value) * 1000
            elif name == "jitter":
                values["jitter_ms"] = parse_duration(value) * 1000
            elif name in ("error-rate", "5xx-rate"):
                values["error_rate"] = _rate(name, value)
            elif name == "error-status":
                values["error_status"] = int(value)
            elif name == "timeout-rate":
                values["timeout_rate"] = _rate(name, value)
            elif name == "hang":
                values["hang_s"] = parse_duration(value, default_unit="s")
            elif name == "drop-rate":
                values["drop_rate"] = _rate(name, value)
            elif name == "token-ttl":
                if value.isdigit():
                    values["token_ttl_requests"] = int(value)
                else:
                    values["token_ttl_s"] = parse_duration(value, default_unit="s")
            elif name == "path":
                values["path_prefix"] = value
            elif name == "credits":
                if value.lower() not in ("exhausted", "ok"):
                    raise ValueError(f"credits must be 'exhausted' or 'ok', got '{value}'")
                values["credits_exhausted"] = value.lower() == "exhausted"
            elif name == "seed":
                try:
                    values["seed"] = int(value)
                except ValueError:
                    raise ValueError(f"seed must be a whole number, got '{value}'") from None
            else:
                raise ValueError(
                    f"unknown fault '{name}'; use latency, jitter, error-rate, error-status, timeout-rate, "
                    "hang, drop-rate, token-ttl, credits, path or seed"
                )
        config.update(values)
        return config


class FaultInjector:
    """Draws the fault (if any) for each request from a seeded generator.

    ``default_seed`` is used unless the configuration names its own ``seed``.
    """

    def __init__(self, config: FaultConfig, default_seed: int) -> None:
        self.config = config
        self.default_seed = default_seed
        self._rng = random.Random(self.seed)

    @property
    def seed(self) -> int:
        return self.config.seed if self.config.seed is not None else self.default_seed

    def reseed(self, default_seed: int | None = None) -> None:
        """Restart the generator: from the configured ``seed`` if there is one, else from ``default_seed`` (or
        the previous default)."""
        if default_seed is not None:
            self.default_seed = default_seed
        self._rng = random.Random(self.seed)

    def applies_to(self, path: str) -> bool:
        return not self.config.path_prefix or path.startswith(self.config.path_prefix)

    def latency_s(self) -> float:
        c = self.config
        if not c.latency_ms and not c.jitter_ms:
            return 0.0
        jitter = self._rng.uniform(0, c.jitter_ms) if c.jitter_ms else 0.0
        return (c.latency_ms + jitter) / 1000

    def draw(self) -> FaultKind | None:
        c = self.config
        if not (c.drop_rate or c.timeout_rate or c.error_rate):
            return None
        u = self._rng.random()
        if u < c.drop_rate:
            return "drop"
        if u < c.drop_rate + c.timeout_rate:
            return "timeout"
        if u < c.drop_rate + c.timeout_rate + c.error_rate:
            return "error"
        return None


# --- transport-level tricks (uvicorn vs in-process) ----------------------------------------------------------


def server_transport(send: Any) -> asyncio.BaseTransport | None:
    """The socket transport behind an ASGI ``send`` when the app runs under uvicorn, else ``None``.

    uvicorn's ``send`` is a bound method of its per-request cycle object, which holds the transport; the
    in-process ASGITransport has none. This is the one place that relies on that detail.
    """
    cycle = getattr(send, "__self__", None)
    transport = getattr(cycle, "transport", None)
    return transport if isinstance(transport, asyncio.BaseTransport) else None


async def drop_connection(send: Any) -> None:
    """Close the client's connection without a response (under uvicorn), or raise the error httpx raises when
    a server hangs up (in-process)."""
    transport = server_transport(send)
    if transport is None:
        import httpx  # only in-process clients reach this branch

        raise httpx.RemoteProtocolError("Server disconnected without sending a response.")
    transport.abort()  # type: ignore[attr-defined]
    # Let the server notice the lost connection, so it neither logs an error nor tries to answer 500.
    for _ in range(3):
        await asyncio.sleep(0)
    cycle = getattr(send, "__self__", None)
    if cycle is not None and hasattr(cycle, "disconnected"):
        cycle.disconnected = True


async def hang(send: Any, receive: Any, seconds: float, stop: asyncio.Event | None) -> bool:
    """Wait ``seconds`` (or until the client goes away or ``stop`` is set). Returns True when the client left.

    In-process there is no client timeout to trip, so the wait is replaced by httpx's read-timeout error.
    """
    if server_transport(send) is None:
        import httpx

        raise httpx.ReadTimeout("The sandbox did not answer (injected timeout).")

    async def client_left() -> None:
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return

    waiters: list[asyncio.Future[Any]] = [asyncio.ensure_future(client_left())]
    if stop is not None:
        waiters.append(asyncio.ensure_future(stop.wait()))
    done, pending = await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return waiters[0] in done
