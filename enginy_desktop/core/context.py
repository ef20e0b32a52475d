"""Everything one running instance (window or command) works with: data folder, store, secrets, services."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .runs.service import RunService
from .secrets import SecretStore, SecretsUnavailableError, open_secrets
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

    def __post_init__(self) -> None:
        self.integrations = IntegrationService(self.store, self.secrets)
        self.crm_configs = CrmConfigService(self.store)
        self.runs = RunService(self.store)

    @classmethod
    def open(cls, data_dir: Path, passphrase: str | None = None) -> AppContext:
        """Open the store (migrating it) and the secret store; raises ``StoreError`` for a bad database."""
        store = Store.open(data_dir)
        # Runs left "running" by a process that is gone (crash, kill) become "interrupted", so they can resume.
        RunService(store).mark_interrupted()
        try:
            secrets: SecretStore | None = open_secrets(data_dir, passphrase)
            problem = ""
        except SecretsUnavailableError as exc:
            secrets, problem = None, str(exc)
        return cls(data_dir=data_dir, store=store, secrets=secrets, secrets_problem=problem)

    def use_secrets(self, secrets: SecretStore) -> None:
        """Switch to a secret store chosen later (the user unlocked or created the encrypted file)."""
        self.secrets = secrets
        self.secrets_problem = ""
        self.integrations.secrets = secrets

    def close(self) -> None:
        self.store.close()
