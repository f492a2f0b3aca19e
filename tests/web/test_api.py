"""The REST API: tokens and scopes, every route, every bad body, and the OpenAPI document."""

from __future__ import annotations

import re

import pytest
from openapi_spec_validator import validate

from crm_stub import CRM

GOOD = {
    "name": "venda",
    "event": "sale.created",
    "url": "http://127.0.0.1:9/pos",
    "key": "X-Api-Key",
    "value": "s3cret-value",
}


def create(api, **changes):
    response = api.call("POST", "/api/v1/hooks", json={**GOOD, **changes})
    assert response.status_code == 201, response.json
    return response.json


# -- who may call -------------------------------------------------------------------


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer nope", "Basic YWRtaW46YWRtaW4=", "bearer crm_wrong"])
def test_no_valid_token_is_401(api, header) -> None:
    headers = {} if header is None else {"Authorization": header}
    response = api.call("GET", "/api/v1/hooks", token=False, headers=headers)
    assert response.status_code == 401
    assert response.json["error"]["code"] == "unauthorized"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_without_the_scope_is_403(api, webhooks) -> None:
    reader = api.token("webhooks:read")
    assert api.call("GET", "/api/v1/hooks", token=reader).status_code == 200
    refused = api.call("POST", "/api/v1/hooks", token=reader, json=GOOD)
    assert refused.status_code == 403 and refused.json["error"]["scope"] == "webhooks:write"
    assert webhooks.list_hooks() == []
    other = api.token("crm:read")
    assert api.call("GET", "/api/v1/hooks", token=other).status_code == 403


def test_a_revoked_token_is_401(api, crm: CRM) -> None:
    token, plain = crm.tokens.create("temp", "webhooks:read")
    assert api.call("GET", "/api/v1/events", token=plain).status_code == 200
    crm.tokens.revoke(token.id)
    assert api.call("GET", "/api/v1/events", token=plain).status_code == 401


def test_the_api_needs_no_csrf_token_and_no_cookie(api) -> None:
    # Bearer tokens travel in a header no other site can set: nothing to forge.
    assert api.call("POST", "/api/v1/hooks", json=GOOD).status_code == 201


# -- hooks ------------------------------------------------------------------------------


def test_create_returns_the_secret_once_and_a_location(api, webhooks) -> None:
    response = api.call("POST", "/api/v1/hooks", json=GOOD)
    hook = webhooks.list_hooks()[0]
    assert response.status_code == 201 and response.headers["Location"].endswith(f"/api/v1/hooks/{hook.id}")
    assert response.json["secret"] == hook.secret and response.json["value"] == "s3cr…(12)"
    assert response.json["event_label"] == {"en": "New sale", "pt_BR": "Nova venda"}
    shown = api.call("GET", f"/api/v1/hooks/{hook.id}").json
    assert shown["secret"] != hook.secret and "s3cret-value" not in str(shown)


def test_a_hook_of_several_events_and_patterns_through_the_api(api, webhooks) -> None:
    fields = {k: v for k, v in GOOD.items() if k != "event"}
    created = api.call("POST", "/api/v1/hooks", json={**fields, "events": ["lead.*", "sale.created"]})
    assert created.status_code == 201, created.json
    assert (created.json["events"], created.json["event"]) == (["lead.*", "sale.created"], "lead.created")
    hook_id = created.json["id"]
    assert [h["id"] for h in api.call("GET", "/api/v1/hooks?event=lead.tagged").json["data"]] == [hook_id]
    assert api.call("GET", "/api/v1/hooks?event=client.tagged").json["data"] == []
    changed = api.call("PATCH", f"/api/v1/hooks/{hook_id}", json={"event": "client.created"})
    assert changed.json["events"] == ["client.created"] and webhooks.get_hook(hook_id).events == ("client.created",)
    both = api.call("PATCH", f"/api/v1/hooks/{hook_id}", json={"event": "lead.created", "events": ["lead.*"]})
    assert both.status_code == 422 and both.json["error"]["field"] == "events"
    wrong = api.call("PATCH", f"/api/v1/hooks/{hook_id}", json={"events": ["lead.*", "house.*", 7]})
    assert wrong.status_code == 422
    assert [e["field"] for e in wrong.json["error"]["errors"]] == ["events", "events"]
    assert webhooks.get_hook(hook_id).events == ("client.created",)


