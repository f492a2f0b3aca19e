"""Enabling a disabled hook from the page: the counts first, one click, the flash says what went; and the
list's notice of failing and disabled hooks.  Through Flask's test client, script-free as a browser without it."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
BASE = "/system/integrations/webhooks"
PT = {"Accept-Language": "pt-BR"}


def text(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


@pytest.mark.parametrize(
    ("headers", "held", "failed", "box"),
    [
        ({}, "1 held delivery goes when it is enabled.", "3 deliveries failed since ", "Also send the 3 failed again"),
        (PT, "1 entrega retida sai quando ele for ativado.", "3 entregas falharam desde ", "Reenviar também as 3"),
    ],
)
def test_the_confirmation_counts_first(admin, webhooks, disabled_in_outage, headers, held, failed, box) -> None:
    page = admin.get(f"{BASE}/{disabled_in_outage.id}/enable", headers=headers)
    shown = text(page)
    assert page.status_code == 200 and held in shown and failed in shown and box in shown
    since = webhooks.preview_enable_hook(disabled_in_outage.id).failing_since
    assert f"since {since:%Y-%m-%d %H:%M} UTC" in shown or f"desde {since:%Y-%m-%d %H:%M} UTC" in shown
    assert re.search(r'name="replay_failed" value="1" id="replay-failed-too" checked', shown)
    assert webhooks.get_hook(disabled_in_outage.id).enabled is False  # asking is not enabling


@pytest.mark.parametrize(
    ("form", "flash", "queued"),
    [
        (
            {"replay_failed": "1"},
            "Webhook “erp” enabled. 1 held delivery goes now. 3 failed deliveries were queued again.",
            ["D", "A", "B", "C"],
        ),
        ({}, "Webhook “erp” enabled. 1 held delivery goes now.", ["D"]),  # the box unticked
    ],
)
def test_one_click_enables_and_the_flash_says_what_went(
    admin, webhooks, webhook_receiver, disabled_in_outage, form, flash, queued
) -> None:
    admin.get(f"{BASE}/{disabled_in_outage.id}/enable")
    response = admin.post(f"{BASE}/{disabled_in_outage.id}/enable", form)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{BASE}/")
    assert flash in text(admin.get(response.headers["Location"]))
    webhooks.run_pending()
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == queued


def test_without_the_form_s_token_nothing_is_enabled(browser, admin, webhooks, disabled_in_outage) -> None:
    response = admin.post(f"{BASE}/{disabled_in_outage.id}/enable", {"replay_failed": "1"}, csrf=False)
    assert response.status_code == 400 and webhooks.get_hook(disabled_in_outage.id).enabled is False


def test_with_nothing_failed_there_is_no_box_and_an_enabled_hook_goes_back(admin, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="quiet", event="lead.created", url=webhook_receiver.url, enabled=False)
    shown = text(admin.get(f"{BASE}/{hook.id}/enable"))
    assert "No delivery is held." in shown and "No delivery failed since its last success." in shown
    assert "replay_failed" not in shown
    webhooks.enable_hook(hook.id)
    again = admin.get(f"{BASE}/{hook.id}/enable")
    assert again.status_code == 302 and "is enabled already" in text(admin.get(again.headers["Location"]))
    assert admin.get(f"{BASE}/999/enable").status_code == 404


def test_the_row_menu_asks_first_for_a_disabled_hook(admin, webhooks, webhook_receiver, disabled_in_outage) -> None:
    webhooks.create_hook(name="on", event="sale.created", url=webhook_receiver.url)
    shown = text(admin.get(f"{BASE}/"))
    assert f'href="{BASE}/{disabled_in_outage.id}/enable">Enable…</a>' in shown  # a link: no script needed
    assert f'action="{BASE}/{disabled_in_outage.id}/enable"' not in shown


def test_the_notice_names_each_hook_in_trouble_then_how_many_more(
    admin, crm, webhooks, webhook_receiver, disabled_in_outage
) -> None:
    for name in ("f1", "f2", "f3"):
        webhooks.create_hook(name=name, event="lead.created", url=webhook_receiver.url_for(f"/{name}"))
    webhooks.create_hook(name="fine", event="lead.updated", url=webhook_receiver.url)
    webhook_receiver.fail_next(3, status=503)
    lead = crm.leads.create("Z")  # f1, f2 and f3 fail
    crm.leads.update(lead.id, name="Z2")  # "fine" succeeds
    webhooks.run_pending()

    en = text(admin.get(f"{BASE}/?search=nothing-matches"))  # the notice is about every hook, not the filter's
    disabled_at = webhooks.get_hook(disabled_in_outage.id).disabled_at
    assert "4 webhooks need attention" in en and "and 1 more" in en
    assert f"erp</strong>: disabled since {disabled_at:%Y-%m-%d %H:%M} UTC" in en
    assert "last error: HTTP 500 · 1 delivery pending" in en
    assert f'href="{BASE}/{disabled_in_outage.id}/enable">Enable…</a>' in en
    assert "f1</strong>: failing since" in en and "last error: HTTP 503 · nothing pending" in en
    assert "fine</strong>" not in en
    pt = text(admin.get(f"{BASE}/", headers=PT))
    assert "4 webhooks precisam de atenção" in pt and "desativado desde" in pt and "último erro: HTTP 500" in pt
    assert "e mais 1" in pt


def test_no_notice_when_every_hook_is_well(admin, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(name="fine", event="lead.created", url=webhook_receiver.url)
    assert 'id="troubles"' not in text(admin.get(f"{BASE}/"))
