"""The integrators' example receiver, served for real and fed by the addon."""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]


def load_example():
    spec = importlib.util.spec_from_file_location("example_receiver", ROOT / "examples" / "receiver.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def served(webhooks) -> Iterator[tuple[str, object, object]]:
    """The example app on a loopback port, with a hook of the addon pointing at it."""
    hook = webhooks.create_hook(
        name="example", event="lead.created", url="http://127.0.0.1:1/x", key="X-Api-Key", value="s3cret"
    )
    app = load_example().create_app(hook.secret, "X-Api-Key", "s3cret")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_port}/crm"
    hook = webhooks.update_hook(hook.id, url=url, value="s3cret")  # a new URL needs the value again
    try:
        yield url, hook, app
    finally:
        server.shutdown()
        thread.join()


def test_it_accepts_signed_events_once(crm, webhooks, served, capsys) -> None:
    _url, hook, app = served
    crm.leads.create("ACME")
    webhooks.run_pending()
    delivery = webhooks.last_delivery(hook.id)
    assert delivery.status == "succeeded" and delivery.attempts[-1].status_code == 204
    again = webhooks.redeliver(delivery.id)
    assert again.attempts[-1].status_code == 200 and again.attempts[-1].response_body == "already processed"
    assert [e["type"] for e in app.config["EVENTS"]] == ["lead.created"]
    assert "lead.created" in capsys.readouterr().out


def test_it_accepts_get_hooks_too(crm, webhooks, served) -> None:
    _url, hook, app = served
    webhooks.update_hook(hook.id, method="GET")
    lead = crm.leads.create("Query")
    webhooks.run_pending()
    assert webhooks.last_delivery(hook.id).status == "succeeded"
    assert app.config["EVENTS"][0]["object_id"] == str(lead.id)


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"X-Api-Key": "wrong"}, "wrong X-Api-Key"),
        ({}, "missing or wrong X-Api-Key"),
        (
            {"X-Api-Key": "s3cret", "webhook-id": "evt_1", "webhook-timestamp": "1", "webhook-signature": "v1,AAAA"},
            "bad signature",
        ),
        ({"X-Api-Key": "s3cret"}, "bad signature"),  # no signature headers at all
    ],
)
def test_it_refuses_what_it_cannot_trust(served, headers: dict[str, str], why: str) -> None:
    url, _hook, app = served
    answer = requests.post(url, data=b'{"type": "lead.created"}', headers=headers, timeout=5)
    assert answer.status_code == 401 and why.split()[0] in answer.text
    assert app.config["EVENTS"] == []
