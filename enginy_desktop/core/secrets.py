"""Credentials in the operating system's keyring, under one service name (DESIGN §8).

Credentials are kept **per data folder and per endpoint**: :class:`FolderSecrets` (what the app uses) names each
entry ``<folder id>/<integration>/<field>@<endpoint tag>``, where the folder id is a random id kept in the data
folder's database and the endpoint tag is a digest of the integration's URL settings (its API base URL, login or
organization URL) as they were when the credential was saved. So a token saved in one data folder is never read
by another, and a token saved for one base URL is never sent to another one: changing the base URL asks for the
credential again. Entries of older versions (``<integration>/<field>``, shared by every data folder) are moved
to the new names by :meth:`FolderSecrets.adopt_legacy` when a data folder that is connected to that integration
opens (idempotent; see ``docs/reliability.md``). The encrypted file ``secrets.enc`` follows the same rule.

``PYTHON_KEYRING_BACKEND`` is honored by the keyring package itself. When no usable backend exists (a Linux
session without a Secret Service), :func:`keyring_status` says so and the user may choose an encrypted file
protected by a passphrase (:class:`EncryptedFileSecrets`); secrets are never written in plain text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from .redact import register_secret

log = logging.getLogger(__name__)

SERVICE = "Enginy Desktop"
SECRETS_FILENAME = "secrets.enc"
ENV_PASSPHRASE = "ENGINY_SECRETS_PASSPHRASE"


class SecretsError(Exception):
    """A readable message about the secret store; never contains a secret."""


class SecretsUnavailableError(SecretsError):
    pass


class SecretsLockedError(SecretsUnavailableError):
    """The encrypted credentials file exists and no passphrase was given."""


class WrongPassphraseError(SecretsError):
    pass


class SecretStore(Protocol):
    description: str

    def get(self, integration: str, field: str) -> str | None: ...

    def set(self, integration: str, field: str, value: str) -> None: ...

    def delete(self, integration: str, field: str) -> None: ...


class RawSecretStore(Protocol):
    """Where entries are kept, by their full name (the keyring's user name, the encrypted file's key)."""

    description: str

    def get_raw(self, name: str) -> str | None: ...

    def set_raw(self, name: str, value: str) -> None: ...

    def delete_raw(self, name: str) -> None: ...


def _username(integration: str, field: str) -> str:
    return f"{integration}/{field}"


class _UnscopedNames:
    """Access by (integration, field) to the entry ``integration/field``: the names older versions used. The app
    goes through :class:`FolderSecrets`."""

    def get_raw(self, name: str) -> str | None:
        raise NotImplementedError

    def set_raw(self, name: str, value: str) -> None:
        raise NotImplementedError

    def delete_raw(self, name: str) -> None:
        raise NotImplementedError

    def get(self, integration: str, field: str) -> str | None:
        return self.get_raw(_username(integration, field))

    def set(self, integration: str, field: str, value: str) -> None:
        self.set_raw(_username(integration, field), value)

    def delete(self, integration: str, field: str) -> None:
        self.delete_raw(_username(integration, field))


@dataclass(frozen=True)
class KeyringStatus:
    usable: bool
    backend: str
    reason: str = ""


def keyring_status() -> KeyringStatus:
    import keyring
    from keyring.backends import fail

    try:
        backend = keyring.get_keyring()
    except Exception as exc:  # a misconfigured PYTHON_KEYRING_BACKEND, a broken D-Bus...
        return KeyringStatus(False, "none", f"The system keyring could not be loaded ({type(exc).__name__}).")
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    if isinstance(backend, fail.Keyring):
        return KeyringStatus(
            False,
            name,
            "No system keyring is available on this computer (for example, no Secret Service is running).",
        )
    chained = getattr(backend, "backends", None)
    if chained is not None and not chained:
        return KeyringStatus(False, name, "No system keyring is available on this computer.")
    return KeyringStatus(True, name)


class KeyringSecrets(_UnscopedNames):
    """Secrets in the OS keyring."""

    def __init__(self) -> None:
        status = keyring_status()
        if not status.usable:
            raise SecretsUnavailableError(status.reason)
        self.description = "system keyring"
        self.backend = status.backend

    def get_raw(self, name: str) -> str | None:
        import keyring
        from keyring.errors import KeyringError

        try:
            value = keyring.get_password(SERVICE, name)
        except KeyringError as exc:
            raise SecretsError(f"The system keyring refused to read a credential: {type(exc).__name__}.") from None
        register_secret(value)
        return value

    def set_raw(self, name: str, value: str) -> None:
        import keyring
        from keyring.errors import KeyringError

        register_secret(value)
        try:
            keyring.set_password(SERVICE, name, value)
        except KeyringError as exc:
            raise SecretsError(f"The system keyring refused to save a credential: {type(exc).__name__}.") from None

    def delete_raw(self, name: str) -> None:
        import keyring
        from keyring.errors import KeyringError, PasswordDeleteError

        try:
            keyring.delete_password(SERVICE, name)
        except PasswordDeleteError:
            pass
        except KeyringError as exc:
            raise SecretsError(
                f"The system keyring refused to remove a credential: {type(exc).__name__}."
            ) from None



class EncryptedFileSecrets(_UnscopedNames):
    """Secrets in one file encrypted with AES-GCM under a key derived from a passphrase (scrypt).

    The file is rewritten atomically on every change. A wrong passphrase is detected (authentication tag) and
    reported; the file is never overwritten with data under a different key.
    """

    _SCRYPT_N = 2**15

    def __init__(self, path: Path, passphrase: str) -> None:
        if not passphrase:
            raise SecretsError("A passphrase is required to protect the credentials file.")
        self.path = path
        self.description = f"encrypted file {path}"
        self._passphrase = passphrase.encode()
        self._lock = threading.Lock()
        self._data: dict[str, str] = {}
        self._salt = os.urandom(16)
        if path.exists():
            self._load()

    @classmethod
    def create(cls, path: Path, passphrase: str) -> EncryptedFileSecrets:
        """Create the (empty) encrypted file now, so later starts know to ask for its passphrase."""
        if path.exists():
            raise SecretsError(f"The credentials file {path} already exists; unlock it instead.")
        store = cls(path, passphrase)
        store._save()
        return store

    def _key(self, salt: bytes) -> bytes:
        from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

        return Scrypt(salt=salt, length=32, n=self._SCRYPT_N, r=8, p=1).derive(self._passphrase)

    def _load(self) -> None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        try:
            envelope = json.loads(self.path.read_text("utf-8"))
            salt = base64.b64decode(envelope["salt"])
            nonce = base64.b64decode(envelope["nonce"])
            blob = base64.b64decode(envelope["data"])
        except (OSError, ValueError, KeyError) as exc:
            raise SecretsError(f"The credentials file {self.path} is damaged ({type(exc).__name__}).") from None
        try:
            plain = AESGCM(self._key(salt)).decrypt(nonce, blob, b"enginy-secrets-v1")
        except InvalidTag:
            raise WrongPassphraseError("The passphrase is not correct for the credentials file.") from None
        self._salt = salt
        self._data = json.loads(plain)
        for value in self._data.values():
            register_secret(value)

    def _save(self) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = os.urandom(12)
        blob = AESGCM(self._key(self._salt)).encrypt(nonce, json.dumps(self._data).encode(), b"enginy-secrets-v1")
        envelope = {
            "version": 1,
            "kdf": "scrypt",
            "cipher": "AES-256-GCM",
            "salt": base64.b64encode(self._salt).decode(),
            "nonce": base64.b64encode(nonce).decode(),
            "data": base64.b64encode(blob).decode(),
        }
        tmp = self.path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(envelope, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def get_raw(self, name: str) -> str | None:
        with self._lock:
            return self._data.get(name)

    def set_raw(self, name: str, value: str) -> None:
        register_secret(value)
        with self._lock:
            self._data[name] = value
            self._save()

    def delete_raw(self, name: str) -> None:
        with self._lock:
            if self._data.pop(name, None) is not None:
                self._save()


def endpoint_tag(endpoint: str) -> str:
    """A short digest of the URLs a credential is sent to (the entry name holds it, not the URLs)."""
    return hashlib.sha256(endpoint.encode("utf-8")).hexdigest()[:16] if endpoint else "-"


class FolderSecrets:
    """The app's secret store: entries of one data folder, bound to the endpoint they were saved for.

    ``endpoint(integration)`` returns the integration's current URL settings as one string ("" when it has
    none); a credential saved under one endpoint is not found under another.
    """

    def __init__(self, inner: RawSecretStore, folder_id: str, endpoint: Callable[[str], str]) -> None:
        if not folder_id or "/" in folder_id:
            raise ValueError("a data folder id is required")
        self.inner = inner
        self.folder_id = folder_id
        self._endpoint = endpoint
        self.description = inner.description

    def entry_name(self, integration: str, field: str) -> str:
        return f"{self.folder_id}/{integration}/{field}@{endpoint_tag(self._endpoint(integration))}"

    def get(self, integration: str, field: str) -> str | None:
        return self.inner.get_raw(self.entry_name(integration, field))

    def set(self, integration: str, field: str, value: str) -> None:
        self.inner.set_raw(self.entry_name(integration, field), value)

    def delete(self, integration: str, field: str) -> None:
        self.inner.delete_raw(self.entry_name(integration, field))

    def adopt_legacy(self, connected: Iterable[tuple[str, Iterable[str]]]) -> int:
        """Move entries of older versions (``integration/field``, one per integration for every data folder) to
        this folder's names, for the integrations this folder is connected to; returns how many moved.

        Idempotent: a moved entry is deleted from its old name, so no other data folder can pick it up later
        (which folder saved it last cannot be known: the first connected folder opened keeps it, the others
        ask for the credential again).
        """
        moved = 0
        for integration, fields in connected:
            for field in fields:
                legacy = _username(integration, field)
                value = self.inner.get_raw(legacy)
                if value is None:
                    continue
                if self.get(integration, field) is None:
                    self.set(integration, field, value)
                    moved += 1
                self.inner.delete_raw(legacy)
        if moved:
            log.info("Moved %d saved credential(s) of an older version to this data folder (%s)", moved,
                     self.description)
        return moved


def secrets_file(data_dir: Path) -> Path:
    return data_dir / SECRETS_FILENAME


def open_secrets(data_dir: Path, passphrase: str | None = None) -> KeyringSecrets | EncryptedFileSecrets:
    """The keyring when usable; otherwise the encrypted file, if it exists or a passphrase is given.

    Raises :class:`SecretsUnavailableError` (with the keyring's reason) when neither is possible, so the caller
    can ask the user for a passphrase.
    """
    status = keyring_status()
    file = secrets_file(data_dir)
    if status.usable and not file.exists():
        return KeyringSecrets()
    if passphrase:
        return EncryptedFileSecrets(file, passphrase)
    passphrase = os.environ.get(ENV_PASSPHRASE)
    if passphrase:
        try:
            return EncryptedFileSecrets(file, passphrase)
        except WrongPassphraseError:  # locked, as without a passphrase: what needs no credential still works
            raise SecretsLockedError(
                f"The passphrase in {ENV_PASSPHRASE} does not unlock the credentials file {file}: set it to the "
                "passphrase chosen when the file was created. Nothing was changed."
            ) from None
    if file.exists():
        raise SecretsLockedError(
            f"Credentials are kept in the encrypted file {file}; its passphrase is needed to unlock them (on the "
            f"command line, set the {ENV_PASSPHRASE} environment variable to it)."
        )
    raise SecretsUnavailableError(status.reason)
