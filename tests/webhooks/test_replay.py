"""After a receiver's outage: the failed deliveries sent again, oldest first, once, to a real receiver.

Retries are off and hooks are never disabled here, so that each failed attempt
is a failed delivery, as after an outage longer than the retries.
"""

from __future__ import annotations

import time

import pytest

from crm_stub import NotFound
from crm_stub.models import utcnow
from crm_webhooks import ValidationError

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)


def names_received(receiver) -> list[str]:
    return [e["data"]["object"]["name"] for e in receiver.envelopes]


def test_the_failed_ones_go_again_oldest_first_under_their_own_webhook_id(webhooks, webhook_receiver, outage) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    failed = outage("A", "B", "C", test_sends=True)  # a failed test send is not replayed
    assert len(failed) == 3 and [d.status for d in webhooks.history(hook.id) if d.test] == ["failed"]

    preview = webhooks.preview_redeliver_failed(hook.id, since="1h")
    assert (preview.count, preview.remaining, preview.ids, preview.dry_run) == (3, 0, (), True)
    assert webhook_receiver.requests == [] and len(webhooks.history(hook.id)) == 4  # nothing changed

    replay = webhooks.redeliver_failed(hook.id, since="1h")
    assert replay.originals == tuple(sorted(d.id for d in failed)) and len(replay.ids) == 3
    assert webhooks.replay_progress(replay).pending == 3
    webhooks.run_pending()
    assert names_received(webhook_receiver) == ["A", "B", "C"]
    originals = {d.id: d.event_id for d in failed}
    sent_ids = [r.headers["webhook-id"] for r in webhook_receiver.requests]
    assert sent_ids == [originals[i] for i in replay.originals]  # the same webhook-id as the first time
    progress = webhooks.replay_progress(replay)
    assert (progress.succeeded, progress.failed, progress.pending, progress.done) == (3, 0, 0, True)
    # Delivered now: nothing is left to replay.
    assert webhooks.redeliver_failed(hook.id, since="1h").count == 0


def test_a_second_click_sends_nothing_twice_and_a_new_failure_goes_once_more(
    webhooks, webhook_receiver, outage
) -> None:
    webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A", "B")
    first = webhooks.redeliver_failed()
    again = webhooks.redeliver_failed()  # the first ones are still pending
    assert (first.count, again.count, again.ids) == (2, 0, ())
    webhook_receiver.fail_next(2)
    webhooks.run_pending()
    assert webhooks.replay_progress(first).failed == 2
    third = webhooks.redeliver_failed()  # their redeliveries failed: those go, each once
    assert third.originals == first.ids
    webhooks.run_pending()
    assert names_received(webhook_receiver) == ["A", "B", "A", "B"]


def test_every_hook_in_event_order_and_one_hook_alone(webhooks, webhook_receiver, outage) -> None:
    erp = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url_for("/erp"))
    webhooks.create_hook(name="bi", event="lead.created", url=webhook_receiver.url_for("/bi"))
    outage("A", "B")
    assert webhooks.preview_redeliver_failed(erp.id).count == 2
    everything = webhooks.redeliver_failed()
    assert everything.count == 4 and webhooks.preview_redeliver_failed(erp.id).count == 0
    webhooks.run_pending()
    arrived = [(r.path, r.json["data"]["object"]["name"]) for r in webhook_receiver.requests]
    assert arrived == [("/erp", "A"), ("/bi", "A"), ("/erp", "B"), ("/bi", "B")]


def test_since_status_and_the_bound_choose_what_goes(crm, webhooks, webhook_receiver, outage) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("delivered")
    webhooks.run_pending()
    outage("old")
    time.sleep(0.01)
    moment = utcnow()
    outage("B", "C", "D", "E")

    assert webhooks.preview_redeliver_failed(hook.id, since=moment).count == 4
    assert webhooks.preview_redeliver_failed(hook.id, since=moment.isoformat() + "Z").count == 4
    assert webhooks.preview_redeliver_failed(hook.id).count == 5  # no since: every failed one
    assert webhooks.preview_redeliver_failed(hook.id, status="succeeded").count == 1
    assert webhooks.preview_redeliver_failed(hook.id, since="2099-01-01").count == 0

    first = webhooks.redeliver_failed(hook.id, since=moment, limit=3)
    assert (first.count, first.remaining) == (3, 1)
    rest = webhooks.redeliver_failed(hook.id, since=moment, limit=3)
    assert (rest.count, rest.remaining) == (1, 0)
    webhooks.run_pending()
    assert names_received(webhook_receiver) == ["B", "C", "D", "E"]
    # Sent again although it arrived: what a receiver that lost its data asks for.
    resent = webhooks.redeliver_failed(hook.id, status="succeeded", since=moment, send=True)
    assert resent.count == 4 and webhooks.replay_progress(resent).succeeded == 4
    assert names_received(webhook_receiver) == ["B", "C", "D", "E"] * 2


def test_a_disabled_hooks_replay_waits_for_it(webhooks, webhook_receiver, outage) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A")
    webhooks.disable_hook(hook.id)
    replay = webhooks.redeliver_failed(hook.id)
    webhooks.run_pending()
    assert webhooks.get_delivery(replay.ids[0]).held
    webhooks.enable_hook(hook.id)
    webhooks.run_pending()
    assert webhooks.replay_progress(replay).succeeded == 1


@pytest.mark.parametrize(
    ("call", "field"),
    [
        ({"hook_id": "1"}, "hook_id"),
        ({"status": "pending"}, "status"),
        ({"since": "2x"}, "since"),
        ({"limit": 0}, "limit"),
    ],
)
def test_bad_input_names_its_field_and_changes_nothing(webhooks, webhook_receiver, outage, call, field) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A")
    with pytest.raises(ValidationError) as refused:
        webhooks.redeliver_failed(**{"hook_id": hook.id, **call})
    assert refused.value.field == field
    with pytest.raises(NotFound):
        webhooks.redeliver_failed(hook.id + 1)
    assert len(webhooks.history(hook.id)) == 1
