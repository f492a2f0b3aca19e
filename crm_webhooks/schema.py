"""Creating and upgrading the addon's tables, with Alembic.

``install()`` runs whenever the addon's version changes, in every process that
loads it, so ``upgrade()`` must be safe to run concurrently and cheap when
there is nothing to do:

- a new database gets the tables of today straight from the models and is
  stamped at the newest revision (one round of DDL, no history replayed);
- a database made by 0.1.0, before migrations, is stamped at its revision
  (``0001``) and upgraded from there;
- anything else is upgraded to the newest revision.

One process migrates at a time: SQLite's ``BEGIN IMMEDIATE`` already takes
the write lock, PostgreSQL takes an advisory lock, and the version is read
only after the lock is held.

On SQLite a migration may rebuild a table (copy, drop the old, rename), and
dropping a table that others reference deletes their rows when foreign keys
are enforced (``ON DELETE CASCADE`` fires on the implicit delete).  So
foreign keys are off while migrating, as Alembic's batch mode asks, and
checked before the commit instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text

from .models import WebhooksBase

VERSION_TABLE = "webhook_alembic_version"
BASELINE = "0001"  # the schema of 0.1.0, which made its tables without Alembic
_LOCK_KEY = 0x6372_6D77_6862  # "crmwhb": any constant other addons are unlikely to pick


def ours(name: str | None, type_: str, parent_names: object) -> bool:
    """Alembic's ``include_name``: the addon compares and migrates its own tables only."""
    return type_ != "table" or (name or "").startswith("webhook_")


def config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "crm_webhooks:migrations")
    cfg.attributes["connection"] = connection
    return cfg


@cache
def head() -> str:
    revision = ScriptDirectory.from_config(config()).get_current_head()
    assert revision is not None
    return revision


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE}).get_current_revision()


@contextmanager
def _foreign_keys_off(conn: Connection) -> Iterator[None]:
    """SQLite: foreign keys unenforced on this connection until the block ends (outside a transaction)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # The pragma is a no-op inside a transaction: set it on the driver's connection before ours begins.
    raw = conn.connection.driver_connection
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        raw.execute("PRAGMA foreign_keys=ON")


def upgrade(engine: Engine) -> str | None:
    """Bring the tables to the newest revision; returns the revision found before (None: new)."""
    with engine.connect() as conn, _foreign_keys_off(conn), conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        found = current(conn)
        if found == head():
            return found
        cfg = config(conn)
        if found is None and not inspect(conn).has_table("webhook_hooks"):
            WebhooksBase.metadata.create_all(conn)
            command.stamp(cfg, head())
            return None
        if found is None:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, "head")
        if conn.dialect.name == "sqlite":
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                raise RuntimeError(f"the upgrade would break foreign keys: {broken[:5]}")
        return found or BASELINE
