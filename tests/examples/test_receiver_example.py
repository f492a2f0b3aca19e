"""The integrators' example receiver, served for real and fed by the addon."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import parse_qsl, urlencode

import pytest
import requests

from crm_webhooks.engine.signing import sign

from .conftest import KEY, ROOT, VALUE


def captured(crm, webhooks, webhook_receiver, hook, **fields):
    """A real delivery of ``hook`` caught on the way (its URL moved to the test receiver): what an attacker could copy."""
    for other in webhooks.list_hooks():
        if other.id != hook.id:
            webhooks.disable_hook(other.id)  # only the copy is sent to the example receiver
    webhooks.update_hook(hook.id, url=webhook_receiver.url, **({"value": VALUE} if hook.key else {}), **fields)
    crm.leads.create("Captured")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    headers = {k: v for k, v in request.headers.items() if k.lower().startswith("webhook-") or k == KEY}
    return headers, request.get_data(), request.query_string.decode()


def test_it_processes_each_event_once_per_hook(crm, webhooks, served, capsys) -> None:
    crm.leads.create("ACME")
    webhooks.run_pending()
    firsts = [webhooks.last_delivery(h.id) for h in served.hooks.values()]
    assert [(d.status, d.attempts[-1].status_code) for d in firsts] == [("succeeded", 204)] * 2
    again = webhooks.redeliver(firsts[0].id)
    assert (again.attempts[-1].status_code, again.attempts[-1].response_body) == (200, "already processed")
    # One event, two hooks: each did the work once.
    assert sorted(served.worked) == sorted((name, firsts[0].event_id) for name in served.hooks)


def test_its_own_work_function_prints_a_line(example, serve, store, webhooks, crm, capsys) -> None:
    hook = webhooks.create_hook(name="crm", event="lead.created", url="http://127.0.0.1:1/x")
    base = serve(example.create_app({"crm": example.HookConfig(hook.secret)}, store))
    webhooks.update_hook(hook.id, url=f"{base}/crm")
    crm.leads.create("Printed")
    webhooks.run_pending()
    assert webhooks.last_delivery(hook.id).attempts[-1].status_code == 204
    assert "lead.created" in capsys.readouterr().out


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_it_accepts_get_and_delete_hooks_too(crm, webhooks, served, method: str) -> None:
    hook = webhooks.update_hook(served.hooks["leads"].id, method=method)
    lead = crm.leads.create("Query")
    webhooks.run_pending()
    assert webhooks.last_delivery(hook.id).attempts[-1].status_code == 204
    assert served.app.config["EVENTS"][0]["object_id"] == str(lead.id)


def test_a_captured_get_replayed_with_another_type_and_object_is_refused(
    crm, webhooks, served, webhook_receiver
) -> None:
    headers, _, query = captured(crm, webhooks, webhook_receiver, served.hooks["leads"], method="GET")
    altered = urlencode({**dict(parse_qsl(query)), "type": "lead.discarded", "object_id": "999"})
    answer = requests.get(f"{served.base}/leads?{altered}", headers=headers, timeout=5)
    assert answer.status_code == 401 and "bad signature" in answer.text
    assert served.worked == []


def test_a_test_send_is_acknowledged_and_not_processed(webhooks, served) -> None:
    delivery = webhooks.send_test(served.hooks["leads"].id)
    assert (delivery.attempts[-1].status_code, delivery.attempts[-1].response_body) == (200, "test event received")
    assert served.worked == []


def signed(secret: str, body: bytes) -> dict[str, str]:
    """Headers as the addon would send ``body`` (a body that is not UTF-8 signed as its best reading)."""
    now = int(time.time())
    return {
        KEY: VALUE,
        "webhook-id": "evt_1",
        "webhook-timestamp": str(now),
        "webhook-signature": sign("evt_1", now, body.decode(errors="replace"), [secret]),
    }


NO_SIGNATURE = {"webhook-id": None, "webhook-timestamp": None, "webhook-signature": None}


@pytest.mark.parametrize(
    ("change", "body", "why"),
    [
        ({KEY: "wrong"}, None, "missing or wrong X-Api-Key"),
        ({KEY: None}, None, "missing or wrong X-Api-Key"),
        (NO_SIGNATURE, None, "bad signature: webhook-id: missing"),
        ({"webhook-signature": "garbage"}, None, "bad signature: webhook-signature"),
        ({"webhook-signature": "v1,a,b"}, None, "bad signature: webhook-signature"),
        ({"webhook-signature": "v1=abc"}, None, "bad signature: webhook-signature"),
        ({"webhook-signature": "v1,dawfeoifkpqwoekfpqoekf"}, None, "bad signature: webhook-signature"),
        ({"webhook-signature": "v1,AAAA"}, None, "bad signature: webhook-signature"),
        ({"webhook-timestamp": "nan"}, None, "bad signature: webhook-timestamp"),
        ({"webhook-timestamp": "1"}, None, "bad signature: webhook-timestamp"),
        ({}, b"\xff\xfe not UTF-8", "bad signature: body"),
    ],
)
def test_it_answers_401_to_whatever_it_cannot_trust(served, change: dict, body: bytes | None, why: str) -> None:
    sent = body or b'{"type": "lead.created"}'
    headers = {k: v for k, v in {**signed(served.config["leads"].secret, sent), **change}.items() if v is not None}
    answer = requests.post(f"{served.base}/leads", data=sent, headers=headers, timeout=5)
    assert (answer.status_code, why in answer.text) == (401, True), answer.text
    assert served.worked == []


def test_each_hook_is_checked_with_its_own_secret(crm, webhooks, served, webhook_receiver) -> None:
    headers, body, _ = captured(crm, webhooks, webhook_receiver, served.hooks["clients"])
    # Signed for /clients: /leads holds another secret (given its key/value, so only the signature is at stake).
    wrong = requests.post(f"{served.base}/leads", data=body, headers={**headers, KEY: VALUE}, timeout=5)
    assert wrong.status_code == 401 and "bad signature" in wrong.text
    assert requests.post(f"{served.base}/clients", data=body, headers=headers, timeout=5).status_code == 204
    unknown = requests.post(f"{served.base}/sales", data=body, headers=headers, timeout=5)
    assert unknown.status_code == 404 and "sales" in unknown.text
    assert [hook for hook, _ in served.worked] == ["clients"]


def test_what_it_processed_survives_a_restart(crm, webhooks, served, example, serve, store) -> None:
    hook = served.hooks["clients"]
    crm.leads.create("Before the restart")
    webhooks.run_pending()
    first = webhooks.last_delivery(hook.id)
    assert first.attempts[-1].status_code == 204
    # A new process on the same store file: the redelivery is recognised.
    base = serve(example.create_app(served.config, store))
    webhooks.update_hook(hook.id, url=f"{base}/clients")
    again = webhooks.redeliver(first.id)
    assert (again.attempts[-1].status_code, again.attempts[-1].response_body) == (200, "already processed")


def test_copies_arriving_at_once_are_processed_once(crm, webhooks, served, webhook_receiver, example, serve, store):
    headers, body, _ = captured(crm, webhooks, webhook_receiver, served.hooks["clients"])
    done: list[str] = []

    def slow_work(hook: str, envelope: dict) -> None:
        time.sleep(0.05)  # a window in which a look-then-insert would let a second copy through
        done.append(envelope["id"])

    base = serve(example.create_app(served.config, store, work=slow_work))
    with ThreadPoolExecutor(8) as pool:
        answers = list(
            pool.map(lambda _: requests.post(f"{base}/clients", data=body, headers=headers, timeout=10), range(8))
        )
    assert sorted(a.status_code for a in answers) == [200] * 7 + [204]
    assert len(done) == 1


def test_work_that_fails_is_not_marked_done_so_the_retry_does_it(crm, webhooks, served, example, serve, store):
    done: list[str] = []

    def flaky_work(hook: str, envelope: dict) -> None:
        if not done:
            done.append("failed once")
            raise RuntimeError("the ERP is down")
        done.append(envelope["id"])

    base = serve(example.create_app(served.config, store, work=flaky_work))
    hook = webhooks.update_hook(served.hooks["clients"].id, url=f"{base}/clients")
    crm.leads.create("Retried")
    webhooks.run_pending()
    first = webhooks.last_delivery(hook.id)
    assert first.status == "pending" and first.attempts[-1].status_code == 503
    again = webhooks.redeliver(first.id)
    assert again.attempts[-1].status_code == 204 and done == ["failed once", first.event_id]


@pytest.mark.parametrize(
    ("config", "env", "hooks"),
    [
        ('{"leads": {"secret": "whsec_a", "key": "K", "value": "v"}, "sales": {"secret": "whsec_b"}}', {}, 2),
        (None, {"WEBHOOK_SECRET": "whsec_a", "WEBHOOK_KEY": "K", "WEBHOOK_VALUE": "v"}, 1),
        (None, {}, "--config: give a hooks file, or set WEBHOOK_SECRET"),
        ("[1, 2]", {}, "--config: "),
        ('{"leads": {"key": "X"}}', {}, "--config: "),  # no secret
        ('{"leads": "whsec_a"}', {}, "--config: "),
        ("not json", {}, "--config: "),
    ],
)
def test_hooks_come_from_a_file_or_the_environment(example, tmp_path, config, env, hooks) -> None:
    path = None
    if config is not None:
        path = tmp_path / "hooks.json"
        path.write_text(config)
    if isinstance(hooks, int):
        assert len(example.load_hooks(path, env)) == hooks
    else:
        with pytest.raises(ValueError, match=re.escape(hooks)):
            example.load_hooks(path, env)


def test_a_bad_configuration_is_one_line_and_exit_2(tmp_path) -> None:
    (tmp_path / "hooks.json").write_text("not json")
    args = [sys.executable, str(ROOT / "examples" / "receiver.py"), "--config", str(tmp_path / "hooks.json")]
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "--config: " in done.stderr and "Traceback" not in done.stderr
