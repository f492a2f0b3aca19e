"""The worker's claimer: it claims in batches, stays quiet when nothing can be sent, and keeps leases alive."""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crm_webhooks import hook_disabled
from crm_webhooks.engine.worker import BACKGROUND_NICE, DB_THREAD_PREFIX, Worker
from crm_webhooks.models import DeliveryRow

from ..waiting import wait_until


@pytest.fixture
def counted_worker(webhooks) -> Iterator[tuple[Worker, list[int]]]:
    """A two-sender worker on the test's database whose claims are counted (sizes, in order)."""
    deliverer = webhooks.deliverer
    claims: list[int] = []
    claim = deliverer.claim

    def counting(*args, **kwargs):
        found = claim(*args, **kwargs)
        claims.append(len(found.claimed))
        return found

    deliverer.claim = counting
    worker = Worker(deliverer, concurrency=2, poll_interval=5.0)
    try:
        yield worker, claims
    finally:
        worker.stop(timeout=30)
        del deliverer.claim


def hang_both_senders(crm, webhooks, stuck_receiver, worker: Worker, leads: int) -> threading.Event:
    """``leads`` deliveries for a receiver that hangs: both senders on it, the rest waiting."""
    server, arrived, gate = stuck_receiver
    webhooks.create_hook(name="stuck", event="lead.created", url=server.url_for("/stuck"))
    for n in range(leads):
        crm.leads.create(f"Lead {n}")
    worker.start()
    wait_until(lambda: len(arrived) == 2)
    return gate


@pytest.mark.parametrize("leads", [3, 10])  # fewer waiting than there are slots, and more
def test_a_saturated_lone_receiver_does_not_make_the_claimer_spin(
    crm, webhooks, stuck_receiver, counted_worker, leads
) -> None:
    worker, claims = counted_worker
    gate = hang_both_senders(crm, webhooks, stuck_receiver, worker, leads)
    before = worker.claim_rounds
    time.sleep(0.5)
    # Nothing can be sent and nothing was committed: claiming again would find nothing again.
    # (It used to claim in a loop here, thousands of transactions a second.)
    assert worker.claim_rounds - before <= 1
    assert sum(claims) == leads  # one batch took everything: a claim is a transaction, not per attempt
    gate.set()
    wait_until(lambda: worker.attempts == leads)


def test_a_delivery_waiting_behind_an_earlier_one_does_not_make_the_claimer_spin(
    crm, webhooks, stuck_receiver, counted_worker
) -> None:
    worker, _claims = counted_worker
    server, arrived, gate = stuck_receiver
    webhooks.create_hook(name="stuck", event="lead.updated", url=server.url_for("/stuck"))
    lead = crm.leads.create("A")
    crm.leads.update(lead.id, name="A1")
    crm.leads.update(lead.id, name="A2")  # due, but waits behind A1, which hangs
    worker.start()
    wait_until(lambda: len(arrived) == 1)
    before = worker.claim_rounds
    time.sleep(0.5)
    assert worker.claim_rounds - before <= 1  # it claimed 50 times a second, finding nothing
    gate.set()
    wait_until(lambda: worker.attempts == 2, what="A2 once A1 was answered")
    assert len(arrived) == 2


