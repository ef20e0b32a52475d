"""``enginy-desktop --demo [--crm KEY]``: start the CRM's emulator on 127.0.0.1 and a demo workspace on it.

This module sits above the layers: it starts an emulator from the sandbox and hands its connection settings to
:mod:`enginy_desktop.core.demo`, which builds the workspace without knowing which CRM it is. A CRM can be demoed
when it has an adapter and an emulator (:func:`demo_crms`).
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from enginy_desktop.core import catalog
from enginy_desktop.core.demo import DEMO_CAMPAIGN, DEMO_LIST, DemoEnvironment
from enginy_desktop.core.demo import start_demo as _start_demo
from enginy_desktop.core.services.adapters import AdapterFactory

DEFAULT_CRM = "hubspot"
SEED_CONTACTS = 200  # sample records the emulator starts with, besides the demo's own


def demo_crms() -> list[str]:
    """The CRMs the demo can use: those with an adapter and an emulator that says how to connect to it."""
    from enginy_desktop.sandbox.registry import EMULATORS, emulator_spec

    return [key for key in sorted(EMULATORS) if AdapterFactory.has_crm(key) and emulator_spec(key).kind == "crm"]


def _start_emulator(crm: str, stack: contextlib.ExitStack) -> tuple[dict[str, str], str, Any]:
    """Start CRM ``crm``'s emulator on 127.0.0.1 inside ``stack``: (connection settings, base URL, its state)."""
    from enginy_desktop.sandbox.kit.launch import StartOptions
    from enginy_desktop.sandbox.kit.server import serve
    from enginy_desktop.sandbox.registry import emulator_spec

    started = emulator_spec(crm).start(StartOptions(seed=SEED_CONTACTS))
    if started.settings is None:
        raise DemoUnavailableError(f"The {catalog.get(crm).name} sandbox cannot be connected to automatically.")
    url = stack.enter_context(serve(started.app))
    return started.settings(url), url, getattr(started.app.state, "sandbox", None)


class DemoUnavailableError(ValueError):
    pass


def start_demo(crm: str = DEFAULT_CRM, base_dir: Path | None = None) -> DemoEnvironment:
    """Start CRM ``crm``'s emulator and a demo workspace connected to it (close the result to stop both)."""
    if crm not in demo_crms():
        try:
            name = catalog.get(crm).name
        except catalog.UnknownIntegrationError:
            name = crm
        choices = ", ".join(demo_crms())
        raise DemoUnavailableError(f"The demo cannot use {name}: it needs an adapter and a local emulator. "
                                   f"Choose one of: {choices}.")
    stack = contextlib.ExitStack()
    try:
        settings, url, sandbox = _start_emulator(crm, stack)
    except BaseException:
        stack.close()
        raise
    return _start_demo(crm, settings, base_dir=base_dir, stack=stack, sandbox=sandbox, sandbox_url=url)


@contextlib.contextmanager
def demo_environment(crm: str = DEFAULT_CRM, base_dir: Path | None = None) -> Any:
    env = start_demo(crm, base_dir)
    try:
        yield env
    finally:
        env.close()


__all__ = ["DEFAULT_CRM", "DEMO_CAMPAIGN", "DEMO_LIST", "DemoEnvironment", "DemoUnavailableError", "demo_crms",
           "demo_environment", "start_demo"]
