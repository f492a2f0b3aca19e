"""Several worker processes on PostgreSQL: woken by NOTIFY, nothing lost, nothing sent twice but what a crash had in flight."""

from __future__ import annotations

import datetime as dt
import math
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crm_webhooks.models import DeliveryRow

from ..bulk import create_leads
from ..waiting import wait_until

pytestmark = pytest.mark.postgres


def hooks_on(pg, receiver, *paths: str) -> list:
    wh = pg.addons["crm_webhooks"]
    return [wh.create_hook(name=p, event="lead.created", url=receiver.url_for(p)) for p in paths]


def held_by(proc) -> sa.ColumnElement[bool]:
    """The deliveries the worker process ``proc`` holds leased (a worker is "host:pid:random")."""
    return DeliveryRow.locked_by.like(f"%:{proc.pid}:%")


def leased_to(pg, proc) -> int:
    with pg.engine.connect() as conn:
        return conn.scalar(sa.select(sa.func.count()).where(held_by(proc)))


def kill_9_mid_run(pg, victim) -> int:
    """SIGKILL ``victim`` while it holds leases (claimed, maybe sent, not recorded); returns how many it held."""
    wait_until(lambda: leased_to(pg, victim) > 0, timeout=60, what="the victim to hold leases")
    victim.send_signal(signal.SIGKILL)
    victim.communicate(timeout=10)
    return leased_to(pg, victim)


def sent(receiver) -> Counter:
    return Counter((r.headers["webhook-id"], r.path) for r in receiver.requests)


def test_a_waiting_worker_is_woken_by_notify_not_by_its_poll(pg, workers, webhook_receiver) -> None:
    hooks_on(pg, webhook_receiver, "/one")
    workers("--poll-interval", "30")
    time.sleep(0.5)  # the worker has done its first look and now sleeps on the 30 s poll
    started = time.monotonic()
    pg.leads.create("Now")
    wait_until(lambda: len(webhook_receiver.requests) == 1, timeout=10, what="the delivery")
    assert time.monotonic() - started < 5


def test_three_workers_deliver_1000_events_to_two_hooks_exactly_once(pg, workers, webhook_receiver) -> None:
    hooks_on(pg, webhook_receiver, "/a", "/b")
    # All three listening before the events commit: they race for them from the first claim.
    running = workers.several(3, "--concurrency", "4")
    create_leads(pg, 1000)
    wait_until(lambda: len(webhook_receiver.requests) >= 2000, timeout=120, what="2000 deliveries")
    # Recording follows sending by a moment.
    wh = pg.addons["crm_webhooks"]
    wait_until(lambda: wh.delivery_stats()["succeeded"] == 2000, timeout=30, what="all recorded")
    for proc in running:  # a graceful stop finishes what is in flight: a duplicate would have arrived
        proc.send_signal(signal.SIGTERM)
    assert [proc.wait(timeout=30) for proc in running] == [0, 0, 0]
    counts = sent(webhook_receiver)
    assert len(counts) == 2000 and set(counts.values()) == {1}
    assert wh.delivery_stats()["pending"] == 0
    with pg.engine.connect() as conn:
        assert conn.scalar(sa.text("select max(attempt_count) from webhook_deliveries")) == 1


def test_kill_9_loses_nothing_and_duplicates_only_what_was_in_flight(pg, workers, webhook_receiver) -> None:
    hooks_on(pg, webhook_receiver, "/k")
    steady = workers("--concurrency", "2")
    # Ready before the events commit: started after, they found the steady worker done.
    victims = workers.several(3, "--concurrency", "4")
    create_leads(pg, 900)
    held = []
    for kills, victim in enumerate(victims, 1):
        target = 150 * kills
        wait_until(lambda target=target: len(webhook_receiver.requests) > target, timeout=60, what="progress")
        held.append(kill_9_mid_run(pg, victim))
    assert sum(held) > 0, "no victim had anything in flight: the test proved nothing"
    assert steady.poll() is None
    # The victims' leases run out (2 x timeout + 5 s) and the steady worker takes their deliveries.
    wait_until(lambda: len(set(sent(webhook_receiver))) >= 900, timeout=120, what="every event")
    counts = sent(webhook_receiver)
    assert len(counts) == 900
    duplicates = sum(n - 1 for n in counts.values())
    # At most what a killed worker had sent but not yet recorded: one claim per thread.
    assert duplicates <= kills * 4 * 10
    # Recording follows sending by a moment.
    wh = pg.addons["crm_webhooks"]
    wait_until(lambda: wh.delivery_stats()["succeeded"] == 900, timeout=30, what="all recorded")


