"""Secrets at rest: hooks' signing secrets and header values are encrypted with keys kept outside the database.

A dump of the database alone then gives nothing to forge events or call
receivers with.  Encryption is Fernet (AES-128-CBC with HMAC-SHA256, from
``cryptography``) through ``MultiFernet``: the first key encrypts, every key
decrypts, so keys rotate without downtime (``reencrypt`` moves everything to
the first key).

Where the keys come from, first found wins:

1. ``CRM_WEBHOOKS_ENCRYPTION_KEYS``: comma-separated Fernet keys, newest first;
2. the key file, one key a line, newest first: ``$CRM_WEBHOOKS_KEY_FILE``, else
   ``crm-webhooks/encryption-keys`` under ``$XDG_CONFIG_HOME`` (``~/.config``);
3. nothing: on a database that has no secrets yet, a key file is generated
   (0600) and the log says where, so a fresh machine needs no set-up.

Keys are never an install option: those are stored in the database, next to
what the keys protect.  The database keeps a canary (a constant encrypted
with the key) in ``webhook_meta``, so a process with a wrong or missing key
stops at start with one error that says which setting to fix, instead of
failing on the first delivery.

The columns decrypt as they are read (``EncryptedText``, ``EncryptedSecrets``),
with the keys the addon attached to the engine: the claim query, the hook
services and the ORM all get plain text and write ciphertext without knowing.
Decryption is cached by ciphertext, so the hot path pays a dictionary lookup
per claimed row, not a Fernet decryption (about 18 µs each here).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import weakref
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import Connection, Dialect, Engine
from sqlalchemy.types import Text, TypeDecorator

from crm_stub.db import read_only
from crm_stub.errors import CRMError

from .domain.secrets import Retired

KEYS_ENV = "CRM_WEBHOOKS_ENCRYPTION_KEYS"
KEY_FILE_ENV = "CRM_WEBHOOKS_KEY_FILE"
_CANARY = b"crm_webhooks: the key opens this database"
_FIX = (
    f"set {KEYS_ENV} to the keys its secrets were encrypted with (comma-separated, newest first)"
    f" or {KEY_FILE_ENV} to the file holding them"
)

log = logging.getLogger("crm_webhooks")


class EncryptionKeyError(CRMError):
    """The keys this process has are malformed, missing, or not the ones the database's secrets need."""

    def __init__(self, message: str) -> None:
        super().__init__(f"crm_webhooks: {message}")


def generate_key() -> str:
    """A new Fernet key (32 random bytes, url-safe base64)."""
    return Fernet.generate_key().decode()


class Keyring:
    """Fernet keys, newest first: the first encrypts, all decrypt."""

    def __init__(self, keys: Sequence[str], source: str) -> None:
        self.source = source
        fernets = []
        for n, key in enumerate(keys, start=1):
            if not key.strip():
                raise EncryptionKeyError(f"{source}: key {n} is empty")
            try:
                fernets.append(Fernet(key.strip()))
            except ValueError:  # binascii.Error is one too
                raise EncryptionKeyError(
                    f"{source}: key {n} is not a Fernet key (32 url-safe base64-encoded bytes;"
                    " `crm-webhooks keys generate` makes one)"
                ) from None
        self._fernet = MultiFernet(fernets)
        # By ciphertext: a changed secret is a new token, so nothing is ever stale.
        self.decrypt = lru_cache(maxsize=4096)(self._decrypt)

    def encrypt(self, text: str) -> str:
        return self._fernet.encrypt(text.encode()).decode()

    def _decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken:
            raise EncryptionKeyError(
                f"a secret in the database was encrypted with a key that {self.source} does not hold; {_FIX}"
            ) from None

    def rotate(self, token: str) -> str:
        """The same text, encrypted again with the first key."""
        try:
            return self._fernet.rotate(token).decode()
        except InvalidToken:
            self._decrypt(token)  # raises the error that says what to do
            raise

    def opens(self, canary: str) -> bool:
        try:
            return self._fernet.decrypt(canary) == _CANARY
        except InvalidToken:
            return False

    def canary(self) -> str:
        return self._fernet.encrypt(_CANARY).decode()


@lru_cache(maxsize=64)
def _keyring(keys: tuple[str, ...], source: str) -> Keyring:
    # One Keyring (and one decryption cache) per set of keys in a process, however many CRMs use it.
    return Keyring(keys, source)


