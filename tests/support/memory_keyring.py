"""Keyring backends for tests: in memory (in-process tests) and a JSON file (tests that start subprocesses).

Never used by the product; selected through ``keyring.set_keyring`` or ``PYTHON_KEYRING_BACKEND``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class MemoryKeyring(KeyringBackend):
    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if self.store.pop((service, username), None) is None:
            raise PasswordDeleteError(username)

    def saved(self, integration: str, field: str) -> list[str]:
        """Values saved for ``integration``/``field`` by any data folder (entries ``<folder>/<key>/<field>@<tag>``)."""
        return [v for (_svc, name), v in self.store.items()
                if name.partition("/")[2].rpartition("@")[0] == f"{integration}/{field}"]


class FileKeyring(KeyringBackend):
    """Test-only: keeps entries in the JSON file named by ``ENGINY_TEST_KEYRING_FILE``."""

    priority = 1  # type: ignore[assignment]

    @property
    def _path(self) -> Path:
        return Path(os.environ["ENGINY_TEST_KEYRING_FILE"])

    def _load(self) -> dict[str, str]:
        try:
            return json.loads(self._path.read_text("utf-8"))
        except FileNotFoundError:
            return {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\x00{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\x00{username}"] = password
        self._path.write_text(json.dumps(data), "utf-8")

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\x00{username}", None) is None:
            raise PasswordDeleteError(username)
        self._path.write_text(json.dumps(data), "utf-8")
