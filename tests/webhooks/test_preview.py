"""An admin asks "what would this hook send?" and sees exactly what then goes, while nothing is sent or stored."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from crm_stub import NotFound
from crm_webhooks import ValidationError

from .test_body_templates import ACCENTED


def _counts(crm) -> dict[str, int]:
    tables = [t for t in sa.inspect(crm.engine).get_table_names() if t.startswith("webhook_")]
    with crm.engine.connect() as conn:
        return {t: conn.scalar(sa.text(f'SELECT count(*) FROM "{t}"')) for t in tables}


@pytest.fixture
def untouched(crm, webhook_receiver) -> Callable[[], AbstractContextManager[None]]:
    """``with untouched():`` asserts that the block added no webhook_* row and sent nothing."""

    @contextmanager
    def check() -> Iterator[None]:
        before, received = _counts(crm), len(webhook_receiver.requests)
        yield
        assert _counts(crm) == before
        assert len(webhook_receiver.requests) == received

    return check


@pytest.mark.parametrize(
    "fields",
    [
        {"body_template": ACCENTED, "key": "X-Api-Key", "value": "s3cret-value"},
        {},  # the envelope
        {"method": "GET"},
        {"body_template": "Novo: {{ object.name }}", "content_type": "text/plain; charset=utf-8"},
    ],
    ids=["template", "envelope", "GET", "text"],
)
def test_the_preview_is_what_is_then_sent_byte_for_byte(crm, webhooks, webhook_receiver, untouched, fields) -> None:
    hook = webhooks.create_hook(name="avisos", event="lead.created", url=webhook_receiver.url + "?a=1", **fields)
    crm.leads.create("João Ação", email="joao@example.com")
    with untouched():
        preview = webhooks.preview(hook.id)
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert preview.would_send and preview.error is None
    assert (preview.event, preview.event_id) == ("lead.created", request.headers["webhook-id"])
    assert preview.method == request.method
    assert preview.url == f"{webhook_receiver.url}?{request.query_string.decode()}"
    if request.method == "GET":
        assert preview.body is None and request.get_data() == b""
    else:
        assert preview.body.encode() == request.get_data()
    unsigned = {
        n: v for n, v in preview.headers.items() if n not in ("webhook-timestamp", "webhook-signature", hook.key)
    }
    assert unsigned == {n: request.headers[n] for n in unsigned}


def test_secrets_are_masked_as_history_masks_them(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(
        name="h", event="lead.created", url=webhook_receiver.url, key="X-Api-Key", value="s3cret-value"
    )
    crm.leads.create("ACME")
    preview = webhooks.preview(hook.id)
    webhooks.run_pending()
    recorded = webhooks.last_delivery(hook.id).attempts[0].request_headers
    assert preview.headers["X-Api-Key"] == recorded["X-Api-Key"] == "s3cr…(12)"
    assert preview.headers["webhook-signature"].endswith(")")
    assert "s3cret-value" not in str(preview.to_dict()) and hook.secret not in str(preview.to_dict())


CONDITIONS = [
    ("object.name == 'ACME'", True, None),
    ("object.name == 'Other'", False, None),
    ("object.name / 2 > 1", None, "line 1"),
    (None, None, None),
]


@pytest.mark.parametrize(("condition", "matches", "error"), CONDITIONS, ids=["true", "false", "error", "none"])
def test_the_condition_s_verdict_is_shown(crm, webhooks, webhook_receiver, untouched, condition, matches, error):
    lead = crm.leads.create("ACME")
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, condition=condition)
    with untouched():
        preview = webhooks.preview(hook.id, record=f"lead:{lead.id}")
    assert preview.matches is matches
    if error:
        assert error in preview.condition_error
    else:
        assert preview.condition_error is None
    assert preview.would_send == (matches is not False and error is None)
    assert preview.to_dict()["condition"] == {"matches": matches, "error": preview.condition_error}


def test_a_hook_not_saved_yet(crm, webhooks, webhook_receiver, untouched) -> None:
    lead = crm.leads.create("Ação")
    with untouched():
        preview = webhooks.preview(
            name="novo",
            event="lead.stage_changed",
            url=webhook_receiver.url,
            body_template="{{ hook.name }}: {{ object.name }} {{ event }}",
            content_type="text/plain",
            record=f"lead:{lead.id}",
        )
    assert preview.hook_id is None and preview.event == "lead.stage_changed"
    assert preview.body == "novo: Ação lead.stage_changed"
    assert webhooks.list_hooks() == []


def test_changed_fields_override_the_saved_hook_s(crm, webhooks, webhook_receiver, untouched) -> None:
    lead = crm.leads.create("ACME")
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url)
    with untouched():
        changed = {"method": "PUT", "body_template": "{{ hook.name }}: {{ object.name }}"}
        preview = webhooks.preview(hook.id, record=f"lead:{lead.id}", **changed, content_type="text/plain")
        not_json = webhooks.preview(hook.id, record=f"lead:{lead.id}", **changed)
    assert (preview.method, preview.body, preview.headers["Content-Type"]) == ("PUT", "h: ACME", "text/plain")
    # What the attempt would record: a body that is not the JSON its content type says is not sent.
    assert not_json.body is None and not not_json.would_send and "JSON" in not_json.error
    assert webhooks.get_hook(hook.id) == hook


def test_a_lead_as_it_is_now(crm, webhooks, webhook_receiver, untouched) -> None:
    hook = webhooks.create_hook(name="h", events=["sale.created", "lead.*"], url=webhook_receiver.url)
    lead = crm.leads.create("ACME", email="a@acme.test")
    crm.leads.change_stage(lead.id, "contacted")
    with untouched():
        first = webhooks.preview(hook.id, record=f"lead:{lead.id}")
        chosen = webhooks.preview(hook.id, record=f"lead:{lead.id}", event="lead.stage_changed")
    assert (first.event, first.record) == ("lead.created", f"lead:{lead.id}")
    sent = json.loads(chosen.body)
    assert sent["type"] == "lead.stage_changed" and sent["id"] == chosen.event_id
    assert sent["data"] == {"object": json.loads(json.dumps(crm.leads.get(lead.id).to_dict()))}
    assert sent["data"]["object"]["stage"] == "contacted"


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("unknown entity", {"record": "user:1"}, "record"),
    ("not entity:id", {"record": "lead 1"}, "record"),
    ("not text", {"record": 42}, "record"),
    ("an event the hook does not take", {"event": "sale.created"}, "event"),
    ("not an event", {"event": "lead.exploded"}, "event"),
    ("an event of another entity", {"record": "lead:1", "event": "client.created"}, "event"),
    ("a record of an entity it takes no event of", {"record": "client:1"}, "record"),
    ("a follow-up from a record", {"record": "lead:1", "event": "lead.follow_up_added"}, "event"),
    ("no stored event of it yet", {"event": "lead.follow_up_added"}, "record"),
    ("a new URL without the value again", {"url": "http://127.0.0.1:9/x"}, "value"),
    ("a bad changed field", {"url": "ftp://x"}, "url"),
    ("an unknown field", {"colour": "red"}, "colour"),
    ("a template on GET", {"method": "GET", "body_template": "x"}, "body_template"),
]


@pytest.mark.parametrize(("case", "given", "field"), BAD, ids=[case for case, _, _ in BAD])
def test_bad_input_names_its_field(crm, webhooks, webhook_receiver, untouched, case, given, field) -> None:
    crm.leads.create("ACME")
    hook = webhooks.create_hook(
        name="h", events=["lead.created", "lead.follow_up_added"], url=webhook_receiver.url, key="X-K", value="v"
    )
    with untouched(), pytest.raises(ValidationError) as caught:
        webhooks.preview(hook.id, **given)
    assert caught.value.field == field, case


def test_a_new_hook_is_validated_as_create_hook_would(webhooks, untouched) -> None:
    with untouched(), pytest.raises(ValidationError) as caught:
        webhooks.preview(name="x", url="http://127.0.0.1/")
    assert caught.value.field == "event"


@pytest.mark.parametrize(("hook_id", "record"), [(999, None), (1, "lead:999")], ids=["hook", "record"])
def test_an_unknown_hook_or_record_is_not_found(crm, webhooks, webhook_receiver, untouched, hook_id, record) -> None:
    webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    with untouched(), pytest.raises(NotFound):
        webhooks.preview(hook_id, record=record)
