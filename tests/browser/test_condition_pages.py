"""A hook's condition and body in a real browser, in English and Portuguese.

The admin ticks the events, writes a condition, makes a mistake or two and sees them beside
their fields, then takes a ready-made body with "Use this example" and saves: the hook has
all of it, the configuration sums it up and the list says the condition.  Without script the
examples are text to copy.  The form, the configuration and the list are photographed at
1366, 800 and 390 px into test-artifacts/ (condition-*.png) and fit each width.
"""

from __future__ import annotations

from crm_webhooks.domain.templating import FLAT_SALE

from .conftest import log_in, look

BASE = "/system/integrations/webhooks"
WON = 'object.stage == "won" and object.amount|float > 1000'
WORDS = {
    "en": {"line": "line 1:", "use": "Use this example", "skipped": "12 events skipped by its condition", "if": "if "},
    "pt_BR": {
        "line": "linha 1:",
        "use": "Usar este exemplo",
        "skipped": "12 eventos ignorados pela condição",
        "if": "se ",
    },
}


def test_boxes_a_condition_and_an_example_body_make_the_hook(
    tab, served, lang, crm, webhooks, webhook_receiver
) -> None:
    words = WORDS[lang]
    log_in(tab, served)
    tab.goto(f"{served}{BASE}/new")
    assert not tab.is_visible("#condition")  # folded: advanced, and not needed by most hooks
    tab.click("#advanced > summary")
    tab.fill("#name", "POS")
    tab.check("input[name=events][value='lead.*']")
    tab.check("input[name=events][value='opportunity.stage_changed']")
    tab.fill("#url", webhook_receiver.url)
    tab.fill("#condition", "object.stage ==")
    tab.fill("#content_type", "json")
    tab.click("main button[type=submit]")

    # Both mistakes at once, each beside its field, the section still open, what was typed kept.
    assert tab.inner_text("#condition-error").startswith(words["line"])
    assert "json" in tab.inner_text("#content_type-error")
    assert tab.is_visible("#condition") and tab.input_value("#condition") == "object.stage =="
    assert tab.is_checked("input[name=events][value='lead.*']")
    assert webhooks.list_hooks() == []
    tab.click("#examples > summary")
    look(tab, f"condition-form-errors-{lang}")

    tab.fill("#condition", WON)
    tab.fill("#content_type", "")
    tab.locator("#example-flat-sale").get_by_role("button", name=words["use"]).click()
    assert tab.input_value("#body_template") == FLAT_SALE
    assert tab.evaluate("document.activeElement.id") == "body_template"
    tab.fill("#value", "")  # no key, no value: a password box is never sent back filled anyway
    tab.click("main button[type=submit]")
    tab.wait_for_url("**/secret")
    (hook,) = webhooks.list_hooks()
    assert hook.events == ("lead.*", "opportunity.stage_changed")
    assert (hook.condition, hook.body_template, hook.content_type) == (WON, FLAT_SALE, "application/json")

    for n in range(12):  # leads the condition turns away
        crm.leads.create(f"Lead {n}")
    webhooks.run_pending()
    tab.goto(f"{served}{BASE}/{hook.id}/edit")
    assert tab.inner_text("#summary-skipped") == words["skipped"]
    assert tab.inner_text("#summary-condition code") == WON
    assert tab.input_value("#body_template") == FLAT_SALE
    look(tab, f"condition-edit-{lang}")

    long = webhook_receiver.url_for("/integrations/erp/v2/webhooks/crm-events/sales-and-leads/receive")
    webhooks.create_hook(name="ERP", events=["sale.*", "*.stage_changed"], url=long)  # beside one without
    tab.goto(f"{served}{BASE}/")
    condition = tab.locator(f"tr[data-hook-id='{hook.id}'] .if-condition")
    assert condition.inner_text() == words["if"] + WON and condition.get_attribute("title") == WON
    look(tab, f"condition-index-{lang}")


def test_without_script_an_example_is_text_to_copy(scriptless, served) -> None:
    log_in(scriptless, served)
    scriptless.goto(f"{served}{BASE}/new")
    scriptless.click("#advanced > summary")
    scriptless.click("#examples > summary")
    assert scriptless.inner_text("#example-flat-sale-text") == FLAT_SALE
    assert not scriptless.locator("button.use-example").first.is_visible()
