"""Ids name one thing for good: a deleted hook's, delivery's or attempt's id is never given to another."""

from __future__ import annotations

from crm_webhooks.testing import WebhookReceiver


def hook_for(webhooks, receiver: WebhookReceiver, name: str):
    return webhooks.create_hook(name=name, event="lead.created", url=receiver.url)


def test_a_deleted_hooks_id_is_never_given_to_the_next_hook(webhooks, webhook_receiver) -> None:
    first, last = hook_for(webhooks, webhook_receiver, "first"), hook_for(webhooks, webhook_receiver, "last")
    webhooks.delete_hook(last.id)  # the highest id, the one SQLite without AUTOINCREMENT hands out again
    assert hook_for(webhooks, webhook_receiver, "next").id > last.id > first.id


def test_a_deleted_hooks_deliveries_and_attempts_keep_their_ids_to_themselves(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver, "goes away")
    crm.leads.create("Sent to the hook that goes away")
    webhooks.run_pending()
    gone = webhooks.last_delivery(hook.id)
    webhooks.delete_hook(hook.id)  # takes the newest delivery and attempt with it

    other = hook_for(webhooks, webhook_receiver, "stays")
    crm.leads.create("Sent to the hook that stays")
    webhooks.run_pending()
    new = webhooks.last_delivery(other.id)
    assert new.id > gone.id
    assert new.attempts[0].id > gone.attempts[0].id
