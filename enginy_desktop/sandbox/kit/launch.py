"""How the ``enginy-desktop sandbox`` command starts an emulator: each emulator module exposes one
:class:`EmulatorSpec`, registered by one line in :data:`enginy_desktop.sandbox.registry.EMULATORS`.

``spec.start(options)`` builds the app from the command's options and returns a :class:`Started`: the app, the
credentials to print, a few lines about its state, and — given the base URL once the port is bound — the
exact commands that point Enginy Desktop at it.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, overload

from .app import EmulatorApp
from .faults import FaultConfig
from .limits import RateLimit

Kind = Literal["crm", "enrichment", "ai", "source", "notify"]


@dataclass(frozen=True)
class StartOptions:
    """What the command line asked for; an emulator uses what applies to it."""

    seed: int = 0  # sample records to start with (contacts for a CRM)
    random_seed: int = 7  # seed of the sample data and of the faults
    faults: FaultConfig = field(default_factory=FaultConfig)
    rate_limit: RateLimit | Literal["default"] | None = "default"  # "default": the vendor's usual limit
    options: Mapping[str, str] = field(default_factory=dict)  # vendor options (``--option NAME=VALUE``)
    control_token: str | None = None  # None: a random one

    def common(self) -> dict[str, Any]:
        """What every emulator's configuration takes from the command as it is: ``random_seed``, ``faults`` and
        ``control_token`` (``Config(..., **options.common())``)."""
        return {"random_seed": self.random_seed, "faults": self.faults, "control_token": self.control_token}


@dataclass
class Started:
    app: EmulatorApp
    credentials: dict[str, str]  # label -> value, e.g. {"Token": "pat-…"}
    summary: list[str]  # a few lines: sample data, limits
    connect: Callable[[str], list[str]]  # base URL -> the shell commands that connect the app to it
    # base URL -> the connection settings the app saves to use it, secrets included (what ``connect`` types);
    # None when the emulator cannot be connected without a person (the demo then cannot use it)
    settings: Callable[[str], dict[str, str]] | None = None


@dataclass(frozen=True)
class EmulatorSpec:
    key: str  # the integration's catalog key
    title: str  # "HubSpot"
    kind: Kind
    summary: str  # one line for ``sandbox --list``
    start: Callable[[StartOptions], Started]
    options: Mapping[str, str] = field(default_factory=dict)  # vendor option name -> help text


class OptionError(ValueError):
    """A bad option value; the message says which and what is allowed."""


def take_options(spec: EmulatorSpec, options: Mapping[str, str]) -> dict[str, str]:
    """``options`` checked against the ones ``spec`` declares (OptionError names the unknown ones)."""
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        known = ", ".join(sorted(spec.options)) or "none"
        raise OptionError(f"the {spec.title} sandbox has no option {', '.join(unknown)} (it has: {known})")
    return dict(options)


@overload
def count_option(options: Mapping[str, str], name: str, default: str) -> int | None: ...
@overload
def count_option(options: Mapping[str, str], name: str, default: str, *words: str) -> int | str | None: ...
def count_option(options: Mapping[str, str], name: str, default: str, *words: str) -> int | str | None:
    """A vendor option that is a positive number or ``off`` (None), or one of ``words`` (returned as written, e.g.
    ``"plan"`` for "the plan's figure"). OptionError says what is allowed."""
    raw = options.get(name, default).strip().lower()
    if raw in ("off", "none"):
        return None
    if raw in words:
        return raw
    if not raw.isdigit() or int(raw) < 1:
        allowed = ", ".join(["a positive number", *(f"'{w}'" for w in words)])
        raise OptionError(f"{name} must be {allowed} or 'off'")
    return int(raw)


def switch_option(options: Mapping[str, str], name: str, default: str = "off") -> bool:
    """A vendor option that is ``on`` or ``off``."""
    raw = options.get(name, default).strip().lower()
    if raw not in ("on", "off"):
        raise OptionError(f"{name} must be on or off")
    return raw == "on"


def secret_started(app: EmulatorApp, key: str, summary: list[str], *, label: str, field: str, secret: str,
                   settings: Callable[[str], dict[str, str]] | None = None, demo: bool = True,
                   credentials: Mapping[str, str] | None = None) -> Started:
    """The :class:`Started` of an emulator that one secret connects to: it prints ``label: secret`` (and any other
    ``credentials``) and the commands that save ``settings(base URL)`` (default: ``base_url``) with the secret in
    ``field``; ``demo``: the demo mode may connect to it by itself with those settings."""
    values = settings or (lambda base_url: {"base_url": base_url})
    return Started(app, {label: secret, **(credentials or {})}, summary,
                   lambda base_url: connect_commands(key, values(base_url), field, secret),
                   settings=(lambda base_url: {**values(base_url), field: secret}) if demo else None)


def connect_commands(key: str, settings: Mapping[str, str], secret_field: str, secret: str) -> list[str]:
    """The two commands that point Enginy Desktop at an emulator: ``connect`` (the secret through stdin, never
    on the command line of the app) and ``integrations enable``. Values are quoted for a POSIX shell where they
    need it (a Salesforce session id holds a ``!``, which an interactive bash would expand)."""
    sets = " ".join(f"--set {shlex.quote(f'{name}={value}')}" for name, value in settings.items())
    return [
        f"echo {shlex.quote(secret)} | enginy-desktop connect {key} {sets} --secret-stdin {secret_field}"
        .replace("  ", " "),
        f"enginy-desktop integrations enable {key}",
    ]
