"""The one way to open an adapter: the application context's factory, ``ctx.adapters``.

Every sync, export, wizard, test connection and sign-in opens its adapter here, on the saved connection
(settings from the store, secrets from the keyring). Tests replace the factory (``ctx.adapters =
AdapterFactory(ctx, transport=...)``) to point every adapter at an emulator without a socket; nothing else in the
engines takes a ``transport``.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from enginy_desktop.adapters import registry
from enginy_desktop.adapters.base import AdapterError, AuthError, Connection, CrmAdapter
from enginy_desktop.core import catalog

if TYPE_CHECKING:
    from enginy_desktop.adapters.slack import SlackAdapter


class AdapterUnavailableError(AdapterError):
    """No adapter exists (yet) for this integration."""


class AdapterFactory:
    """Opens adapters of one application context.

    ``transport`` (an ``httpx`` transport) replaces the network for every adapter and sign-in it opens (tests:
    ``httpx.ASGITransport`` on an emulator); ``retry`` replaces the adapters' retry policy.
    """

    def __init__(self, ctx: Any, *, transport: Any = None, retry: Any = None) -> None:
        self.ctx = ctx
        self.transport = transport
        self.retry = retry

    # -- what exists ---------------------------------------------------------------------------------------------
    @staticmethod
    def has_crm(key: str) -> bool:
        """Whether Enginy Desktop has an adapter for CRM ``key``."""
        return key in registry.CRM_ADAPTERS

    @staticmethod
    def has_adapter(key: str) -> bool:
        return registry.adapter_path(key) is not None

    @staticmethod
    def crm_class(key: str) -> type[CrmAdapter]:
        """The adapter class of CRM ``key``; raises :class:`AdapterUnavailableError` when there is none."""
        spec = catalog.get(key)
        if not spec.is_crm:
            raise AdapterUnavailableError(f"{spec.name} is not a CRM.", vendor=key)
        if key not in registry.CRM_ADAPTERS:
            raise AdapterUnavailableError(f"Enginy Desktop cannot talk to {spec.name} yet.", vendor=key)
        cls: type[CrmAdapter] = registry.adapter_class(key)
        return cls

    # -- opening -------------------------------------------------------------------------------------------------
    def connection(self, key: str) -> Connection:
        """Settings from the store and secrets from the keyring of integration ``key``, as an adapter wants them."""
        service = self.ctx.integrations
        settings = service.settings(key)
        secret_names = {f.name for f in catalog.get(key).secret_fields}
        store = service.secrets

        def get_secret(name: str) -> str | None:
            if store is None:
                # No unlocked secret store (e.g. the encrypted credentials file without its passphrase): say
                # that, rather than "not connected".
                problem = str(self.ctx.secrets_problem or "")
                if problem:
                    raise AuthError(problem, vendor=key)
                return None
            if name in secret_names:
                secret: str | None = service.secret(key, name)
                return secret
            return store.get(key, name)  # e.g. oauth_token, kept by the sign-in

        def set_secret(name: str, value: str) -> None:
            if store is not None:
                store.set(key, name, value)

        data = self.ctx.store

        def load_state(name: str) -> str | None:
            value: str | None = data.meta(f"adapter:{key}:{name}")
            return value

        def save_state(name: str, value: str) -> None:
            data.set_meta(f"adapter:{key}:{name}", value)

        return Connection(key=key, settings=settings, get_secret=get_secret, set_secret=set_secret,
                          load_state=load_state, save_state=save_state)

    def crm(self, key: str, *, retry: Any = None, people_object: str | None = None) -> CrmAdapter:
        """The adapter of CRM ``key`` on its saved connection (close it with ``aclose`` or ``async with``).

        Where the CRM keeps people in one of several objects (catalog ``people_objects``), the adapter works on
        ``people_object``, by default the one the CRM configuration chose (Step 2 of the wizard)."""
        cls = self.crm_class(key)
        connection = self.connection(key)
        if catalog.get(key).people_objects:
            chosen = people_object if people_object is not None else self._people_object(key)
            connection = dataclasses.replace(connection, settings={**connection.settings, "contact_object": chosen})
        return cls.from_connection(connection, transport=self.transport, retry=retry or self.retry)

    def _people_object(self, key: str) -> str:
        from enginy_desktop.core.crm_config import CrmConfigFileError

        try:
            chosen: str = self.ctx.crm_configs.load(key).people_object
        except CrmConfigFileError:  # an unreadable configuration is said where it is used; people go by default
            return ""
        return chosen

    def open(self, key: str, *, retry: Any = None, **options: Any) -> Any:
        """The adapter of any integration ``key`` that has one (a CRM, Slack, OpenAI, TheirStack…) on its saved
        connection; ``options`` go to its ``from_connection``."""
        if registry.adapter_path(key) is None:
            spec = catalog.get(key)
            raise AdapterUnavailableError(f"Enginy Desktop cannot talk to {spec.name} yet.", vendor=key)
        if self.has_crm(key):
            return self.crm(key, retry=retry)
        cls = registry.adapter_class(key)
        return cls.from_connection(self.connection(key), transport=options.pop("transport", self.transport),
                                   retry=retry or self.retry, **options)

    def slack(self, *, retry: Any = None) -> SlackAdapter:
        """The Slack adapter on the saved connection (raises AuthError when it is incomplete)."""
        adapter: SlackAdapter = self.open("slack", retry=retry)
        return adapter


__all__ = ["AdapterFactory", "AdapterUnavailableError"]
