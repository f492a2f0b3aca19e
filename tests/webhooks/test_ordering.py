"""Per-record order: a receiver gets each record's events in the order they were committed."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_webhooks import ValidationError
from crm_webhooks.engine import fanout
from crm_webhooks.engine.deliver import Deliverer
from crm_webhooks.engine.record import Batch
from crm_webhooks.models import DeliveryRow, HookRow

from ..waiting import wait_until


def updates_hook(webhooks, receiver, **fields):
    return webhooks.create_hook(name="updates", event="lead.updated", url=receiver.url, **fields)


def names(receiver) -> list[str]:
    return [e["data"]["object"]["name"] for e in receiver.envelopes]


def edit_two_leads(crm) -> None:
    """A1 and A2 are two changes of lead A; B1 a change of lead B, committed after both."""
    a, b = crm.leads.create("A"), crm.leads.create("B")
    crm.leads.update(a.id, name="A1")
    crm.leads.update(a.id, name="A2")
    crm.leads.update(b.id, name="B1")


def test_new_hooks_keep_record_order_and_say_so(webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    assert hook.ordering == "record" and hook.to_dict()["ordering"] == "record"
    assert webhooks.update_hook(hook.id, ordering="none").ordering == "none"


@pytest.mark.parametrize("bad", ["fifo", "", None, 1, "RECORD"])
def test_an_unknown_ordering_is_refused_and_nothing_is_stored(webhooks, webhook_receiver, bad) -> None:
    with pytest.raises(ValidationError) as error:
        updates_hook(webhooks, webhook_receiver, ordering=bad)
    assert error.value.field == "ordering"
    assert webhooks.list_hooks() == []


@pytest.mark.webhooks_options(retry_delays=[1.0], retry_jitter=0)  # past the first run_pending, on a slow machine too
def test_a_retried_event_holds_the_later_ones_of_its_record_only(crm, webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    edit_two_leads(crm)
    # A1's first attempt; a 429, whose retry keeps its time when B1 is answered (after a 500 the
    # receiver answering B1 would make it due at once: tests/webhooks/test_catchup.py).
    webhook_receiver.fail_next(1, status=429)
    webhooks.run_pending()
    # B is not held back by A; A2 waits behind A1, which waits for its retry.
    assert names(webhook_receiver) == ["A1", "B1"]
    waiting = {d.payload["data"]["object"]["name"]: d for d in webhooks.history(hook.id)}
    assert waiting["A2"].status == "pending" and waiting["A2"].waiting_for == waiting["A1"].id
    assert waiting["A1"].waiting_for is None and waiting["B1"].waiting_for is None
    assert waiting["A2"].to_dict()["waiting_for"] == waiting["A1"].id
    # A1's retry falls due: sent once it is, whatever the machine's pace
    wait_until(lambda: webhooks.run_pending() >= 0 and len(names(webhook_receiver)) == 4, what="A1's retry and A2")
    assert names(webhook_receiver) == ["A1", "B1", "A1", "A2"]
    assert {d.status for d in webhooks.history(hook.id)} == {"succeeded"}


@pytest.mark.webhooks_options(retry_delays=[])
def test_when_the_earlier_event_fails_for_good_the_later_ones_go_on(crm, webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    edit_two_leads(crm)
    webhook_receiver.fail_next(1)
    webhooks.run_pending()
    assert names(webhook_receiver) == ["A1", "B1", "A2"]  # one bad event parks nothing for ever
    statuses = {d.payload["data"]["object"]["name"]: d.status for d in webhooks.history(hook.id)}
    assert statuses == {"A1": "failed", "A2": "succeeded", "B1": "succeeded"}


@pytest.mark.webhooks_options(retry_delays=[60])
def test_without_ordering_a_later_event_does_not_wait(crm, webhooks, webhook_receiver) -> None:
    updates_hook(webhooks, webhook_receiver, ordering="none")
    edit_two_leads(crm)
    webhook_receiver.fail_next(1, status=429)  # A1 waits for its retry while A2 and B1 are answered
    webhooks.run_pending()
    assert names(webhook_receiver) == ["A1", "A2", "B1"]


@pytest.mark.webhooks_options(retry_delays=[60])
def test_a_follow_up_waits_behind_earlier_changes_of_its_record(crm, webhooks, webhook_receiver) -> None:
    for event in ("lead.updated", "lead.follow_up_added"):
        webhooks.create_hook(name=event, event=event, url=webhook_receiver.url)
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    crm.leads.follow_up(lead.id, "called")
    webhook_receiver.fail_next(1)
    webhooks.run_pending()
    # Two hooks are two queues: each keeps its own order, and neither waits for the other.
    assert [e["type"] for e in webhook_receiver.envelopes] == ["lead.updated", "lead.follow_up_added"]


@pytest.mark.webhooks_options(retry_delays=[60])
def test_test_sends_and_redeliveries_never_wait(crm, webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    edit_two_leads(crm)
    webhook_receiver.fail_next(1)
    webhooks.run_pending()
    a1 = next(d for d in webhooks.history(hook.id) if d.payload["data"]["object"]["name"] == "A1")
    assert webhooks.send_test(hook.id).status == "succeeded"
    assert webhooks.redeliver(a1.id).status == "succeeded"


def test_a_claim_never_sees_a_later_event_of_a_record_while_the_earlier_one_is_being_fanned_out(
    crm, webhooks, webhook_receiver
) -> None:
    if crm.engine.dialect.name != "postgresql":
        pytest.skip("SQLite serialises writers: no fan-out can run beside another")
    updates_hook(webhooks, webhook_receiver)
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    with crm.engine.connect() as slow, slow.begin():  # another worker's claim, fanning A1 out and not committed yet
        fanout.fan_out(slow)
        crm.leads.update(lead.id, name="A2")
        # Without the fan-out lock this claim wrote A2's delivery and took it: A1's was invisible.
        assert webhooks.deliverer.claim().claimed == []
    webhooks.run_pending()
    assert names(webhook_receiver) == ["A1", "A2"]


def test_a_late_recording_does_not_undo_what_another_worker_recorded(crm, webhooks, webhook_receiver, caplog) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    slow = webhooks.deliverer
    (claimed,) = slow.claim().claimed
    webhook_receiver.fail_next(1)
    failed = slow.send(claimed)  # its recorder is held up past the lease...
    with crm.engine.begin() as conn:  # its lease runs out
        conn.execute(sa.update(DeliveryRow).values(locked_until=dt.datetime(2000, 1, 1)))
    other = Deliverer(crm.engine, slow.options, slow.transport)  # ...and another worker takes it over
    assert other.run_pending() == 1
    slow.record(Batch(sent=[failed]))
    (delivery,) = webhooks.history(hook.id)
    assert delivery.status == "succeeded" and len(delivery.attempts) == 2  # both attempts, the state kept
    assert "another worker took it" in caplog.text


def test_a_hold_is_not_written_once_the_hook_is_enabled_again(crm, webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    assert len(webhooks.history(hook.id)) == 1  # its delivery row is written
    with crm.engine.begin() as conn:  # disabled just before a worker's claim...
        conn.execute(sa.update(HookRow).values(enabled=False))
    (claimed,) = webhooks.deliverer.claim().claimed
    assert claimed.held
    webhooks.enable_hook(hook.id)  # ...and enabled again before its recorder wrote the hold
    webhooks.deliverer.record(Batch(held=[claimed.delivery_id]))
    webhooks.run_pending()
    assert names(webhook_receiver) == ["A1"]  # it used to wait, held, on an enabled hook for good


@pytest.mark.webhooks_options(retry_delays=[60])
@pytest.mark.parametrize(
    ("before", "after", "expected"), [("none", "record", ["A1"]), ("record", "none", ["A1", "A2"])]
)
def test_switching_a_hooks_ordering_applies_to_what_already_waits(
    crm, webhooks, webhook_receiver, before, after, expected
) -> None:
    hook = updates_hook(webhooks, webhook_receiver, ordering=before)
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    crm.leads.update(lead.id, name="A2")
    assert len(webhooks.history(hook.id)) == 2  # both delivery rows written under the old choice
    webhooks.update_hook(hook.id, ordering=after)
    webhook_receiver.fail_next(1, status=429)  # A1 waits for a retry in a minute, A2 answered or not
    webhooks.run_pending()
    assert names(webhook_receiver) == expected
