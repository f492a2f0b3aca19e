"""Schema upgrades: a database of an older version keeps working, and nothing in it is lost."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crm_stub import CRM
from crm_stub.db import make_engine
from crm_stub.models import InstalledAddon
from crm_webhooks import schema
from crm_webhooks.models import WebhooksBase


def differences(engine: sa.Engine) -> list:
    """What Alembic would still change to make the database match the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": schema.ours, "version_table": schema.VERSION_TABLE}
        )
        return compare_metadata(context, WebhooksBase.metadata)


def make_0_1_0_database(url: str) -> None:
    """A database as crm_webhooks 0.1.0 left it: its tables, no version table, a hook with a pending delivery."""
    host = CRM(url)
    try:
        with host.engine.begin() as conn:
            command.upgrade(schema.config(conn), schema.BASELINE)
            conn.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))
            conn.execute(
                sa.insert(InstalledAddon).values(
                    name="crm_webhooks",
                    version="0.1.0",
                    options={"allow_private_networks": True, "dispatcher": "manual"},
                )
            )
            conn.execute(sa.text("INSERT INTO webhook_meta (id, hooks_version) VALUES (1, 1)"))
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_hooks (id, name, event, url, method, enabled, secret, created_at, updated_at,"
                    " consecutive_failures) VALUES (1, 'old', 'lead.created', :url, 'POST', :on,"
                    " 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', '2026-01-01', '2026-01-01', 0)"
                ),
                {"url": "http://127.0.0.1:1/replaced-by-the-test", "on": True},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at) VALUES"
                    " ('evt_0000000000000000000000old1', 'lead.created', '1', '2026-01-01T00:00:00.000Z',"
                    " :body, :off, '2026-01-01')"
                ),
                {"body": '{"id":"evt_0000000000000000000000old1","type":"lead.created"}', "off": False},
            )
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at,"
                    " created_at) VALUES ('evt_0000000000000000000000old1', 1, 'pending', 0, '2026-01-01',"
                    " '2026-01-01')"
                )
            )
    finally:
        host.close()


def test_a_new_database_gets_todays_tables_at_the_newest_revision(database_url: str) -> None:
    with CRM(database_url) as crm:
        crm.install_addon("crm_webhooks", dispatcher="manual")
        with crm.engine.connect() as conn:
            assert schema.current(conn) == schema.head()
        assert differences(crm.engine) == []


def test_a_0_1_0_database_is_upgraded_when_the_crm_opens_it(database_url: str, webhook_receiver) -> None:
    make_0_1_0_database(database_url)
    with CRM(database_url) as crm:  # loads the installed addon, sees 0.1.0 != today's version, upgrades
        wh = crm.addons["crm_webhooks"]
        with crm.engine.connect() as conn:
            assert schema.current(conn) == schema.head()
        assert differences(crm.engine) == []
        wh.update_hook(1, url=webhook_receiver.url)
        crm.leads.create("After the upgrade")
        assert wh.run_pending() == 2  # the delivery waiting in the old database, and the new event
        assert [e["type"] for e in webhook_receiver.envelopes] == ["lead.created", "lead.created"]
        assert webhook_receiver.envelopes[1]["data"]["object"]["name"] == "After the upgrade"
        assert [d.status for d in wh.history(1)] == ["succeeded", "succeeded"]


def test_processes_upgrading_at_once_migrate_once(database_url: str) -> None:
    make_0_1_0_database(database_url)
    engines = [make_engine(database_url) for _ in range(3)]  # as three processes would have
    found, errors = [], []

    def run(engine: sa.Engine) -> None:
        try:
            found.append(schema.upgrade(engine))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(engine,)) for engine in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # One of them migrated from the baseline; the others found the work done.
    assert sorted(found, key=str) == sorted([schema.BASELINE, schema.head(), schema.head()], key=str)
    for engine in engines:
        engine.dispose()
