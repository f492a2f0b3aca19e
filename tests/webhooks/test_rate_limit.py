"""A hook's rate limit: at most ``max_per_second`` attempts a second, however many workers share the database.

The limit is taken in the claim itself (engine/throttle.py), so here several deliverers (each
what a worker process has) claim from one database: together they never lease more than the
hook's rate allows.  A receiver that answers 429 with Retry-After holds the hook until then.
"""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crm_stub.models import utcnow
from crm_webhooks import ValidationError
from crm_webhooks.engine.claim import next_due_at
from crm_webhooks.engine.deliver import Deliverer

from ..waiting import wait_until

# One attempt every 50 s: whatever the machine's pace, a test's claims all fall in one interval.
SLOW = 0.02


@pytest.mark.parametrize("value", [20, 0.5, 1000, "20", None])
def test_a_rate_limit_is_a_positive_number_up_to_1000_or_none(webhooks, webhook_receiver, value) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, max_per_second=value)
    assert hook.max_per_second == (None if value is None else float(value))
    assert webhooks.get_hook(hook.id).to_dict()["max_per_second"] == hook.max_per_second


@pytest.mark.one_database
@pytest.mark.parametrize("value", [0, -1, 1000.5, math.nan, math.inf, True, "fast", [20]])
def test_a_wrong_rate_limit_names_the_field_and_stores_nothing(webhooks, webhook_receiver, value) -> None:
    with pytest.raises(ValidationError, match="max_per_second"):
        webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, max_per_second=value)
    assert webhooks.list_hooks() == []
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url)
    with pytest.raises(ValidationError, match="max_per_second"):
        webhooks.update_hook(hook.id, max_per_second=value)
    assert webhooks.get_hook(hook.id).max_per_second is None


def workers(webhooks, n: int) -> list[Deliverer]:
    """``n`` deliverers on the addon's database, each with its own name, as worker processes have."""
    own = webhooks.deliverer
    return [Deliverer(own.engine, own.options, own.transport) for _ in range(n)]


def test_workers_sharing_the_database_lease_no_more_than_the_rate_allows(crm, webhooks, webhook_receiver) -> None:
    limited = webhooks.create_hook(name="limited", event="lead.created", url=webhook_receiver.url_for("/l"))
    free = webhooks.create_hook(name="free", event="lead.created", url=webhook_receiver.url_for("/f"))
    webhooks.update_hook(limited.id, max_per_second=SLOW)
    for n in range(10):
        crm.leads.create(f"Lead {n}")
    claimed = [c for w in workers(webhooks, 3) for c in w.claim().claimed]
    assert sorted(c.hook_id for c in claimed).count(limited.id) == 1  # one per interval, for all three
    assert [c.hook_id for c in claimed].count(free.id) == 10  # the other hook is not held back
    webhooks.update_hook(limited.id, max_per_second=None)
    assert len(workers(webhooks, 1)[0].claim().claimed) == 9  # lifted: the rest go at once


def test_a_limit_set_while_a_worker_runs_holds_at_once(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url)
    (worker,) = workers(webhooks, 1)
    crm.leads.create("Before")
    assert len(worker.claim().claimed) == 1  # the worker has read which hooks are limited: none
    webhooks.update_hook(hook.id, max_per_second=SLOW)
    for n in range(5):
        crm.leads.create(f"Lead {n}")
    # Its list is a moment old, but the claim leaves out limited hooks in its own query; within
    # a second the worker reads the list again, and the hook gets what its rate allows.
    claimed = worker.claim().claimed
    assert len(claimed) <= 1
    wait_until(lambda: claimed.extend(worker.claim().claimed) or claimed, what="the limited hook's first slot")
    claimed += worker.claim().claimed
    assert len(claimed) == 1


def test_a_receiver_asking_to_slow_down_holds_the_hook_until_its_retry_after(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, max_per_second=1000)
    webhook_receiver.respond_with(429, headers={"Retry-After": "120"})
    crm.leads.create("First")
    assert webhooks.run_pending() == 1
    crm.leads.create("Second")
    assert webhooks.run_pending() == 0  # not even a first attempt: the receiver said two minutes
    assert [d.status for d in webhooks.history(hook.id)] == ["pending", "pending"]


def test_a_deleted_limited_hook_leaves_nothing_behind(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, max_per_second=5)
    webhooks.delete_hook(hook.id)
    again = webhooks.create_hook(name="h2", event="lead.created", url=webhook_receiver.url, max_per_second=5)
    crm.leads.create("After")
    assert webhooks.run_pending() == 1 and again.max_per_second == 5


def due_in(crm) -> dt.timedelta:
    """How long an idle worker would sleep before claiming again."""
    with crm.engine.connect() as conn:
        return next_due_at(conn) - utcnow()


def test_an_idle_worker_sleeps_until_a_limited_hooks_next_slot_opens(crm, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, max_per_second=SLOW)
    free = webhooks.create_hook(name="free", event="lead.updated", url=webhook_receiver.url)
    lead = crm.leads.create("A")
    crm.leads.create("B")
    assert webhooks.run_pending() == 1  # one slot now, the next in 50 s
    assert due_in(crm) > dt.timedelta(seconds=40)  # not "due now", claim after claim
    crm.leads.update(lead.id, name="A1")
    assert webhooks.last_delivery(free.id).status == "pending"  # (reading writes the delivery rows)
    assert due_in(crm) <= dt.timedelta(0)  # another hook's delivery is due at once
    assert webhooks.run_pending() == 1 and webhooks.last_delivery(free.id).status == "succeeded"
