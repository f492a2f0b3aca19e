"""Finding things: hooks by name, URL, event and status; a hook's history by status, a page at a time both ways."""

from __future__ import annotations

import pytest

from crm_webhooks import ValidationError


@pytest.fixture
def four_hooks(webhooks, webhook_receiver) -> None:
    """ERP sales (will succeed), Leads to BI (will fail), Old (disabled), and Quiet (never runs)."""
    webhooks.create_hook(name="ERP sales", event="sale.created", url=webhook_receiver.url_for("/erp"))
    webhooks.create_hook(name="Leads to BI", event="lead.created", url=webhook_receiver.url_for("/bi_100%"))
    webhooks.create_hook(name="Old", event="lead.created", url=webhook_receiver.url_for("/old"), enabled=False)
    webhooks.create_hook(name="Quiet", event="client.reassigned", url=webhook_receiver.url_for("/quiet"))


def names(hooks) -> list[str]:
    return [h.name for h in hooks]


@pytest.mark.webhooks_options(retry_delays=[])
@pytest.mark.usefixtures("four_hooks")
def test_hooks_are_found_by_name_url_event_and_status(crm, webhooks, webhook_receiver) -> None:
    webhook_receiver.fail_next(path="/bi_100%")
    lead = crm.leads.create("ACME")
    opp = crm.opportunities.create(crm.leads.convert(lead.id).id, "Plan", 10)
    crm.sales.create(opp.id)
    webhooks.run_pending()
    found = {
        "erp": names(webhooks.list_hooks(search="erp")),  # any case, name or URL
        "url": names(webhooks.list_hooks(search="/QUIET")),
        "literal %": names(webhooks.list_hooks(search="100%")),
        "wildcard _ is literal": names(webhooks.list_hooks(search="s_t")),
        "event": names(webhooks.list_hooks(event="lead.created")),
        "succeeded": names(webhooks.list_hooks(status="succeeded")),
        "failing": names(webhooks.list_hooks(status="failing")),
        "disabled": names(webhooks.list_hooks(status="disabled")),
        "never_run": names(webhooks.list_hooks(status="never_run")),
        "together": names(webhooks.list_hooks(search="o", event="lead.created", status="disabled")),
        "blank is no filter": names(webhooks.list_hooks(search="  ")),
    }
    assert found == {
        "erp": ["ERP sales"],
        "url": ["Quiet"],
        "literal %": ["Leads to BI"],
        "wildcard _ is literal": [],
        "event": ["Leads to BI", "Old"],
        "succeeded": ["ERP sales"],
        "failing": ["Leads to BI"],
        "disabled": ["Old"],
        "never_run": ["Quiet"],
        "together": ["Old"],
        "blank is no filter": ["ERP sales", "Leads to BI", "Old", "Quiet"],
    }
    # Each hook's status as listed agrees with the filter that finds it.
    for hook in webhooks.list_hooks():
        assert hook.id in [h.id for h in webhooks.list_hooks(status=hook.status)]


@pytest.mark.parametrize(
    ("filters", "field"),
    [({"status": "broken"}, "status"), ({"search": "x" * 201}, "search"), ({"search": 5}, "search")],
)
def test_a_bad_filter_names_its_field(webhooks, filters, field) -> None:
    with pytest.raises(ValidationError) as caught:
        webhooks.list_hooks(**filters)
    assert caught.value.field == field


@pytest.mark.webhooks_options(retry_delays=[])
def test_history_pages_both_ways_and_filters_by_status(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="Leads", event="lead.created", url=webhook_receiver.url, ordering="none")
    for n in range(7):
        if n % 3 == 0:
            webhook_receiver.fail_next()
        crm.leads.create(f"Lead {n}")
        webhooks.run_pending()
    everything = webhooks.history(hook.id)  # newest first: 7 deliveries, leads 0, 3 and 6 failed
    ids = [d.id for d in everything]

    first = webhooks.history_page(hook.id, size=3)
    assert ([d.id for d in first.deliveries], first.newer, first.older) == (ids[0:3], False, True)
    second = webhooks.history_page(hook.id, size=3, before=first.deliveries[-1].id)
    assert ([d.id for d in second.deliveries], second.newer, second.older) == (ids[3:6], True, True)
    last = webhooks.history_page(hook.id, size=3, before=second.deliveries[-1].id)
    assert ([d.id for d in last.deliveries], last.newer, last.older) == (ids[6:], True, False)
    # Back towards the newest: the page just after what was shown, newest first.
    back = webhooks.history_page(hook.id, size=3, after=last.deliveries[0].id)
    assert ([d.id for d in back.deliveries], back.newer, back.older) == (ids[3:6], True, True)
    top = webhooks.history_page(hook.id, size=3, after=back.deliveries[0].id)
    assert ([d.id for d in top.deliveries], top.newer, top.older) == (ids[0:3], False, True)

    failed = webhooks.history_page(hook.id, size=2, status="failed")
    assert [d.status for d in failed.deliveries] == ["failed", "failed"] and failed.older
    rest = webhooks.history_page(hook.id, size=2, status="failed", before=failed.deliveries[-1].id)
    assert (len(rest.deliveries), rest.newer, rest.older) == (1, True, False)
    with pytest.raises(ValidationError, match="status"):
        webhooks.history_page(hook.id, status="lost")
