"""Every emulator the ``enginy-desktop sandbox`` command can start.

One line per emulator: the integration's catalog key -> ``"module:NAME"``, where ``NAME`` is the module's
:class:`~enginy_desktop.sandbox.kit.launch.EmulatorSpec`. Modules are imported only when used. Add yours here
(keep the table sorted by key).
"""

from __future__ import annotations

import importlib

from .kit.launch import EmulatorSpec

EMULATORS: dict[str, str] = {
    "apollo": "enginy_desktop.sandbox.enrichment.apollo:SPEC",
    "cognism": "enginy_desktop.sandbox.enrichment.cognism:SPEC",
    "datagma": "enginy_desktop.sandbox.enrichment.datagma:SPEC",
    "dropcontact": "enginy_desktop.sandbox.enrichment.dropcontact:SPEC",
    "dynamics": "enginy_desktop.sandbox.crm.dynamics:SPEC",
    "hubspot": "enginy_desktop.sandbox.crm.hubspot:SPEC",
    "hunter": "enginy_desktop.sandbox.enrichment.hunter:SPEC",
    "kaspr": "enginy_desktop.sandbox.enrichment.kaspr:SPEC",
    "lusha": "enginy_desktop.sandbox.enrichment.lusha:SPEC",
    "openai": "enginy_desktop.sandbox.ai.openai:SPEC",
    "pipedrive": "enginy_desktop.sandbox.crm.pipedrive:SPEC",
    "proxycurl": "enginy_desktop.sandbox.enrichment.proxycurl:SPEC",
    "salesforce": "enginy_desktop.sandbox.crm.salesforce:SPEC",
    "slack": "enginy_desktop.sandbox.notify.slack:SPEC",
    "theirstack": "enginy_desktop.sandbox.sources.theirstack:SPEC",
    "tribecrm": "enginy_desktop.sandbox.crm.tribecrm:SPEC",
    "zoho": "enginy_desktop.sandbox.crm.zoho:SPEC",
    "zoominfo": "enginy_desktop.sandbox.enrichment.zoominfo:SPEC",
}


def emulator_spec(key: str) -> EmulatorSpec:
    """The spec registered for ``key`` (KeyError when there is none)."""
    module_name, _, attr = EMULATORS[key].partition(":")
    spec = getattr(importlib.import_module(module_name), attr)
    if not isinstance(spec, EmulatorSpec):
        raise TypeError(f"{EMULATORS[key]} is not an EmulatorSpec")
    return spec


def all_specs() -> list[EmulatorSpec]:
    return [emulator_spec(key) for key in sorted(EMULATORS)]
