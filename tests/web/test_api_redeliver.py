"""POST /api/v1/deliveries/redeliver: an integrator's script recovering from an outage, and what it may not do."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=None)

URL = "/api/v1/deliveries/redeliver"


@pytest.fixture
def hook(webhooks, webhook_receiver, outage) -> Any:
    """A hook whose receiver was down for three leads and a failed test send; the receiver is back."""
    created = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    outage("A", "B", "C", test_sends=True)
    return created


def conforms(openapi_document: dict[str, Any], response: Any) -> None:
    """The body is what the document says this operation answers with this status."""
    operation = openapi_document["paths"]["/deliveries/redeliver"]["post"]
    schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:doc", Resource.from_contents(openapi_document, DRAFT202012))
    validator = Draft202012Validator(
        {"$ref": "urn:doc" + schema["$ref"]}, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    assert [e.message for e in validator.iter_errors(response.json)] == []


def test_a_script_previews_then_replays_what_failed_oldest_first(
    api, webhooks, webhook_receiver, hook, openapi_document
) -> None:
    failed = sorted(d.id for d in webhooks.history(hook.id) if d.status == "failed" and not d.test)
    preview = api.call("POST", URL, json={"hook_id": hook.id, "since": "2h", "dry_run": True})
    assert preview.status_code == 200, preview.json
    conforms(openapi_document, preview)
    assert (preview.json["count"], preview.json["originals"], preview.json["ids"]) == (3, failed, [])
    assert preview.json["dry_run"] is True and webhook_receiver.requests == []

    replay = api.call("POST", URL, json={"hook_id": hook.id, "since": "2h", "limit": 2})
    assert replay.status_code == 201, replay.json
    conforms(openapi_document, replay)
    body = replay.json
    assert (body["count"], body["remaining"], body["originals"]) == (2, 1, failed[:2])
    assert "payload" not in str(body)  # ids only: payloads are for webhooks:read
    for new_id in body["ids"]:
        assert api.call("GET", f"/api/v1/deliveries/{new_id}").json["status"] == "pending"
    rest = api.call("POST", URL, json={"since": "2h"})  # every hook: the third one is left
    assert rest.status_code == 201 and rest.json["originals"] == failed[2:] and rest.json["remaining"] == 0
    webhooks.run_pending()
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == ["A", "B", "C"]

    again = api.call("POST", URL, json={"hook_id": hook.id})  # a second click: nothing left
    assert again.status_code == 200 and again.json["count"] == 0
    conforms(openapi_document, again)


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        # One per field (the domain's own tests go through the kinds of wrong): since as the CLI reads it.
        ({"hook_id": "1"}, "hook_id"),
        ({"since": "2x"}, "since"),
        ({"status": "pending"}, "status"),
        ({"limit": 1001}, "limit"),
        ({"dry_run": "yes"}, "dry_run"),
        ({"colour": "red"}, "colour"),
    ],
    ids=lambda v: repr(v) if isinstance(v, dict) else v,
)
def test_each_bad_field_is_422_naming_it_and_queues_nothing(api, webhooks, hook, sent, field) -> None:
    before = len(webhooks.history(hook.id))
    response = api.call("POST", URL, json={"hook_id": hook.id, **sent})
    assert response.status_code == 422, response.json
    assert response.json["error"]["field"] == field
    assert len(webhooks.history(hook.id)) == before


def test_who_may_replay_and_what_else_is_refused(api, webhooks, hook) -> None:
    before = len(webhooks.history(hook.id))
    reader = api.call("POST", URL, token=api.token("webhooks:read"), json={})
    assert reader.status_code == 403 and reader.json["error"]["scope"] == "webhooks:write"
    assert api.call("POST", URL, token=False, json={}).status_code == 401
    assert api.call("POST", URL, json={"hook_id": 999}).status_code == 404
    not_json = api.call("POST", URL, data=b"[1]", headers={"Content-Type": "application/json"})
    assert not_json.status_code == 400 and not_json.json["error"]["field"] == "body"
    assert len(webhooks.history(hook.id)) == before


def test_listing_deliveries_reads_since_as_the_cli_does(api, hook) -> None:
    listed = api.call("GET", "/api/v1/deliveries?since=2h&status=failed").json["data"]
    assert len(listed) == 4
    assert api.call("GET", "/api/v1/deliveries?since=0s").json["data"] == []  # since now
    refused = api.call("GET", "/api/v1/deliveries?since=2x")
    assert refused.status_code == 422 and refused.json["error"]["field"] == "since"


def test_every_wrong_field_at_once_in_the_language_asked_for(api, webhooks, hook) -> None:
    sent = {"hook_id": hook.id, "status": "pending", "limit": 0, "since": "2x", "dry_run": 1, "colour": "red"}
    response = api.call("POST", URL, json=sent, headers={"Accept-Language": "pt-BR"})
    assert response.status_code == 422
    errors = {e["field"]: e["message"] for e in response.json["error"]["errors"]}
    assert set(errors) == {"status", "limit", "since", "dry_run", "colour"}
    assert errors["since"] == "'2x' não é uma duração como 2h, 30m, 7d nem uma data/hora ISO 8601"
