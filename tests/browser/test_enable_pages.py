"""At 3 a.m., in a real browser, in both languages: the list says which hooks are in trouble, since when and
why; the disabled one's Enable… shows what it held and what failed first, and one click brings both back.
Each step is photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import pytest

from .conftest import log_in, look

WORDS = {
    "en": {
        "notice": "2 webhooks need attention",
        "disabled": "ERP: disabled since",
        "failing": "BI: failing since",
        "error": "last error: HTTP 503",
        "held": "1 held delivery goes when it is enabled.",
        "failed": "3 deliveries failed since",
        "box": "Also send the 3 failed again",
        "pending": "4 deliveries pending",
        "done": "Webhook “ERP” enabled. 1 held delivery goes now. 3 failed deliveries were queued again.",
    },
    "pt_BR": {
        "notice": "2 webhooks precisam de atenção",
        "disabled": "ERP: desativado desde",
        "failing": "BI: falhando desde",
        "error": "último erro: HTTP 503",
        "held": "1 entrega retida sai quando ele for ativado.",
        "failed": "3 entregas falharam desde",
        "box": "Reenviar também as 3 que falharam",
        "pending": "4 entregas pendentes",
        "done": "Webhook “ERP” ativado. 1 entrega retida sai agora. 3 entregas com falha foram enfileiradas de novo.",
    },
}


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
def test_the_notice_then_enable_with_the_failed_sent_again(
    tab, served, lang, crm, webhooks, webhook_receiver, outage
) -> None:
    words = WORDS[lang]
    erp = webhooks.create_hook(name="ERP", event="lead.created", url=webhook_receiver.url_for("/erp"))
    outage("A", "B", "C")
    crm.leads.create("D")
    webhooks.disable_hook(erp.id)  # D is held
    webhooks.create_hook(name="BI", event="lead.created", url=webhook_receiver.url_for("/a-rather-long/path/bi"))
    webhook_receiver.fail_next(status=503)
    crm.leads.create("E")
    webhooks.run_pending()
    webhook_receiver.clear()

    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/")
    notice = tab.inner_text("#troubles")
    for key in ("notice", "disabled", "failing", "error"):
        assert words[key] in notice, (key, notice)
    look(tab, f"enable-notice-{lang}")

    tab.click(f"#troubles li[data-hook-id='{erp.id}'] a.enable")
    tab.wait_for_url(f"**/{erp.id}/enable")
    card = tab.inner_text("#enable-recovery")
    assert words["held"] in card and words["failed"] in card and words["box"] in card
    assert tab.is_checked("#replay-failed-too")
    look(tab, f"enable-confirm-{lang}")

    tab.click("#enable-confirm")
    tab.wait_for_url("**/webhooks/")
    assert words["done"] in tab.inner_text(".flash")
    line = tab.inner_text(f"#troubles li[data-hook-id='{erp.id}']")  # enabled, failing until one goes through
    assert words["pending"] in line and tab.locator("#troubles a.enable").count() == 0
    look(tab, f"enable-done-{lang}")
    webhooks.run_pending()
    erp_got = [r.json["data"]["object"]["name"] for r in webhook_receiver.requests if r.path == "/erp"]
    assert erp_got == ["D", "A", "B", "C"]  # what was held first, then the failed, oldest first
    tab.reload()
    assert tab.locator(f"#troubles li[data-hook-id='{erp.id}']").count() == 0  # back to well


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
def test_from_the_row_menu_without_script(scriptless, served, crm, webhooks, webhook_receiver, outage) -> None:
    erp = webhooks.create_hook(name="ERP", event="lead.created", url=webhook_receiver.url)
    outage("A")
    webhooks.disable_hook(erp.id)
    log_in(scriptless, served)
    scriptless.goto(f"{served}/system/integrations/webhooks/")
    row = scriptless.locator(f"#hooks tr[data-hook-id='{erp.id}']")
    row.locator("summary").click()  # <details> opens without script
    row.get_by_role("menuitem", name="Enable…").click()
    scriptless.wait_for_url(f"**/{erp.id}/enable")
    assert "1 delivery failed since" in scriptless.inner_text("#enable-recovery")
    scriptless.uncheck("#replay-failed-too")
    scriptless.click("#enable-confirm")
    assert "Webhook “ERP” enabled." in scriptless.inner_text(".flash")
    assert webhooks.get_hook(erp.id).enabled and webhooks.preview_redeliver_failed(erp.id).count == 1
