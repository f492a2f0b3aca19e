"""Catching up: when a failing receiver answers 2xx again, its deliveries waiting for a retry go at once.

Retries here wait a minute: whatever arrives within a test did not wait out its backoff.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from crm_stub.models import utcnow
from crm_webhooks.models import DeliveryRow, HookRow

from ..waiting import wait_until

pytestmark = pytest.mark.webhooks_options(retry_delays=[60, 60])


def leads_hook(webhooks, receiver, path: str = "/hooks"):
    return webhooks.create_hook(
        name=f"leads {path}", events=["lead.created", "lead.updated"], url=receiver.url_for(path)
    )


def edit_two_leads(crm) -> None:
    """Lead A created, then changed to A1 and A2; lead B created, then changed to B1."""
    a, b = crm.leads.create("A"), crm.leads.create("B")
    crm.leads.update(a.id, name="A1")
    crm.leads.update(a.id, name="A2")
    crm.leads.update(b.id, name="B1")


def names(receiver, path: str = "/hooks") -> list[str]:
    return [r.json["data"]["object"]["name"] for r in receiver.requests if r.path == path]


def waiting(webhooks, hook) -> dict[str, object]:
    """Each of the hook's deliveries by its record's name: when it is due next."""
    return {d.payload["data"]["object"]["name"]: d.next_attempt_at for d in webhooks.history(hook.id)}


def delivery_rows(crm) -> set[tuple[object, ...]]:
    with crm.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.select(DeliveryRow.__table__))}


def test_when_the_receiver_answers_again_its_waiting_retries_go_at_once_in_order_per_record(
    crm, webhooks, webhook_receiver
) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    other = leads_hook(webhooks, webhook_receiver, "/other")
    webhook_receiver.fail_next(100, status=503, path="/other")  # another hook's receiver stays down
    webhook_receiver.fail_next(2, status=503, path="/hooks")  # A and B fail; their later changes wait behind them
    edit_two_leads(crm)
    webhooks.run_pending()
    assert names(webhook_receiver) == ["A", "B"]
    others_before = waiting(webhooks, other)

    crm.leads.create("C")  # the receiver is back: C's 2xx is the first since A and B failed
    webhooks.run_pending()

    assert names(webhook_receiver)[2] == "C"
    arrived = names(webhook_receiver)[3:]
    assert [n for n in arrived if n.startswith("A")] == ["A", "A1", "A2"]
    assert [n for n in arrived if n.startswith("B")] == ["B", "B1"]
    assert {d.status for d in webhooks.history(hook.id)} == {"succeeded"}
    # The other hook's receiver did not answer: its retries keep their time.
    assert {n: t for n, t in waiting(webhooks, other).items() if n != "C"} == others_before


def test_a_success_of_a_hook_that_was_not_failing_changes_no_other_row(crm, webhooks, webhook_receiver) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.fail_next(1, status=503)
    crm.leads.create("A")
    webhooks.run_pending()  # A waits for its retry
    # Written by hand: the hook's last attempt succeeded although A still waits for its retry.
    with crm.engine.begin() as conn:
        conn.execute(sa.update(HookRow).where(HookRow.id == hook.id).values(last_result="succeeded"))
    before = delivery_rows(crm)

    crm.leads.create("B")
    webhooks.run_pending()

    assert names(webhook_receiver) == ["A", "B"]
    assert delivery_rows(crm) >= before  # B's row is the only new or changed one
    assert len(delivery_rows(crm) - before) == 1


def a_then_b(crm, webhooks, hook) -> dict[str, object]:
    """A fails as the receiver was told; then B, answered 2xx, says whether the receiver is back.

    Returns when each delivery was due next between the two."""
    crm.leads.create("A")
    webhooks.run_pending()
    between = waiting(webhooks, hook)
    crm.leads.create("B")
    webhooks.run_pending()
    return between


# A receiver that was down, or behind a failing gateway, is caught up with at its return. A 500
# or a 4xx is its answer about that event (the same payload may well fail again): other events
# succeeding says nothing about it, and its retries are not spent in seconds.
RETURNS = [(502, True), (503, True), (504, True), (500, False), (400, False), (422, False)]


@pytest.mark.parametrize(("status", "caught_up"), RETURNS)
def test_which_failures_a_receivers_return_sends_again_at_once(
    crm, webhooks, webhook_receiver, status, caught_up
) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.fail_next(1, status=status)
    before = a_then_b(crm, webhooks, hook)
    if caught_up:
        assert names(webhook_receiver) == ["A", "B", "A"]
        assert {d.status for d in webhooks.history(hook.id)} == {"succeeded"}
    else:
        assert names(webhook_receiver) == ["A", "B"]
        assert waiting(webhooks, hook)["A"] == before["A"]


@pytest.mark.webhooks_options(timeout=0.5)
def test_a_receiver_that_did_not_answer_in_time_is_caught_up_with(crm, webhooks, webhook_receiver) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.delay_next(2.0)  # A: no answer within the hook's timeout
    a_then_b(crm, webhooks, hook)
    assert names(webhook_receiver) == ["A", "B", "A"]
    assert {d.status for d in webhooks.history(hook.id)} == {"succeeded"}


def test_a_retry_after_429_keeps_its_time_when_the_receiver_answers_another(crm, webhooks, webhook_receiver) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.respond_with(429, headers={"Retry-After": "3600"})
    webhook_receiver.fail_next(1, status=503)
    crm.leads.create("A")
    crm.leads.create("B")
    webhooks.run_pending()
    before = waiting(webhooks, hook)

    crm.leads.create("C")
    webhooks.run_pending()

    # B's receiver was down and is back; A's asked for fewer requests, which C's answer does not lift.
    assert names(webhook_receiver) == ["A", "B", "C", "B"]
    assert waiting(webhooks, hook)["A"] == before["A"]


def test_a_disabled_hooks_deliveries_stay_held_when_an_attempt_in_flight_succeeds(
    crm, webhooks, webhook_receiver
) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.fail_next(1, status=503)
    crm.leads.create("A")
    webhooks.run_pending()  # A waits for its retry
    crm.leads.create("B")
    deliverer = webhooks.deliverer
    claimed = deliverer.claim().claimed  # B, in a worker's hands...
    webhooks.disable_hook(hook.id)  # ...when someone disables the hook
    deliverer.send_claimed(claimed)  # B's 2xx is recorded after the disabling

    assert names(webhook_receiver) == ["A", "B"]
    a = next(d for d in webhooks.history(hook.id) if d.payload["data"]["object"]["name"] == "A")
    assert a.held


def test_a_delivery_another_worker_holds_is_left_to_it(crm, webhooks, webhook_receiver) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.fail_next(2, status=503)
    crm.leads.create("A")
    crm.leads.create("B")
    webhooks.run_pending()  # A and B wait for their retries
    lease = {"locked_by": "another worker", "locked_until": utcnow() + dt.timedelta(hours=1)}
    with crm.engine.begin() as conn:  # A's row, leased by another worker (for as long as its hold lasts)
        a_id = conn.scalar(sa.select(sa.func.min(DeliveryRow.id)).where(DeliveryRow.hook_id == hook.id))
        conn.execute(sa.update(DeliveryRow).where(DeliveryRow.id == a_id).values(**lease))
    before = waiting(webhooks, hook)

    crm.leads.create("C")
    webhooks.run_pending()

    assert names(webhook_receiver) == ["A", "B", "C", "B"]
    assert waiting(webhooks, hook)["A"] == before["A"]


@pytest.mark.webhooks_options(dispatcher="thread", retry_delays=[60, 60])
def test_the_background_dispatcher_catches_up_too(crm, webhooks, webhook_receiver) -> None:
    hook = leads_hook(webhooks, webhook_receiver)
    webhook_receiver.fail_next(2, status=503)
    edit_two_leads(crm)
    recorded = lambda: sum(len(d.attempts) for d in webhooks.history(hook.id))  # noqa: E731
    wait_until(lambda: recorded() == 2, what="A and B's failed attempts, recorded")

    crm.leads.create("C")

    done = lambda: {d.status for d in webhooks.history(hook.id)} == {"succeeded"}  # noqa: E731
    wait_until(done, timeout=5, what="every delivery, without a minute's wait")
    arrived = names(webhook_receiver)[2:]
    assert [n for n in arrived if n.startswith("A")] == ["A", "A1", "A2"]
    assert [n for n in arrived if n.startswith("B")] == ["B", "B1"]
