"""The OpenAPI document as integrators use it: named operations, and a schema for what each event sends.

The envelope schemas are checked against real deliveries: a hook on every one of the CRM's 30 events,
the host CRM driven through a whole sales cycle, every post received on a real local server and
validated against the document's schema for its event, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pytest_httpserver import HTTPServer

from crm_stub import CRM, EVENT_CODES
from crm_stub.scenario import sales_cycle
from crm_webhooks import CATALOG
from crm_webhooks.testing import WebhookReceiver

# Tests that touch no storage of their own run on SQLite alone.
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@pytest.fixture
def crm_database_url(database_url: str) -> str:
    # The plugin's crm fixture reads this: the deliveries below run on both databases.
    return database_url


def _received(receiver: WebhookReceiver) -> list[dict[str, Any]]:
    return [json.loads(request.get_data()) for request in receiver.requests]


def _deliver_a_sales_cycle(crm: CRM, webhooks: Any, receiver: WebhookReceiver) -> list[Any]:
    """A hook on each of the 30 events, then the whole cycle from lead to sale; returns the hooks."""
    hooks = [webhooks.create_hook(name=code, event=code, url=receiver.url) for code in EVENT_CODES]
    sales_cycle(crm)
    webhooks.run_pending()
    return hooks


# -- operations -----------------------------------------------------------------------


def _operations(document: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (method.upper(), path): op
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method != "parameters"
    }


@SQLITE_ONLY
def test_every_route_is_a_named_and_tagged_operation(app, openapi_document) -> None:
    assert app.test_client().get("/api/v1/openapi.json").json == openapi_document
    operations = _operations(openapi_document)
    routes = {
        (method, re.sub(r"<(?:int:)?(\w+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))): rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("webhooks_api.") and rule.endpoint != "webhooks_api.openapi"
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    assert set(routes) == set(operations)
    declared = {tag["name"] for tag in openapi_document["tags"]}
    for key, endpoint in routes.items():
        # The operationId is the route's own name, so a log line and a generated client agree.
        assert operations[key]["operationId"] == endpoint.removeprefix("webhooks_api."), key
        assert operations[key]["tags"] and set(operations[key]["tags"]) <= declared, key
    webhook_ops = [item["post"] for item in openapi_document["webhooks"].values()]
    ids = [op["operationId"] for op in [*operations.values(), *webhook_ops]]
    assert len(ids) == len(set(ids)) == 16 + len(CATALOG)
    assert all(op["tags"] and set(op["tags"]) <= declared for op in webhook_ops)


def test_the_webhooks_section_has_each_event_of_the_catalog(openapi_document) -> None:
    assert openapi_document["openapi"].startswith("3.1")
    assert list(openapi_document["webhooks"]) == [
        *EVENT_CODES,
        "webhook.failing",
        "webhook.disabled",
        "webhook.recovered",
    ]
    schemas = openapi_document["components"]["schemas"]
    for code, item in openapi_document["webhooks"].items():
        ref = item["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        envelope = schemas[ref.rpartition("/")[2]]
        assert envelope["properties"]["type"] == {"const": code}
        assert set(envelope["required"]) == {"id", "type", "timestamp", "data"}


# -- real deliveries against the schemas ------------------------------------------------


def test_every_delivery_of_a_sales_cycle_matches_its_schema(
    crm, webhooks, webhook_receiver, envelope_validator
) -> None:
    hooks = _deliver_a_sales_cycle(crm, webhooks, webhook_receiver)
    for hook in hooks:  # the samples of test sends are held to the same schemas
        webhooks.send_test(hook.id)
    envelopes = _received(webhook_receiver)
    assert {e["type"] for e in envelopes} == set(EVENT_CODES) and len(envelopes) > 60
    for envelope in envelopes:
        errors = [e.message for e in envelope_validator(envelope["type"]).iter_errors(envelope)]
        assert errors == [], (envelope["type"], errors)


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=2)
def test_every_operational_delivery_matches_its_schema(crm, webhooks, webhook_receiver, envelope_validator) -> None:
    """A hook fails (warned at 1, disabled at 2), is enabled and delivers again; an admin hook hears it all."""
    sync = webhooks.create_hook(name="sync", event="lead.created", url=webhook_receiver.url_for("/sync"))
    ops = webhooks.create_hook(name="ops", events=["webhook.*"], url=webhook_receiver.url_for("/ops"))
    webhook_receiver.fail_next(2, path="/sync")
    for name in ("one", "two"):
        crm.leads.create(name)
        webhooks.run_pending()
    webhooks.enable_hook(sync.id)
    crm.leads.create("three")
    webhooks.run_pending()
    webhooks.send_test(ops.id)  # its sample, held to the same schema
    envelopes = [json.loads(r.get_data()) for r in webhook_receiver.requests if r.path == "/ops"]
    # Then the test send's sample.
    assert [e["type"] for e in envelopes] == [
        "webhook.failing",
        "webhook.disabled",
        "webhook.recovered",
        "webhook.failing",
    ]
    for envelope in envelopes:
        errors = [e.message for e in envelope_validator(envelope["type"]).iter_errors(envelope)]
        assert errors == [], (envelope["type"], errors)
    broken = {**envelopes[0], "data": {"object": {**envelopes[0]["data"]["object"], "secret": "whsec_x"}}}
    assert list(envelope_validator("webhook.failing").iter_errors(broken))  # no other field, a secret least of all


# One real envelope of each kind, taken apart: each change must be refused.
BROKEN = [
    ("no id", "lead.stage_changed", lambda e: e.pop("id")),
    ("id of another form", "lead.stage_changed", lambda e: e.update(id="123")),
    ("no type", "lead.stage_changed", lambda e: e.pop("type")),
    ("another event's type", "lead.stage_changed", lambda e: e.update(type="lead.created")),
    ("no timestamp", "lead.stage_changed", lambda e: e.pop("timestamp")),
    ("timestamp not RFC 3339 UTC", "lead.stage_changed", lambda e: e.update(timestamp="15/01/2026 13:45")),
    ("no data", "lead.stage_changed", lambda e: e.pop("data")),
    ("no object", "lead.stage_changed", lambda e: e["data"].pop("object")),
    ("object without its id", "lead.stage_changed", lambda e: e["data"]["object"].pop("id")),
    ("id as a string", "lead.stage_changed", lambda e: e["data"]["object"].update(id="1")),
    ("owner_id as a string", "lead.stage_changed", lambda e: e["data"]["object"].update(owner_id="1")),
    ("tags as a string", "lead.stage_changed", lambda e: e["data"]["object"].update(tags="vip")),
    ("a field the record has not", "lead.stage_changed", lambda e: e["data"]["object"].update(score=3)),
    ("no previous_attributes", "lead.stage_changed", lambda e: e["data"].pop("previous_attributes")),
    ("previous_attributes without stage", "lead.stage_changed", lambda e: e["data"].update(previous_attributes={})),
    (
        "an old stage of the wrong type",
        "lead.stage_changed",
        lambda e: e["data"]["previous_attributes"].update(stage=1),
    ),
    ("an unknown old value", "lead.stage_changed", lambda e: e["data"]["previous_attributes"].update(color="red")),
    ("a top-level field unknown", "lead.stage_changed", lambda e: e.update(extra=1)),
    ("test as a string", "lead.stage_changed", lambda e: e.update(test="yes")),
    ("actor_id as a string", "lead.stage_changed", lambda e: e.update(actor_id="1")),
    ("api_version as a number", "lead.stage_changed", lambda e: e.update(api_version=2)),
    (
        "previous_attributes on a creation",
        "lead.created",
        lambda e: e["data"].update(previous_attributes={"stage": "x"}),
    ),
    ("money as a number", "opportunity.created", lambda e: e["data"]["object"].update(amount=1500)),
    ("money without its cents", "opportunity.created", lambda e: e["data"]["object"].update(amount="1500")),
    ("a quote item without its price", "quote.created", lambda e: e["data"]["object"]["items"][0].pop("unit_price")),
    ("a follow-up of an unknown kind", "lead.follow_up_added", lambda e: e["data"]["object"].update(kind="fax")),
    ("a sale's client_id null", "sale.created", lambda e: e["data"]["object"].update(client_id=None)),
]


@pytest.fixture(scope="module")
def one_of_each(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict[str, Any]]]:
    """A real received envelope for each event, by type: one sales cycle for the whole table."""
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    folder = tmp_path_factory.mktemp("one-of-each")
    try:
        with CRM(f"sqlite:///{folder}/crm.db") as crm:
            webhooks = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="manual")
            receiver = WebhookReceiver(server, webhooks)
            _deliver_a_sales_cycle(crm, webhooks, receiver)
            yield {e["type"]: e for e in _received(receiver)}
    finally:
        server.clear()
        server.stop()


@pytest.mark.parametrize(("case", "code", "breaks"), BROKEN, ids=[case for case, _, _ in BROKEN])
def test_a_wrong_envelope_fails_its_schema(one_of_each, envelope_validator, case, code, breaks) -> None:
    envelope = copy.deepcopy(one_of_each[code])
    validator = envelope_validator(code)
    assert validator.is_valid(envelope)
    breaks(envelope)
    assert not validator.is_valid(envelope), case


@pytest.mark.parametrize(
    "added",
    [
        {"test": True},
        {"test": False, "actor_id": 7, "api_version": "2026-01-15"},
        {"actor_id": None},
    ],
)
def test_the_envelope_fields_of_the_other_change_are_allowed(one_of_each, envelope_validator, added) -> None:
    # test, actor_id and api_version are being added to the envelope alongside this document.
    envelope = {**one_of_each["lead.updated"], **added}
    assert envelope_validator("lead.updated").is_valid(envelope)


@SQLITE_ONLY
def test_a_custom_field_edited_is_an_old_value_too(crm, webhooks, webhook_receiver, envelope_validator) -> None:
    webhooks.create_hook(name="edits", event="lead.updated", url=webhook_receiver.url)
    lead = crm.leads.create("ACME", source="fair")
    crm.leads.update(lead.id, source="web", budget=10)
    webhooks.run_pending()
    (envelope,) = _received(webhook_receiver)
    assert envelope["data"]["previous_attributes"] == {"source": "fair", "budget": None}
    assert envelope_validator("lead.updated").is_valid(envelope)


# -- paging ---------------------------------------------------------------------------------


@SQLITE_ONLY
@pytest.mark.parametrize("path", ["/api/v1/hooks?limit=2", "/api/v1/deliveries?limit=2&status=succeeded"])
def test_next_is_an_absolute_url_as_the_document_says(api, crm, webhooks, webhook_receiver, path) -> None:
    for n in range(3):
        webhooks.create_hook(name=f"h{n}", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhooks.run_pending()
    first = api.call("GET", path).json
    following = urlsplit(first["next"])
    assert (following.scheme, following.netloc, following.path) == ("http", "localhost", urlsplit(path).path)
    assert "limit=2" in following.query
    rest = api.call("GET", first["next"]).json
    assert len(rest["data"]) == 1 and rest["next"] is None
    described = api.call("GET", "/api/v1/openapi.json").json["paths"]["/hooks"]["get"]["responses"]["200"]
    assert "absolute URL" in described["content"]["application/json"]["schema"]["properties"]["next"]["description"]
