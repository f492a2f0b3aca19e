"""What must not happen: no events for no-ops, illegal moves or bad input, and nothing changed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from crm_stub import CRMError, InvalidTransition, NotFound

from .conftest import Recorder, World


def state(w: World) -> dict[str, Any]:
    crm = w.crm
    return {
        "lead": crm.leads.get(w.lead).to_dict(),
        "client": crm.clients.get(w.client).to_dict(),
        "opp": crm.opportunities.get(w.opp).to_dict(),
        "counts": [
            len(s.list()) for s in (crm.users, crm.leads, crm.clients, crm.opportunities, crm.quotes, crm.sales)
        ],
    }


NO_OPS: list[tuple[str, Callable[[World], Any], Callable[[World], Any]]] = [
    ("update to the same value", lambda w: None, lambda w: w.crm.leads.update(w.lead, name="ACME")),
    (
        "update a custom field to the same value",
        lambda w: w.crm.clients.update(w.client, size=10),
        lambda w: w.crm.clients.update(w.client, size=10),
    ),
    ("tag already present", lambda w: w.crm.leads.tag(w.lead, "vip"), lambda w: w.crm.leads.tag(w.lead, "vip", "vip")),
    ("stage unchanged", lambda w: None, lambda w: w.crm.leads.change_stage(w.lead, "new")),
    (
        "share with a user already shared",
        lambda w: w.crm.clients.share(w.client, w.bob),
        lambda w: w.crm.clients.share(w.client, w.bob),
    ),
    ("unshare a user never shared", lambda w: None, lambda w: w.crm.clients.unshare(w.client, w.bob)),
    ("reassign to the current owner", lambda w: None, lambda w: w.crm.opportunities.reassign(w.opp, w.alice)),
    (
        "win an opportunity already won",
        lambda w: w.crm.opportunities.change_stage(w.opp, "won"),
        lambda w: w.crm.opportunities.change_stage(w.opp, "won"),
    ),
]


@pytest.mark.parametrize(("prepare", "act"), [c[1:] for c in NO_OPS], ids=[c[0] for c in NO_OPS])
def test_a_call_that_changes_nothing_raises_nothing(world: World, recorder: Recorder, prepare, act) -> None:
    prepare(world)
    before, committed = state(world), recorder.committed_codes()
    recorder.clear()
    act(world)
    assert recorder.codes == []
    assert state(world) == before
    assert recorder.committed_codes() == committed


ILLEGAL: list[tuple[str, type[Exception], Callable[[World], Any], Callable[[World], Any]]] = [
    ("reactivate an active lead", InvalidTransition, lambda w: None, lambda w: w.crm.leads.reactivate(w.lead)),
    ("reactivate an active client", InvalidTransition, lambda w: None, lambda w: w.crm.clients.reactivate(w.client)),
    (
        "reactivate an open opportunity",
        InvalidTransition,
        lambda w: None,
        lambda w: w.crm.opportunities.reactivate(w.opp),
    ),
    (
        "archive an archived lead",
        InvalidTransition,
        lambda w: w.crm.leads.archive(w.lead),
        lambda w: w.crm.leads.archive(w.lead),
    ),
    (
        "discard an archived client",
        InvalidTransition,
        lambda w: w.crm.clients.archive(w.client),
        lambda w: w.crm.clients.discard(w.client),
    ),
    ("share with the owner", InvalidTransition, lambda w: None, lambda w: w.crm.leads.share(w.lead, w.alice)),
    (
        "move the stage of an archived lead",
        InvalidTransition,
        lambda w: w.crm.leads.archive(w.lead),
        lambda w: w.crm.leads.change_stage(w.lead, "qualified"),
    ),
    (
        "convert a converted lead",
        InvalidTransition,
        lambda w: w.crm.leads.convert(w.lead),
        lambda w: w.crm.leads.convert(w.lead),
    ),
    (
        "archive a converted lead",
        InvalidTransition,
        lambda w: w.crm.leads.convert(w.lead),
        lambda w: w.crm.leads.archive(w.lead),
    ),
    (
        "lose a lost opportunity",
        InvalidTransition,
        lambda w: w.crm.opportunities.lose(w.opp),
        lambda w: w.crm.opportunities.lose(w.opp),
    ),
    (
        "sell a lost opportunity",
        InvalidTransition,
        lambda w: w.crm.opportunities.lose(w.opp),
        lambda w: w.crm.sales.create(w.opp),
    ),
    (
        "sell an opportunity twice",
        InvalidTransition,
        lambda w: w.crm.sales.create(w.opp),
        lambda w: w.crm.sales.create(w.opp),
    ),
    (
        "quote a won opportunity",
        InvalidTransition,
        lambda w: w.crm.sales.create(w.opp),
        lambda w: w.crm.quotes.create(w.opp, [{"description": "x", "quantity": 1, "unit_price": 1}]),
    ),
    ("unknown lead stage", CRMError, lambda w: None, lambda w: w.crm.leads.change_stage(w.lead, "hot")),
    (
        "unknown opportunity stage on create",
        CRMError,
        lambda w: None,
        lambda w: w.crm.opportunities.create(w.client, "x", 1, stage="maybe"),
    ),
    ("create a lead without a name", CRMError, lambda w: None, lambda w: w.crm.leads.create("  ")),
    (
        "create a client with a bad e-mail",
        CRMError,
        lambda w: None,
        lambda w: w.crm.clients.create("X", email="nobody"),
    ),
    (
        "update the stage through update()",
        CRMError,
        lambda w: None,
        lambda w: w.crm.leads.update(w.lead, stage="contacted"),
    ),
    ("update with nothing", CRMError, lambda w: None, lambda w: w.crm.leads.update(w.lead)),
    ("negative amount", CRMError, lambda w: None, lambda w: w.crm.opportunities.update(w.opp, amount=-1)),
    (
        "amount that is not a number",
        CRMError,
        lambda w: None,
        lambda w: w.crm.opportunities.create(w.client, "x", "lots"),
    ),
    ("quote without items", CRMError, lambda w: None, lambda w: w.crm.quotes.create(w.opp, [])),
    (
        "quote item with zero quantity",
        CRMError,
        lambda w: None,
        lambda w: w.crm.quotes.create(w.opp, [{"description": "x", "quantity": 0, "unit_price": 1}]),
    ),
    (
        "sale with another opportunity's quote",
        CRMError,
        lambda w: w.crm.quotes.create(
            w.crm.opportunities.create(w.client, "other", 1).id, [{"description": "x", "unit_price": 1}]
        ),
        lambda w: w.crm.sales.create(w.opp, quote_id=1),
    ),
    (
        "follow-up of an unknown kind",
        CRMError,
        lambda w: None,
        lambda w: w.crm.clients.follow_up(w.client, "hi", kind="fax"),
    ),
    ("custom field that is not JSON", CRMError, lambda w: None, lambda w: w.crm.leads.update(w.lead, when=object())),
    ("duplicate user e-mail", CRMError, lambda w: None, lambda w: w.crm.users.create("Alice 2", "ALICE@example.com")),
    ("unknown lead", NotFound, lambda w: None, lambda w: w.crm.leads.archive(999)),
    ("unknown client for an opportunity", NotFound, lambda w: None, lambda w: w.crm.opportunities.create(999, "x", 1)),
    ("unknown owner", NotFound, lambda w: None, lambda w: w.crm.leads.reassign(w.lead, 999)),
    ("share with an unknown user", NotFound, lambda w: None, lambda w: w.crm.clients.share(w.client, 999)),
    (
        "quote an unknown opportunity",
        NotFound,
        lambda w: None,
        lambda w: w.crm.quotes.create(999, [{"description": "x", "unit_price": 1}]),
    ),
    ("sell an unknown opportunity", NotFound, lambda w: None, lambda w: w.crm.sales.create(999)),
    ("follow up an unknown client", NotFound, lambda w: None, lambda w: w.crm.clients.follow_up(999, "hi")),
]


@pytest.mark.parametrize(("error", "prepare", "act"), [c[1:] for c in ILLEGAL], ids=[c[0] for c in ILLEGAL])
def test_an_illegal_call_raises_changes_nothing_and_raises_no_event(
    world: World, recorder: Recorder, error, prepare, act
) -> None:
    prepare(world)
    before, committed = state(world), recorder.committed_codes()
    recorder.clear()
    with pytest.raises(error) as raised:
        act(world)
    assert isinstance(raised.value, ValueError)  # CRMError is a ValueError for callers who know only that
    assert str(raised.value)
    assert recorder.codes == []
    assert state(world) == before
    assert recorder.committed_codes() == committed


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda w: w.crm.leads.create(""), "name"),
        (lambda w: w.crm.clients.create("X", email="@x"), "email"),
        (lambda w: w.crm.opportunities.create(w.client, "x", -5), "amount"),
        (
            lambda w: w.crm.quotes.create(
                w.opp, [{"description": "x", "unit_price": 1}, {"description": "y", "quantity": -1, "unit_price": 1}]
            ),
            "items[1].quantity",
        ),
        (lambda w: w.crm.leads.update(w.lead, owner_id=w.bob), "owner_id"),
    ],
)
def test_errors_name_the_field(world: World, call, field: str) -> None:
    with pytest.raises(CRMError, match=rf"^{re.escape(field)}: "):
        call(world)


def test_not_found_says_what_was_missing(world: World) -> None:
    with pytest.raises(NotFound, match="opportunity 4242 not found") as raised:
        world.crm.opportunities.get(4242)
    assert (raised.value.entity, raised.value.record_id) == ("opportunity", 4242)


def test_acting_as_an_unknown_user_is_refused(world: World) -> None:
    with pytest.raises(NotFound), world.crm.acting_as(999):
        pass
