"""After an outage, the admin replays what failed from the hook's history, in a real browser, in both languages.

The preview counts what will go (not the failed test send), the confirmation
queues it, and the progress page, reloading itself, shows the deliveries go
out; a second click on the stale confirmation sends nothing twice.  Each step
is photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import pytest

from .conftest import log_in, shoot

WORDS = {
    "en": {
        "preview": "3 failed deliveries since",
        "pending": "3 pending",
        "delivered": "3 delivered",
        "nothing": "No failed delivery since",
    },
    "pt_BR": {
        "preview": "3 entregas com falha desde",
        "pending": "3 pendentes",
        "delivered": "3 entregues",
        "nothing": "Nenhuma entrega com falha desde",
    },
}


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
def test_replaying_an_outage_from_the_history_page(tab, served, lang, crm, webhooks, webhook_receiver, outage) -> None:
    words = WORDS[lang]
    hook = webhooks.create_hook(name="ERP", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("Delivered before")
    webhooks.run_pending()
    outage("A", "B", "C", test_sends=True)

    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/{hook.id}/history")
    shoot(tab, f"replay-history-{lang}")
    tab.click("#replay-failed")
    assert words["preview"] in tab.inner_text("#replay-preview")  # not the test send
    shoot(tab, f"replay-preview-{lang}")
    tab.select_option("#period", "1h")
    tab.click("#replay-period button[type=submit]")
    assert words["preview"] in tab.inner_text("#replay-preview")
    stale = tab.context.new_page()  # the same confirmation in another tab, for a second click later
    stale.goto(tab.url)

    tab.click("#replay-confirm")
    tab.wait_for_url("**/replay/progress?*")
    assert words["pending"] in tab.inner_text("#replay-progress")
    shoot(tab, f"replay-progress-{lang}")
    assert webhook_receiver.requests == []  # queued for whoever delivers (here: run_pending)
    webhooks.run_pending()
    tab.wait_for_selector("#replay-done", timeout=15_000)  # the page reloads itself while some are pending
    assert words["delivered"] in tab.inner_text("#replay-progress")
    shoot(tab, f"replay-done-{lang}")
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == ["A", "B", "C"]

    # The same confirmation again (a double click, a stale tab): nothing goes twice.
    stale.click("#replay-confirm")
    stale.wait_for_url("**/history")
    assert words["nothing"] in stale.inner_text(".flash")
    assert len(webhooks.history(hook.id)) == 8  # 1 + the test + 3 failed + 3 sent again
