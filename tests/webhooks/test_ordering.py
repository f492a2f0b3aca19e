"""Per-record order: a receiver gets each record's events in the order they were committed."""

from __future__ import annotations

import time

import pytest

from crm_webhooks import ValidationError


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


@pytest.mark.webhooks_options(retry_delays=[0.3], retry_jitter=0)
def test_a_retried_event_holds_the_later_ones_of_its_record_only(crm, webhooks, webhook_receiver) -> None:
    hook = updates_hook(webhooks, webhook_receiver)
    edit_two_leads(crm)
    webhook_receiver.fail_next(1)  # A1's first attempt
    webhooks.run_pending()
    # B is not held back by A; A2 waits behind A1, which waits for its retry.
    assert names(webhook_receiver) == ["A1", "B1"]
    waiting = {d.payload["data"]["object"]["name"]: d for d in webhooks.history(hook.id)}
    assert waiting["A2"].status == "pending" and waiting["A2"].waiting_for == waiting["A1"].id
    assert waiting["A1"].waiting_for is None and waiting["B1"].waiting_for is None
    assert waiting["A2"].to_dict()["waiting_for"] == waiting["A1"].id
    time.sleep(0.4)  # A1's retry falls due
    webhooks.run_pending()
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
    webhook_receiver.fail_next(1)
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
