"""Each of the 30 events of the catalog, raised by its call, once, with the right payload."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

import pytest

from crm_stub import EVENT_CODES

from .conftest import Recorder, World

ITEMS = [{"description": "Licence", "quantity": 2, "unit_price": "750.00"}]


class Case(NamedTuple):
    code: str
    act: Callable[[World], Any]
    changes: Callable[[World], dict[str, Any]]
    obj_id: Callable[[World, Any], int]
    prepare: Callable[[World], Any] = lambda w: None
    # Events raised by the call, in order, when it raises more than its own.
    raised: tuple[str, ...] = ()


def same(attr: str) -> Callable[[World, Any], int]:
    """The event's object is the world's record ``attr``."""
    return lambda w, result: getattr(w, attr)


def returned(w: World, result: Any) -> int:
    """The event's object is the record the call returned."""
    return result.id


def party_cases(entity: str) -> list[Case]:
    svc = lambda w: getattr(w.crm, entity + "s")  # noqa: E731
    first, second = {"lead": ("new", "contacted"), "client": ("onboarding", "active")}[entity]
    return [
        Case(
            f"{entity}.stage_changed",
            lambda w: svc(w).change_stage(getattr(w, entity), second),
            lambda w: {"stage": first},
            same(entity),
        ),
        Case(
            f"{entity}.archived",
            lambda w: svc(w).archive(getattr(w, entity)),
            lambda w: {"status": "active"},
            same(entity),
        ),
        Case(
            f"{entity}.shared",
            lambda w: svc(w).share(getattr(w, entity), w.bob),
            lambda w: {"shared_with": []},
            same(entity),
        ),
        Case(
            f"{entity}.discarded",
            lambda w: svc(w).discard(getattr(w, entity), reason="duplicate"),
            lambda w: {"status": "active", "discard_reason": None},
            same(entity),
        ),
        Case(
            f"{entity}.updated",
            lambda w: svc(w).update(getattr(w, entity), phone="+55 11 5555"),
            lambda w: {"phone": None},
            same(entity),
        ),
        Case(
            f"{entity}.tagged",
            lambda w: svc(w).tag(getattr(w, entity), "vip", "2026"),
            lambda w: {"tags": []},
            same(entity),
        ),
        Case(
            f"{entity}.unshared",
            lambda w: svc(w).unshare(getattr(w, entity), w.bob),
            lambda w: {"shared_with": [w.bob]},
            same(entity),
            prepare=lambda w: svc(w).share(getattr(w, entity), w.bob),
        ),
        Case(f"{entity}.created", lambda w: svc(w).create("Initech", email="it@initech.test"), lambda w: {}, returned),
        Case(
            f"{entity}.reactivated",
            lambda w: svc(w).reactivate(getattr(w, entity)),
            lambda w: {"status": "archived", "discard_reason": None},
            same(entity),
            prepare=lambda w: svc(w).archive(getattr(w, entity)),
        ),
        Case(
            f"{entity}.reassigned",
            lambda w: svc(w).reassign(getattr(w, entity), w.bob),
            lambda w: {"owner_id": w.alice},
            same(entity),
        ),
        Case(
            f"{entity}.follow_up_added",
            lambda w: svc(w).follow_up(getattr(w, entity), "Called, wants a demo", kind="call"),
            lambda w: {},
            returned,
        ),
    ]


CASES = [
    *party_cases("lead"),
    *party_cases("client"),
    Case(
        "opportunity.stage_changed",
        lambda w: w.crm.opportunities.change_stage(w.opp, "proposal"),
        lambda w: {"stage": "prospecting"},
        same("opp"),
    ),
    Case(
        "opportunity.updated",
        lambda w: w.crm.opportunities.update(w.opp, amount=2000),
        lambda w: {"amount": Decimal("1500.00")},
        same("opp"),
    ),
    Case(
        "opportunity.created", lambda w: w.crm.opportunities.create(w.client, "Upsell", "99.90"), lambda w: {}, returned
    ),
    Case(
        "opportunity.reactivated",
        lambda w: w.crm.opportunities.reactivate(w.opp),
        lambda w: {"stage": "lost", "status": "lost", "lost_reason": "price"},
        same("opp"),
        prepare=lambda w: w.crm.opportunities.lose(w.opp, reason="price"),
    ),
    Case(
        "opportunity.reassigned",
        lambda w: w.crm.opportunities.reassign(w.opp, w.bob),
        lambda w: {"owner_id": w.alice},
        same("opp"),
    ),
    Case(
        "opportunity.follow_up_added",
        lambda w: w.crm.opportunities.follow_up(w.opp, "Sent the proposal", kind="email"),
        lambda w: {},
        returned,
    ),
    Case("quote.created", lambda w: w.crm.quotes.create(w.opp, ITEMS), lambda w: {}, returned),
    # A sale marks its opportunity won: that stage move is an event of its own, raised first.
    Case(
        "sale.created",
        lambda w: w.crm.sales.create(w.opp),
        lambda w: {},
        returned,
        raised=("opportunity.stage_changed", "sale.created"),
    ),
]


