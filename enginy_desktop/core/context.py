"""Everything one running instance (window or command) works with: data folder, store, secrets, services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import catalog
from .catalog import FieldKind
from .models import IntegrationState
from .runs.service import RunService
from .secrets import FolderSecrets, RawSecretStore, SecretStore, SecretsUnavailableError, open_secrets
from .services.adapters import AdapterFactory
from .services.crm_configs import CrmConfigService
from .services.integrations import IntegrationService
from .store import Store


@dataclass
class AppContext:
    data_dir: Path
    store: Store
    secrets: SecretStore | None
    secrets_problem: str = ""
    integrations: IntegrationService = field(init=False)
    crm_configs: CrmConfigService = field(init=False)
    runs: RunService = field(init=False)
    # The one way to open an adapter on a saved connection; tests replace it (e.g. with a transport to an emulator).
    adapters: AdapterFactory = field(init=False)

    def __post_init__(self) -> None:
        self.integrations = IntegrationService(self.store, self.secrets)
        self.crm_configs = CrmConfigService(self.store)
        self.runs = RunService(self.store)
        self.adapters = AdapterFactory(self)

    @classmethod
    def open(cls, data_dir: Path, passphrase: str | None = None) -> AppContext:
        """Open the store (migrating it) and the secret store; raises ``StoreError`` for a bad database."""
        store = Store.open(data_dir)
        try:
            # Runs left "running" by a process that is gone (crash, kill) become "interrupted", so they can resume.
            RunService(store).mark_interrupted()
            try:
                raw: RawSecretStore | None = open_secrets(data_dir, passphrase)
                problem = ""
            except SecretsUnavailableError as exc:
                raw, problem = None, str(exc)
            secrets = _folder_secrets(store, raw) if raw is not None else None
            return cls(data_dir=data_dir, store=store, secrets=secrets, secrets_problem=problem)
        except BaseException:
            store.close()  # a failure here leaves the database closed, not marked as open by a crashed process
            raise

    def use_secrets(self, secrets: RawSecretStore | SecretStore) -> None:
        """Switch to a secret store chosen later (the user unlocked or created the encrypted file)."""
        if not isinstance(secrets, FolderSecrets):
            secrets = _folder_secrets(self.store, secrets)  # type: ignore[arg-type]
        self.secrets = secrets
        self.secrets_problem = ""
        self.integrations.secrets = secrets

    def close(self) -> None:
        self.runs.close()
        self.store.close()


def _endpoint(store: Store, key: str) -> str:
    """The URLs integration ``key`` sends its credentials to, from this data folder's settings."""
    try:
        spec = catalog.get(key)
    except catalog.UnknownIntegrationError:
        return ""
    urls = [f for f in spec.fields if f.kind is FieldKind.URL and not f.secret]
    if not urls:
        return ""
    with store.session() as s:
        row = s.get(IntegrationState, key)
        settings = dict(row.settings or {}) if row is not None else {}
    return "|".join(f"{f.name}={str(settings.get(f.name) or f.default or '').strip().rstrip('/')}" for f in urls)


def _folder_secrets(store: Store, raw: RawSecretStore) -> FolderSecrets:
    """The data folder's view of a secret store; entries of older versions are moved to it once."""
    secrets = FolderSecrets(raw, store.folder_id(), lambda key: _endpoint(store, key))
    if store.meta("secrets_adopted") != "1":
        with store.session() as s:
            connected = [r.key for r in s.query(IntegrationState).filter(IntegrationState.connected_at.isnot(None))]
        plan = []
        for key in connected:
            try:
                spec = catalog.get(key)
            except catalog.UnknownIntegrationError:
                continue
            plan.append((key, [f.name for f in spec.secret_fields] + ["oauth_token"]))
        secrets.adopt_legacy(plan)
        store.set_meta("secrets_adopted", "1")
    return secrets
