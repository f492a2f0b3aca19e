"""At 3 a.m., after an outage: a backlog of retries for a slow receiver does not hold new events back.

Retries are all due before any new event, so claiming by due time alone would send
every one of them first.  A share of each claim, and of the worker's slots, is kept
for first attempts.  Both hooks post to the same receiver (one ``host:port``), so the
per-receiver share of slots cannot be what lets the new events through.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from crm_stub.models import utcnow
from crm_webhooks.engine import fanout
from crm_webhooks.engine.worker import Worker
from crm_webhooks.models import DeliveryRow

from ..bulk import create_leads
from ..waiting import wait_until

BACKLOG = 5000
FRESH = 20


def retry_backlog(crm, hook_id: int, count: int) -> None:
    """``count`` leads whose deliveries to ``hook_id`` failed once and have waited an hour for their retry."""
    create_leads(crm, count)
    with crm.engine.begin() as conn:
        fanout.fan_out_all(conn)
        conn.execute(
            sa.update(DeliveryRow)
            .where(DeliveryRow.hook_id == hook_id)
            .values(attempt_count=1, next_attempt_at=utcnow() - dt.timedelta(hours=1))
        )


def two_hooks(webhooks, webhook_receiver):
    slow = webhooks.create_hook(name="backlog", event="lead.created", url=webhook_receiver.url_for("/slow"))
    fresh = webhooks.create_hook(name="fresh", event="client.created", url=webhook_receiver.url_for("/fresh"))
    return slow, fresh


def paths(webhook_receiver) -> list[str]:
    return [r.path for r in webhook_receiver.requests]


def test_new_events_go_out_while_a_slow_receivers_backlog_of_retries_is_still_waiting(
    crm, webhooks, webhook_receiver
) -> None:
    slow, _fresh = two_hooks(webhooks, webhook_receiver)
    webhook_receiver.delay_next(0.05, times=BACKLOG, path="/slow")
    retry_backlog(crm, slow.id, BACKLOG)
    worker = Worker(webhooks.deliverer, concurrency=4, poll_interval=0.25)
    worker.start()
    try:
        wait_until(lambda: paths(webhook_receiver).count("/slow") >= 4, what="the backlog to start going out")
        for n in range(FRESH):
            crm.clients.create(f"Client {n}")
        worker.wake()
        # Without the share kept for them, they would go after the whole backlog (minutes at this pace).
        wait_until(lambda: paths(webhook_receiver).count("/fresh") == FRESH, timeout=30, what="the new events")
    finally:
        worker.stop(timeout=30)
    sent = paths(webhook_receiver)
    before_last_fresh = sent[: len(sent) - sent[::-1].index("/fresh")]
    assert before_last_fresh.count("/slow") < BACKLOG // 10  # the backlog still mostly waits


def test_run_pending_sends_new_events_before_a_backlog_of_retries(crm, webhooks, webhook_receiver) -> None:
    slow, _fresh = two_hooks(webhooks, webhook_receiver)
    retry_backlog(crm, slow.id, 100)
    for n in range(3):
        crm.clients.create(f"Client {n}")
    assert webhooks.run_pending(timeout=60) == 103
    assert paths(webhook_receiver)[:3] == ["/fresh"] * 3  # a batch's share of first attempts goes first
    assert all(d.status == "succeeded" for d in webhooks.history(slow.id, limit=100))
