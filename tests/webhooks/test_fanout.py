"""Events are written alone in the CRM's transaction; their delivery rows come at the next claim or read.

These tests look at the tables underneath on purpose: what a CRM write leaves
behind is the point of the design, and the public calls must hide it.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_webhooks.engine import fanout
from crm_webhooks.models import DeliveryRow, EventRow, HookRow


def hook_for(webhooks, receiver, event: str = "lead.created", name: str = "h"):
    return webhooks.create_hook(name=name, event=event, url=receiver.url)


def count(crm, model, *where) -> int:
    with crm.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_a_crm_write_leaves_one_event_row_naming_its_hooks(crm, webhooks, webhook_receiver) -> None:
    first = hook_for(webhooks, webhook_receiver, name="a")
    second = hook_for(webhooks, webhook_receiver, name="b")
    hook_for(webhooks, webhook_receiver, event="client.created", name="other event")
    crm.leads.create("Ana")
    with crm.engine.connect() as conn:
        assert conn.execute(sa.select(EventRow.type, EventRow.fanout)).all() == [
            ("lead.created", f"{first.id},{second.id}")
        ]
    assert count(crm, DeliveryRow) == 0


def test_an_event_nobody_listens_to_writes_nothing(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver, event="client.created")
    crm.leads.create("Ana")
    assert count(crm, EventRow) == 0


def test_a_read_right_after_the_change_sees_the_pending_delivery(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Ana")
    pending = webhooks.last_delivery(hook.id)
    assert pending.status == "pending" and pending.attempts == ()
    assert webhooks.delivery_stats()["pending"] == 1
    assert count(crm, EventRow, EventRow.fanout.is_not(None)) == 0
    assert webhooks.run_pending() == 1
    assert webhooks.last_delivery(hook.id).id == pending.id  # the same row, not a second one


def test_a_hook_deleted_before_the_fan_out_gets_nothing_and_leaves_nothing(crm, webhooks, webhook_receiver) -> None:
    kept = hook_for(webhooks, webhook_receiver, name="kept")
    doomed = hook_for(webhooks, webhook_receiver, name="doomed")
    crm.leads.create("Ana")
    webhooks.delete_hook(doomed.id)
    # SQLite gives the highest id to the next hook again: it must not inherit the event.
    successor = hook_for(webhooks, webhook_receiver, name="doomed")
    assert webhooks.run_pending() == 1
    assert [d.hook_id for d in webhooks.list_deliveries()] == [kept.id]
    assert webhooks.last_delivery(successor.id) is None
    assert len(webhook_receiver.requests) == 1


def test_a_hook_disabled_before_the_fan_out_holds_its_delivery(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Ana")
    webhooks.disable_hook(hook.id)
    assert webhooks.last_delivery(hook.id).held  # held by the fan-out itself, before any claim
    assert webhooks.run_pending() == 0
    webhooks.enable_hook(hook.id)
    assert webhooks.run_pending() == 1


def test_a_stale_index_costs_nothing_wrong(crm, webhooks, webhook_receiver) -> None:
    # The in-process index believes lead.created has a hook; the database knows better.
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Seen")
    with crm.engine.begin() as conn:  # as another process would: no hooks_version bump seen yet
        conn.execute(sa.update(HookRow).values(enabled=False))
    crm.leads.create("Not for anyone")
    assert count(crm, EventRow) == 1
    with crm.engine.begin() as conn:
        conn.execute(sa.update(HookRow).values(enabled=True))
    crm.leads.create("Seen again")
    assert webhooks.run_pending() == 2
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == ["Seen", "Seen again"]
    assert webhooks.last_delivery(hook.id).status == "succeeded"


def test_prune_keeps_events_still_to_fan_out(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver)
    crm.leads.create("Ana")
    webhooks.prune(older_than=0)
    assert count(crm, EventRow) == 1
    assert webhooks.run_pending() == 1


def test_a_burst_larger_than_one_batch_is_fanned_out_in_order(crm, webhooks, webhook_receiver, monkeypatch) -> None:
    monkeypatch.setattr(fanout, "BATCH", 7)  # several batches without thousands of writes
    hook = hook_for(webhooks, webhook_receiver)
    with crm.transaction():
        for n in range(20):
            crm.leads.create(f"Lead {n}")
    history = webhooks.history(hook.id, limit=100)
    assert len(history) == 20
    names = [d.payload["data"]["object"]["name"] for d in reversed(history)]
    assert names == [f"Lead {n}" for n in range(20)]


def test_a_rolled_back_change_leaves_no_event(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver)
    with pytest.raises(RuntimeError), crm.transaction():
        crm.leads.create("Ana")
        raise RuntimeError("the caller changed its mind")
    assert count(crm, EventRow) == 0


def test_a_backlog_is_fanned_out_in_batches_each_committed_on_its_own(
    crm, webhooks, webhook_receiver, monkeypatch
) -> None:
    # On SQLite a fan-out holds the one write lock: the CRM's writes get it between batches.
    monkeypatch.setattr(fanout, "BATCH", 10)  # the same passes as a real backlog's, in less time
    hook_for(webhooks, webhook_receiver)
    with crm.transaction():
        for n in range(fanout.BATCH * 2 + 10):
            crm.leads.create(f"Lead {n}")
    seen: list[str] = []

    def executed(conn, cursor, statement, *args) -> None:
        if "INSERT INTO webhook_deliveries" in statement:  # alone, or in the fan-out's one statement
            seen.append("insert")

    def committed(conn) -> None:
        seen.append("commit")

    sa.event.listen(crm.engine, "after_cursor_execute", executed)
    sa.event.listen(crm.engine, "commit", committed)
    try:
        assert webhooks.delivery_stats()["pending"] == fanout.BATCH * 2 + 10
    finally:
        sa.event.remove(crm.engine, "after_cursor_execute", executed)
        sa.event.remove(crm.engine, "commit", committed)
    writing = seen[seen.index("insert") : len(seen) - seen[::-1].index("insert")]
    assert writing.count("commit") >= 2, seen  # three batches, each in its own transaction
