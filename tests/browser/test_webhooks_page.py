"""The admin's day, in a real browser: log in, add a webhook, watch it run, look back, switch off, remove."""

from __future__ import annotations

from pathlib import Path

from .conftest import PASSWORD

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def shoot(page, tmp_path: Path, name: str) -> None:
    """Into the test's own folder, and test-artifacts/ at the top for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    for folder in (tmp_path, ARTIFACTS):
        page.screenshot(path=str(folder / name), full_page=True)


def test_the_webhooks_page_in_a_browser(page, served, crm, webhooks, webhook_receiver, tmp_path) -> None:
    page.goto(f"{served}/system/integrations/webhooks/")
    # Not logged in: the login form.
    page.fill("#email", "ana@example.com")
    page.fill("#password", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/system/integrations/webhooks/")
    assert "No webhook yet" in page.inner_text("main")

    # Add Webhook, first with a mistake: the error shows beside its field.
    page.click("text=Add Webhook")
    page.fill("#name", "Vendas para o ERP")
    page.check("input[name=events][value='sale.created']")
    page.select_option("#method", "POST")
    page.fill("#url", "ftp://erp.example/pos")
    page.fill("#key", "X-Api-Key")
    page.fill("#value", "s3cret-value")
    page.click("main button[type=submit]")
    assert "http:// or https://" in page.inner_text("#url-error")
    assert webhooks.list_hooks() == []
    shoot(page, tmp_path, "webhooks-form-error.png")
    page.fill("#url", webhook_receiver.url)
    page.fill("#value", "s3cret-value")  # a password field is not sent back filled
    page.click("main button[type=submit]")
    secret = page.inner_text("#secret")
    assert secret == webhooks.list_hooks()[0].secret
    page.click("text=Back to webhooks")

    row = page.locator("#hooks tbody tr").first
    assert "New sale" in row.inner_text() and "never run" in row.inner_text()

    # The CRM raises the event; after delivery the list shows when it ran and that it worked.
    lead = crm.leads.create("ACME")
    client = crm.leads.convert(lead.id)
    opp = crm.opportunities.create(client.id, "Annual plan", 1500)
    crm.sales.create(opp.id)
    webhooks.run_pending()
    page.reload()
    assert "succeeded" in row.locator(".status").inner_text()
    assert row.locator(".last-run").inner_text() != "—"
    shoot(page, tmp_path, "webhooks-list.png")

    # The row's menu: history, then the last execution's detail.
    row.locator("summary").click()
    shoot(page, tmp_path, "webhooks-menu.png")
    row.locator("text=History").click()
    page.wait_for_url("**/history")
    assert page.locator("#history tbody tr").count() == 1
    page.locator("#history tbody tr a").first.click()
    assert "HTTP 200" in page.inner_text("main") and "webhook-signature" in page.inner_text("main")
    shoot(page, tmp_path, "webhooks-delivery.png")
    assert "s3cret-value" not in page.content()

    # Disable from the menu.
    page.goto(f"{served}/system/integrations/webhooks/")
    row = page.locator("#hooks tbody tr").first
    row.locator("summary").click()
    row.locator("text=Disable").click()
    page.wait_for_load_state()
    assert "disabled" in page.locator("#hooks tbody tr .status").first.inner_text()
    assert webhooks.list_hooks()[0].enabled is False

    # Delete, confirming.
    row = page.locator("#hooks tbody tr").first
    row.locator("summary").click()
    row.locator("text=Delete").click()
    assert "Delete webhook “Vendas para o ERP”?" in page.inner_text("h1")
    page.click("button.danger")
    page.wait_for_url("**/system/integrations/webhooks/")
    assert "No webhook yet" in page.inner_text("main")
    assert webhooks.list_hooks() == []


def test_the_page_speaks_portuguese_to_a_portuguese_browser(chromium, served) -> None:
    context = chromium.new_context(locale="pt-BR", extra_http_headers={"Accept-Language": "pt-BR,pt;q=0.9"})
    page = context.new_page()
    try:
        page.goto(f"{served}/login")
        assert page.inner_text("h1") == "Entrar"
        page.fill("#email", "ana@example.com")
        page.fill("#password", PASSWORD)
        page.click("main button[type=submit]")
        page.goto(f"{served}/system/integrations/webhooks/new")
        assert "Adicionar Webhook" in page.inner_text("h1")
        groups = page.locator("fieldset.event-group > legend").all_inner_texts()
        assert groups == ["Prospectos", "Clientes", "Oportunidades de vendas", "Cotações", "Vendas", "Webhooks"]
        page.click("text=EN")
        assert "Add Webhook" in page.inner_text("h1")
    finally:
        context.close()
