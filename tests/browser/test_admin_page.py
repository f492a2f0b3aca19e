"""The admin's webhooks page in a real browser: safe to click, readable at every width, in English and Portuguese.

- A reload after creating a hook creates nothing and shows the secret again;
  rotating asks first; the secret copies with one click.
- Row menus: one open at a time, closed by Escape (focus back on its button)
  and by a click outside, usable from the keyboard, opening upwards near the
  bottom, never over the next row's button.
- Search, filters, and history a page at a time both ways.
- At 390 px nothing scrolls sideways. Each page is photographed at 1366, 800
  and 390 px into test-artifacts/ (admin-*.png).
"""

from __future__ import annotations

import pytest

from .conftest import ARTIFACTS, log_in, look

BASE = "/system/integrations/webhooks"
LONG = "/integrations/erp/v2/webhooks/crm-events/sales-and-leads/receive"

WORDS = {
    "en": {"add": "Add Webhook", "created": "created", "rotate": "Rotate secret", "copied": "Copied", "test": "test"},
    "pt_BR": {
        "add": "Adicionar Webhook",
        "created": "criado",
        "rotate": "Trocar segredo",
        "copied": "Copiado",
        "test": "teste",
    },
}


def lines(cell) -> int:
    """How many lines the cell's text takes."""
    tops = "td => new Set([...td.querySelectorAll('span')].map(e => Math.round(e.getBoundingClientRect().bottom))).size"
    return cell.evaluate(tops)


@pytest.fixture
def busy(crm, webhooks, webhook_receiver):
    """Three hooks with a history: one that succeeds (long URL), one failing, one disabled holding a delivery."""
    erp = webhooks.create_hook(name="ERP sales", event="lead.created", url=webhook_receiver.url_for(LONG))
    bi = webhooks.create_hook(name="BI", event="lead.created", url=webhook_receiver.url_for("/bi"), ordering="none")
    old = webhooks.create_hook(name="Old CRM", event="lead.created", url=webhook_receiver.url_for("/old"))
    webhook_receiver.fail_next(path="/bi")
    crm.leads.create("ACME")
    webhooks.disable_hook(old.id)  # before its delivery went out: held
    webhooks.run_pending()
    webhooks.send_test(erp.id)
    return erp, bi, old


@pytest.mark.webhooks_options(retry_delays=[])
def test_every_page_reads_at_every_width(tab, served, lang, crm, webhooks, webhook_receiver, busy) -> None:
    words = WORDS[lang]
    erp, bi, old = busy
    log_in(tab, served)
    tab.goto(f"{served}{BASE}/")
    url_cell = tab.locator(f"tr[data-hook-id='{erp.id}'] td.url")
    assert url_cell.get_attribute("title") == erp.url and "…" in url_cell.inner_text()
    assert lines(url_cell) == 1  # one line, not ten
    look(tab, f"admin-index-{lang}")

    tab.click(f"text={words['add']}")
    tab.wait_for_url("**/new")
    look(tab, f"admin-form-{lang}")
    tab.fill("#name", "Vendas")
    tab.check("input[name=events][value='sale.created']")
    tab.fill("#url", webhook_receiver.url)
    tab.click("main button[type=submit]")
    tab.wait_for_url("**/secret")
    secret = tab.inner_text("#secret")
    tab.reload()  # the page after the POST: a reload shows it again and creates nothing
    assert tab.inner_text("#secret") == secret and words["created"] in tab.inner_text("h1")
    assert [h.name for h in webhooks.list_hooks(search="Vendas")] == ["Vendas"]
    look(tab, f"admin-secret-{lang}")

    tab.goto(f"{served}{BASE}/{erp.id}/rotate")
    look(tab, f"admin-rotate-{lang}")
    tab.click("main button.danger")
    tab.wait_for_url("**/secret")
    assert tab.inner_text("#secret") == webhooks.get_hook(erp.id).secret != erp.secret

    tab.goto(f"{served}{BASE}/{erp.id}/history")
    assert words["test"] in tab.locator("#history tbody tr").first.inner_text()
    look(tab, f"admin-history-{lang}")
    tab.goto(f"{served}{BASE}/{old.id}/history")
    look(tab, f"admin-history-held-{lang}")
    tab.goto(f"{served}{BASE}/{bi.id}/last")
    assert tab.locator(".attempt").inner_text().count("HTTP 500") == 1
    look(tab, f"admin-delivery-{lang}")
    tab.goto(f"{served}{BASE}/{erp.id}/last")
    look(tab, f"admin-delivery-test-{lang}")


def test_a_reload_after_creating_creates_nothing_and_the_secret_copies(
    chromium, served, webhooks, webhook_receiver
) -> None:
    context = chromium.new_context(viewport={"width": 1366, "height": 800}, locale="en-US")
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=served)
    page = context.new_page()
    try:
        log_in(page, served)
        page.goto(f"{served}{BASE}/new")
        page.fill("#name", "ERP")
        page.check("input[name=events][value='sale.created']")
        page.fill("#url", webhook_receiver.url)
        page.click("main button[type=submit]")
        page.wait_for_url(f"**{BASE}/*/secret")
        for _ in range(2):
            page.reload()
        (hook,) = webhooks.list_hooks()
        assert page.inner_text("#secret") == hook.secret
        page.click("button.copy")
        page.locator("button.copy", has_text="Copied").wait_for()  # once the clipboard took it
        assert page.evaluate("navigator.clipboard.readText()") == hook.secret
    finally:
        context.close()


