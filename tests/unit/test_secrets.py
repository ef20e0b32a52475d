"""Secret storage: the keyring, and the encrypted-file fallback when no keyring is usable."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.redact import redact
from enginy_desktop.core.secrets import (
    EncryptedFileSecrets,
    KeyringSecrets,
    SecretsUnavailableError,
    WrongPassphraseError,
    keyring_status,
    open_secrets,
    secrets_file,
)


@pytest.fixture
def no_keyring():  # type: ignore[no-untyped-def]
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


def test_keyring_is_used_when_available(data_dir: Path) -> None:
    store = open_secrets(data_dir)
    assert isinstance(store, KeyringSecrets)
    store.set("apollo", "api_key", "abc-123-secret")
    assert keyring.get_password("Enginy Desktop", "apollo/api_key") == "abc-123-secret"
    store.delete("apollo", "api_key")
    store.delete("apollo", "api_key")  # deleting twice is fine
    assert store.get("apollo", "api_key") is None


@pytest.mark.usefixtures("no_keyring")
def test_no_keyring_is_reported_plainly_and_never_falls_back_to_plaintext(data_dir: Path) -> None:
    status = keyring_status()
    assert not status.usable
    assert "No system keyring" in status.reason
    with pytest.raises(SecretsUnavailableError):
        open_secrets(data_dir)
    ctx = AppContext.open(data_dir)
    try:
        assert ctx.secrets is None
        assert "No system keyring" in ctx.secrets_problem
        from enginy_desktop.core.services.integrations import NoSecretStoreError

        with pytest.raises(NoSecretStoreError):
            ctx.integrations.save_connection("apollo", {"api_key": "k-1234567"})
        assert not ctx.integrations.get("apollo").connected
        # Non-secret settings still save.
        ctx.integrations.save_connection("hubspot", {"client_id": "client-abc"})
    finally:
        ctx.close()
    assert not any(p.name.startswith("secrets") for p in data_dir.iterdir())


@pytest.mark.usefixtures("no_keyring")
def test_encrypted_file_round_trip_and_wrong_passphrase(data_dir: Path) -> None:
    path = secrets_file(data_dir)
    store = EncryptedFileSecrets.create(path, "correct horse battery")
    store.set("hubspot", "token", "pat-na1-very-secret-value")
    assert b"pat-na1-very-secret-value" not in path.read_bytes()
    assert path.stat().st_mode & 0o077 == 0
    reopened = open_secrets(data_dir, "correct horse battery")
    assert reopened.get("hubspot", "token") == "pat-na1-very-secret-value"
    with pytest.raises(WrongPassphraseError):
        EncryptedFileSecrets(path, "wrong passphrase")
    with pytest.raises(SecretsUnavailableError, match="passphrase is needed"):
        open_secrets(data_dir)


@pytest.mark.usefixtures("no_keyring")
def test_passphrase_from_environment(data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENGINY_SECRETS_PASSPHRASE", "from-the-environment")
    ctx = AppContext.open(data_dir)
    try:
        assert isinstance(ctx.secrets.inner, EncryptedFileSecrets)  # type: ignore[union-attr]
        ctx.integrations.save_connection("apollo", {"api_key": "apollo-key-987"})
        assert ctx.integrations.get("apollo").connected
    finally:
        ctx.close()


def test_registered_secrets_are_redacted_everywhere() -> None:
    store = open_secrets(Path("."))
    store.set("openai", "api_key", "zzz-unusual-secret-42")
    assert "zzz-unusual-secret-42" not in redact("request failed with key zzz-unusual-secret-42 in body")
    for text in (
        "GET https://api.hunter.io/v2/domain-search?domain=x.com&api_key=hunterkey123",
        'POST body {"client_secret": "cs-999", "x": 1}',
        "Authorization: Bearer eyJhbGciOi.payload.sig",
        "https://hooks.slack.com/services/T000/B000/XXXXXXXX",
    ):
        out = redact(text)
        assert "[REDACTED]" in out
        for secret in ("hunterkey123", "cs-999", "eyJhbGciOi", "XXXXXXXX"):
            assert secret not in out