def test_a_woken_worker_claims_once_for_a_new_event_and_does_not_claim_beside_its_send(
    crm, webhooks, webhook_receiver
) -> None:
    # Per-record order off: recording an ordered delivery rightly looks for the record's next one.
    webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, ordering="none")
    worker = Worker(webhooks.deliverer, concurrency=8, poll_interval=5.0)
    worker.start()
    try:
        wait_until(lambda: worker.claim_rounds >= 1, what="the first look at the queue")
        before, started = worker.claim_rounds, time.monotonic()
        for n in range(1, 11):
            crm.leads.create(f"Lead {n}")
            worker.wake()  # as a commit in a dispatcher's process or a NOTIFY would
            wait_until(lambda n=n: worker.attempts == n, what=f"lead {n} sent and recorded")
        # It used to claim again at once, finding nothing, while its slot was sending: a
        # transaction's worth of CPU that delayed every send of a waiting worker.
        polls = int((time.monotonic() - started) // 5.0)  # a slow machine's run may span a poll
        assert worker.claim_rounds - before <= 10 + polls
    finally:
        worker.stop(timeout=30)


def test_a_stop_asked_while_the_worker_starts_is_not_lost(webhooks) -> None:
    worker = Worker(webhooks.deliverer, concurrency=2, poll_interval=5.0)
    worker.stop()  # a SIGTERM before the loop could hear it
    worker.start()
    worker.join(10)
    assert not worker.running


@pytest.mark.webhooks_options(disable_after_failures=1, retry_delays=[])
def test_a_failing_hook_disabled_listener_does_not_record_a_batch_twice(crm, webhooks, webhook_receiver) -> None:
    def broken_mailer(sender, **kwargs):
        raise ConnectionError("the admin's mail server is down")

    hook_disabled.connect(broken_mailer, sender=crm)
    worker = Worker(webhooks.deliverer, concurrency=2, poll_interval=5.0)
    try:
        hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url)
        webhook_receiver.fail_next(1)
        crm.leads.create("A")
        worker.start()
        wait_until(lambda: not webhooks.get_hook(hook.id).enabled, what="the hook disabled")
        time.sleep(1.0)  # a second recording would come now (the recorder tries again after 0.5 s)
        (delivery,) = webhooks.history(hook.id)
        assert len(delivery.attempts) == 1 and len(webhook_receiver.requests) == 1
    finally:
        worker.stop(timeout=30)
        hook_disabled.disconnect(broken_mailer, sender=crm)


@pytest.mark.webhooks_options(timeout=8)
def test_deliveries_waiting_for_a_sender_keep_their_lease(crm, webhooks, stuck_receiver, counted_worker) -> None:
    worker, _claims = counted_worker
    gate = hang_both_senders(crm, webhooks, stuck_receiver, worker, 6)

    def leases() -> dict[int, object]:
        with crm.engine.connect() as conn:
            rows = conn.execute(sa.select(DeliveryRow.id, DeliveryRow.locked_until).order_by(DeliveryRow.id))
            return dict(rows.all())

    first = leases()
    waiting = [c.delivery_id for c in worker.pipeline.schedule.waiting]
    assert len(waiting) == 4
    # A lease of 2 x 8 + 5 s is renewed when 2 x 8 + 1 s are left: about 4 s after the claim,
    # while the receiver still holds both slots.
    wait_until(lambda: all(leases()[d] > first[d] for d in waiting), timeout=15, what="leases renewed")
    gate.set()
    wait_until(lambda: worker.attempts == 6)


def test_a_hook_deleted_while_its_attempt_is_in_flight_holds_up_no_other(
    crm, webhooks, webhook_receiver, stuck_receiver, counted_worker, caplog
) -> None:
    caplog.set_level(logging.INFO, logger="crm_webhooks.delivery")
    worker, _claims = counted_worker
    server, arrived, gate = stuck_receiver
    healthy = webhooks.create_hook(name="healthy", event="lead.created", url=webhook_receiver.url)
    doomed = webhooks.create_hook(name="doomed", event="lead.created", url=server.url_for("/doomed"))
    crm.leads.create("Before")
    worker.start()
    wait_until(lambda: len(arrived) == 1)
    webhooks.delete_hook(doomed.id)  # its delivery and history go with it, the attempt still out
    gate.set()
    crm.leads.create("After")
    worker.wake()  # as a commit in a dispatcher's process or a NOTIFY would
    # The doomed attempt has nothing left to be recorded against: it is let go, and the
    # recorder goes on (it used to fail the whole batch on the foreign key, retry it for
    # half a minute and drop it, so the others in it were sent again after their lease).
    wait_until(lambda: worker.attempts == 3, timeout=5, what="both healthy attempts recorded")
    assert len(webhook_receiver.requests) == 2 and len(arrived) == 1
    assert webhooks.last_delivery(healthy.id).status == "succeeded"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "hook was deleted" in caplog.text