BAD = [
    ({"name": ""}, "name"),
    ({"event": "nope"}, "event"),
    ({"url": "ftp://x"}, "url"),
    ({"url": "http://169.254.169.254/"}, "url"),
    ({"method": "TRACE"}, "method"),
    ({"key": "Host"}, "key"),
    ({"value": "a\nb"}, "value"),
    ({"enabled": "yes"}, "enabled"),
    ({"colour": "red"}, "colour"),
    ({"name": None}, "name"),
    ({"ordering": "fifo"}, "ordering"),
    ({"events": "lead.*"}, "events"),
    ({"events": []}, "events"),
    ({"events": ["lead.*"], "event": "lead.created"}, "events"),
    ({"condition": "object.name =="}, "condition"),
    ({"condition": "secret == 1"}, "condition"),
    ({"body_template": "{{ object.name"}, "body_template"),
    ({"content_type": "json"}, "content_type"),
    ({"max_per_second": 0}, "max_per_second"),
    ({"max_per_second": 5000}, "max_per_second"),
]


@pytest.mark.parametrize(("change", "field"), BAD, ids=[f for _, f in BAD])
def test_bad_fields_are_422_naming_the_field_and_store_nothing(api, webhooks, change, field) -> None:
    fields = {k: v for k, v in GOOD.items() if not (k == "event" and "events" in change)}
    response = api.call("POST", "/api/v1/hooks", json={**fields, **change})
    assert response.status_code == 422
    assert response.json["error"]["field"] == field and response.json["error"]["message"].startswith(f"{field}: ")
    assert webhooks.list_hooks() == []


def test_a_rate_limit_is_set_read_and_lifted_through_the_api(api, webhooks) -> None:
    hook = create(api, max_per_second=20)
    assert hook["max_per_second"] == 20 and webhooks.get_hook(hook["id"]).max_per_second == 20
    lifted = api.call("PATCH", f"/api/v1/hooks/{hook['id']}", json={"max_per_second": None})
    assert lifted.status_code == 200 and lifted.json["max_per_second"] is None


