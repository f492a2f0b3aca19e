"""Enabling a hook after an outage: what was held while it was off goes, and what failed since it started
failing can go again in the same click; the list names the hooks in trouble.  On SQLite and PostgreSQL.

Retries are off, so each failed attempt is a failed delivery, as after an outage longer than the retries.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)


def names(receiver) -> list[str]:
    return [e["data"]["object"]["name"] for e in receiver.envelopes]


def first_failed_attempt(webhooks, hook_id: int, name: str):
    found = [d for d in webhooks.history(hook_id) if not d.test and d.payload["data"]["object"]["name"] == name]
    return found[-1].attempts[0].attempted_at


def test_a_hook_disabled_in_an_outage_comes_back_with_what_it_held_and_what_failed(
    crm, webhooks, webhook_receiver, outage
) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("Delivered before")
    webhooks.run_pending()
    webhook_receiver.clear()
    outage("A", "B", "C", test_sends=True)  # the failed test send is not counted
    crm.leads.create("D")
    crm.leads.create("E")
    webhooks.disable_hook(hook.id)  # D and E, not sent yet, are held while it is off
    crm.leads.create("F")  # a disabled hook takes no new events

    preview = webhooks.preview_enable_hook(hook.id)
    assert (preview.held, preview.failed, preview.replay) == (2, 3, None)
    assert preview.failing_since == first_failed_attempt(webhooks, hook.id, "A")
    assert webhooks.get_hook(hook.id).enabled is False and webhook_receiver.requests == []  # nothing changed

    done = webhooks.recover_hook(hook.id, replay_failed=True)
    assert done.hook.enabled and (done.held, done.replayed, done.left) == (2, 3, 0)
    webhooks.run_pending()
    assert names(webhook_receiver) == ["D", "E", "A", "B", "C"]  # what waited first, then the failed, oldest first
    again = webhooks.preview_enable_hook(hook.id)
    assert (again.held, again.failed, again.failing_since) == (0, 0, None)  # delivered: it failed no more since


def test_enabling_alone_leaves_the_failed_ones_for_later(crm, webhooks, webhook_receiver, outage) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A", "B", "C")
    crm.leads.create("D")
    webhooks.disable_hook(hook.id)
    hook = webhooks.enable_hook(hook.id)  # the contract's call: a Hook, as before
    assert hook.enabled
    webhooks.run_pending()
    assert names(webhook_receiver) == ["D"]
    later = webhooks.preview_enable_hook(hook.id)
    assert later.failed == 0 and later.failing_since is None  # D succeeded after them: failing ended there
    assert webhooks.preview_redeliver_failed(hook.id).count == 3  # still there, for a replay


@pytest.mark.parametrize(
    ("story", "failed", "first"),
    [
        # Failures before its last success are not "since it started failing".
        (["fail A", "ok B", "fail C", "fail D"], 2, "C"),
        (["fail A", "fail B"], 2, "A"),  # never a success: since its first failure
        (["ok A", "ok B"], 0, None),
        ([], 0, None),
    ],
)
def test_since_when_a_hook_fails(crm, webhooks, webhook_receiver, story, failed, first) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    for step in story:
        outcome, name = step.split()
        if outcome == "fail":
            webhook_receiver.fail_next()
        crm.leads.create(name)
        webhooks.run_pending()
    webhooks.disable_hook(hook.id)
    preview = webhooks.preview_enable_hook(hook.id)
    assert (preview.failed, preview.held) == (failed, 0)
    assert preview.failing_since == (first and first_failed_attempt(webhooks, hook.id, first))


def test_replay_failed_with_nothing_failed_only_enables(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url, enabled=False)
    webhooks.enable_hook(hook.id)
    crm.leads.create("held")
    webhooks.disable_hook(hook.id)
    done = webhooks.recover_hook(hook.id, replay_failed=True)
    assert done.hook.enabled and (done.held, done.failed, done.replay) == (1, 0, None)
    webhooks.run_pending()
    assert names(webhook_receiver) == ["held"]


def test_the_hooks_in_trouble_with_since_when_their_last_error_and_what_waits(
    crm, webhooks, webhook_receiver, outage
) -> None:
    webhooks.create_hook(name="fine", event="sale.created", url=webhook_receiver.url)
    off = webhooks.create_hook(name="off", event="lead.created", url=webhook_receiver.url)
    outage("A", "B", "C")
    crm.leads.create("D")
    webhooks.disable_hook(off.id)
    failing = webhooks.create_hook(name="failing", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.fail_next(1, status=503)
    crm.leads.create("E")  # held for "off", failed for "failing"
    webhooks.run_pending()

    found, total = webhooks.troubled_hooks()
    assert total == 2 and [t.hook.name for t in found] == ["off", "failing"]
    off_trouble, failing_trouble = found
    assert off_trouble.pending == 1 and off_trouble.last_error.status_code == 500
    assert off_trouble.since == webhooks.get_hook(off.id).disabled_at
    assert failing_trouble.pending == 0 and failing_trouble.last_error.status_code == 503
    assert failing_trouble.since == first_failed_attempt(webhooks, failing.id, "E")
    assert webhooks.troubled_hooks(limit=1)[0][0].hook.name == "off"
