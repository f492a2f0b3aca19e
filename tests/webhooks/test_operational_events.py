"""An admin hears about the hooks themselves: webhook.failing, webhook.disabled, webhook.recovered.

A hook subscribed to them (pointed at a chat, say) is told when another hook's receiver
keeps failing, when that hook is disabled, and when it delivers again; never about
itself, and a hook on `*` is told nothing.
"""

from __future__ import annotations

import json

import pytest

# No retries: each failed attempt is a failed delivery.  Disabled after 4 in a row, warned at 2.
pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=4)

KEY, VALUE = "X-Api-Key", "sync-s3cret-value"


@pytest.fixture
def hooks(webhooks, webhook_receiver):
    """``sync`` (the CRM's leads, and the hooks' health: never its own), ``ops`` (the hooks' health only)
    and ``everything`` (``*``), each on its own path of the receiver."""

    def hook(name, events, **fields):
        return webhooks.create_hook(name=name, events=events, url=webhook_receiver.url_for(f"/{name}"), **fields)

    return (
        hook("sync", ["lead.*", "webhook.*"], key=KEY, value=VALUE),
        hook("ops", ["webhook.failing", "webhook.disabled", "webhook.recovered"]),
        hook("everything", ["*"]),
    )


def arrived(receiver, path):
    return [r for r in receiver.requests if r.path == path]


def types(receiver, path):
    return [json.loads(r.get_data())["type"] for r in arrived(receiver, path)]


def test_an_admin_hook_hears_a_hook_fail_get_disabled_and_recover(crm, webhooks, webhook_receiver, hooks) -> None:
    sync, ops, everything = hooks
    webhook_receiver.fail_next(4, status=503, path="/sync")
    crm.leads.create("one")
    webhooks.run_pending()
    assert types(webhook_receiver, "/ops") == []  # one failure is no trend

    crm.leads.create("two")
    webhooks.run_pending()
    assert types(webhook_receiver, "/ops") == ["webhook.failing"]
    crm.leads.create("three")
    webhooks.run_pending()
    assert types(webhook_receiver, "/ops") == ["webhook.failing"]  # once per failing streak
    crm.leads.create("four")
    webhooks.run_pending()
    assert not webhooks.get_hook(sync.id).enabled
    assert types(webhook_receiver, "/ops") == ["webhook.failing", "webhook.disabled"]

    webhooks.enable_hook(sync.id)  # the receiver is back (its 4 failures are spent)
    crm.leads.create("five")
    webhooks.run_pending()
    assert types(webhook_receiver, "/ops") == ["webhook.failing", "webhook.disabled", "webhook.recovered"]

    failing, disabled, recovered = (webhook_receiver.verify(r, ops) for r in arrived(webhook_receiver, "/ops"))
    assert failing["data"]["object"] == {
        "id": sync.id,
        "name": "sync",
        "url": sync.url,
        "status": "failing",
        "consecutive_failures": 2,
        "last_error": "HTTP 503",
        "reason": None,
    }
    assert disabled["data"]["object"] == {
        **failing["data"]["object"],
        "status": "disabled",
        "consecutive_failures": 4,
        "reason": "failures:4",
    }
    assert recovered["data"]["object"]["status"] == "succeeded"
    assert recovered["data"]["object"]["consecutive_failures"] == 0
    for request in arrived(webhook_receiver, "/ops"):
        body = request.get_data(as_text=True)
        assert VALUE not in body and sync.secret not in body and "secret" not in body
    # The hook concerned never hears about itself; `*` means the CRM's events.
    assert [t for t in types(webhook_receiver, "/sync") if t.startswith("webhook.")] == []
    assert set(types(webhook_receiver, "/everything")) == {"lead.created"}
    assert webhooks.history(everything.id) and all(d.event == "lead.created" for d in webhooks.history(everything.id))


def test_an_admin_disabling_a_hook_is_told_to_the_others_with_the_reason(crm, webhooks, webhook_receiver, hooks):
    sync, ops, _ = hooks
    webhooks.disable_hook(ops.id)
    webhooks.run_pending()
    (told,) = [webhook_receiver.verify(r, sync) for r in arrived(webhook_receiver, "/sync")]
    assert told["type"] == "webhook.disabled"
    assert told["data"]["object"]["id"] == ops.id
    assert (told["data"]["object"]["status"], told["data"]["object"]["reason"]) == ("disabled", "admin")
    webhooks.disable_hook(ops.id)  # already disabled: nothing happened, nothing is told
    webhooks.update_hook(sync.id, enabled=False)  # the form's way; ops, disabled, hears nothing either
    webhooks.enable_hook(ops.id)
    webhooks.run_pending()
    assert types(webhook_receiver, "/sync") == ["webhook.disabled"]
    assert types(webhook_receiver, "/ops") == []  # disabled when sync was, as for any event raised meanwhile


def test_a_disable_rolled_back_with_its_transaction_tells_nobody(crm, webhooks, webhook_receiver, hooks) -> None:
    _, ops, _ = hooks
    with pytest.raises(RuntimeError), crm.transaction():
        webhooks.disable_hook(ops.id)
        raise RuntimeError("the admin's change is undone")
    webhooks.run_pending()
    assert webhooks.get_hook(ops.id).enabled and webhook_receiver.requests == []
    with crm.transaction():  # committed with whatever else the block did: told once it commits
        webhooks.disable_hook(ops.id)
        crm.leads.create("beside it")
    webhooks.run_pending()
    assert sorted(types(webhook_receiver, "/sync")) == ["lead.created", "webhook.disabled"]


@pytest.mark.webhooks_options(dispatcher="thread", retry_delays=[], disable_after_failures=2)
def test_the_background_dispatcher_sends_them_too(crm, webhooks, webhook_receiver, hooks) -> None:
    sync, ops, _ = hooks
    webhook_receiver.fail_next(1, path="/sync")  # warned at 1 of 2
    crm.leads.create("one")
    webhook_receiver.wait_for("webhook.failing", timeout=10)
    (request,) = [r for r in webhook_receiver.requests if b"webhook.failing" in r.get_data()]
    assert request.path == "/ops" and webhook_receiver.verify(request, ops)["data"]["object"]["id"] == sync.id
