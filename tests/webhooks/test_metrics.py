"""An operator's Prometheus scrapes the web app's /metrics over HTTP and watches deliveries move."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from werkzeug.serving import make_server

from crm_stub.web import create_app
from crm_webhooks.pytest_plugin import DEFAULT_OPTIONS

from ..scraping import scrape


@dataclass(frozen=True)
class Served:
    """The web app on a real HTTP server on loopback, and a token Prometheus would be given."""

    url: str
    token: str


@pytest.fixture
def served(crm) -> Iterator[Served]:
    server = make_server("127.0.0.1", 0, create_app(crm, secret_key="test-secret"), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served(
            f"http://127.0.0.1:{server.server_port}/metrics", crm.tokens.create("prometheus", "metrics:read")[1]
        )
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.parametrize(
    ("scopes", "status"),
    [
        (None, 401),
        ("webhooks:read,webhooks:write", 403),  # a token for the CRM's data is not one for its figures
        ("metrics:read", 200),
    ],
)
def test_metrics_are_for_a_token_with_metrics_read(crm, served, scopes, status) -> None:
    headers = {"Authorization": f"Bearer {crm.tokens.create('t', scopes)[1]}"} if scopes else {}
    assert requests.get(served.url, headers=headers, timeout=10).status_code == status


@pytest.mark.parametrize(
    ("webhooks_options", "second", "pending_after"),
    [
        ({**DEFAULT_OPTIONS, "retry_delays": []}, "failed", 0),
        ({**DEFAULT_OPTIONS, "retry_delays": [60]}, "retrying", 1),
    ],
    ids=["no retries", "a retry to come"],
)
def test_a_scrape_follows_events_from_commit_to_receiver(
    crm, webhooks, webhook_receiver, served, second, pending_after
) -> None:
    hook = webhooks.create_hook(name="sales", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    crm.leads.create("Initech")

    committed = scrape(served.url, served.token)
    assert committed("crm_webhooks_events_written_total") == 2
    # Nobody has claimed yet, so the events wait for their delivery rows: the fan-out lag.
    assert committed("crm_webhooks_fanout_waiting_events") == 2
    assert committed("crm_webhooks_queue_pending") == 0

    webhooks.delivery_stats()  # writes the delivery rows, as the next claim would
    queued = scrape(served.url, served.token)
    assert queued("crm_webhooks_fanout_waiting_events") == 0
    assert queued("crm_webhooks_fanout_oldest_age_seconds") == 0
    assert (queued("crm_webhooks_queue_pending"), queued("crm_webhooks_queue_due")) == (2, 2)
    assert queued("crm_webhooks_queue_oldest_due_age_seconds") > 0

    webhook_receiver.fail_next(1)  # the first answer is a 500, the second a 200
    assert webhooks.run_pending() == 2

    sent = scrape(served.url, served.token)
    by_hook = str(hook.id)
    assert sent("crm_webhooks_deliveries_total", hook=by_hook, outcome="succeeded") == 1
    assert sent("crm_webhooks_deliveries_total", hook=by_hook, outcome=second) == 1
    assert sent("crm_webhooks_attempt_duration_seconds_count", hook=by_hook) == 2
    assert sent("crm_webhooks_queue_pending") == pending_after
    assert sent("crm_webhooks_queue_due") == 0
    assert sent("crm_webhooks_database_errors_total", operation="claim") == 0
    # Labels name hooks by id: a URL would make a series per receiver address, and may carry a secret.
    assert webhook_receiver.url not in sent.text and "sales" not in sent.text


def test_when_the_database_fails_the_scrape_still_answers_and_counts_it(crm, webhooks, served) -> None:
    with crm.engine.begin() as conn:  # a broken database: the table every read of the queue needs is gone
        conn.execute(text("ALTER TABLE webhook_deliveries RENAME TO webhook_deliveries_away"))

    with pytest.raises(DBAPIError, match="webhook_deliveries"):
        webhooks.run_pending()
    figures = scrape(served.url, served.token)

    assert not figures.has("crm_webhooks_queue_pending")
    assert figures("crm_webhooks_database_errors_total", operation="queue") == 1
    assert figures("crm_webhooks_database_errors_total", operation="claim") == 1


def test_a_deleted_hook_leaves_the_scrape(crm, webhooks, webhook_receiver, served) -> None:
    # Series by hook id: kept for hooks long gone, a process's scrape would grow with every
    # hook ever made, and a dashboard would go on listing them.
    kept, gone = (webhooks.create_hook(name=n, event="lead.created", url=webhook_receiver.url) for n in "ab")
    crm.leads.create("ACME")
    webhooks.run_pending()
    before = scrape(served.url, served.token)
    assert before("crm_webhooks_deliveries_total", hook=str(gone.id), outcome="succeeded") == 1

    webhooks.delete_hook(gone.id)
    after = scrape(served.url, served.token)
    hooks = {labels.get("hook") for (_name, pairs) in after.samples for labels in [dict(pairs)]}
    assert str(gone.id) not in hooks
    assert after("crm_webhooks_deliveries_total", hook=str(kept.id), outcome="succeeded") == 1
    assert after("crm_webhooks_attempt_duration_seconds_count", hook=str(kept.id)) == 1

    webhooks.delete_hook(kept.id)  # the last one: no hook at all is still a read that worked
    last = scrape(served.url, served.token)
    assert not last.has("crm_webhooks_deliveries_total")
    assert last("crm_webhooks_database_errors_total", operation="queue") == 0
