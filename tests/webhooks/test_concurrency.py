"""Several dispatchers and writers on one database: no lock errors reach the CRM, nothing is sent twice."""

from __future__ import annotations

import threading
import time
from collections import Counter

from sqlalchemy import event

from crm_stub import CRM
from crm_webhooks.engine.record import Batch


def test_two_processes_with_thread_dispatchers_share_one_database(crm_database_url: str, webhook_receiver) -> None:
    # Two CRM objects stand for two processes (the web server and a CLI) on one database.
    first = CRM(crm_database_url)
    first.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="thread")
    second = CRM(crm_database_url)
    try:
        assert second.addons["crm_webhooks"].options.dispatcher == "thread"
        first.addons["crm_webhooks"].create_hook(name="all", event="lead.created", url=webhook_receiver.url_for("/one"))
        second.addons["crm_webhooks"].create_hook(
            name="all too", event="lead.created", url=webhook_receiver.url_for("/two")
        )
        errors: list[BaseException] = []

        def write(crm: CRM, prefix: str) -> None:
            try:
                for n in range(60):
                    crm.leads.create(f"{prefix}{n}")
            except BaseException as exc:  # collected for the assertion below
                errors.append(exc)

        writers = [threading.Thread(target=write, args=(c, p)) for c, p in ((first, "a"), (second, "b"), (first, "c"))]
        for t in writers:
            t.start()
        for t in writers:
            t.join()
        assert errors == []

        deadline = time.monotonic() + 30
        while len(webhook_receiver.requests) < 360 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # anything sent twice would arrive now
        sent = Counter((r.headers["webhook-id"], r.path) for r in webhook_receiver.requests)
        assert len(sent) == 360  # 180 events x 2 hooks, every one of them arrived...
        assert set(sent.values()) == {1}  # ...exactly once
    finally:
        second.close()
        first.close()


def test_recording_a_batch_writes_its_hooks_in_id_order_whatever_order_they_were_sent_in(crm, webhooks) -> None:
    """Workers recording batches that share hooks each lock those hooks' rows. In each batch's own
    order, two of them could each hold a row the other waits for: on PostgreSQL a deadlock, one
    batch not recorded and sent again once its lease ran out (seen in tests/scaleout)."""
    for name in ("first", "second"):
        webhooks.create_hook(name=name, event="lead.created", url="http://127.0.0.1:9/down")
    crm.leads.create("Ana")
    deliverer = webhooks.deliverer
    claimed = sorted(deliverer.claim().claimed, key=lambda c: c.hook_id, reverse=True)
    sent = [deliverer.send(c) for c in claimed]  # the second hook's attempt first
    written: list[int] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        if context.isupdate and context.compiled.statement.table.name == "webhook_hooks":
            written.append(context.compiled_parameters[0]["id_1"])

    event.listen(crm.engine, "before_cursor_execute", note)
    try:
        deliverer.record(Batch(sent=sent))
    finally:
        event.remove(crm.engine, "before_cursor_execute", note)
    assert written == sorted(c.hook_id for c in claimed)
