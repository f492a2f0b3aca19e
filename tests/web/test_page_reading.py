"""Reading the webhooks page: the list filtered from the query string, history by status and page, what a delivery says."""

from __future__ import annotations

import re

import pytest

BASE = "/system/integrations/webhooks"
STEP = "\N{SINGLE RIGHT-POINTING ANGLE QUOTATION MARK}"  # between the steps of the trail
LONG_URL_PATH = "/a-very-long-path/that/goes/on/and/on/for-the-erp/sales/endpoint"


def rows(page: str) -> list[str]:
    return re.findall(r'<td class="name"[^>]*><a [^>]*>([^<]*)</a>', page)


def test_the_list_is_searched_and_filtered_from_the_query_string(admin, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(name="ERP sales", event="sale.created", url=webhook_receiver.url_for(LONG_URL_PATH))
    webhooks.create_hook(name="Leads to BI", event="lead.created", url=webhook_receiver.url_for("/bi"))
    webhooks.create_hook(name="Old leads", event="lead.created", url=webhook_receiver.url_for("/old"), enabled=False)
    shown = {
        query: rows(admin.get(f"{BASE}/{query}").get_data(as_text=True))
        for query in ("", "?search=LEADS", "?search=/bi", "?event=lead.created", "?status=disabled", "?search=&status=")
    }
    assert shown == {
        "": ["ERP sales", "Leads to BI", "Old leads"],
        "?search=LEADS": ["Leads to BI", "Old leads"],
        "?search=/bi": ["Leads to BI"],
        "?event=lead.created": ["Leads to BI", "Old leads"],
        "?status=disabled": ["Old leads"],
        "?search=&status=": ["ERP sales", "Leads to BI", "Old leads"],
    }
    page = admin.get(f"{BASE}/?search=leads&event=lead.created").get_data(as_text=True)
    assert 'value="leads"' in page and '<option value="lead.created" selected>' in page  # the form keeps them
    nothing = admin.get(f"{BASE}/?search=nowhere").get_data(as_text=True)
    assert "No webhook matches these filters." in nothing and "No webhook yet" not in nothing
    # A long URL: cut in the middle in the cell, whole in its title.
    url = webhook_receiver.url_for(LONG_URL_PATH)
    cell = re.search(r'<td class="url"[^>]*title="([^"]+)">(.+?)</td>', admin.get(f"{BASE}/").get_data(as_text=True))
    shown = re.sub(r"<[^>]+>", "", cell[2]).removeprefix("POST ")
    assert cell[1] == url and "…" in shown and len(shown) < len(url)
    assert shown.startswith(url[:20]) and shown.endswith(url[-10:])


@pytest.mark.parametrize(("query", "field"), [("?status=broken", "status"), ("?search=" + "x" * 201, "search")])
def test_a_hand_made_bad_filter_is_one_clear_error(admin, query, field) -> None:
    response = admin.get(f"{BASE}/{query}")
    assert response.status_code == 400 and f"{field}:" in response.get_data(as_text=True)


@pytest.mark.webhooks_options(retry_delays=[])
def test_history_filters_by_status_and_pages_both_ways(admin, crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="Leads", event="lead.created", url=webhook_receiver.url, ordering="none")
    for n in range(25):
        if n < 2:
            webhook_receiver.fail_next()
        crm.leads.create(f"Lead {n}")
        webhooks.run_pending()
    first = admin.get(f"{BASE}/{hook.id}/history").get_data(as_text=True)
    assert first.count("<tr>") == 21 and 'id="newer"' not in first
    older = re.search(r'id="older" rel="next" href="([^"]+)"', first)[1].replace("&amp;", "&")
    second = admin.get(older).get_data(as_text=True)
    assert second.count("<tr>") == 6 and 'id="older"' not in second
    newer = re.search(r'id="newer" rel="prev" href="([^"]+)"', second)[1].replace("&amp;", "&")
    assert "after=" in newer
    back = admin.get(newer).get_data(as_text=True)
    assert back.count("<tr>") == 21 and 'id="newer"' not in back and 'id="older"' in back
    failed = admin.get(f"{BASE}/{hook.id}/history?status=failed").get_data(as_text=True)
    assert failed.count("<tr>") == 3 and failed.count('<span class="badge failed">') == 2
    assert 'aria-current="page">failed</a>' in failed
    assert admin.get(f"{BASE}/{hook.id}/history?status=lost").status_code == 400


@pytest.mark.webhooks_options(retry_delays=[3600])
def test_a_failed_attempt_says_http_500_once_and_a_test_says_it_is_one(admin, crm, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="Leads", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.fail_next()
    crm.leads.create("ACME")
    webhooks.run_pending()
    (failed,) = webhooks.history(hook.id)
    page = admin.get(f"{BASE}/deliveries/{failed.id}").get_data(as_text=True)
    assert page.count("HTTP 500") == 1 and 'id="test-send"' not in page
    test = webhooks.send_test(hook.id)
    last = admin.get(f"{BASE}/{hook.id}/last").get_data(as_text=True)
    assert f"Last execution: Delivery #{test.id}" in last and '<span class="badge test">test</span>' in last
    assert "A test send, with sample data" in last
    history = admin.get(f"{BASE}/{hook.id}/history").get_data(as_text=True)
    assert history.count('<span class="badge test">test</span>') == 1


def test_a_held_delivery_says_why(admin, crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="Leads", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhooks.disable_hook(hook.id)  # before the event went out
    (held,) = webhooks.history(hook.id)
    assert "held: hook disabled" in admin.get(f"{BASE}/{hook.id}/history").get_data(as_text=True)
    page = admin.get(f"{BASE}/deliveries/{held.id}").get_data(as_text=True)
    assert "Held while the hook is disabled" in page


@pytest.mark.parametrize(
    ("path", "trail"),
    [
        ("/", ["System", "Integrations", "Webhooks"]),
        ("/new", ["System", "Integrations", "Webhooks", "Add Webhook"]),
        ("/{hook}/edit", ["System", "Integrations", "Webhooks", "ERP", "Configuration"]),
        ("/{hook}/history", ["System", "Integrations", "Webhooks", "ERP", "History"]),
        ("/{hook}/last", ["System", "Integrations", "Webhooks", "ERP", "Last execution"]),
        ("/deliveries/{delivery}", ["System", "Integrations", "Webhooks", "ERP", "Delivery #{delivery}"]),
        ("/{hook}/rotate", ["System", "Integrations", "Webhooks", "ERP", "Rotate secret"]),
        ("/{hook}/delete", ["System", "Integrations", "Webhooks", "ERP", "Delete"]),
        ("/{hook}/replay", ["System", "Integrations", "Webhooks", "ERP", "Replay failed"]),
    ],
)
def test_every_page_has_the_same_trail(admin, webhooks, webhook_receiver, path, trail) -> None:
    hook = webhooks.create_hook(name="ERP", event="sale.created", url=webhook_receiver.url)
    delivery = webhooks.send_test(hook.id)
    page = admin.get(BASE + path.format(hook=hook.id, delivery=delivery.id)).get_data(as_text=True)
    nav = re.search(r'<nav class="crumbs"[^>]*>(.*?)</nav>', page, re.S)[1]
    steps = [re.sub(r"<[^>]+>", "", step).strip() for step in nav.split(STEP)]
    assert steps == [step.format(delivery=delivery.id) for step in trail]
    assert 'aria-current="page"' in nav.split(STEP)[-1]
