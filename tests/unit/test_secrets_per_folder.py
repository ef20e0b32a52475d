"""Credentials belong to one data folder and to the address they were saved for (DESIGN §8)."""

from __future__ import annotations

from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from enginy_desktop.core.context import AppContext
from enginy_desktop.core.secrets import SERVICE, EncryptedFileSecrets, SecretsError, secrets_file
from enginy_desktop.core.services.integrations import ConnectionInvalidError

SANDBOX = "http://127.0.0.1:8765"
PRODUCTION = "https://api.hubapi.com"


def _open(folder: Path) -> AppContext:
    folder.mkdir(exist_ok=True)
    return AppContext.open(folder)


def _token_sent(ctx: AppContext) -> tuple[str | None, str]:
    """The token the HubSpot adapter would send, and where to."""
    conn = ctx.adapters.connection("hubspot")
    return conn.get_secret("token"), ctx.integrations.settings("hubspot").get("base_url", PRODUCTION)


def test_two_data_folders_keep_their_own_tokens(tmp_path: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    sandbox = _open(tmp_path / "sandbox-folder")
    sandbox.integrations.save_connection("hubspot", {"token": "pat-sandbox-111", "base_url": SANDBOX})
    sandbox.close()
    production = _open(tmp_path / "production-folder")
    production.integrations.save_connection("hubspot", {"token": "pat-production-222"})
    production.close()

    sandbox = _open(tmp_path / "sandbox-folder")
    production = _open(tmp_path / "production-folder")
    try:
        assert _token_sent(sandbox) == ("pat-sandbox-111", SANDBOX)
        assert _token_sent(production) == ("pat-production-222", PRODUCTION)
        # Disconnecting one folder leaves the other connected.
        sandbox.integrations.disconnect("hubspot")
        assert _token_sent(sandbox)[0] is None
        assert _token_sent(production)[0] == "pat-production-222"
        assert production.integrations.get("hubspot").connected
    finally:
        sandbox.close()
        production.close()
    assert sorted(memory_keyring.saved("hubspot", "token")) == ["pat-production-222"]


def test_a_new_folder_sees_no_token_of_another_folder(tmp_path: Path) -> None:
    first = _open(tmp_path / "a")
    first.integrations.save_connection("apollo", {"api_key": "apollo-key-a1"})
    first.close()
    second = _open(tmp_path / "b")
    try:
        assert second.integrations.secret("apollo", "api_key") is None
        assert not second.integrations.get("apollo").connected
    finally:
        second.close()


def test_entries_of_older_versions_move_to_the_folder_that_is_connected(tmp_path: Path, memory_keyring) -> None:  # type: ignore[no-untyped-def]
    # Two folders as an older version left them: both marked connected, one keyring entry per integration.
    for name in ("a", "b"):
        ctx = _open(tmp_path / name)
        ctx.integrations.save_connection("hubspot", {"token": f"pat-{name}", "base_url": SANDBOX})
        ctx.close()
    memory_keyring.store.clear()
    keyring.set_password(SERVICE, "hubspot/token", "pat-legacy-333")
    for name in ("a", "b"):
        ctx = AppContext.open(tmp_path / name)
        ctx.store.set_meta("secrets_adopted", "0")
        ctx.close()

    first = AppContext.open(tmp_path / "a")
    second = AppContext.open(tmp_path / "b")
    try:
        assert _token_sent(first) == ("pat-legacy-333", SANDBOX)
        # The old entry is gone: the second folder never sends a token it cannot know was saved for it.
        assert keyring.get_password(SERVICE, "hubspot/token") is None
        assert _token_sent(second)[0] is None
        assert not second.integrations.get("hubspot").connected
    finally:
        first.close()
        second.close()
    again = AppContext.open(tmp_path / "a")  # idempotent
    try:
        assert _token_sent(again) == ("pat-legacy-333", SANDBOX)
    finally:
        again.close()
    assert memory_keyring.saved("hubspot", "token") == ["pat-legacy-333"]


@pytest.fixture
def no_keyring():  # type: ignore[no-untyped-def]
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    yield
    keyring.set_keyring(previous)


@pytest.mark.usefixtures("no_keyring")
def test_encrypted_file_follows_the_same_rule(data_dir: Path) -> None:
    # An older version's file: entries named integration/field.
    EncryptedFileSecrets.create(secrets_file(data_dir), "pass phrase 1").set("hubspot", "token", "pat-file-444")
    ctx = AppContext.open(data_dir, passphrase="pass phrase 1")
    try:
        assert ctx.integrations.secret("hubspot", "token") is None  # not connected in this folder: not adopted
        ctx.integrations.save_connection("hubspot", {"token": "pat-file-555", "base_url": SANDBOX})
        assert _token_sent(ctx) == ("pat-file-555", SANDBOX)
        with pytest.raises(ConnectionInvalidError, match="kept for the previous API base URL"):
            ctx.integrations.save_connection("hubspot", {"base_url": PRODUCTION})
    finally:
        ctx.close()
    raw = EncryptedFileSecrets(secrets_file(data_dir), "pass phrase 1")
    names = list(raw._data)
    assert len([n for n in names if n.endswith(tuple("0123456789abcdef")) and "/hubspot/token@" in n]) == 1


@pytest.mark.usefixtures("no_keyring")
def test_cli_asks_for_the_passphrase_of_the_encrypted_file(  # type: ignore[no-untyped-def]
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINY_SECRETS_PASSPHRASE", "pass phrase 2")
    monkeypatch.setenv("HS_TOKEN", "pat-na1-env-666")
    code, _, err = cli("connect", "hubspot", "--secret-env", "token=HS_TOKEN", "--set", f"base_url={SANDBOX}")
    assert code == 0, err
    assert secrets_file(data_dir).exists()
    monkeypatch.delenv("ENGINY_SECRETS_PASSPHRASE")
    code, _out, err = cli("check", "hubspot")
    assert code == 1
    assert "ENGINY_SECRETS_PASSPHRASE" in err
    assert "not connected" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.usefixtures("no_keyring")
def test_a_wrong_passphrase_in_the_environment_says_which_and_what_needs_no_credential_still_works(  # type: ignore[no-untyped-def]
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    EncryptedFileSecrets.create(secrets_file(data_dir), "the right one").set("apollo", "api_key", "k-1")
    monkeypatch.setenv("ENGINY_SECRETS_PASSPHRASE", "a wrong one")
    code, out, err = cli("integrations", "list")  # needs no credential: works
    assert code == 0, err
    assert "Apollo" in out
    monkeypatch.setenv("APOLLO_KEY", "k-2")
    code, _, err = cli("connect", "apollo", "--secret-env", "api_key=APOLLO_KEY")
    assert code == 1
    assert "The passphrase in ENGINY_SECRETS_PASSPHRASE does not unlock the credentials file" in err
    assert "Set ENGINY_SECRETS_PASSPHRASE to keep" not in err  # the file is there: no advice to create one
    assert len(err.strip().splitlines()) == 1
    assert EncryptedFileSecrets(secrets_file(data_dir), "the right one").get("apollo", "api_key") == "k-1"
    # the database was closed on the way out: no mark of a process that crashed with it open
    assert not [p.name for p in data_dir.iterdir() if ".open-" in p.name]


def test_a_failure_while_the_context_opens_leaves_the_database_closed(  # type: ignore[no-untyped-def]
    data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from enginy_desktop.core import context

    def damaged(*_: object, **__: object) -> None:
        raise SecretsError("The credentials file is damaged (ValueError).")

    monkeypatch.setattr(context, "open_secrets", damaged)
    with pytest.raises(SecretsError):
        AppContext.open(data_dir)
    assert not [p.name for p in data_dir.iterdir() if ".open-" in p.name]


@pytest.mark.usefixtures("no_keyring")
def test_disconnect_never_says_it_removed_what_stays_in_the_locked_file(  # type: ignore[no-untyped-def]
    cli, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENGINY_SECRETS_PASSPHRASE", "pass phrase 3")
    monkeypatch.setenv("HS_TOKEN", "pat-na1-env-777")
    assert cli("connect", "hubspot", "--secret-env", "token=HS_TOKEN", "--set", f"base_url={SANDBOX}")[0] == 0
    monkeypatch.delenv("ENGINY_SECRETS_PASSPHRASE")  # locked
    code, out, err = cli("disconnect", "hubspot")
    assert code == 1
    assert out == ""
    assert "credentials are in the encrypted credentials file, which is locked" in err
    assert "Nothing was removed." in err
    assert len(EncryptedFileSecrets(secrets_file(data_dir), "pass phrase 3")._data) == 1  # still there, as said
    monkeypatch.setenv("ENGINY_SECRETS_PASSPHRASE", "pass phrase 3")
    assert cli("disconnect", "hubspot")[1].strip() == "HubSpot is disconnected; its stored credentials were removed."
    assert EncryptedFileSecrets(secrets_file(data_dir), "pass phrase 3")._data == {}
    assert cli("disconnect", "hubspot")[1].strip() == ("HubSpot was not connected; any credentials stored for it "
                                                       "are removed.")
