"""A hook with a body template: the receiver gets what the template renders, signed as sent.

The template is rendered at each attempt with the hook as it is then: one that fails is a
failed attempt that sent nothing, and once the admin fixes it the retry or a redelivery goes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from crm_webhooks import ValidationError, verify
from crm_webhooks.domain.templating import CHAT_MESSAGE, FLAT_SALE
from crm_webhooks.engine.record import REQUEST_BODY_KEPT
from crm_webhooks.engine.worker import Worker

from ..waiting import wait_until

# Accents printed as they are and written by tojson, and a list.
ACCENTED = (
    '{"nome": "{{ object.name }}", "partes": {{ object.name.split() | list | tojson }},'
    ' "evento": "{{ event }}", "gancho": {{ hook | tojson }}}'
)


def templated(webhooks, receiver, template: str, *, event: str = "lead.created", **fields: Any):
    fields = {"name": "avisos", "event": event, "url": receiver.url, "body_template": template, **fields}
    return webhooks.create_hook(**fields)


def test_the_receiver_gets_the_rendered_bytes_signed_as_sent(crm, webhooks, webhook_receiver) -> None:
    hook = templated(webhooks, webhook_receiver, ACCENTED, key="X-Api-Key", value="s3cret")
    crm.leads.create("João Ação")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    expected = (
        '{"nome": "João Ação", "partes": ["João", "Ação"], "evento": "lead.created",'
        f' "gancho": {{"id": {hook.id}, "name": "avisos"}}}}'
    ).encode()
    assert request.get_data() == expected
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Api-Key"] == "s3cret"
    assert webhook_receiver.verify(request, hook) == json.loads(expected)
    delivery = webhooks.last_delivery(hook.id)
    assert delivery.status == "succeeded"
    # History keeps the body as sent, byte for byte; the delivery's event is still the envelope.
    assert delivery.attempts[0].request_body.encode() == expected
    assert delivery.payload["data"]["object"]["name"] == "João Ação"


def test_history_keeps_no_second_copy_of_an_envelope_sent_as_it_is(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="plain", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhooks.run_pending()
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    assert attempt.request_body is None  # the delivery's payload is what went


PLAIN: list[tuple[str, str, str]] = [
    ("lead.created", "Novo prospecto: {{ object.name }} ({{ event }})", "Novo prospecto: João Ação (lead.created)"),
    (
        "lead.stage_changed",
        "{{ object.name }}: {{ previous.stage }} → {{ object.stage }}",
        "João Ação: new → contacted",
    ),
    # `previous` is there, empty, when nothing changed
    ("lead.created", "{{ hook.name }} #{{ hook.id > 0 }} {{ previous | length }}", "avisos #True 0"),
]


@pytest.mark.parametrize(("event", "template", "text"), PLAIN, ids=["created", "previous", "empty previous"])
def test_a_text_template_is_sent_as_text(crm, webhooks, webhook_receiver, event: str, template: str, text: str) -> None:
    hook = templated(webhooks, webhook_receiver, template, event=event, content_type="text/plain; charset=utf-8")
    lead = crm.leads.create("João Ação")
    crm.leads.change_stage(lead.id, "contacted")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert request.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert request.get_data().decode() == text
    verify(request.get_data(), request.headers, hook.secret)
    # The QA plugin's receiver takes a body that is no JSON too: as text.
    assert webhook_receiver.verify(request, hook) == {"body": text}
    assert webhook_receiver.envelopes == [{"body": text}]


def test_the_event_id_and_timestamp_are_the_envelopes(crm, webhooks, webhook_receiver) -> None:
    hook = templated(webhooks, webhook_receiver, '{"id": {{ id | tojson }}, "em": {{ timestamp | tojson }}}')
    crm.leads.create("ACME")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    envelope = webhooks.last_delivery(hook.id).payload
    assert webhook_receiver.verify(request, hook) == {"id": envelope["id"], "em": envelope["timestamp"]}
    assert request.headers["webhook-id"] == envelope["id"]


def test_the_ready_made_bodies_fit_real_events(crm, webhooks, webhook_receiver) -> None:
    chat = templated(webhooks, webhook_receiver, CHAT_MESSAGE, event="lead.created")
    pos = templated(webhooks, webhook_receiver, FLAT_SALE, event="sale.created")
    client = crm.leads.convert(crm.leads.create("João Ação").id)
    opportunity = crm.opportunities.create(client.id, "Plano anual", "1500.50")
    crm.sales.create(opportunity.id)
    webhooks.run_pending()
    bodies = {r.headers["webhook-id"]: r for r in webhook_receiver.requests}
    chat_request = bodies[webhooks.last_delivery(chat.id).event_id]
    sale_request = bodies[webhooks.last_delivery(pos.id).event_id]
    assert webhook_receiver.verify(chat_request, chat) == {"text": "[lead.created] João Ação (new)"}
    assert webhook_receiver.verify(sale_request, pos) == {
        "cliente": client.id,
        "valor": 1500.5,
        "itens": [],
        "evento": "sale.created",
        "id": sale_request.headers["webhook-id"],
    }


BROKEN: list[tuple[str, str]] = [
    ('{"id": {{ object.id }},\n "x": {{ object.id / 0 }}}', "body template: line 2: ZeroDivisionError"),
    ('{"nome": {{ object.name }}}', "body template: the body is not valid JSON: line 1, column 10"),
    # Half a surrogate pair is valid JSON to Python but no UTF-8: it crashed the whole run_pending
    ('{"x": "{{ "%c" % 55296 }}"}', "body template: not valid Unicode text (a lone surrogate)"),
]
FIXED = '{"id": {{ object.id }}}'


# Long enough that the first run_pending ends before the retry falls due, on a slow machine too
# (at 0.2 s a loaded CI machine made the retry inside the first call).
@pytest.mark.webhooks_options(retry_delays=[1.0], retry_jitter=0)
@pytest.mark.parametrize(("template", "error"), BROKEN, ids=["render", "json", "surrogate"])
def test_a_template_that_fails_sends_nothing_and_its_retry_uses_the_fixed_one(
    crm, webhooks, webhook_receiver, template: str, error: str
) -> None:
    hook = templated(webhooks, webhook_receiver, template)
    lead = crm.leads.create("ACME")
    assert webhooks.run_pending() == 1
    (delivery,) = webhooks.history(hook.id)
    (attempt,) = delivery.attempts
    assert attempt.error.startswith(error) and attempt.status_code is None
    assert delivery.status == "pending" and webhook_receiver.requests == []
    webhooks.update_hook(hook.id, body_template=FIXED)
    # The retry goes once it falls due, whatever the machine's pace.
    wait_until(lambda: webhooks.run_pending() >= 0 and webhook_receiver.requests, what="the retry")
    (request,) = webhook_receiver.requests
    assert webhook_receiver.verify(request, hook) == {"id": lead.id}
    assert webhooks.last_delivery(hook.id).status == "succeeded"


@pytest.mark.webhooks_options(retry_delays=[])
@pytest.mark.parametrize("resend", ["redeliver", "send_test"])
def test_a_redelivery_or_a_test_send_renders_the_current_template(crm, webhooks, webhook_receiver, resend: str) -> None:
    hook = templated(webhooks, webhook_receiver, BROKEN[0][0])
    lead = crm.leads.create("ACME")
    webhooks.run_pending()
    failed = webhooks.last_delivery(hook.id)
    assert failed.status == "failed" and webhook_receiver.requests == []
    assert webhooks.send_test(hook.id).attempts[0].error.startswith("body template: line 2")
    webhooks.update_hook(hook.id, body_template=FIXED)
    sent = webhooks.redeliver(failed.id) if resend == "redeliver" else webhooks.send_test(hook.id)
    assert sent.status == "succeeded"
    (request,) = webhook_receiver.requests
    # A test send's sample record has id 0.
    assert webhook_receiver.verify(request, hook) == {"id": lead.id if resend == "redeliver" else 0}


def test_the_worker_sends_the_rendered_body(crm, webhooks, webhook_receiver) -> None:
    hook = templated(webhooks, webhook_receiver, ACCENTED)
    worker = Worker(webhooks.deliverer, concurrency=2, poll_interval=5.0)
    try:
        crm.leads.create("João Ação")
        worker.start()
        wait_until(lambda: webhook_receiver.requests, what="the rendered body")
    finally:
        worker.stop(timeout=30)
    (request,) = webhook_receiver.requests
    assert webhook_receiver.verify(request, hook)["nome"] == "João Ação"
    assert webhooks.last_delivery(hook.id).status == "succeeded"


# ---- GET and DELETE carry no body: a template there is refused --------------------------------

NO_BODY = "a %s request carries no body: use POST, PUT or PATCH, or remove the template"


@pytest.mark.one_database
@pytest.mark.parametrize("method", ["GET", "DELETE", "get"])
def test_a_template_on_a_get_or_delete_hook_is_refused(webhooks, webhook_receiver, method: str) -> None:
    with pytest.raises(ValidationError) as raised:
        templated(webhooks, webhook_receiver, FIXED, method=method, url="ftp://x")
    assert [(e.field, str(e.message)) for e in raised.value.errors] == [
        ("url", "must start with http:// or https://"),  # every error at once
        ("body_template", NO_BODY % method.upper()),
    ]
    assert webhooks.list_hooks() == []


CHANGES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("templated hook to GET", {"body_template": FIXED}, {"method": "GET"}),
    ("templated hook to DELETE", {"body_template": FIXED}, {"method": "DELETE"}),
    ("template on a GET hook", {"method": "GET"}, {"body_template": FIXED}),
    ("both at once", {}, {"method": "DELETE", "body_template": FIXED, "content_type": "text/plain"}),
]


@pytest.mark.one_database
@pytest.mark.parametrize(("start", "change"), [c[1:] for c in CHANGES], ids=[c[0] for c in CHANGES])
def test_an_update_that_would_give_a_get_or_delete_a_body_changes_nothing(
    webhooks, webhook_receiver, start: dict[str, Any], change: dict[str, Any]
) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, **start)
    with pytest.raises(ValidationError, match=r"body_template: a (GET|DELETE) request carries no body") as raised:
        webhooks.update_hook(hook.id, **change)
    assert raised.value.field == "body_template"
    assert webhooks.get_hook(hook.id) == hook


@pytest.mark.one_database
def test_removing_the_template_with_the_move_to_get_is_allowed(webhooks, webhook_receiver) -> None:
    hook = templated(webhooks, webhook_receiver, FIXED)
    moved = webhooks.update_hook(hook.id, method="GET", body_template=None)
    assert (moved.method, moved.body_template) == ("GET", None)


def test_a_rendered_nul_is_sent_once_and_history_keeps_it_readable(crm, webhooks, webhook_receiver) -> None:
    # PostgreSQL's text refuses NUL: kept as it went, the attempt could not be recorded and
    # would go out again at every lease, for ever.
    hook = templated(webhooks, webhook_receiver, '{{ "a\\x00b" }}', content_type="text/plain")
    crm.leads.create("ACME")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert request.get_data() == b"a\x00b"  # the receiver gets what the template made
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    assert attempt.request_body == "a\ufffdb"


def test_history_keeps_the_start_of_a_long_rendered_body_and_says_it_was_cut(crm, webhooks, webhook_receiver) -> None:
    # Each attempt keeps its own copy: whole, a big body and fifty retries made megabytes a
    # delivery, on its page and in every list of deliveries.
    hook = templated(webhooks, webhook_receiver, '{{ "x" * 100000 }}', content_type="text/plain")
    crm.leads.create("ACME")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert request.get_data() == b"x" * 100000  # the receiver gets all of it
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    kept, _sep, note = attempt.request_body.partition("\n")
    assert kept == "x" * REQUEST_BODY_KEPT
    assert note == f"… ({100000 - REQUEST_BODY_KEPT} more characters sent)"
