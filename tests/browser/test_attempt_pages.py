"""A hook's configuration sums it up; an attempt's response headers fold away. In a real browser, both languages.

Each state is photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import pytest

from .conftest import log_in, shoot

WORDS = {
    "en": {
        "failures": "Failed deliveries in a row",
        "changed": "Last changed",
        "why": "disabled by an admin",
        "headers": "Headers (",
    },
    "pt_BR": {
        "failures": "Entregas com falha seguidas",
        "changed": "Última alteração",
        "why": "desativado por um administrador",
        "headers": "Cabeçalhos (",
    },
}


@pytest.mark.webhooks_options(retry_delays=[])  # the failed attempt is a failed delivery
def test_the_configuration_sums_up_the_hook_and_attempts_fold_their_headers(
    tab, served, lang, crm, webhooks, webhook_receiver
) -> None:
    words = WORDS[lang]
    hook = webhooks.create_hook(name="Leads", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.respond_with(503, headers={"Retry-After": "120", "X-Request-Id": "req-7f3a"}, body="busy")
    crm.leads.create("ACME")
    webhooks.run_pending()
    webhooks.disable_hook(hook.id)
    log_in(tab, served)

    tab.goto(f"{served}/system/integrations/webhooks/{hook.id}/edit")
    summary = tab.inner_text("#hook-summary")
    assert words["failures"].lower() in summary.lower() and words["changed"].lower() in summary.lower()
    assert tab.inner_text("#summary-failures") == "1"
    assert words["why"] in tab.inner_text("#summary-detail")
    shoot(tab, f"attempts-configuration-{lang}")

    tab.click("#summary-last-run a")
    headers = tab.locator("details.headers").first
    assert words["headers"] in headers.locator("summary").inner_text()
    assert not headers.locator("pre").is_visible()  # folded until asked for
    shoot(tab, f"attempts-delivery-{lang}")
    headers.locator("summary").click()
    assert "X-Request-Id: req-7f3a" in headers.locator("pre").inner_text()
    shoot(tab, f"attempts-delivery-headers-{lang}")
