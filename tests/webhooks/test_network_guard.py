"""The network guard at send time: the address actually connected to is what counts."""

from __future__ import annotations

import pytest

from crm_stub import CRM


@pytest.fixture
def strict(crm: CRM):
    """The addon as installed by default: private networks refused."""
    return crm.install_addon("crm_webhooks", dispatcher="manual", retry_delays=[60])


def test_a_name_that_resolves_to_loopback_is_refused(crm, strict, webhook_receiver) -> None:
    url = webhook_receiver.url.replace("127.0.0.1", "localhost")
    hook = strict.create_hook(name="sneaky", event="lead.created", url=url)
    crm.leads.create("Probe")
    assert strict.run_pending() == 1
    delivery = strict.last_delivery(hook.id)
    (attempt,) = delivery.attempts
    assert attempt.status_code is None
    assert "refused by the network guard" in attempt.error and "loopback" in attempt.error
    assert delivery.status == "pending"  # a failed attempt like any other, retried on schedule
    assert webhook_receiver.requests == []


def test_the_same_name_is_delivered_when_private_networks_are_allowed(crm, webhooks, webhook_receiver) -> None:
    url = webhook_receiver.url.replace("127.0.0.1", "localhost")
    hook = webhooks.create_hook(name="local", event="lead.created", url=url)
    crm.leads.create("Allowed")
    webhooks.run_pending()
    assert webhooks.last_delivery(hook.id).status == "succeeded"
    assert len(webhook_receiver.requests) == 1


def test_a_refused_test_send_says_why(strict, webhook_receiver) -> None:
    hook = strict.create_hook(
        name="t", event="sale.created", url=webhook_receiver.url.replace("127.0.0.1", "localhost")
    )
    delivery = strict.send_test(hook.id)
    assert delivery.status == "failed" and "network guard" in delivery.attempts[0].error
