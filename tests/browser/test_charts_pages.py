"""The last 24 hours at a glance, in a real browser, in English and Portuguese.

A receiver fails some deliveries for real (HTTP 500); the list's sparkline and the
hook page's chart show those failures in their hours, with a summary a screen
reader reads.  Each page is photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_stub.models import utcnow
from crm_webhooks.models import AttemptRow, DeliveryRow

from .conftest import log_in, shoot

SUMMARY = {
    "en": "Last 24 h: 6 delivered, 3 failed, 0 pending.",
    "pt_BR": "Últimas 24 h: 6 com sucesso, 3 com falha, 0 em espera.",
}
EMPTY = {"en": "No deliveries in the last 24 hours.", "pt_BR": "Nenhuma entrega nas últimas 24 horas."}
FAILED = {"en": "3 failed", "pt_BR": "3 com falha"}


def spread_over_the_day(crm, delivery_ids: list[int]) -> None:
    """Deliveries made just now, moved back by SQL to one every 3 hours, each with its own duration."""
    deliveries, attempts = DeliveryRow.__table__, AttemptRow.__table__
    now = utcnow()
    with crm.engine.begin() as conn:
        for n, delivery_id in enumerate(sorted(delivery_ids, reverse=True)):
            moved = {"created_at": now - dt.timedelta(hours=3 * (n % 8))}
            conn.execute(sa.update(deliveries).where(deliveries.c.id == delivery_id).values(**moved))
            ms = {"duration_ms": 40.0 + 35 * n}
            conn.execute(sa.update(attempts).where(attempts.c.delivery_id == delivery_id).values(**ms))


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)
def test_the_failures_a_receiver_caused_show_in_the_list_and_on_the_hooks_chart(
    tab, served, lang, crm, webhooks, webhook_receiver
) -> None:
    erp = webhooks.create_hook(name="ERP", event="lead.created", url=webhook_receiver.url_for("/erp"))
    webhooks.create_hook(name="BI", event="lead.created", url=webhook_receiver.url_for("/bi"))
    quiet = webhooks.create_hook(name="Quiet", event="sale.created", url=webhook_receiver.url)
    webhook_receiver.fail_next(times=3, path="/erp")
    for n in range(9):
        crm.leads.create(f"Lead {n}")
    webhooks.run_pending()
    erp_deliveries = webhooks.history(erp.id)
    assert sorted(d.status for d in erp_deliveries).count("failed") == 3
    spread_over_the_day(crm, [d.id for d in erp_deliveries])

    log_in(tab, served)
    tab.goto(f"{served}/system/integrations/webhooks/")
    erp_row = tab.locator("#hooks tr", has_text="ERP")
    assert erp_row.locator(".trend").get_attribute("data-failed") == "3"
    assert erp_row.locator(".trend-failed").inner_text() == FAILED[lang]
    assert erp_row.locator("svg.spark rect.failed").count() == 3
    assert SUMMARY[lang] == erp_row.locator("svg.spark").get_attribute("aria-label")
    bi_row = tab.locator("#hooks tr", has_text="BI")
    assert bi_row.locator("svg.spark rect.failed").count() == 0 and bi_row.locator(".trend-failed").count() == 0
    shoot(tab, f"charts-list-{lang}")

    tab.goto(f"{served}/system/integrations/webhooks/{erp.id}/history")
    chart = tab.locator("#day-chart")
    assert chart.locator("#day-chart-summary").text_content() == SUMMARY[lang]
    # The three oldest failed: moved back 18 and 21 h, and one left in this hour; a red bar each.
    failing = chart.locator(".hour.has-failures")
    assert failing.count() == 3
    assert [failing.nth(i).get_attribute("data-failed") for i in range(3)] == ["1", "1", "1"]
    assert chart.locator("rect.bar.failed").count() == 3 and chart.locator("rect.bar.succeeded").count() == 6
    assert chart.locator("path.p50").count() >= 1 and chart.locator("path.p95").count() >= 1
    assert SUMMARY[lang] in chart.locator("svg desc").text_content()
    shoot(tab, f"charts-history-{lang}")

    tab.goto(f"{served}/system/integrations/webhooks/{quiet.id}/history")
    assert tab.locator("#day-chart .bar").count() == 0
    assert tab.locator("#day-chart text.empty").text_content() == EMPTY[lang]
    shoot(tab, f"charts-history-empty-{lang}")
