"""Enable, disable and connect integrations; the one-CRM rule at the service level.

The store holds the rule too (a partial unique index), so even a code path that bypasses this service, or a
second process, cannot leave two CRMs enabled; this service turns that into :class:`CrmConflictError`, a
message that names the active CRM.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from enginy_desktop.core import catalog
from enginy_desktop.core.catalog import Category, FieldKind, Integration
from enginy_desktop.core.models import IntegrationState, utcnow
from enginy_desktop.core.secrets import SecretsError, SecretStore
from enginy_desktop.core.store import Store
from enginy_desktop.core.validation import url_problem

log = logging.getLogger(__name__)


class IntegrationError(Exception):
    """A user-readable refusal."""


class CrmConflictError(IntegrationError):
    def __init__(self, active: Integration, wanted: Integration) -> None:
        self.active = active
        self.wanted = wanted
        super().__init__(
            f"{active.name} is your active CRM. Only one CRM can be active at a time. "
            f"Disable {active.name} before enabling {wanted.name}."
        )


class ConnectionInvalidError(IntegrationError):
    def __init__(self, integration: Integration, problems: Mapping[str, str]) -> None:
        self.integration = integration
        self.problems = dict(problems)
        lines = "; ".join(self.problems.values())
        super().__init__(f"The {integration.name} connection was not saved: {lines}")


class NoSecretStoreError(IntegrationError):
    pass


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    """What a card (or ``integrations list``) shows about one integration."""

    key: str
    name: str
    category: Category
    description: str
    enabled: bool
    connected: bool
    notice: str = ""
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> Integration:
        return catalog.get(self.key)

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "category": self.category.value,
            "category_name": self.category.heading,
            "description": self.description,
            "enabled": self.enabled,
            "connected": self.connected,
            "settings": self.settings,
        }


class IntegrationService:
    def __init__(self, store: Store, secrets: SecretStore | None) -> None:
        self.store = store
        self.secrets = secrets
        self._ensure_rows()

    # -- reading ---------------------------------------------------------------------------------------------
    def _ensure_rows(self) -> None:
        with self.store.session() as s:
            present = set(s.scalars(select(IntegrationState.key)))
            missing = [i for i in catalog.INTEGRATIONS if i.key not in present]
        if missing:
            with self.store.write() as s:
                present = set(s.scalars(select(IntegrationState.key)))
                for i in missing:
                    if i.key not in present:
                        s.add(IntegrationState(key=i.key, category=i.category.value, enabled=False, settings={}))

    def list(self) -> list[IntegrationInfo]:
        with self.store.session() as s:
            rows = {r.key: r for r in s.scalars(select(IntegrationState))}
        return [self._info(i, rows.get(i.key)) for i in catalog.INTEGRATIONS]

    def get(self, key: str) -> IntegrationInfo:
        spec = catalog.get(key)
        with self.store.session() as s:
            row = s.get(IntegrationState, key)
        return self._info(spec, row)

    def _info(self, spec: Integration, row: IntegrationState | None) -> IntegrationInfo:
        settings = dict(row.settings) if row and row.settings else {}
        return IntegrationInfo(
            key=spec.key,
            name=spec.name,
            category=spec.category,
            description=spec.description,
            enabled=bool(row and row.enabled),
            connected=self._is_connected(spec, settings, row),
            notice=spec.notice,
            settings=settings,
        )

    def _is_connected(self, spec: Integration, settings: Mapping[str, Any], row: IntegrationState | None) -> bool:
        if row is None or row.connected_at is None:
            return False
        for group in spec.required_groups:
            if all(self._has_value(spec, f.name, settings) for f in group):
                return True
        return not spec.required_groups

    def _has_value(self, spec: Integration, name: str, settings: Mapping[str, Any]) -> bool:
        f = spec.get_field(name)
        if not f.secret:
            return bool(str(settings.get(name, "") or f.default).strip())
        if self.secrets is None:
            # Without an unlocked secret store we cannot look; the connection record says it was complete.
            return True
        try:
            return bool(self.secrets.get(spec.key, name))
        except SecretsError:
            return False

    def active_crm(self) -> Integration | None:
        with self.store.session() as s:
            key = s.scalar(
                select(IntegrationState.key).where(
                    IntegrationState.category == Category.CRM.value, IntegrationState.enabled.is_(True)
                )
            )
        return catalog.get(key) if key else None

    # -- enabling --------------------------------------------------------------------------------------------
    def enable(self, key: str) -> IntegrationInfo:
        spec = catalog.get(key)
        try:
            with self.store.write() as s:
                s.execute(
                    update(IntegrationState)
                    .where(IntegrationState.key == key)
                    .values(enabled=True, updated_at=utcnow())
                )
        except IntegrityError:
            active = self.active_crm()
            if active is None or active.key == key:  # lost a race with a disable; try once more
                return self.enable(key)
            raise CrmConflictError(active, spec) from None
        log.info("Enabled %s", key)
        return self.get(key)

    def disable(self, key: str) -> IntegrationInfo:
        catalog.get(key)
        with self.store.write() as s:
            s.execute(
                update(IntegrationState).where(IntegrationState.key == key).values(enabled=False, updated_at=utcnow())
            )
        log.info("Disabled %s (its configuration is kept)", key)
        return self.get(key)

    def switch_crm(self, key: str) -> IntegrationInfo:
        """Disable whichever CRM is active and enable ``key``, in one transaction."""
        spec = catalog.get(key)
        if not spec.is_crm:
            raise IntegrationError(f"{spec.name} is not a CRM.")
        with self.store.write() as s:
            s.execute(
                update(IntegrationState)
                .where(IntegrationState.category == Category.CRM.value, IntegrationState.key != key)
                .values(enabled=False, updated_at=utcnow())
            )
            s.execute(
                update(IntegrationState).where(IntegrationState.key == key).values(enabled=True, updated_at=utcnow())
            )
        log.info("Switched the active CRM to %s", key)
        return self.get(key)

    def set_enabled(self, key: str, enabled: bool) -> IntegrationInfo:
        return self.enable(key) if enabled else self.disable(key)

    # -- connections -----------------------------------------------------------------------------------------
    def validate_connection(self, key: str, values: Mapping[str, str]) -> dict[str, str]:
        """Problems per field name (empty when the values can be saved).

        ``values`` holds what the user entered; a secret field left empty keeps the stored secret.
        """
        spec = catalog.get(key)
        problems: dict[str, str] = {}
        for f in spec.fields:
            value = (values.get(f.name) or "").strip()
            if value and f.kind is FieldKind.URL:
                problem = url_problem(value, f.label)
                if problem:
                    problems[f.name] = problem
            if value and f.kind is FieldKind.CHOICE and f.choices and value not in f.choices:
                problems[f.name] = f"{f.label} must be one of: {', '.join(f.choices)}."
            if value and f.check is not None and (problem := f.check(value)):
                problems[f.name] = problem
        groups = spec.required_groups
        if groups:
            with self.store.session() as s:
                row = s.get(IntegrationState, key)
                stored = dict(row.settings) if row and row.settings else {}
            moved = self._endpoint_changes(spec, values, stored)
            missing_by_group = [
                [f for f in g if not self._filled(spec, f.name, values, stored, moved)] for g in groups
            ]
            if all(missing_by_group):
                if len(groups) == 1:
                    for f in missing_by_group[0]:
                        problems.setdefault(
                            f.name,
                            f"{f.label} is required: the saved one is kept for the previous {moved} and is never "
                            "sent to another address." if moved and f.secret else f"{f.label} is required.",
                        )
                elif len(begun := [m for g, m in zip(groups, missing_by_group, strict=True) if any(
                        f.group and self._filled(spec, f.name, values, stored, moved) for f in g)]) == 1:
                    for f in begun[0]:  # one way half filled in: say what it still needs
                        problems.setdefault(f.name, f"{f.label} is required.")
                else:
                    alternatives = " or ".join(" + ".join(f.label for f in g) for g in groups)
                    why = (f": the saved credentials are kept for the previous {moved} and are never sent to another "
                           "address" if moved else "")
                    problems.setdefault("", f"Fill in {alternatives}{why}.")
        return problems

    @staticmethod
    def _endpoint_changes(spec: Integration, values: Mapping[str, str], stored: Mapping[str, Any]) -> str:
        """The label of a URL setting these values change ("" if none): saved credentials stay with the old one."""
        for f in spec.setting_fields:
            if f.kind is FieldKind.URL and f.name in values:
                new = ((values.get(f.name) or "").strip() or f.default).rstrip("/")
                old = str(stored.get(f.name, "") or f.default).strip().rstrip("/")
                if new != old:
                    return f.label
        return ""

    def _filled(
        self, spec: Integration, name: str, values: Mapping[str, str], stored: Mapping[str, Any], moved: str = ""
    ) -> bool:
        f = spec.get_field(name)
        if (values.get(name) or "").strip():
            return True
        if f.secret:  # an empty secret input keeps the stored secret, unless it was saved for another address
            return not moved and self.secrets is not None and self._has_value(spec, name, {})
        if name in values:  # the user cleared it
            return bool(f.default)
        return bool(str(stored.get(name, "") or f.default).strip())

    def save_connection(self, key: str, values: Mapping[str, str]) -> IntegrationInfo:
        spec = catalog.get(key)
        problems = self.validate_connection(key, values)
        if problems:
            raise ConnectionInvalidError(spec, problems)
        secret_values = {
            f.name: values[f.name].strip() for f in spec.secret_fields if (values.get(f.name) or "").strip()
        }
        if secret_values and self.secrets is None:
            raise NoSecretStoreError(
                "No secure place to keep credentials is available. Set up the system keyring or unlock the "
                "encrypted credentials file first."
            )
        with self.store.write() as s:
            row = s.get(IntegrationState, key)
            assert row is not None
            settings = dict(row.settings or {})
            for f in spec.setting_fields:
                if f.name in values:
                    value = (values.get(f.name) or "").strip()
                    if value:
                        settings[f.name] = value
                    else:
                        settings.pop(f.name, None)
            row.settings = settings
        # Secrets are kept for the endpoint in the settings just saved (core.secrets.FolderSecrets), so they are
        # written after them; the connection is marked saved only once they are.
        for name, value in secret_values.items():
            assert self.secrets is not None
            self.secrets.set(key, name, value)
        with self.store.write() as s:
            row = s.get(IntegrationState, key)
            assert row is not None
            row.connected_at = utcnow()
        log.info("Saved the %s connection (%d secret field(s) in %s)", key, len(secret_values),
                 self.secrets.description if self.secrets else "no store")
        return self.get(key)

    def settings(self, key: str) -> dict[str, Any]:
        return self.get(key).settings

    def secret(self, key: str, field_name: str) -> str | None:
        spec = catalog.get(key)
        if not spec.get_field(field_name).secret:
            raise IntegrationError(f"{field_name} is not a secret field of {spec.name}.")
        if self.secrets is None:
            raise NoSecretStoreError("No secure place to keep credentials is available.")
        return self.secrets.get(key, field_name)

    def has_secret(self, key: str, field_name: str) -> bool:
        return self.secrets is not None and bool(self.secrets.get(key, field_name))

    def disconnect(self, key: str) -> IntegrationInfo:
        """Remove the stored credentials (keyring) and the connection mark; the enabled flag and settings stay."""
        spec = catalog.get(key)
        if self.secrets is None:
            from enginy_desktop.core.secrets import ENV_PASSPHRASE, secrets_file

            if secrets_file(self.store.data_dir).exists():  # never say removed what stays in the locked file
                raise NoSecretStoreError(
                    f"{spec.name}'s credentials are in the encrypted credentials file, which is locked: unlock it "
                    f"first (on the command line, set {ENV_PASSPHRASE}), then disconnect. Nothing was removed.")
        if self.secrets is not None:
            for f in spec.secret_fields:
                self.secrets.delete(key, f.name)
            for extra in ("oauth_token",):
                self.secrets.delete(key, extra)
        with self.store.write() as s:
            row = s.get(IntegrationState, key)
            if row is not None:
                row.connected_at = None
        log.info("Disconnected %s", key)
        return self.get(key)
