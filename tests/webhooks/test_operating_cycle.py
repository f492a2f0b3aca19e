"""At 3 a.m.: a receiver goes down, the admin is warned, the hook is disabled, the receiver comes
back, the admin enables it with one click, and every event arrives once, in order per record."""

from __future__ import annotations

import json

import pytest

# No retries: each failed attempt is a failed delivery.  Disabled after 4 in a row, warned at 2.
pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=4)


def bodies(receiver, path: str) -> list[dict]:
    """What arrived at ``path``, in order."""
    return [json.loads(r.get_data()) for r in receiver.requests if r.path == path]


def test_down_warned_disabled_back_enabled_with_replay_and_nothing_lost(crm, webhooks, webhook_receiver) -> None:
    erp = webhooks.create_hook(name="erp", events=["lead.*"], url=webhook_receiver.url_for("/erp"))
    webhooks.create_hook(name="ops", events=["webhook.*"], url=webhook_receiver.url_for("/ops"))
    webhook_receiver.fail_next(4, status=503, path="/erp")  # down for four requests, then back

    leads = [crm.leads.create(name) for name in ("Ana", "Bia")]
    for lead in leads:  # four failed deliveries: warned at two, disabled at four
        crm.leads.change_stage(lead.id, "contacted")
    webhooks.run_pending()
    assert not webhooks.get_hook(erp.id).enabled
    for lead in leads:  # while disabled: held
        crm.leads.change_stage(lead.id, "qualified")
    webhooks.run_pending()

    recovery = webhooks.preview_enable_hook(erp.id)
    assert (recovery.held, recovery.failed) == (2, 4)
    webhooks.enable_hook(erp.id, replay_failed=True)
    webhooks.run_pending()

    refused, delivered = bodies(webhook_receiver, "/erp")[:4], bodies(webhook_receiver, "/erp")[4:]
    assert len(delivered) == len({b["id"] for b in delivered}) == 6  # each event once, the refused ones again
    assert {b["id"] for b in refused} < {b["id"] for b in delivered}
    for lead in leads:
        mine = [b["type"] for b in delivered if b["data"]["object"]["id"] == lead.id]
        assert mine == ["lead.created", "lead.stage_changed", "lead.stage_changed"]
        stages = [b["data"]["object"]["stage"] for b in delivered if b["data"]["object"]["id"] == lead.id]
        assert stages == ["new", "contacted", "qualified"]  # in the order it happened
    told = [(b["type"], b["data"]["object"]["name"]) for b in bodies(webhook_receiver, "/ops")]
    assert told == [("webhook.failing", "erp"), ("webhook.disabled", "erp"), ("webhook.recovered", "erp")]
