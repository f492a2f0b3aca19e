"""The network guard at send time: the address actually connected to is what counts."""

from __future__ import annotations

import re

import pytest

from crm_stub import CRM
from crm_webhooks import ValidationError


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


SAVED_URLS = [
    # (URL, refused by default?, refused with allow_private_networks?, what the error says)
    ("http://[fd00:ec2::254]/latest/meta-data/", True, True, "cloud metadata"),  # AWS IMDS over IPv6
    ("http://[fd20:ce::254]/computeMetadata/v1/", True, True, "cloud metadata"),  # GCP
    ("http://100.100.100.200/latest/meta-data/", True, True, "cloud metadata"),  # Alibaba
    ("http://192.0.0.192/opc/v2/instance/", True, True, "cloud metadata"),  # Oracle
    ("http://168.63.129.16/machine", True, True, "cloud metadata"),  # Azure WireServer
    ("http://[::ffff:100.100.100.200]/", True, True, "cloud metadata"),
    ("http://[fec0::1]/x", True, False, "site-local"),
    # Addresses in disguise: numbers a resolver reads as an address, other digits, a trailing dot.
    ("http://0/x", True, True, "'0' stands for 0.0.0.0, the unspecified address"),
    ("http://0:8000/x", True, True, "'0' stands for 0.0.0.0"),
    ("http://2852039166/latest/meta-data/", True, True, "'2852039166' stands for 169.254.169.254, a link-local"),
    ("http://0xa9fea9fe/", True, True, "stands for 169.254.169.254"),
    ("http://0251.0376.0251.0376/", True, True, "stands for 169.254.169.254"),
    ("http://1681915904/", True, True, "'1681915904' stands for 100.64.0.0"),
    ("http://127.1/x", True, True, "'127.1' stands for 127.0.0.1"),
    # Full-width digits (IDNA makes them ASCII) and ideographic full stops (IDNA's dots).
    ("http://\uff12\uff11\uff13\uff10\uff17\uff10\uff16\uff14\uff13\uff13/x", True, True, "stands for 127.0.0.1"),
    (
        "http://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x",
        True,
        True,
        "'\uff11\uff12\uff17.\uff10.\uff10.\uff11' stands for 127.0.0.1",
    ),
    ("http://127\u30020\u30020\u30021/x", True, True, "stands for 127.0.0.1"),
    ("http://127.0.0.1./x", True, True, "'127.0.0.1.' stands for 127.0.0.1"),
    # Even where the address is fine: it is written as what it is, or not at all.
    ("http://1572395042/", True, True, "'1572395042' stands for 93.184.216.34: write it as 93.184.216.34"),
    # Not disguises: a name, and a name's trailing dot (a fully qualified name).
    ("http://receiver.example/x", False, False, None),
    ("http://receiver.example./x", False, False, None),
    ("http://0x7f.example/x", False, False, None),
]


@pytest.mark.one_database
@pytest.mark.parametrize("allow_private", [False, True], ids=["default", "private networks allowed"])
@pytest.mark.parametrize(("url", "strict", "lenient", "message"), SAVED_URLS, ids=[c[0] for c in SAVED_URLS])
def test_a_refused_or_disguised_address_is_refused_when_the_hook_is_saved(
    crm, url, strict, lenient, message, allow_private
) -> None:
    webhooks = crm.install_addon("crm_webhooks", dispatcher="manual", allow_private_networks=allow_private)
    refused = lenient if allow_private else strict
    good = webhooks.create_hook(name="good", event="lead.created", url="http://receiver.example/x")
    if not refused:
        assert webhooks.create_hook(name="fine", event="lead.created", url=url).url == url
        return
    for save in (
        lambda: webhooks.create_hook(name="bad", event="lead.created", url=url),
        lambda: webhooks.update_hook(good.id, url=url),
    ):
        with pytest.raises(ValidationError, match=re.escape(message)) as raised:
            save()
        assert raised.value.field == "url"
    assert webhooks.list_hooks() == [webhooks.get_hook(good.id)]
    assert webhooks.get_hook(good.id).url == "http://receiver.example/x"