def open_menus(page) -> int:
    return page.locator("details.menu[open]").count()


def settled(page) -> None:
    """Wait for the script's answer to a menu opening: "toggle" is queued as a task, so a click
    returns before the menu is placed, the others are closed and focus has moved in."""
    page.locator("details.menu[open] .items :focus").wait_for()


def test_row_menus_close_and_never_cover_the_next_row(page, served, webhooks, webhook_receiver) -> None:
    hooks = [
        webhooks.create_hook(name=f"Hook {n}", event="lead.created", url=webhook_receiver.url_for(f"/h{n}"))
        for n in range(8)
    ]
    log_in(page, served)
    page.set_viewport_size({"width": 1366, "height": 600})
    page.goto(f"{served}{BASE}/")
    rows = page.locator("#hooks tbody tr")
    first, second = rows.nth(0).locator("summary"), rows.nth(1).locator("summary")

    # Opened with the mouse: the menu sits beside its button, clear of the button below.
    first.click()
    settled(page)
    assert open_menus(page) == 1
    menu = rows.nth(0).locator(".items").bounding_box()
    below = second.bounding_box()
    assert menu["x"] + menu["width"] <= below["x"] or menu["y"] + menu["height"] <= below["y"]
    # The next row's button opens its own menu, and only that one stays open.
    second.click()
    settled(page)
    assert open_menus(page) == 1 and rows.nth(1).locator("details").get_attribute("open") is not None
    # A click outside closes it.
    page.click("h1")
    assert open_menus(page) == 0

    # From the keyboard: Enter opens, focus goes in, arrows move, Escape closes and gives focus back.
    first.focus()
    page.keyboard.press("Enter")
    settled(page)
    assert open_menus(page) == 1
    assert page.evaluate("document.activeElement.textContent.trim()") == "Last execution"
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.textContent.trim()") == "History"
    page.keyboard.press("Escape")
    assert open_menus(page) == 0
    assert page.evaluate("document.activeElement.tagName") == "SUMMARY"

    # Near the bottom of the window, the menu opens upwards and stays on screen.
    last = rows.nth(len(hooks) - 1)
    last.scroll_into_view_if_needed()
    last.locator("summary").click()
    settled(page)
    assert "up" in last.locator("details").get_attribute("class")
    box = last.locator(".items").bounding_box()
    assert box["y"] + box["height"] <= 600
    page.screenshot(path=str(ARTIFACTS / "admin-menu-up-1366.png"))

    # Rotate secret asks first: nothing rotates until confirmed.
    last.locator("text=Rotate secret").click()
    page.wait_for_url(f"**/{hooks[-1].id}/rotate")
    assert webhooks.get_hook(hooks[-1].id).secret == hooks[-1].secret
    page.click("text=Cancel")
    assert webhooks.get_hook(hooks[-1].id).secret == hooks[-1].secret


@pytest.mark.webhooks_options(retry_delays=[])
def test_search_filter_and_history_pages_both_ways(page, served, crm, webhooks, webhook_receiver) -> None:
    leads = webhooks.create_hook(name="Leads to BI", event="lead.created", url=webhook_receiver.url, ordering="none")
    webhooks.create_hook(name="ERP", event="sale.created", url=webhook_receiver.url_for("/erp"))
    webhooks.create_hook(name="Old", event="lead.created", url=webhook_receiver.url_for("/old"), enabled=False)
    for n in range(23):
        if n == 0:
            webhook_receiver.fail_next()
        crm.leads.create(f"Lead {n}")
        webhooks.run_pending()
    log_in(page, served)
    page.goto(f"{served}{BASE}/")

    def names() -> list[str]:
        return page.locator("#hooks td.name").all_inner_texts()

    page.fill("#filters input[name=search]", "leads")
    page.click("#filters button")
    page.wait_for_url("**search=leads*")
    assert names() == ["Leads to BI"]
    page.fill("#filters input[name=search]", "")
    page.select_option("#filters select[name=event]", "lead.created")
    page.select_option("#filters select[name=status]", "disabled")
    page.click("#filters button")
    page.wait_for_url("**status=disabled*")
    assert names() == ["Old"]

    page.goto(f"{served}{BASE}/{leads.id}/history")
    ids = page.locator("#history tbody tr td:first-child").all_inner_texts()
    assert len(ids) == 20
    page.click("#older")
    page.wait_for_url("**before=*")
    assert page.locator("#history tbody tr").count() == 3
    page.click("#newer")
    page.wait_for_url("**after=*")
    assert page.locator("#history tbody tr td:first-child").all_inner_texts() == ids
    page.click("#status-filter >> text=failed")
    page.wait_for_url("**status=failed")
    assert page.locator("#history tbody tr").count() == 1


def test_without_script_the_menu_still_works_and_rotating_still_asks(scriptless, served, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="ERP", event="sale.created", url=webhook_receiver.url)
    page = scriptless
    log_in(page, served)
    page.goto(f"{served}{BASE}/")
    page.click("#hooks summary")
    page.click("text=Rotate secret")
    page.wait_for_url("**/rotate")
    page.click("main button.danger")
    page.wait_for_url("**/secret")
    rotated = webhooks.get_hook(hook.id).secret
    assert rotated != hook.secret and page.inner_text("#secret") == rotated
    assert not page.locator("button.copy").is_visible()  # the secret is text to select
