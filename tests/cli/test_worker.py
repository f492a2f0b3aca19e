"""The worker as a real process: it delivers, and stops cleanly on SIGTERM or SIGINT."""

from __future__ import annotations

import datetime as dt
import json
import signal
import time

import sqlalchemy as sa

from ..waiting import wait_until


def test_worker_delivers_what_others_commit(cli, start_worker, crm, add_hook, webhook_receiver) -> None:
    hook = add_hook()
    worker = start_worker(cli.url)
    try:
        crm.leads.create("From another process")
        wait_until(lambda: len(webhook_receiver.requests) == 1)
        wait_until(lambda: crm.addons["crm_webhooks"].last_delivery(hook["id"]).status == "succeeded")
    finally:
        worker.send_signal(signal.SIGINT)
        worker.communicate(timeout=10)
    assert worker.returncode == 0


def test_sigterm_mid_delivery_finishes_and_records_the_attempt(
    cli, start_worker, crm, add_hook, webhook_receiver
) -> None:
    hook = add_hook()
    webhook_receiver.delay_next(1.5)
    for n in range(4):
        crm.leads.create(f"Lead {n}")
    worker = start_worker(cli.url, "--concurrency", "1")
    wait_until(lambda: len(webhook_receiver.requests) >= 1)  # the slow one is in flight now
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=15)
    assert worker.returncode == 0, err
    assert "SIGTERM: finishing the attempts in flight" in err and "Traceback" not in err
    history = crm.addons["crm_webhooks"].history(hook["id"])
    first = next(d for d in history if d.payload["data"]["object"]["name"] == "Lead 0")
    assert first.status == "succeeded" and [a.status_code for a in first.attempts] == [200]
    # Nothing is left leased to the stopped worker: the rest can be taken at once.
    with crm.engine.connect() as conn:
        leased = conn.scalar(sa.text("select count(*) from webhook_deliveries where locked_by is not null"))
    assert leased == 0
    assert all(d.status in ("succeeded", "pending") for d in history)


def test_a_second_signal_exits_at_once(cli, start_worker, crm, add_hook, webhook_receiver) -> None:
    add_hook()
    webhook_receiver.delay_next(5)
    crm.leads.create("Slow")
    worker = start_worker(cli.url)
    wait_until(lambda: len(webhook_receiver.requests) >= 1)
    worker.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    worker.communicate(timeout=5)
    assert worker.returncode != 0 and time.monotonic() - started < 3


def test_an_idle_worker_stops_on_sigint_with_exit_0(cli, start_worker) -> None:
    worker = start_worker(cli.url, "--concurrency", "3")
    time.sleep(0.5)
    worker.send_signal(signal.SIGINT)
    _out, err = worker.communicate(timeout=10)
    assert worker.returncode == 0 and "worker stopped after 0 attempts" in err


def test_a_stuck_receiver_does_not_hold_back_the_others(
    cli, start_worker, crm, webhook_receiver, stuck_receiver
) -> None:
    server, stuck, gate = stuck_receiver
    wh = crm.addons["crm_webhooks"]
    wh.create_hook(name="stuck", event="lead.created", url=server.url_for("/stuck"))
    wh.create_hook(name="fine", event="lead.created", url=webhook_receiver.url_for("/fine"))
    for n in range(8):
        crm.leads.create(f"Lead {n}")
    worker = start_worker(cli.url, "--concurrency", "4")
    try:
        # Every answer of the stuck receiver waits for the gate: the others arrive only if
        # senders are left for them.
        wait_until(lambda: len(webhook_receiver.requests) == 8, timeout=20)
        # At most half the senders (2) went to the stuck receiver while other work waited; more
        # joined it only once nothing else was waiting, i.e. with the healthy receiver's last
        # ones already in flight on the two other senders (so it had seen 6 or more).
        assert all(seen >= 8 - 2 for seen in stuck[2:]), stuck
    finally:
        gate.set()
        worker.send_signal(signal.SIGTERM)
        worker.communicate(timeout=30)
    assert worker.returncode == 0


def test_with_log_format_json_every_line_of_the_worker_is_a_json_object(
    cli, spawn_worker, crm, add_hook, webhook_receiver
) -> None:
    hook = add_hook()
    webhook_receiver.fail_next(status=500)
    crm.leads.create("Refused, then sent again later")
    crm.leads.create("Taken")
    worker = spawn_worker(cli.url, "--poll-interval", "0.05", "--log-format", "json")
    wh = crm.addons["crm_webhooks"]
    wait_until(lambda: all(d.attempts for d in wh.history(hook["id"])) and len(webhook_receiver.requests) == 2)
    worker.send_signal(signal.SIGTERM)
    _out, err = worker.communicate(timeout=10)
    assert worker.returncode == 0, err

    lines = [json.loads(line) for line in err.splitlines()]  # a line that is not JSON fails here
    assert [line["message"] for line in lines if line["logger"] == "crm_webhooks.worker"][-2:] == [
        "SIGTERM: finishing the attempts in flight",
        "worker stopped after 2 attempts",
    ]
    attempts = {line["status"]: line for line in lines if line["message"] == "attempt"}
    assert sorted(attempts) == [200, 500]
    deliveries = {d.id: d for d in wh.history(hook["id"])}
    for line in attempts.values():
        delivery = deliveries[line["delivery"]]
        assert (line["level"], line["logger"]) == ("INFO", "crm_webhooks.delivery")
        assert (line["event"], line["hook"]) == (delivery.event_id, hook["id"])
        assert line["duration_ms"] == round(delivery.attempts[-1].duration_ms, 1)
        moment = dt.datetime.fromisoformat(line["time"])
        assert moment.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.UTC) - moment).total_seconds() < 60
    assert (attempts[200]["outcome"], attempts[200]["error"]) == ("succeeded", None)
    assert (attempts[500]["outcome"], attempts[500]["error"]) == ("pending", "HTTP 500")  # its retry is due later
