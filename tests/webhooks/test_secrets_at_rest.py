"""Secrets at rest: a database dump holds no signing secret nor header value; keys come from outside it."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from crm_stub import CRM
from crm_webhooks import verify
from crm_webhooks.encryption import KEY_FILE_ENV, KEYS_ENV, EncryptionKeyError, reencrypt

OLD_KEY, NEW_KEY, OTHER_KEY = (Fernet.generate_key().decode() for _ in range(3))
VALUE = "header-value-of-the-receiver"


def dump(engine: sa.Engine) -> str:
    """Every row of every table, as a database dump would have them."""
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        return "\n".join(repr(row) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"')))


def on_disk(database_url: str) -> bytes:
    """A SQLite database's files, WAL included (empty for another database)."""
    if not database_url.startswith("sqlite:///"):
        return b""
    path = Path(database_url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def test_a_database_dump_holds_no_secret_nor_header_value(crm, webhooks, webhook_receiver, crm_database_url) -> None:
    hook = webhooks.create_hook(
        name="kept", event="lead.created", url=webhook_receiver.url, key="X-Api-Key", value=VALUE
    )
    rotated = webhooks.rotate_secret(hook.id)  # the retired secret still signs: it is stored too
    crm.leads.create("Sent")
    webhooks.run_pending()

    text, raw = dump(crm.engine), on_disk(crm_database_url)
    for secret in (VALUE, hook.secret, rotated.secret):
        bare = secret.removeprefix("whsec_")
        assert bare not in text and bare.encode() not in raw
    # What is stored encrypted reads and sends as it was written.
    assert webhooks.get_hook(hook.id).value == VALUE and webhooks.get_hook(hook.id).secret == rotated.secret
    (request,) = webhook_receiver.requests
    assert request.headers["X-Api-Key"] == VALUE
    for secret in (hook.secret, rotated.secret):
        verify(request.get_data(), dict(request.headers), secret)


@pytest.fixture
def cli_runner():
    """``crm-webhooks`` in this process: what it prints, on stdout and stderr, and its exit code."""
    from click.testing import CliRunner

    from crm_webhooks.cli import main

    return lambda *args: CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """Sets the keys this process has: a comma-separated list, or None for none at all."""

    def use(value: str | None) -> None:
        monkeypatch.setenv(KEY_FILE_ENV, str(tmp_path / "no-such-dir" / "keys"))
        if value is None:
            monkeypatch.delenv(KEYS_ENV, raising=False)
        else:
            monkeypatch.setenv(KEYS_ENV, value)

    return use


def make_hook(database_url: str) -> dict[str, str]:
    with CRM(database_url) as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="manual")
        hook = wh.create_hook(name="h", event="lead.created", url="http://127.0.0.1:9/h", key="X-Api-Key", value=VALUE)
        retired = hook.secret
        hook = wh.rotate_secret(hook.id)
        return {"id": hook.id, "secret": hook.secret, "retired": retired}


@pytest.mark.parametrize(
    ("later", "message"),
    [
        (OTHER_KEY, "no key in CRM_WEBHOOKS_ENCRYPTION_KEYS opens this database's secrets"),
        (None, "CRM_WEBHOOKS_ENCRYPTION_KEYS is not set and there is no key file at .*no-such-dir"),
        ("not-a-key", "CRM_WEBHOOKS_ENCRYPTION_KEYS: key 1 is not a Fernet key"),
        (f"{OTHER_KEY},", "CRM_WEBHOOKS_ENCRYPTION_KEYS: key 2 is empty"),
    ],
    # Not the key itself: it is made afresh in each process, and pytest-xdist needs the same ids in each.
    ids=["another key", "no key", "not a key", "an empty second key"],
)
def test_a_missing_or_wrong_key_is_one_clear_error_at_start(database_url, keys, later, message) -> None:
    keys(OLD_KEY)
    make_hook(database_url)
    keys(later)
    with pytest.raises(EncryptionKeyError, match=message):
        CRM(database_url)


def test_the_command_line_says_it_in_one_line(database_url, keys, cli_runner) -> None:
    keys(OLD_KEY)
    make_hook(database_url)
    keys(OTHER_KEY)
    result = cli_runner("--database-url", database_url, "hooks", "list")
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: crm_webhooks: no key in CRM_WEBHOOKS_ENCRYPTION_KEYS opens")
    assert result.stderr.count("\n") == 1


def test_keys_rotate_without_losing_a_secret(database_url, keys, cli_runner) -> None:
    keys(OLD_KEY)
    made = make_hook(database_url)
    keys(f"{NEW_KEY},{OLD_KEY}")  # the new key first: it encrypts, both decrypt
    done = cli_runner("--database-url", database_url, "keys", "reencrypt")
    assert done.exit_code == 0, done.stderr
    assert "re-encrypted the secrets of 1 hook with the first key" in done.stdout
    keys(NEW_KEY)  # the old key can go now
    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        assert wh.get_hook(made["id"]).secret == made["secret"] and wh.get_hook(made["id"]).value == VALUE
        with crm.engine.begin() as conn:  # nothing is left that only the old key opens
            assert reencrypt(conn) == 1
    keys(OLD_KEY)
    with pytest.raises(EncryptionKeyError):
        CRM(database_url)


def test_keys_generate_prints_a_new_key(cli_runner) -> None:
    first, second = (cli_runner("keys", "generate") for _ in range(2))
    assert first.exit_code == 0 and first.stdout != second.stdout
    Fernet(first.stdout.strip())


@pytest.mark.parametrize("where", ["CRM_WEBHOOKS_KEY_FILE", "XDG_CONFIG_HOME"])
def test_with_no_key_configured_a_key_file_is_made_once(tmp_path, monkeypatch, caplog, where: str) -> None:
    monkeypatch.delenv(KEYS_ENV, raising=False)
    if where == KEY_FILE_ENV:
        path = tmp_path / "secrets" / "webhooks.keys"
        monkeypatch.setenv(KEY_FILE_ENV, str(path))
    else:
        monkeypatch.delenv(KEY_FILE_ENV, raising=False)
        monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
        path = tmp_path / "config" / "crm-webhooks" / "encryption-keys"
    url = f"sqlite:///{tmp_path}/crm.db"
    with caplog.at_level(logging.WARNING, logger="crm_webhooks"), CRM(url) as crm:
        hook = crm.install_addon("crm_webhooks", dispatcher="manual").create_hook(
            name="h", event="lead.created", url="https://example.com/h", key="X-Api-Key", value=VALUE
        )
    assert str(path) in caplog.text
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    Fernet(path.read_text().strip())
    written = path.read_text()
    with CRM(url) as crm:
        assert crm.addons["crm_webhooks"].get_hook(hook.id).secret == hook.secret
    assert path.read_text() == written
