"""Schema upgrades: a database of an older version keeps working, and nothing in it is lost."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from crm_stub import CRM
from crm_stub.db import make_engine
from crm_stub.models import InstalledAddon, utcnow
from crm_webhooks import encryption, schema, verify
from crm_webhooks.engine.signing import new_secret
from crm_webhooks.models import WebhooksBase


def differences(engine: sa.Engine) -> list:
    """What Alembic would still change to make the database match the models."""
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"include_name": schema.ours, "version_table": schema.VERSION_TABLE}
        )
        return compare_metadata(context, WebhooksBase.metadata)


@contextmanager
def old_database(url: str, revision: str, version: str) -> Iterator[sa.Connection]:
    """A database whose addon tables are at ``revision``, installed by ``version``: fill it in the block."""
    host = CRM(url)
    try:
        with host.engine.begin() as conn:
            command.upgrade(schema.config(conn), revision)
            conn.execute(
                sa.insert(InstalledAddon).values(
                    name="crm_webhooks",
                    version=version,
                    options={"allow_private_networks": True, "dispatcher": "manual"},
                )
            )
            # From 0004 on, the upgrade itself wrote the row (with the key's canary).
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_meta (id, hooks_version) SELECT 1, 1"
                    " WHERE NOT EXISTS (SELECT 1 FROM webhook_meta WHERE id = 1)"
                )
            )
            yield conn
    finally:
        host.close()


def make_0_1_0_database(url: str) -> None:
    """A database as crm_webhooks 0.1.0 left it: its tables, no version table, a hook with a pending delivery."""
    with old_database(url, schema.BASELINE, "0.1.0") as conn:
        conn.execute(sa.text(f"DROP TABLE {schema.VERSION_TABLE}"))
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


HOUR = dt.timedelta(hours=1)
# Hooks as crm_webhooks 0.2.0 stored them, in plain text: (id, key, value, secret, previous secret, its expiry).
OLD_HOOKS = [
    (1, "X-Api-Key", "header-value-one", new_secret(), new_secret(), +HOUR),  # rotated, still in its grace
    (2, None, None, new_secret(), new_secret(), -HOUR),  # rotated, grace over
    (3, "X-Api-Key", "header-value-three", new_secret(), None, None),
]


def make_0_2_0_database(url: str, receiver_url: str) -> None:
    """A database at revision 0002 with data: the hooks above, a pending delivery of hook 1, an attempt of hook 3."""
    now = utcnow()
    with old_database(url, "0002", "0.2.0") as conn:
        for hook_id, key, value, secret, previous, grace in OLD_HOOKS:
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_hooks (name, event, url, method, key, value, enabled, secret,"
                    " previous_secret, previous_secret_expires_at, created_at, updated_at, consecutive_failures)"
                    " VALUES (:name, 'lead.created', :url, 'POST', :key, :value, :on, :secret, :previous,"
                    " :expires, :now, :now, 0)"
                ),
                {  # ids from the database's own counter, 1, 2 and 3, as 0.2.0 had them
                    "name": f"old {hook_id}",
                    "url": receiver_url,
                    "key": key,
                    "value": value,
                    "on": hook_id != 3,
                    "secret": secret,
                    "previous": previous,
                    "expires": grace and now + grace,
                    "now": now,
                },
            )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at) VALUES"
                " ('evt_0000000000000000000000old2', 'lead.created', '1', '2026-01-01T00:00:00.000Z',"
                " :body, :off, :now)"
            ),
            {"body": '{"id":"evt_0000000000000000000000old2","type":"lead.created"}', "off": False, "now": now},
        )
        for hook_id, status in ((1, "pending"), (3, "succeeded")):  # deliveries 1 and 2
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at,"
                    " created_at) VALUES ('evt_0000000000000000000000old2', :hook, :status, 0, :now, :now)"
                ),
                {"hook": hook_id, "status": status, "now": now},
            )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms,"
                " request_headers) VALUES (2, :now, 200, 1.5, '{}')"
            ),
            {"now": now},
        )


def dump(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        return "\n".join(repr(row) for t in tables for row in conn.execute(sa.text(f'SELECT * FROM "{t}"')))


def test_a_0_2_0_database_is_encrypted_and_keeps_its_ids_and_history(database_url: str, webhook_receiver) -> None:
    make_0_2_0_database(database_url, webhook_receiver.url)
    engine = make_engine(database_url)
    try:
        assert schema.upgrade(engine) == "0002"
        assert differences(engine) == []
        text = dump(engine)
        for _, _, value, secret, previous, _ in OLD_HOOKS:
            for plain in (value, secret, previous):
                assert plain is None or plain.removeprefix("whsec_") not in text
    finally:
        engine.dispose()

    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        for hook_id, _, value, secret, _, _ in OLD_HOOKS:
            assert (wh.get_hook(hook_id).value, wh.get_hook(hook_id).secret) == (value, secret)
        assert wh.get_hook(1).previous_secret_expires_at is not None
        assert wh.get_hook(2).previous_secret_expires_at is None  # its grace was over: not carried over
        # Existing hooks keep their records' order from now on (0.3.0's default).
        assert {wh.get_hook(hook_id).ordering for hook_id, *_ in OLD_HOOKS} == {"record"}
        # The rebuilt tables kept every row, the attempt of a delivery included.
        assert len(wh.get_delivery(2).attempts) == 1
        assert wh.run_pending() == 1
        (request,) = webhook_receiver.requests
        assert request.headers["X-Api-Key"] == "header-value-one"
        for secret in OLD_HOOKS[0][3:5]:  # signed with the secret and the previous one, still in its grace
            verify(request.get_data(), dict(request.headers), secret)
        # From now on no id is given twice, on SQLite too.
        wh.delete_hook(3)
        assert wh.create_hook(name="new", event="lead.created", url=webhook_receiver.url).id == 4


def test_the_upgrade_can_be_undone(database_url: str, webhook_receiver) -> None:
    make_0_2_0_database(database_url, webhook_receiver.url)
    engine = make_engine(database_url)
    try:
        schema.upgrade(engine)
        with engine.begin() as conn:
            command.downgrade(schema.config(conn), "0002")
            rows = conn.execute(
                sa.text("SELECT id, value, secret, previous_secret FROM webhook_hooks ORDER BY id")
            ).all()
        assert [tuple(r) for r in rows] == [
            (1, OLD_HOOKS[0][2], OLD_HOOKS[0][3], OLD_HOOKS[0][4]),
            (2, None, OLD_HOOKS[1][3], None),
            (3, OLD_HOOKS[2][2], OLD_HOOKS[2][3], None),
        ]
        assert differences(engine) != []  # the old tables, back
        assert schema.upgrade(engine) == "0002"
        assert differences(engine) == []
    finally:
        engine.dispose()


def test_a_rebuilt_table_does_not_give_deleted_ids_again(tmp_path) -> None:
    """SQLite rebuilds a table to change it: the counter of ids given survives the rebuild."""
    url = f"sqlite:///{tmp_path}/crm.db"
    with CRM(url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="manual")
        for n in range(3):
            wh.create_hook(name=f"h{n}", event="lead.created", url="https://example.com/h")
        wh.delete_hook(3)
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0003")  # rebuilds webhook_hooks
        schema.upgrade(crm.engine)  # and again
        assert wh.create_hook(name="after", event="lead.created", url="https://example.com/h").id == 4


def test_a_0_2_0_database_is_upgraded_when_the_crm_opens_it(database_url: str, webhook_receiver) -> None:
    make_0_2_0_database(database_url, webhook_receiver.url)
    with CRM(database_url) as crm:  # sees 0.2.0 installed, runs today's install(), which migrates
        wh = crm.addons["crm_webhooks"]
        with crm.engine.connect() as conn:
            assert schema.current(conn) == schema.head()
        assert wh.get_hook(1).ordering == "record"
        assert wh.run_pending() == 1


def test_0_3_0_reasons_become_codes_that_read_in_either_language(database_url: str) -> None:
    sentences = [
        "disabled by an admin",
        "created disabled",
        "disabled automatically: the receiver answered 410 Gone",
        "disabled automatically after 3 failed deliveries in a row",
        "paused by the ops script",  # another tool's words stay as they are
    ]
    with CRM(database_url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="manual", allow_private_networks=True)
        ids = [wh.create_hook(name=f"h{n}", event="lead.created", url="http://127.0.0.1:9/h").id for n in range(5)]
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0005")
            for hook_id, sentence in zip(ids, sentences, strict=True):
                conn.execute(
                    sa.text("UPDATE webhook_hooks SET enabled = :off, disabled_reason = :why WHERE id = :id"),
                    {"off": False, "why": sentence, "id": hook_id},
                )
        schema.upgrade(crm.engine)
        with crm.engine.connect() as conn:
            stored = conn.execute(sa.text("SELECT disabled_reason FROM webhook_hooks ORDER BY id")).scalars().all()
        assert stored == ["admin", "created", "gone", "failures:3", "paused by the ops script"]
        assert [wh.get_hook(i).disabled_reason for i in ids] == sentences
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0005")
            back = conn.execute(sa.text("SELECT disabled_reason FROM webhook_hooks ORDER BY id")).scalars().all()
        assert back == sentences
        schema.upgrade(crm.engine)


def test_an_upgraded_database_charts_its_old_deliveries_through_the_new_index(
    database_url: str, webhook_receiver
) -> None:
    make_0_2_0_database(database_url, webhook_receiver.url)

    def indexes(engine: sa.Engine) -> set[str]:
        with engine.connect() as conn:
            return {i["name"] for i in sa.inspect(conn).get_indexes("webhook_deliveries")}

    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        assert "ix_webhook_deliveries_hook_created" in indexes(crm.engine)
        assert [sum(s.count(o) for s in wh.last_day(3)) for o in ("succeeded", "failed")] == [1, 0]
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0006")  # undoes 0007 (and the migrations after it)
        assert "ix_webhook_deliveries_hook_created" not in indexes(crm.engine)
        schema.upgrade(crm.engine)
        assert differences(crm.engine) == []


def make_0_3_0_database(url: str) -> None:
    """A database at revision 0005 with data: a hook whose updated_at its deliveries moved, an attempt of it."""
    with old_database(url, "0005", "0.3.0") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO webhook_hooks (name, event, url, method, ordering, enabled, secret, created_at,"
                " updated_at, last_run_at, last_result, consecutive_failures) VALUES ('old', 'lead.created',"
                " 'http://127.0.0.1:1/old', 'POST', 'record', :on, :secret, '2026-01-01 10:00:00',"
                " '2026-03-01 12:00:00', '2026-03-01 12:00:00', 'succeeded', 0)"
            ),
            {"on": True, "secret": encryption.for_new_secrets().encrypt(new_secret())},
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at) VALUES"
                " ('evt_0000000000000000000000old3', 'lead.created', '1', '2026-03-01T12:00:00.000Z',"
                " :body, :off, '2026-03-01 12:00:00')"
            ),
            {"body": '{"id":"evt_0000000000000000000000old3","type":"lead.created"}', "off": False},
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, created_at, finished_at,"
                " last_status_code) VALUES ('evt_0000000000000000000000old3', 1, 'succeeded', 1,"
                " '2026-03-01 12:00:00', '2026-03-01 12:00:00', 200)"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms,"
                " request_headers, response_body) VALUES (1, '2026-03-01 12:00:00', 200, 1.5, '{}', 'thanks')"
            )
        )


def test_a_0_3_0_database_keeps_its_attempts_and_its_hooks_start_from_their_creation(database_url: str) -> None:
    make_0_3_0_database(database_url)
    engine = make_engine(database_url)
    try:
        assert schema.upgrade(engine) == "0005"
        assert differences(engine) == []
    finally:
        engine.dispose()
    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        hook = wh.get_hook(1)
        # What the deliveries left in updated_at said nothing of a person's change.
        assert hook.updated_at == hook.created_at == dt.datetime(2026, 1, 1, 10)
        assert hook.last_run_at == dt.datetime(2026, 3, 1, 12)
        (attempt,) = wh.get_delivery(1).attempts
        assert (attempt.status_code, attempt.response_body, attempt.response_headers) == (200, "thanks", None)
        with crm.engine.begin() as conn:  # and back: the attempt stays
            command.downgrade(schema.config(conn), "0007")
        assert differences(crm.engine) != []
        schema.upgrade(crm.engine)
        assert differences(crm.engine) == []
        assert wh.get_delivery(1).attempts[0].response_body == "thanks"


def test_a_0_4_0_hook_takes_its_one_event_and_can_take_more(database_url: str, webhook_receiver) -> None:
    with old_database(database_url, "0008", "0.4.0") as conn:
        for name, event in (("leads", "lead.created"), ("sales", "sale.created")):
            conn.execute(
                sa.text(
                    "INSERT INTO webhook_hooks (name, event, url, method, ordering, enabled, secret, created_at,"
                    " updated_at, consecutive_failures) VALUES (:name, :event, :url, 'POST', 'record', :on,"
                    " :secret, '2026-11-01 10:00:00', '2026-11-01 10:00:00', 0)"
                ),
                {
                    "name": name,
                    "event": event,
                    "url": webhook_receiver.url,
                    "on": True,
                    "secret": encryption.for_new_secrets().encrypt(new_secret()),
                },
            )
    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        assert differences(crm.engine) == []
        leads, sales = wh.list_hooks()
        assert (leads.events, sales.events) == (("lead.created",), ("sale.created",))
        crm.leads.create("After the upgrade")
        wh.run_pending()
        assert [r.json["type"] for r in webhook_receiver.requests] == ["lead.created"]
        wh.update_hook(sales.id, events=["sale.created", "lead.*"])
        with crm.engine.begin() as conn:  # back to 0.4.0: each hook keeps its first event
            command.downgrade(schema.config(conn), "0008")
            kept = conn.execute(sa.text("SELECT name, event FROM webhook_hooks ORDER BY id")).all()
        assert [tuple(row) for row in kept] == [("leads", "lead.created"), ("sales", "sale.created")]
        assert differences(crm.engine) != []
        schema.upgrade(crm.engine)
        assert differences(crm.engine) == []
        assert [h.events for h in wh.list_hooks()] == [("lead.created",), ("sale.created",)]


def test_a_0_4_0_attempt_keeps_its_history_and_a_templated_one_keeps_what_it_sent(
    database_url: str, webhook_receiver
) -> None:
    with old_database(database_url, "0008", "0.4.0") as conn:
        conn.execute(
            sa.text(
                "INSERT INTO webhook_hooks (id, name, event, url, method, ordering, enabled, secret, created_at,"
                " updated_at, consecutive_failures) VALUES (1, 'pos', 'lead.created', :url, 'POST', 'record', :on,"
                " :secret, '2026-11-01 10:00:00', '2026-11-01 10:00:00', 0)"
            ),
            {"url": webhook_receiver.url, "on": True, "secret": encryption.for_new_secrets().encrypt(new_secret())},
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at) VALUES"
                " ('evt_0000000000000000000000old1', 'lead.created', '1', '2026-11-01T10:00:00.000Z',"
                " '{}', :off, '2026-11-01 10:00:00')"
            ),
            {"off": False},
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, created_at,"
                " finished_at) VALUES ('evt_0000000000000000000000old1', 1, 'succeeded', 1,"
                " '2026-11-01 10:00:00', '2026-11-01 10:00:01')"
            )
        )
        conn.execute(
            sa.text(
                "INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms,"
                " request_headers, response_body) SELECT id, '2026-11-01 10:00:01', 200, 3.5, '{}', 'ok'"
                " FROM webhook_deliveries"
            )
        )
    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        assert differences(crm.engine) == []
        (before,) = wh.list_deliveries(hook_id=1)
        (old,) = before.attempts
        assert (old.response_body, old.request_body) == ("ok", None)
        wh.update_hook(1, body_template="{{ object.name }}", content_type="text/plain")
        crm.leads.create("Padaria São João")
        wh.run_pending()
        after = wh.last_delivery(1)
        assert after.attempts[0].request_body == "Padaria São João"
        with crm.engine.begin() as conn:  # back to 0.4.0: every attempt stays, without what it sent
            command.downgrade(schema.config(conn), "0008")
            kept = conn.execute(sa.text("SELECT delivery_id, status_code FROM webhook_attempts ORDER BY id")).all()
        assert [tuple(row) for row in kept] == [(before.id, 200), (after.id, 200)]


def test_a_hook_disabled_automatically_before_0012_owes_its_recovery(database_url: str, webhook_receiver) -> None:
    """Upgraded, a hook its failures disabled says webhook.recovered at its first success; one an admin
    disabled does not (nothing was wrong with it).  And back to 0011, then up again, nothing is lost."""
    hooks = sa.table(
        "webhook_hooks",
        *(sa.column(name) for name in ("name", "event", "url", "method", "ordering", "enabled", "secret")),
        *(sa.column(name) for name in ("created_at", "updated_at", "consecutive_failures", "disabled_reason")),
        sa.column("events", sa.JSON),
    )
    with old_database(database_url, "0011", "0.5.0") as conn:
        for name, reason in (("failed", "failures:5"), ("paused", "admin")):
            (hook_id,) = conn.execute(
                sa.insert(hooks)
                .values(
                    name=name,
                    event="lead.created",
                    events=["lead.created"],
                    url=webhook_receiver.url_for(f"/{name}"),
                    method="POST",
                    ordering="record",
                    enabled=False,
                    secret=encryption.for_new_secrets().encrypt(new_secret()),
                    created_at=dt.datetime(2026, 11, 1, 10),
                    updated_at=dt.datetime(2026, 11, 1, 10),
                    consecutive_failures=5 if name == "failed" else 0,
                    disabled_reason=reason,
                )
                .returning(sa.column("id"))
            ).one()
            conn.execute(
                sa.text("INSERT INTO webhook_hook_events (code, hook_id) VALUES ('lead.created', :id)"), {"id": hook_id}
            )
    engine = make_engine(database_url)  # what install() does once the version says 0012 is new
    try:
        assert schema.upgrade(engine) == "0011"  # the revision it found
    finally:
        engine.dispose()
    with CRM(database_url) as crm:
        wh = crm.addons["crm_webhooks"]
        assert differences(crm.engine) == []
        failed, paused = wh.list_hooks()
        ops = wh.create_hook(name="ops", events=["webhook.recovered"], url=webhook_receiver.url_for("/ops"))
        for hook in (failed, paused):
            wh.enable_hook(hook.id)
        crm.leads.create("After the upgrade")
        wh.run_pending()
        told = [webhook_receiver.verify(r, ops) for r in webhook_receiver.requests if r.path == "/ops"]
        assert [(e["type"], e["data"]["object"]["name"]) for e in told] == [("webhook.recovered", "failed")]
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0011")
            kept = conn.execute(sa.text("SELECT name, enabled FROM webhook_hooks ORDER BY id")).all()
        assert [tuple(row) for row in kept] == [("failed", True), ("paused", True), ("ops", True)]
        assert differences(crm.engine) != []
        schema.upgrade(crm.engine)
        assert differences(crm.engine) == []


def test_0013_first_attempts_index_and_rate_limits_upgrade_and_can_be_undone(database_url: str) -> None:
    def shape(engine: sa.Engine) -> tuple[bool, bool, bool]:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return (
                "ix_webhook_deliveries_first_due" in {i["name"] for i in inspector.get_indexes("webhook_deliveries")},
                "max_per_second" in {c["name"] for c in inspector.get_columns("webhook_hooks")},
                inspector.has_table("webhook_rate_slots"),
            )

    with CRM(database_url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="manual", allow_private_networks=True)
        hook = wh.create_hook(name="kept", event="lead.created", url="http://127.0.0.1:9/h", max_per_second=20)
        assert shape(crm.engine) == (True, True, True)
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0012")
        assert shape(crm.engine) == (False, False, False)
        assert schema.upgrade(crm.engine) == "0012"
        assert shape(crm.engine) == (True, True, True)
        assert differences(crm.engine) == []
        again = wh.get_hook(hook.id)  # the hook is still there, with no limit: the old schema had none
        assert (again.name, again.max_per_second) == ("kept", None)


def test_0014_probed_at_and_the_disabled_hooks_index_upgrade_and_can_be_undone(database_url: str) -> None:
    def shape(engine: sa.Engine) -> tuple[bool, bool]:
        with engine.connect() as conn:
            inspector = sa.inspect(conn)
            return (
                "probed_at" in {c["name"] for c in inspector.get_columns("webhook_hooks")},
                "ix_webhook_hooks_disabled" in {i["name"] for i in inspector.get_indexes("webhook_hooks")},
            )

    with CRM(database_url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="manual", allow_private_networks=True)
        hook = wh.create_hook(name="kept", event="lead.created", url="http://127.0.0.1:9/h")
        wh.disable_hook(hook.id)
        assert shape(crm.engine) == (True, True)
        with crm.engine.begin() as conn:
            command.downgrade(schema.config(conn), "0013")
        assert shape(crm.engine) == (False, False)
        assert schema.upgrade(crm.engine) == "0013"
        assert shape(crm.engine) == (True, True)
        assert differences(crm.engine) == []
        again = wh.get_hook(hook.id)  # still there, still disabled by its admin
        assert (again.name, again.enabled, again.disabled_code) == ("kept", False, "admin")
