"""A hook takes several events, and patterns of them (`lead.*`, `*.stage_changed`, `*`)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_webhooks import ValidationError

URL = "http://127.0.0.1:9/unused"


def raise_some_events(crm) -> None:
    """lead.created, lead.updated, lead.stage_changed, client.created, client.stage_changed, sale-side events."""
    lead = crm.leads.create("Ana")
    crm.leads.update(lead.id, name="Ana Souza")
    crm.leads.change_stage(lead.id, "qualified")
    client = crm.clients.create("ACME")
    crm.clients.change_stage(client.id, "active")


def delivered_types(webhooks, hook_id: int) -> list[str]:
    return sorted(d.event for d in webhooks.history(hook_id))


@pytest.mark.parametrize(
    ("events", "expected"),
    [
        (["lead.created"], ["lead.created"]),
        (["lead.created", "client.created"], ["client.created", "lead.created"]),
        (["lead.*"], ["lead.created", "lead.stage_changed", "lead.updated"]),
        (["*.stage_changed"], ["client.stage_changed", "lead.stage_changed"]),
        (["*"], ["client.created", "client.stage_changed", "lead.created", "lead.stage_changed", "lead.updated"]),
        # Overlapping patterns: each event once.
        (
            ["lead.*", "lead.created", "*.stage_changed"],
            ["client.stage_changed", "lead.created", "lead.stage_changed", "lead.updated"],
        ),
        (["quote.*", "sale.created"], []),
    ],
)
def test_a_hook_gets_each_event_its_patterns_match_once(crm, webhooks, events, expected) -> None:
    hook = webhooks.create_hook(name="many", events=events, url=URL)
    raise_some_events(crm)
    assert delivered_types(webhooks, hook.id) == expected


def test_event_is_a_list_of_one_code_and_either_can_change_it(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="one", event="lead.created", url=URL)
    assert (hook.event, hook.events) == ("lead.created", ("lead.created",))
    assert hook.to_dict()["events"] == ["lead.created"]

    hook = webhooks.update_hook(hook.id, events=["*.stage_changed", "lead.created"])
    # `event` is the first code the list stands for.
    assert (hook.event, hook.events) == ("lead.stage_changed", ("*.stage_changed", "lead.created"))
    raise_some_events(crm)
    assert delivered_types(webhooks, hook.id) == ["client.stage_changed", "lead.created", "lead.stage_changed"]

    hook = webhooks.update_hook(hook.id, event="client.created")
    assert hook.events == ("client.created",)
    crm.clients.create("Second")
    assert delivered_types(webhooks, hook.id).count("client.created") == 1
    assert webhooks.get_hook(hook.id) == hook


def test_the_list_filter_finds_the_hooks_an_event_reaches(webhooks) -> None:
    leads = webhooks.create_hook(name="leads", events=["lead.*"], url=URL)
    stages = webhooks.create_hook(name="stages", events=["*.stage_changed"], url=URL)
    webhooks.create_hook(name="sales", event="sale.created", url=URL)
    assert [h.name for h in webhooks.list_hooks(event="lead.stage_changed")] == [leads.name, stages.name]
    assert [h.name for h in webhooks.list_hooks(event="lead.archived")] == [leads.name]
    assert webhooks.list_hooks(event="quote.created") == []


def test_a_disabled_hook_with_patterns_gets_nothing_and_enabled_again_gets_what_comes(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="leads", events=["lead.*"], url=URL, enabled=False)
    crm.leads.create("While disabled")
    assert webhooks.history(hook.id) == []
    webhooks.enable_hook(hook.id)
    crm.leads.create("Once enabled")
    assert delivered_types(webhooks, hook.id) == ["lead.created"]


BAD_EVENTS = [
    ([], "at least one event"),
    ("lead.*", "a list of event codes or patterns"),
    ([""], "a code or a pattern"),
    ([5], "a code or a pattern"),
    (["lead.nothing"], "'lead.nothing' is not an event of the catalog"),
    (["lead"], "'lead' is not an event of the catalog"),
    (["lea*.created"], "a pattern stars a whole part"),
    (["lead.cre*"], "a pattern stars a whole part"),
    (["*.*"], "a pattern stars a whole part"),
    (["**"], "a pattern stars a whole part"),
    (["lead.*.*"], "a pattern stars a whole part"),
    (["house.*"], "no such entity"),
    (["*.exploded"], "no event ends in .exploded"),
    (["lead.*"] * 67, "at most 66 events"),  # twice the catalog: every code and pattern, and some more
]


@pytest.mark.one_database
@pytest.mark.parametrize(("events", "message"), BAD_EVENTS, ids=[str(i) for i in range(len(BAD_EVENTS))])
def test_a_wrong_pattern_is_an_error_on_events_and_stores_nothing(crm, webhooks, events, message) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        webhooks.create_hook(name="bad", events=events, url=URL)
    assert raised.value.field == "events"
    with crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from webhook_hooks")) == 0
        assert conn.scalar(sa.text("select count(*) from webhook_hook_events")) == 0


def test_every_wrong_pattern_is_named_at_once(webhooks) -> None:
    with pytest.raises(ValidationError) as raised:
        webhooks.create_hook(name="bad", events=["lead.created", "lead.x", "x.*"], url=URL)
    assert [(e.field, str(e.message)) for e in raised.value.errors] == [
        ("events", "'lead.x' is not an event of the catalog (e.g. 'sale.created'; see `crm-webhooks events`)"),
        ("events", "'x.*': no such entity (entities: lead, client, opportunity, quote, sale, webhook)"),
    ]


def test_event_and_events_together_are_refused_and_change_nothing(webhooks) -> None:
    hook = webhooks.create_hook(name="one", event="lead.created", url=URL)
    with pytest.raises(ValidationError, match="not both") as raised:
        webhooks.update_hook(hook.id, event="lead.updated", events=["lead.*"])
    assert raised.value.field == "events"
    assert webhooks.get_hook(hook.id) == hook


def test_a_failed_update_keeps_the_codes_the_outbox_matches(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="one", events=["lead.*"], url=URL)
    with pytest.raises(ValidationError):
        webhooks.update_hook(hook.id, events=["client.*"], url="ftp://nope")
    crm.leads.create("Still a lead hook")
    assert delivered_types(webhooks, hook.id) == ["lead.created"]


def test_deleting_a_hook_leaves_none_of_its_codes(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="all", events=["*"], url=URL)
    webhooks.delete_hook(hook.id)
    with crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from webhook_hook_events")) == 0
    crm.leads.create("Nobody listens")
    with crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from webhook_events")) == 0
