"""Which adapter class serves each catalog key: a plain table, ``key -> "module:Class"``.

The classes are imported on first use (:func:`adapter_class`), so start-up does not pay for every vendor. Opening
an adapter on a saved connection is the application context's job (``ctx.adapters``, in
:mod:`enginy_desktop.core.services.adapters`); this module knows nothing of settings, secrets or the store.

Adding a CRM: write its adapter (a :class:`~.base.CrmAdapter`), then add one line to :data:`CRM_ADAPTERS`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

# CRMs: catalog key -> "module:Class" of a CrmAdapter
CRM_ADAPTERS: dict[str, str] = {
    "hubspot": "enginy_desktop.adapters.hubspot:HubSpotAdapter",
    "dynamics": "enginy_desktop.adapters.dynamics:DynamicsAdapter",
    "pipedrive": "enginy_desktop.adapters.pipedrive:PipedriveAdapter",
    "salesforce": "enginy_desktop.adapters.salesforce:SalesforceAdapter",
    "tribecrm": "enginy_desktop.adapters.tribecrm:TribeCrmAdapter",
    "zoho": "enginy_desktop.adapters.zoho:ZohoAdapter",
}

# Every other integration with an adapter (notification, AI, import source): catalog key -> "module:Class".
# Each class has ``from_connection(connection, *, transport=None, retry=None)``, ``check()`` and ``aclose()``.
OTHER_ADAPTERS: dict[str, str] = {
    "openai": "enginy_desktop.adapters.ai.openai:OpenAIAdapter",
    "slack": "enginy_desktop.adapters.slack:SlackAdapter",
    "theirstack": "enginy_desktop.adapters.sources.theirstack:TheirStackAdapter",
}


def enrichment_adapters() -> Mapping[str, str]:
    """The data-enrichment providers' table (kept beside their contract in ``enrichment/base.py``)."""
    from .enrichment.base import ADAPTERS

    return ADAPTERS


def adapter_path(key: str) -> str | None:
    """The ``module:Class`` of integration ``key``'s adapter, or None when there is none."""
    return CRM_ADAPTERS.get(key) or OTHER_ADAPTERS.get(key) or enrichment_adapters().get(key)


def adapter_class(key: str) -> Any:
    """The adapter class of integration ``key`` (imported now); raises KeyError when there is none."""
    target = adapter_path(key)
    if target is None:
        raise KeyError(key)
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)


__all__ = ["CRM_ADAPTERS", "OTHER_ADAPTERS", "adapter_class", "adapter_path", "enrichment_adapters"]
