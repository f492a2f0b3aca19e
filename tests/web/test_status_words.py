"""A hook's status in words that agree with what happened, counted right, in English and Portuguese."""

from __future__ import annotations

import pytest

BASE = "/system/integrations/webhooks"


@pytest.fixture
def hook(webhooks, webhook_receiver):
    return webhooks.create_hook(name="leads", event="lead.created", url=webhook_receiver.url)


@pytest.mark.webhooks_options(retry_delays=[3600])
def test_a_failed_attempt_awaiting_its_retry_is_not_zero_failures(crm, webhooks, webhook_receiver, hook) -> None:
    webhook_receiver.fail_next(1)
    crm.leads.create("One")
    webhooks.run_pending()
    shown = webhooks.get_hook(hook.id)
    assert shown.status == "failing"
    assert shown.status_detail == "failing: the last attempt failed"


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=2)
def test_failures_are_counted_in_words_with_the_right_plural(crm, webhooks, webhook_receiver, hook) -> None:
    webhook_receiver.fail_next(2)
    crm.leads.create("One")
    webhooks.run_pending()
    assert webhooks.get_hook(hook.id).status_detail == "failing: 1 failed delivery in a row"
    crm.leads.create("Two")
    webhooks.run_pending()
    disabled = webhooks.get_hook(hook.id)
    assert disabled.disabled_reason == "disabled automatically after 2 failed deliveries in a row"
    assert disabled.status_detail.startswith("disabled automatically after 2 failed deliveries in a row, since ")
    enabled = webhooks.enable_hook(hook.id)
    assert enabled.status_detail == "failing: the last attempt failed"  # not "0 failed deliveries in a row"


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=1)
def test_the_portuguese_page_and_api_give_the_reason_in_portuguese(crm, admin, api, webhooks, webhook_receiver, hook):
    webhook_receiver.fail_next(1)
    crm.leads.create("One")
    webhooks.run_pending()
    admin_off = webhooks.create_hook(name="off", event="lead.created", url=webhook_receiver.url)
    webhooks.disable_hook(admin_off.id)
    page = admin.get(f"{BASE}/?lang=pt_BR").get_data(as_text=True)
    assert "desativado automaticamente após 1 entrega com falha seguida" in page
    assert "desativado por um administrador" in page
    shown = api.call("GET", f"/api/v1/hooks/{hook.id}", headers={"Accept-Language": "pt-BR"}).json
    assert shown["disabled_reason"] == "desativado automaticamente após 1 entrega com falha seguida"
    assert shown["status_detail"].startswith("desativado automaticamente após 1 entrega com falha seguida, desde ")
    english = api.call("GET", f"/api/v1/hooks/{hook.id}").json
    assert english["disabled_reason"] == "disabled automatically after 1 failed delivery in a row"