@pytest.mark.parametrize("payload", [b"not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(api, webhooks, payload) -> None:
    response = api.call("POST", "/api/v1/hooks", data=payload, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json["error"]["code"] == "bad_request"
    assert webhooks.list_hooks() == []


def test_missing_required_fields_are_422(api) -> None:
    response = api.call("POST", "/api/v1/hooks", json={"name": "x"})
    assert response.status_code == 422 and response.json["error"]["field"] in ("event", "url")


def test_a_hooks_ordering_is_set_read_and_changed(api) -> None:
    assert create(api)["ordering"] == "record"
    hook = create(api, ordering="none")
    assert hook["ordering"] == "none"
    changed = api.call("PATCH", f"/api/v1/hooks/{hook['id']}", json={"ordering": "record"})
    assert changed.status_code == 200 and changed.json["ordering"] == "record"


def test_patch_enable_disable_rotate_delete(api, webhooks) -> None:
    hook = create(api)
    hid = hook["id"]
    moved = {"url": "http://127.0.0.1:9/new", "method": "put"}
    refused = api.call("PATCH", f"/api/v1/hooks/{hid}", json=moved)  # a new URL needs the header value again
    assert refused.status_code == 422 and refused.json["error"]["field"] == "value"
    changed = api.call("PATCH", f"/api/v1/hooks/{hid}", json={**moved, "value": "s3cret"})
    assert changed.status_code == 200 and (changed.json["url"], changed.json["method"]) == (
        "http://127.0.0.1:9/new",
        "PUT",
    )
    bad = api.call("PATCH", f"/api/v1/hooks/{hid}", json={"url": "nope"})
    assert bad.status_code == 422 and webhooks.get_hook(hid).url == "http://127.0.0.1:9/new"
    assert api.call("PATCH", f"/api/v1/hooks/{hid}", json={}).status_code == 422
    assert api.call("POST", f"/api/v1/hooks/{hid}/disable").json["status"] == "disabled"
    assert api.call("POST", f"/api/v1/hooks/{hid}/enable").json["enabled"] is True
    rotated = api.call("POST", f"/api/v1/hooks/{hid}/rotate-secret").json
    assert rotated["secret"] == webhooks.get_hook(hid).secret != hook["secret"]
    assert api.call("DELETE", f"/api/v1/hooks/{hid}").status_code == 204
    assert api.call("GET", f"/api/v1/hooks/{hid}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/hooks/999"),
        ("PATCH", "/hooks/999"),
        ("DELETE", "/hooks/999"),
        ("POST", "/hooks/999/enable"),
        ("POST", "/hooks/999/disable"),
        ("POST", "/hooks/999/test"),
        ("POST", "/hooks/999/rotate-secret"),
        ("GET", "/deliveries/999"),
        ("POST", "/deliveries/999/redeliver"),
        ("GET", "/deliveries?hook_id=999"),
    ],
)
def test_unknown_ids_are_404(api, method, path) -> None:
    response = api.call(method, "/api/v1" + path, json={"name": "x"} if method == "PATCH" else None)
    assert response.status_code == 404 and response.json["error"]["code"] == "not_found"


def test_hooks_page_with_after(api) -> None:
    ids = [create(api, name=f"h{n}")["id"] for n in range(5)]
    first = api.call("GET", "/api/v1/hooks?limit=2").json
    assert [h["id"] for h in first["data"]] == ids[:2]
    second = api.call("GET", first["next"]).json
    assert [h["id"] for h in second["data"]] == ids[2:4]
    last = api.call("GET", second["next"]).json
    assert [h["id"] for h in last["data"]] == ids[4:] and last["next"] is None


@pytest.mark.parametrize("query", ["limit=0", "limit=501", "limit=x", "after=-1", "after=abc"])
def test_bad_paging_is_422(api, query) -> None:
    response = api.call("GET", f"/api/v1/hooks?{query}")
    assert response.status_code == 422 and response.json["error"]["field"] == query.split("=")[0]


# -- deliveries -------------------------------------------------------------------------


def test_test_send_deliveries_and_redeliver(api, crm, webhooks, webhook_receiver) -> None:
    hook = create(api, event="lead.created", url=webhook_receiver.url)
    sent = api.call("POST", f"/api/v1/hooks/{hook['id']}/test").json
    assert sent["status"] == "succeeded" and sent["test"] and sent["payload"]["type"] == "lead.created"
    for n in range(3):
        crm.leads.create(f"L{n}")
    webhook_receiver.fail_next(status=429)  # L0's retry keeps its time when L1 and L2 are answered
    webhooks.run_pending()
    page = api.call("GET", f"/api/v1/deliveries?hook_id={hook['id']}&limit=2").json
    assert len(page["data"]) == 2 and page["next"]
    rest = api.call("GET", page["next"]).json
    assert len(rest["data"]) == 2 and rest["next"] is None
    pending = api.call("GET", "/api/v1/deliveries?status=pending").json["data"]
    assert len(pending) == 1 and pending[0]["attempts"][0]["status_code"] == 429
    assert api.call("GET", "/api/v1/deliveries?since=2099-01-01T00:00:00Z").json["data"] == []
    assert api.call("GET", "/api/v1/deliveries?status=lost").status_code == 422
    assert api.call("GET", "/api/v1/deliveries?since=yesterday").json["error"]["field"] == "since"
    shown = api.call("GET", f"/api/v1/deliveries/{pending[0]['id']}").json
    assert shown["payload"]["data"]["object"]["name"] == "L0"
    again = api.call("POST", f"/api/v1/deliveries/{pending[0]['id']}/redeliver")
    assert again.status_code == 201 and again.json["status"] == "succeeded"
    assert again.json["event_id"] == pending[0]["event_id"]


def test_an_attempt_shows_the_response_headers_and_a_hook_when_a_person_changed_it(
    api, webhooks, webhook_receiver, schema_validator
) -> None:
    hook = create(api, event="lead.created", url=webhook_receiver.url)
    assert hook["updated_at"] == hook["created_at"]
    webhook_receiver.respond_with(202, headers={"X-Receipt": "r-1"})
    sent = api.call("POST", f"/api/v1/hooks/{hook['id']}/test").json
    shown = api.call("GET", f"/api/v1/deliveries/{sent['id']}").json
    (attempt,) = shown["attempts"]
    assert ["X-Receipt", "r-1"] in attempt["response_headers"]
    assert api.call("GET", f"/api/v1/hooks/{hook['id']}").json["updated_at"] == hook["updated_at"]  # not by sending
    before = webhooks.get_hook(hook["id"]).updated_at
    renamed = api.call("PATCH", f"/api/v1/hooks/{hook['id']}", json={"name": "renamed"}).json
    assert webhooks.get_hook(hook["id"]).updated_at > before
    assert renamed["updated_at"] == webhooks.get_hook(hook["id"]).to_dict()["updated_at"]
    for item, ref in ((shown, "Delivery"), (renamed, "Hook"), (hook, "Hook")):
        errors = [e.message for e in schema_validator(f"#/components/schemas/{ref}").iter_errors(item)]
        assert errors == [], (ref, errors)


def test_events_catalog(api) -> None:
    events = api.call("GET", "/api/v1/events").json["data"]
    assert len(events) == 33 and events[29] == {
        "number": 30,
        "code": "sale.created",
        "label_pt": "Nova venda",
        "label_en": "New sale",
    }
    assert events[32] == {
        "number": 33,
        "code": "webhook.recovered",
        "label_pt": "Webhook recuperado",
        "label_en": "Webhook recovered",
    }


@pytest.mark.parametrize(
    ("given", "codes"),
    [
        ({"event": "webhook.failing"}, ("webhook.failing",)),
        ({"events": ["webhook.*"]}, ("webhook.failing", "webhook.disabled", "webhook.recovered")),
        ({"events": ["*"]}, ()),  # the CRM's events: none of the hooks' own
    ],
)
def test_a_hook_on_the_hooks_own_events_through_the_api(api, webhooks, given, codes) -> None:
    fields = {k: v for k, v in GOOD.items() if k != "event"}
    created = api.call("POST", "/api/v1/hooks", json={**fields, **given})
    assert created.status_code == 201, created.json
    assert tuple(c for c in webhooks.get_hook(created.json["id"]).codes if c.startswith("webhook.")) == codes
    listed = api.call("GET", "/api/v1/hooks?event=webhook.failing").json["data"]
    assert [h["id"] for h in listed] == ([created.json["id"]] if codes else [])


# -- the document ------------------------------------------------------------------------------


def test_openapi_document_is_valid_3_1(api) -> None:
    document = api.call("GET", "/api/v1/openapi.json", token=False).json
    assert document["openapi"] == "3.1.0"
    validate(document)


def test_openapi_document_lists_exactly_the_routes(app, api) -> None:
    document = api.call("GET", "/api/v1/openapi.json", token=False).json
    described = {
        (method.upper(), path) for path, item in document["paths"].items() for method in item if method != "parameters"
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "webhooks_api.openapi":
            path = re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            routed |= {(m, path) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert described == routed


def test_the_api_finds_hooks_as_the_page_does(api, webhooks) -> None:
    url = "http://127.0.0.1:9/"
    webhooks.create_hook(name="ERP sales", event="lead.created", url=url + "erp")
    webhooks.create_hook(name="BI", event="sale.created", url=url + "bi_100%")
    off = webhooks.create_hook(name="Old", event="lead.created", url=url + "old")
    webhooks.disable_hook(off.id)

    def names(query: str) -> list[str]:
        response = api.call("GET", f"/api/v1/hooks?{query}")
        assert response.status_code == 200, response.json
        return [h["name"] for h in response.json["data"]]

    assert names("search=erp") == ["ERP sales"]
    assert names("search=100%25") == ["BI"]  # a % typed is a %, not a wildcard
    assert names("search=_") == ["BI"]
    assert names("event=lead.created") == ["ERP sales", "Old"]
    assert names("status=disabled") == ["Old"]
    assert names("event=lead.created&status=never_run&limit=1") == ["ERP sales"]
    for query, field in (("status=broken", "status"), ("event=lead.deleted", "event"), ("status=x&status=y", "status")):
        refused = api.call("GET", f"/api/v1/hooks?{query}")
        assert refused.status_code == 422 and refused.json["error"]["field"] == field


def test_the_next_page_keeps_the_filters(api, webhooks) -> None:
    for n in range(3):
        webhooks.create_hook(name=f"lead {n}", event="lead.created", url="http://127.0.0.1:9/x")
    webhooks.create_hook(name="sale", event="sale.created", url="http://127.0.0.1:9/x")
    first = api.call("GET", "/api/v1/hooks?event=lead.created&limit=2").json
    following = api.call("GET", first["next"].split("localhost", 1)[1]).json
    assert [h["name"] for h in first["data"] + following["data"]] == ["lead 0", "lead 1", "lead 2"]
