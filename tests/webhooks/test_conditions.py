"""A hook's condition: only the events it is true of are delivered; a broken one fails loudly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_webhooks import ValidationError
from crm_webhooks.engine.fanout import BATCH, fan_out, fan_out_all, pending

WON_OVER_1000 = 'object.stage == "won" and previous.stage != "won" and object.amount|float > 1000'


def deal(crm, title: str, amount: str) -> int:
    client = crm.clients.create(f"Client of {title}")
    return crm.opportunities.create(client.id, title, amount).id


def sent_titles(webhook_receiver, code: str) -> list[str]:
    return sorted(r.json["data"]["object"]["title"] for r in webhook_receiver.requests if r.json["type"] == code)


def test_only_won_deals_over_the_amount_reach_the_point_of_sale(crm, webhooks, webhook_receiver) -> None:
    pos = webhooks.create_hook(
        name="POS", event="opportunity.stage_changed", url=webhook_receiver.url, condition=WON_OVER_1000
    )
    big, small, lost = deal(crm, "Big", "2500.00"), deal(crm, "Small", "900.00"), deal(crm, "Lost", "9000.00")
    crm.opportunities.change_stage(big, "proposal")  # a move, but not to won
    crm.opportunities.change_stage(big, "won")
    crm.opportunities.change_stage(small, "won")
    crm.opportunities.lose(lost)
    webhooks.run_pending()
    assert sent_titles(webhook_receiver, "opportunity.stage_changed") == ["Big"]
    assert [d.event for d in webhooks.history(pos.id)] == ["opportunity.stage_changed"]
    # Three events were turned away: Big's move to proposal, Small (too small), Lost.
    assert webhooks.get_hook(pos.id).skipped_by_condition == 3


@pytest.mark.parametrize(
    ("condition", "delivered"),
    [
        ('"vip" in object.tags', ["Ana"]),
        ('"vip" not in object.tags', ["Bruno"]),
        ('event == "lead.tagged" and object.name.startswith("A")', ["Ana"]),
        ("object.tags | length > 1", ["Ana"]),
        ("previous.anything", []),  # nothing changed it: undefined is false, not an error
        ("true", ["Ana", "Bruno"]),
        ("false", []),
    ],
)
def test_each_form_of_condition_true_and_false(crm, webhooks, webhook_receiver, condition, delivered) -> None:
    webhooks.create_hook(name="tags", event="lead.tagged", url=webhook_receiver.url, condition=condition)
    ana, bruno = crm.leads.create("Ana"), crm.leads.create("Bruno")
    crm.leads.tag(ana.id, "vip", "sp")
    crm.leads.tag(bruno.id, "cold")
    webhooks.run_pending()
    assert sorted(r.json["data"]["object"]["name"] for r in webhook_receiver.requests) == delivered


def test_a_condition_over_several_events_sees_each_ones_code(crm, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(
        name="leads only", events=["*"], url=webhook_receiver.url, condition='event.startswith("lead.")'
    )
    lead = crm.leads.create("Ana")
    crm.leads.update(lead.id, name="Ana Souza")
    crm.clients.create("ACME")
    webhooks.run_pending()
    assert [r.json["type"] for r in webhook_receiver.requests] == ["lead.created", "lead.updated"]


def test_a_condition_that_cannot_be_evaluated_is_a_failed_delivery_saying_why(crm, webhooks, webhook_receiver) -> None:
    broken = webhooks.create_hook(
        name="broken", event="lead.created", url=webhook_receiver.url_for("/broken"), condition="object.name / 2 > 1"
    )
    fine = webhooks.create_hook(name="fine", event="lead.created", url=webhook_receiver.url_for("/fine"))
    crm.leads.create("Ana")
    webhooks.run_pending()
    # Nothing reached the broken hook's receiver, the other hook got its event.
    assert [r.path for r in webhook_receiver.requests] == ["/fine"]
    (failed,) = webhooks.history(broken.id)
    assert failed.status == "failed" and failed.attempts[0].status_code is None
    assert failed.attempts[0].error.startswith("condition: line 1:")
    assert webhooks.get_hook(broken.id).status == "failing"
    assert webhooks.last_delivery(fine.id).status == "succeeded"
    # Fixed, the next event goes; the failed one can be sent again as it is.
    webhooks.update_hook(broken.id, condition="object.name != ''")
    crm.leads.create("Bruno")
    webhooks.run_pending()
    assert [r.path for r in webhook_receiver.requests].count("/broken") == 1
    webhooks.redeliver(failed.id)
    assert [r.path for r in webhook_receiver.requests].count("/broken") == 2


def test_changing_the_condition_starts_its_skipped_count_again(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="none", event="lead.created", url="http://127.0.0.1:9/x", condition="false")
    crm.leads.create("Ana")
    crm.leads.create("Bruno")
    assert webhooks.get_hook(hook.id).skipped_by_condition == 0  # counted when fanned out
    webhooks.run_pending()
    assert webhooks.get_hook(hook.id).skipped_by_condition == 2
    assert webhooks.history(hook.id) == []
    assert webhooks.update_hook(hook.id, name="renamed").skipped_by_condition == 2
    assert webhooks.update_hook(hook.id, condition="1 == 2").skipped_by_condition == 0
    assert webhooks.update_hook(hook.id, condition=None).condition is None


def test_a_hook_disabled_before_the_fan_out_holds_what_its_condition_lets_through(
    crm, webhooks, webhook_receiver
) -> None:
    hook = webhooks.create_hook(
        name="vip", event="lead.created", url=webhook_receiver.url, condition='object.name == "VIP"'
    )
    crm.leads.create("VIP")
    crm.leads.create("Nobody")
    webhooks.disable_hook(hook.id)
    webhooks.run_pending()
    assert [d.status for d in webhooks.history(hook.id)] == ["pending"] and webhook_receiver.requests == []
    webhooks.enable_hook(hook.id)
    webhooks.run_pending()
    assert [r.json["data"]["object"]["name"] for r in webhook_receiver.requests] == ["VIP"]


def test_per_record_order_holds_for_what_a_condition_lets_through(crm, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(
        name="edits", event="lead.updated", url=webhook_receiver.url, condition='object.name != "skip"'
    )
    lead = crm.leads.create("Ana")
    for name in ("one", "skip", "two", "three"):
        crm.leads.update(lead.id, name=name)
    webhooks.run_pending()
    assert [r.json["data"]["object"]["name"] for r in webhook_receiver.requests] == ["one", "two", "three"]


BAD_CONDITIONS = [
    ("object.stage ==", "line 1"),
    ("object.stage == 'won' }}{{ 1", "a condition is one expression"),
    ("{% if true %}", "line 1"),
    ("stage == 'won'", "unknown name stage"),
    ("hook.name", "unknown name hook"),
    ("x" * 2001, "at most 2000 characters"),
    (42, "expected text, got a number"),
]


@pytest.mark.one_database
@pytest.mark.parametrize(("condition", "message"), BAD_CONDITIONS, ids=[str(i) for i in range(len(BAD_CONDITIONS))])
def test_a_wrong_condition_is_refused_on_save_naming_the_field(crm, webhooks, condition, message) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        webhooks.create_hook(name="bad", event="lead.created", url="http://127.0.0.1:9/x", condition=condition)
    assert raised.value.field == "condition"
    with crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from webhook_hooks")) == 0


def test_a_hostile_condition_fails_its_own_delivery_never_the_fan_out(crm, webhooks, webhook_receiver) -> None:
    hostile = {
        "escape": "object.__class__.__mro__",
        "huge": "('x' * 10 ** 9) != ''",
        "power": "2 ** 100000 > 1",
        "slow": "range(100000) | map('string') | join | length > 0 and range(100000) | list | length > 0",
    }
    hooks = {
        name: webhooks.create_hook(
            name=name, event="lead.created", url=webhook_receiver.url_for(f"/{name}"), condition=condition
        )
        for name, condition in hostile.items()
    }
    other = webhooks.create_hook(name="other", event="lead.created", url=webhook_receiver.url_for("/other"))
    crm.leads.create("Ana")
    webhooks.run_pending()
    for name in ("escape", "huge", "power"):
        delivery = webhooks.last_delivery(hooks[name].id)
        assert delivery.status == "failed" and delivery.attempts[0].error.startswith("condition: "), name
    assert webhooks.last_delivery(hooks["slow"].id).status in ("succeeded", "failed")  # either way, it ended
    assert webhooks.last_delivery(other.id).status == "succeeded"
    assert "/escape" not in [r.path for r in webhook_receiver.requests]


# Runs to the 50 ms deadline on any machine: ten million steps of Python.
SLOW = "range(100000)" + '|map("abs")' * 100 + "|list|length"


@pytest.mark.one_database  # SQLite: the fan-out holds the write lock the CRM's writes wait for
def test_slow_conditions_hold_the_fan_out_for_its_budget_then_leave_the_rest_for_later(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="slow", event="lead.created", url="http://127.0.0.1:9/x", condition=SLOW)
    for n in range(10):
        crm.leads.create(f"Lead {n}")
    with crm.engine.begin() as conn:
        # Each evaluation takes 50 ms or more: a 0.2 s budget ends after at most 5 of the 10 events.
        assert fan_out(conn, budget=0.2) == BATCH  # "more to come", as a full batch says
        done = conn.execute(sa.text("select count(*) from webhook_events where fanout is null")).scalar()
        assert 1 <= done <= 5 and pending(conn)
        fan_out_all(conn, budget=0.0)  # one event per pass: slow, but every event gets its turn
        assert not pending(conn)
    history = webhooks.history(hook.id)
    assert len(history) == 10 and {d.status for d in history} == {"failed"}
    assert all("took longer than 50 ms" in d.attempts[0].error for d in history)
    assert [d.payload["data"]["object"]["name"] for d in reversed(history)] == [f"Lead {n}" for n in range(10)]
