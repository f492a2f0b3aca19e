"""POST /api/v1/hooks/preview: an integrator checks what a hook would send before saving a change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

URL = "/api/v1/hooks/preview"


@pytest.fixture
def conforms(openapi_document, schema_validator) -> Callable[[Any], None]:
    """``conforms(response)``: the body is what the document says this operation answers with its status."""

    def check(response: Any) -> None:
        answers = openapi_document["paths"]["/hooks/preview"]["post"]["responses"]
        ref = answers[str(response.status_code)]["content"]["application/json"]["schema"]["$ref"]
        assert [e.message for e in schema_validator(ref).iter_errors(response.json)] == []

    return check


@pytest.fixture
def hook(crm, webhooks, webhook_receiver) -> Any:
    """A templated hook with an API key, and one lead created (its event stored, not sent yet)."""
    made = webhooks.create_hook(
        name="erp",
        event="lead.created",
        url=webhook_receiver.url,
        key="X-Api-Key",
        value="s3cret-value",
        body_template='{"nome": {{ object.name | tojson }}}',
    )
    crm.leads.create("João")
    return made


def test_the_answer_is_the_body_then_sent_with_secrets_masked(api, webhooks, webhook_receiver, hook, conforms) -> None:
    read_only = api.token("webhooks:read")  # nothing changes: reading is enough
    answer = api.call("POST", URL, json={"hook_id": hook.id}, token=read_only)
    assert answer.status_code == 200, answer.json
    conforms(answer)
    assert webhook_receiver.requests == []
    request = answer.json["request"]
    assert request["headers"]["X-Api-Key"] == "s3cr…(12)" and "s3cret-value" not in answer.get_data(as_text=True)
    assert hook.secret not in answer.get_data(as_text=True)
    webhooks.run_pending()
    (received,) = webhook_receiver.requests
    assert request["body"].encode() == received.get_data()
    assert answer.json["event_id"] == received.headers["webhook-id"]


def test_a_change_or_a_new_hook_for_a_record(api, crm, hook, webhook_receiver, conforms) -> None:
    lead = crm.leads.create("ACME")
    changed = api.call("POST", URL, json={"hook_id": hook.id, "hook": {"method": "PUT"}, "record": f"lead:{lead.id}"})
    assert changed.status_code == 200, changed.json
    assert (changed.json["request"]["method"], changed.json["request"]["body"]) == ("PUT", '{"nome": "ACME"}')
    new = {"name": "novo", "url": webhook_receiver.url, "condition": "object.name == 'x'"}
    fresh = api.call("POST", URL, json={"hook": new, "event": "lead.created", "record": f"lead:{lead.id}"})
    assert fresh.status_code == 200, fresh.json
    conforms(fresh)
    assert fresh.json["hook_id"] is None and fresh.json["condition"] == {"matches": False, "error": None}
    assert fresh.json["would_send"] is False
    assert api.call("GET", f"/api/v1/hooks/{hook.id}").json["method"] == "POST"


BAD = [
    ({"hook_id": "1"}, "hook_id"),
    ({"hook_id": True}, "hook_id"),
    ({"hook": ["url"]}, "hook"),
    ({"colour": 1}, "colour"),
    ({"record": "lead"}, "record"),
    ({"record": "user:1"}, "record"),
    ({"event": "sale.created"}, "event"),
    ({"hook": {"url": "ftp://x"}}, "url"),
    ({"hook": {"name": "\ud800"}}, "name"),
    ({"hook": {"event": "lead.exploded"}}, "event"),  # the hook's own field, beside the event previewed
]


@pytest.mark.parametrize(("given", "field"), BAD, ids=[str(g) for g, _ in BAD])
def test_bad_input_is_a_422_naming_the_field(api, hook, webhook_receiver, conforms, given, field) -> None:
    answer = api.call("POST", URL, json={"hook_id": hook.id, **given})
    assert answer.status_code == 422, answer.json
    conforms(answer)
    assert answer.json["error"]["field"] == field
    assert webhook_receiver.requests == []


@pytest.mark.parametrize("given", [{"hook_id": 999}, {"record": "lead:999"}], ids=["hook", "record"])
def test_an_unknown_hook_or_record_is_a_404(api, hook, conforms, given) -> None:
    answer = api.call("POST", URL, json={"hook_id": hook.id, **given})
    assert answer.status_code == 404, answer.json
    conforms(answer)


def test_a_token_without_read_may_not_see_what_would_be_sent(api, hook) -> None:
    answer = api.call("POST", URL, json={"hook_id": hook.id}, token=api.token("webhooks:write"))
    assert answer.status_code == 403