def test_sigterm_mid_run_exits_0_and_the_others_finish(pg, workers, webhook_receiver) -> None:
    hooks_on(pg, webhook_receiver, "/t")
    other, leaving = workers.several(2, "--concurrency", "2")
    create_leads(pg, 600)
    wait_until(lambda: len(webhook_receiver.requests) > 100, timeout=60, what="progress")
    wait_until(lambda: leased_to(pg, leaving) > 0, timeout=60, what="the leaving worker to hold leases")
    leaving.send_signal(signal.SIGTERM)
    leaving.wait(timeout=30)
    assert leaving.returncode == 0
    wait_until(lambda: len(set(sent(webhook_receiver))) >= 600, timeout=60, what="every event")
    assert set(sent(webhook_receiver).values()) == {1}  # a graceful stop sends nothing twice
    assert other.poll() is None


def test_a_worker_survives_its_connections_being_killed(pg, workers, webhook_receiver, postgres_database_url) -> None:
    hooks_on(pg, webhook_receiver, "/r")
    worker = workers("--poll-interval", "0.5")
    pg.leads.create("Before")
    wait_until(lambda: len(webhook_receiver.requests) == 1, timeout=15, what="the first delivery")
    admin = sa.create_engine(postgres_database_url.split("?")[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.scalar(
            sa.text("select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = :name"),
            {"name": workers.application_name},
        )
    admin.dispose()
    assert killed >= 1
    pg.leads.create("After")
    wait_until(lambda: len(webhook_receiver.requests) == 2, timeout=30, what="the delivery after the kill")
    assert worker.poll() is None


class OrderLog:
    """A receiver that fails one request in eight and logs, per lead, what arrived and how it was answered.

    ``hold_after(n)`` makes it answer nobody once ``n`` have arrived, until it is told another number:
    whatever a worker sends then stays in flight, so a worker killed meanwhile dies mid-send.
    """

    def __init__(self) -> None:
        self.lock = threading.Condition()
        self.log: list[tuple[str, int, bool]] = []  # (lead, version, answered 2xx), in arrival order
        self.held_after = math.inf
        self.server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
        self.server.expect_request("/ordered").respond_with_handler(self.answer)

    def answer(self, request: Request) -> Response:
        lead, version = request.get_json()["data"]["object"]["name"].split("v")
        with self.lock:
            self.lock.wait_for(lambda: len(self.log) < self.held_after, timeout=60)
            ok = len(self.log) % 8 != 7
            self.log.append((lead, int(version), ok))
        return Response("ok" if ok else "try again", status=200 if ok else 500)

    def hold_after(self, arrived: float) -> None:
        with self.lock:
            self.held_after = arrived
            self.lock.notify_all()

    def holding(self) -> bool:
        with self.lock:
            return len(self.log) >= self.held_after

    def delivered(self) -> set[tuple[str, int]]:
        with self.lock:
            return {(lead, version) for lead, version, ok in self.log if ok}


@pytest.fixture
def order_log() -> Iterator[OrderLog]:
    log = OrderLog()
    log.server.start()
    yield log
    log.server.clear()
    log.server.stop()


def test_three_workers_with_kills_deliver_each_leads_updates_in_commit_order(pg, workers, order_log) -> None:
    wh = pg.addons["crm_webhooks"]
    wh.create_hook(name="ordered", event="lead.updated", url=order_log.server.url_for("/ordered"))
    with pg.transaction():
        leads = [pg.leads.create(f"L{i}v0").id for i in range(200)]
    for version in (1, 2, 3):  # three rounds of updates, committed one after another
        with pg.transaction():
            for i, lead_id in enumerate(leads):
                pg.leads.update(lead_id, name=f"L{i}v{version}")
    order_log.hold_after(150)
    running = workers.several(3, "--concurrency", "4")
    for then in (350, math.inf):
        wait_until(order_log.holding, timeout=60, what="progress")
        victim = running.pop(0)
        # Mid-send: a killed worker's leases run out and another worker resends.
        assert kill_9_mid_run(pg, victim) > 0
        # They run out now rather than after their full length: the kill -9 test above waits for
        # real ones; what this one checks is the order.
        with pg.engine.begin() as conn:
            conn.execute(sa.update(DeliveryRow).where(held_by(victim)).values(locked_until=dt.datetime(2000, 1, 1)))
        order_log.hold_after(then)
    running += workers.several(2, "--concurrency", "4")  # three again
    everything = {(f"L{i}", v) for i in range(200) for v in (1, 2, 3)}
    wait_until(lambda: order_log.delivered() >= everything, timeout=120, what="every update delivered")
    # Whatever arrived for a lead, every earlier update of it had been answered 2xx before.
    done: dict[str, int] = {}
    for lead, version, ok in order_log.log:
        assert done.get(lead, 0) >= version - 1, f"{lead} v{version} arrived before v{version - 1} was delivered"
        if ok:
            done[lead] = max(done.get(lead, 0), version)
    assert any(not ok for _, _, ok in order_log.log)  # retries did happen