@pytest.mark.skipif(sys.platform != "linux", reason="per-thread priorities are Linux's")
def test_claims_and_records_yield_the_cores_to_the_sending_loop(webhooks) -> None:
    earlier = set(threading.enumerate())  # other tests' workers may still be winding down
    worker = Worker(webhooks.deliverer, concurrency=2, poll_interval=5.0)
    worker.start()
    try:

        def nice(thread: threading.Thread) -> int:
            with open(f"/proc/self/task/{thread.native_id}/stat") as f:
                return int(f.read().rsplit(")", 1)[1].split()[16])  # field 19, "nice"

        def database_threads() -> list[threading.Thread]:
            return [
                t
                for t in threading.enumerate()
                if t.name.startswith(DB_THREAD_PREFIX) and t not in earlier and t.native_id is not None
            ]

        # The database threads lower themselves as they start; the loop keeps the process's priority.
        lowered = os.nice(0) + BACKGROUND_NICE
        wait_until(
            lambda: database_threads() and all(nice(t) == lowered for t in database_threads()),
            what="database threads lowered",
        )
        (loop,) = [t for t in threading.enumerate() if t.name == "crm-webhooks-loop" and t not in earlier]
        assert nice(loop) == os.nice(0) < lowered
    finally:
        worker.stop(timeout=30)


POISON_TRIGGER = {
    # The database refuses one attempt's row, as a constraint or a driver might: the rest must not pay for it.
    "sqlite": """CREATE TRIGGER poison BEFORE INSERT ON webhook_attempts WHEN NEW.response_body = 'poison'
                 BEGIN SELECT RAISE(ABORT, 'poisoned row'); END""",
    "postgresql": """CREATE FUNCTION poison() RETURNS trigger AS $$ BEGIN
                       IF NEW.response_body = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW;
                     END $$ LANGUAGE plpgsql;
                     CREATE TRIGGER poison BEFORE INSERT ON webhook_attempts FOR EACH ROW EXECUTE FUNCTION poison()""",
}


def test_one_attempt_the_database_refuses_does_not_send_its_whole_batch_again(crm, webhooks, caplog) -> None:
    received: list[str] = []
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    def answer(request: Request) -> Response:
        name = request.get_json()["data"]["object"]["name"]
        received.append(name)
        return Response("poison" if name == "Poison" else "ok")

    server.expect_request("/h").respond_with_handler(answer)
    server.start()
    with crm.engine.begin() as conn:
        conn.exec_driver_sql(POISON_TRIGGER[crm.engine.dialect.name])
    worker = Worker(webhooks.deliverer, concurrency=2, poll_interval=5.0)
    try:
        hook = webhooks.create_hook(name="h", event="lead.created", url=server.url_for("/h"))
        with crm.transaction():  # one batch: all are claimed, sent and recorded together
            for name in ("A", "Poison", "B", "C"):
                crm.leads.create(name)
        worker.start()
        wait_until(lambda: worker.attempts == 4, what="the batch recorded")
        history = {d.payload["data"]["object"]["name"]: d.status for d in webhooks.history(hook.id)}
        assert history == {"A": "succeeded", "Poison": "pending", "B": "succeeded", "C": "succeeded"}
        assert sorted(received) == ["A", "B", "C", "Poison"]  # nobody went out twice
        assert "attempt not recorded; it goes again" in caplog.text
    finally:
        worker.stop(timeout=30)
        server.clear()
        server.stop()


@pytest.mark.webhooks_options(dispatcher="thread")
def test_the_in_process_dispatcher_is_not_held_up_by_a_receiver_that_hangs(
    crm, webhooks, webhook_receiver, stuck_receiver
) -> None:
    server, arrived, gate = stuck_receiver
    webhooks.create_hook(name="stuck", event="lead.created", url=server.url_for("/stuck"))
    webhooks.create_hook(name="healthy", event="lead.created", url=webhook_receiver.url)
    for n in range(3):
        crm.leads.create(f"Lead {n}")
    # The hanging receiver holds some of the dispatcher's slots, never all of them.
    wait_until(lambda: len(webhook_receiver.requests) == 3, what="the healthy receiver's deliveries")
    assert len(arrived) >= 1 and not gate.is_set()
    gate.set()
