"""Per-record order on the page, in a real browser, in English and Portuguese.

The form offers the choice with a line saying what it means; history and the
delivery's own page say what a waiting delivery waits behind.  Each state is
photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import pytest

from .conftest import log_in, shoot

WORDS = {
    "en": {"record": "Per record", "hint": "other records are not held back", "waits": "waits behind #"},
    "pt_BR": {"record": "Por registro", "hint": "os outros registros não esperam", "waits": "espera a #"},
}


def test_the_form_offers_record_order_and_saves_the_choice(tab, served, lang, webhooks, webhook_receiver) -> None:
    words = WORDS[lang]
    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/new")
    assert tab.input_value("#ordering") == "record"  # the default, already chosen
    assert words["record"] in tab.inner_text("#ordering option[value=record]")
    assert words["hint"] in tab.inner_text("#ordering-hint")
    shoot(tab, f"ordering-form-{lang}")
    tab.fill("#name", "Leads")
    tab.check("input[name=events][value='lead.updated']")
    tab.fill("#url", webhook_receiver.url)
    tab.select_option("#ordering", "none")
    tab.click("main button[type=submit]")
    (hook,) = webhooks.list_hooks()
    assert hook.ordering == "none"
    tab.goto(f"{served}/system/integrations/webhooks/{hook.id}/edit")
    assert tab.input_value("#ordering") == "none"


@pytest.mark.webhooks_options(retry_delays=[3600])
def test_a_waiting_delivery_says_what_it_waits_behind(tab, served, lang, crm, webhooks, webhook_receiver) -> None:
    words = WORDS[lang]
    hook = webhooks.create_hook(name="Leads", event="lead.updated", url=webhook_receiver.url)
    lead = crm.leads.create("ACME")
    crm.leads.update(lead.id, name="ACME Ltda")
    crm.leads.update(lead.id, name="ACME S.A.")
    webhook_receiver.fail_next()
    webhooks.run_pending()
    later, earlier = webhooks.history(hook.id)
    assert later.waiting_for == earlier.id
    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/{hook.id}/history")
    assert f"{words['waits']}{earlier.id}" in tab.inner_text("main")
    shoot(tab, f"ordering-history-{lang}")
    tab.goto(f"{served}/system/integrations/webhooks/deliveries/{later.id}")
    tab.click("#waiting-for a")
    tab.wait_for_url(f"**/deliveries/{earlier.id}")
    tab.go_back()
    shoot(tab, f"ordering-delivery-{lang}")
