"""An integrator writes a body for the POS and looks at what would be sent before saving, on a phone too."""

from __future__ import annotations

from .conftest import log_in, shoot


def test_the_preview_shows_the_request_whole_at_every_width(tab, served, lang, crm, webhooks) -> None:
    lead = crm.leads.create("Padaria São João, com um nome longo o bastante para não caber numa linha de telefone")
    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/new")
    tab.fill("#name", "POS")
    tab.check("input[name=events][value='lead.created']")
    tab.fill("#url", "https://pos.example/api/v1/vendas?origem=crm&formato=plano&versao=2")
    tab.click("#advanced summary")
    tab.fill("#body_template", '{"cliente": {{ object.name | tojson }}, "evento": {{ event | tojson }}}')
    tab.fill("#preview_record", f"lead:{lead.id}")
    tab.click("button[name=preview]")
    request = tab.locator("#preview-request")
    assert "Padaria São João" in request.inner_text()  # the accents as sent, not \u00e3
    assert webhooks.list_hooks() == []  # nothing saved
    for width in (1366, 800, 390):
        tab.set_viewport_size({"width": width, "height": 800})
        # Read without scrolling sideways: long URLs and lines wrap inside the panel.
        assert request.evaluate("pre => pre.scrollWidth <= pre.clientWidth"), width
    shoot(tab, f"preview-{lang}")
