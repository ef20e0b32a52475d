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
from typing import Literal

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