def test_the_table_covers_the_whole_catalog() -> None:
    assert sorted(c.code for c in CASES) == sorted(EVENT_CODES)
    assert len(EVENT_CODES) == 30


@pytest.mark.parametrize("case", CASES, ids=[c.code for c in CASES])
def test_event_is_raised_once_by_its_call(world: World, recorder: Recorder, case: Case) -> None:
    case.prepare(world)
    recorder.clear()
    before = len(recorder.committed_codes())

    with world.crm.acting_as(world.bob):
        result = case.act(world)

    assert recorder.codes == list(case.raised or (case.code,))
    event = next(r for r in recorder.received if r.code == case.code)
    assert event.obj.id == case.obj_id(world, result)
    assert event.obj_dict["id"] == event.obj.id
    assert event.changes == case.changes(world)
    assert event.actor_id == world.bob
    # Raised inside the transaction, and committed with it.
    assert recorder.committed_codes()[before:] == recorder.codes


def test_follow_up_event_carries_the_entry_and_its_record(world: World, recorder: Recorder) -> None:
    with world.crm.acting_as(world.alice):
        entry = world.crm.leads.follow_up(world.lead, "Met at the fair", kind="meeting")
    (event,) = recorder.received
    assert event.obj_dict["lead_id"] == world.lead
    assert event.obj_dict["record"] == {"type": "lead", "id": world.lead}
    assert (event.obj_dict["kind"], event.obj_dict["note"], event.obj_dict["author_id"]) == (
        "meeting",
        "Met at the fair",
        world.alice,
    )
    assert entry.record_id == world.lead
    assert [f.id for f in world.crm.leads.follow_ups(world.lead)] == [entry.id]


def test_converting_a_lead_raises_client_created_for_the_new_client(world: World, recorder: Recorder) -> None:
    world.crm.leads.tag(world.lead, "fair")
    recorder.clear()
    client = world.crm.leads.convert(world.lead)
    assert recorder.codes == ["client.created"]
    assert recorder.received[0].obj.id == client.id
    assert (client.name, client.lead_id, client.tags, client.stage) == ("ACME", world.lead, ["fair"], "onboarding")
    lead = world.crm.leads.get(world.lead)
    assert (lead.status, lead.converted_client_id) == ("converted", client.id)


def test_a_sale_on_a_won_opportunity_raises_only_sale_created(world: World, recorder: Recorder) -> None:
    world.crm.opportunities.change_stage(world.opp, "won")
    assert recorder.codes == ["opportunity.stage_changed"]
    recorder.clear()
    sale = world.crm.sales.create(world.opp, amount="1200")
    assert recorder.codes == ["sale.created"]
    assert sale.amount == Decimal("1200.00")


def test_sale_amount_defaults_to_the_quote_total(world: World) -> None:
    quote = world.crm.quotes.create(world.opp, ITEMS)
    sale = world.crm.sales.create(world.opp, quote_id=quote.id)
    assert quote.total == sale.amount == Decimal("1500.00")
    assert sale.to_dict()["amount"] == "1500.00"
    opp = world.crm.opportunities.get(world.opp)
    assert (opp.stage, opp.status) == ("won", "won")


def test_losing_moves_the_stage_and_reactivating_brings_it_back(world: World, recorder: Recorder) -> None:
    world.crm.opportunities.change_stage(world.opp, "negotiation")
    lost = world.crm.opportunities.change_stage(world.opp, "lost")
    assert (lost.stage, lost.status) == ("lost", "lost")
    assert recorder.received[-1].changes == {"stage": "negotiation", "status": "open", "lost_reason": None}
    back = world.crm.opportunities.reactivate(world.opp)
    assert (back.stage, back.status) == ("negotiation", "open")