def key_file() -> Path:
    """Where the key file is: ``$CRM_WEBHOOKS_KEY_FILE``, else under the user's config directory."""
    given = os.environ.get(KEY_FILE_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    config = os.environ.get("XDG_CONFIG_HOME", "").strip() or Path.home() / ".config"
    return Path(config) / "crm-webhooks" / "encryption-keys"


def configured() -> Keyring | None:
    """The keys this process was given (environment, then key file); None when there are none."""
    given = os.environ.get(KEYS_ENV, "").strip()
    if given:
        return _keyring(tuple(given.split(",")), KEYS_ENV)
    path = key_file()
    try:
        lines = path.read_text().split()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise EncryptionKeyError(f"cannot read the key file {path}: {exc.strerror}") from None
    if not lines:
        raise EncryptionKeyError(f"the key file {path} holds no key; {_FIX}")
    return _keyring(tuple(lines), f"the key file {path}")


def generate_key_file(path: Path) -> Keyring:
    """Write a new key to ``path`` (0600) unless a file is there already; returns the keys it holds.

    The key is written to a temporary file first and linked into place, which
    never overwrites: processes starting at once all end up with the first one's key.
    """
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".encryption-key-")  # mode 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(generate_key() + "\n")
            file.flush()
            os.fsync(file.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        else:
            log.warning(
                "no encryption key was configured: generated one in %s; keep it with the database's backups"
                " (without it the hooks' secrets cannot be read), or set %s to manage keys yourself",
                path,
                KEYS_ENV,
            )
    finally:
        os.unlink(temporary)
    keyring = configured()
    assert keyring is not None
    return keyring


def for_new_secrets() -> Keyring:
    """The keys to encrypt a database's first secrets with: the configured ones, else a generated key file."""
    return configured() or generate_key_file(key_file())


# -- the canary --------------------------------------------------------------------

_META = sa.table(
    "webhook_meta", sa.column("id", sa.Integer), sa.column("hooks_version", sa.Integer), sa.column("key_canary", Text)
)


def set_canary(conn: Connection, keyring: Keyring) -> str:
    """Store ``keyring``'s canary unless the database has one; returns the canary it has now."""
    meta = _META.c
    written = keyring.canary()
    updated = conn.execute(sa.update(_META).where(meta.id == 1, meta.key_canary.is_(None)).values(key_canary=written))
    if updated.rowcount:
        return written
    found = conn.scalar(sa.select(meta.key_canary).where(meta.id == 1))
    if found is None:  # no meta row yet (a migration ahead of install())
        conn.execute(sa.insert(_META).values(id=1, hooks_version=0, key_canary=written))
        return written
    return found


def open_database(engine: Engine) -> Keyring:
    """Check that this process's keys open ``engine``'s secrets and attach them to it; the error says what to fix.

    A database with no secrets yet gets the canary of the configured keys (or
    of a generated key file).
    """
    with read_only(), engine.connect() as conn:
        canary = conn.scalar(sa.select(_META.c.key_canary).where(_META.c.id == 1))
    keyring = configured()
    if canary is None:
        keyring = keyring or generate_key_file(key_file())
        with engine.begin() as conn:
            canary = set_canary(conn, keyring)
    if keyring is None:
        raise EncryptionKeyError(
            f"this database's secrets are encrypted, but {KEYS_ENV} is not set and there is no key file"
            f" at {key_file()}; {_FIX}"
        )
    if not keyring.opens(canary):
        raise EncryptionKeyError(
            f"no key in {keyring.source} opens this database's secrets (they were encrypted with another key); {_FIX}"
        )
    _attached[engine.dialect] = keyring
    return keyring


# -- the columns ---------------------------------------------------------------------

# An engine's dialect is its own object: it is what a column type is handed, so the keys hang on it.
_attached: weakref.WeakKeyDictionary[Dialect, Keyring] = weakref.WeakKeyDictionary()


def keyring_for(dialect: Dialect) -> Keyring:
    """The keys attached to the engine of ``dialect``, else those this process is configured with."""
    keyring = _attached.get(dialect) or configured()
    if keyring is None:
        raise EncryptionKeyError(f"{KEYS_ENV} is not set and there is no key file at {key_file()}; {_FIX}")
    return keyring


class EncryptedText(TypeDecorator[str]):
    """Text stored as a Fernet token."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).encrypt(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else keyring_for(dialect).decrypt(value)


class EncryptedSecrets(TypeDecorator[Retired]):
    """Retired secrets with when each stops signing, as one Fernet token of JSON (NULL when none)."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: Retired | None, dialect: Dialect) -> str | None:
        return seal_retired(keyring_for(dialect), value or ())

    def process_result_value(self, value: str | None, dialect: Dialect) -> Retired:
        return open_retired(keyring_for(dialect), value)


def seal_retired(keyring: Keyring, retired: Retired) -> str | None:
    """Retired secrets as stored: one token of ``[[secret, ISO time], ...]``, NULL when there are none."""
    if not retired:
        return None
    return keyring.encrypt(json.dumps([[secret, until.isoformat()] for secret, until in retired]))


def open_retired(keyring: Keyring, token: str | None) -> Retired:
    return () if token is None else _parse_retired(keyring.decrypt(token))


@lru_cache(maxsize=1024)
def _parse_retired(text: str) -> Retired:
    # Cached by the decrypted text: the claim reads a rotating hook's list on every delivery.
    return tuple((secret, dt.datetime.fromisoformat(until)) for secret, until in json.loads(text))


# -- rotating keys ---------------------------------------------------------------------

_HOOKS = sa.table(
    "webhook_hooks",
    sa.column("id", sa.Integer),
    sa.column("value", Text),
    sa.column("secret", Text),
    sa.column("retired_secrets", Text),
)
_ENCRYPTED = ("value", "secret", "retired_secrets")


def reencrypt(conn: Connection, keyring: Keyring | None = None) -> int:
    """Encrypt every hook's secrets, and the canary, again with the first key; returns how many hooks.

    Run it after putting a new key first (keeping the old ones after it) in
    every process; then the old keys can go.
    """
    keyring = keyring or keyring_for(conn.dialect)
    h = _HOOKS.c
    rows = conn.execute(sa.select(h.id, *(h[c] for c in _ENCRYPTED)).with_for_update()).all()
    for hook_id, *tokens in rows:
        rotated = {c: None if t is None else keyring.rotate(t) for c, t in zip(_ENCRYPTED, tokens, strict=True)}
        conn.execute(sa.update(_HOOKS).where(h.id == hook_id).values(rotated))
    canary = conn.scalar(sa.select(_META.c.key_canary).where(_META.c.id == 1).with_for_update())
    if canary is not None:
        conn.execute(sa.update(_META).where(_META.c.id == 1).values(key_canary=keyring.rotate(canary)))
    return len(rows)
