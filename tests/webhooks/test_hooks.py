"""Hooks: creation, validation of every field, updates, enable/disable, rotation."""

from __future__ import annotations

import base64
from typing import Any

import pytest
import sqlalchemy as sa

from crm_stub import NotFound
from crm_webhooks import ValidationError

GOOD: dict[str, Any] = {
    "name": "venda",
    "event": "sale.created",
    "method": "POST",
    "url": "http://127.0.0.1:8000/pos",
    "key": "X-Api-Key",
    "value": "s3cret",
}


def count_hooks(crm) -> int:
    with crm.engine.connect() as conn:
        return conn.scalar(sa.text("select count(*) from webhook_hooks"))


def test_create_hook_as_in_the_contract(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    assert (hook.name, hook.event, hook.method, hook.url, hook.key, hook.value) == (
        "venda",
        "sale.created",
        "POST",
        "http://127.0.0.1:8000/pos",
        "X-Api-Key",
        "s3cret",
    )
    assert hook.enabled and hook.status == "never_run" and hook.last_run_at is None
    assert hook.secret.startswith("whsec_")
    assert len(base64.b64decode(hook.secret.removeprefix("whsec_"))) >= 24
    assert webhooks.get_hook(hook.id) == hook
    assert webhooks.list_hooks() == [hook]
    assert "s3cret" not in repr(hook) and hook.secret not in repr(hook)


def test_each_hook_gets_its_own_secret(webhooks) -> None:
    a, b = webhooks.create_hook(**GOOD), webhooks.create_hook(**GOOD)
    assert a.secret != b.secret


def test_method_is_case_insensitive_and_defaults_to_post(webhooks) -> None:
    assert (
        webhooks.create_hook(name="a", event="lead.created", url="http://127.0.0.1/x", method="patch").method == "PATCH"
    )
    assert webhooks.create_hook(name="b", event="lead.created", url="http://127.0.0.1/x").method == "POST"


BAD: list[tuple[str, dict[str, Any], str]] = [
    ("name", {"name": ""}, "required"),
    ("name", {"name": "   "}, "required"),
    ("name", {"name": "x" * 101}, "at most 100"),
    ("event", {"event": "sale.deleted"}, "not an event of the catalog"),
    ("event", {"event": "Sale.Created"}, "not an event of the catalog"),  # codes are lower case
    ("method", {"method": "TRACE"}, "not one of GET, POST, PUT, PATCH, DELETE"),
    ("method", {"method": None}, "required"),
    ("method", {"method": 5}, "expected text, got a number"),
    ("url", {"url": "ftp://127.0.0.1/x"}, "http:// or https://"),
    ("url", {"url": "http:///no-host"}, "must name a host"),
    ("url", {"url": "not a url"}, "spaces"),
    ("url", {"url": "http://127.0.0.1/" + "a" * 2048}, "at most 2048"),
    ("url", {"url": "http://user:pw@127.0.0.1/x"}, "credentials"),
    ("url", {"url": "http://127.0.0.1:99999/x"}, "not a valid URL"),
    ("url", {"url": "http://169.254.169.254/latest/meta-data"}, "link-local"),  # the cloud metadata address
    ("url", {"url": "http://[fe80::1]/x"}, "link-local"),
    ("url", {"url": "http://0.0.0.0:8000/x"}, "unspecified"),
    ("url", {"url": "http://224.0.0.1/x"}, "multicast"),
    ("key", {"key": "Content-Type"}, "set by the webhook itself"),
    ("key", {"key": "host"}, "set by the webhook itself"),
    ("key", {"key": "Content-Length"}, "set by the webhook itself"),
    ("key", {"key": "webhook-signature"}, "set by the webhook itself"),
    ("key", {"key": "Webhook-Id"}, "set by the webhook itself"),
    ("key", {"key": "X Api Key"}, "not a valid header name"),
    ("key", {"key": "X-Key:"}, "not a valid header name"),
    ("key", {"key": " X-Key "}, "not a valid header name"),  # checked as given, not as it would be trimmed
    ("key", {"key": "X-Key\r\n"}, "not a valid header name"),
    ("key", {"key": "\tX-Key"}, "not a valid header name"),
    ("key", {"key": "", "value": "orphan"}, "required when a value is given"),
    ("value", {"value": None}, "required when a key is given"),
    ("value", {"value": "a\r\nX-Injected: 1"}, "line breaks"),
    ("value", {"value": "nul\x00"}, "control characters"),
    ("value", {"value": "x" * 4097}, "at most 4096"),
    ("value", {"value": "emoji 🎉"}, "Latin-1"),
    # PostgreSQL's text refuses NUL: without this, a database error at save on PostgreSQL only
    ("name", {"name": "a\x00b"}, "must not contain NUL characters"),
    ("condition", {"condition": "event != '\x00'"}, "must not contain NUL characters"),
    ("body_template", {"body_template": "x\x00", "content_type": "text/plain"}, "must not contain NUL"),
    ("enabled", {"enabled": "yes"}, "true or false"),
    ("colour", {"colour": "red"}, "not a hook field"),
]


@pytest.mark.one_database
@pytest.mark.parametrize(("field", "change", "message"), BAD, ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD)])
def test_bad_input_names_the_field_and_stores_nothing(
    crm, webhooks, field: str, change: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValidationError, match=message) as raised:
        webhooks.create_hook(**{**GOOD, **change}) if field != "colour" else webhooks.update_hook(
            webhooks.create_hook(**GOOD).id, **change
        )
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert isinstance(raised.value, ValueError)
    assert count_hooks(crm) == (1 if field == "colour" else 0)


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("field", "change", "message"), BAD[:-1], ids=[f"{f}-{i}" for i, (f, _, _) in enumerate(BAD[:-1])]
)
def test_the_same_rules_apply_on_update_and_change_nothing(
    webhooks, field: str, change: dict[str, Any], message: str
) -> None:
    hook = webhooks.create_hook(**GOOD)
    with pytest.raises(ValidationError, match=message):
        webhooks.update_hook(hook.id, **change)
    assert webhooks.get_hook(hook.id) == hook


def test_long_bearer_tokens_fit(webhooks) -> None:
    jwt = "Bearer " + "eyJ" + "a" * 4000
    hook = webhooks.create_hook(**{**GOOD, "key": "Authorization", "value": jwt})
    assert webhooks.get_hook(hook.id).value == jwt


def test_loopback_is_refused_unless_private_networks_are_allowed(crm) -> None:
    crm.install_addon("crm_webhooks", dispatcher="manual")  # reinstalled with the default: private networks off
    strict = crm.addons["crm_webhooks"]
    for url in ("http://127.0.0.1/x", "http://10.0.0.8/x", "http://[::1]/x", "http://[::ffff:127.0.0.1]/x"):
        with pytest.raises(ValidationError, match=r"^url: "):
            strict.create_hook(**{**GOOD, "url": url})
    # A name is checked when the address it resolves to is known: at send time.
    assert strict.create_hook(**{**GOOD, "url": "http://localhost:8000/x"}).url == "http://localhost:8000/x"


def test_update_changes_only_what_is_given(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    changed = webhooks.update_hook(hook.id, url="http://127.0.0.1:9000/new", method="put", value="s3cret")
    assert (changed.url, changed.method, changed.name, changed.key, changed.value, changed.secret) == (
        "http://127.0.0.1:9000/new",
        "PUT",
        "venda",
        "X-Api-Key",
        "s3cret",
        hook.secret,
    )
    cleared = webhooks.update_hook(hook.id, key=None, value=None)
    assert (cleared.key, cleared.value) == (None, None)


def test_disable_and_enable(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    off = webhooks.disable_hook(hook.id)
    assert (off.enabled, off.status) == (False, "disabled")
    assert "by an admin" in off.status_detail and off.disabled_at is not None
    on = webhooks.enable_hook(hook.id)
    assert (on.enabled, on.status, on.disabled_reason) == (True, "never_run", None)
    assert webhooks.update_hook(hook.id, enabled=False).enabled is False
    assert webhooks.list_hooks(enabled=False) == [webhooks.get_hook(hook.id)]


# What a person does to a hook, from the state it starts in.
PERSON_CHANGES = [
    ("edited", {}, lambda wh, hook_id: wh.update_hook(hook_id, name="renamed")),
    ("disabled", {}, lambda wh, hook_id: wh.disable_hook(hook_id)),
    ("disabled in an edit", {}, lambda wh, hook_id: wh.update_hook(hook_id, enabled=False)),
    ("enabled", {"enabled": False}, lambda wh, hook_id: wh.enable_hook(hook_id)),
    ("secret rotated", {}, lambda wh, hook_id: wh.rotate_secret(hook_id)),
]


@pytest.mark.parametrize(("change", "start", "act"), PERSON_CHANGES, ids=[c for c, _, _ in PERSON_CHANGES])
def test_updated_at_is_when_a_person_last_changed_the_hook(webhooks, change, start, act) -> None:
    hook = webhooks.create_hook(**{**GOOD, **start})
    assert hook.updated_at == hook.created_at
    returned = act(webhooks, hook.id)
    assert returned.updated_at == webhooks.get_hook(hook.id).updated_at > hook.updated_at, change
    assert webhooks.get_hook(hook.id).to_dict()["updated_at"].endswith("Z")


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=2)
def test_saving_unchanged_deliveries_and_automatic_disabling_leave_updated_at(crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="leads", event="lead.created", url=webhook_receiver.url)
    webhooks.update_hook(hook.id, name="leads", url=webhook_receiver.url, enabled=True)  # saved as it was
    crm.leads.create("Delivered")
    webhooks.run_pending()
    webhook_receiver.fail_next(2)
    crm.leads.create("Failed once")
    crm.leads.create("Failed twice")
    webhooks.run_pending()
    after = webhooks.get_hook(hook.id)
    assert after.last_run_at > hook.created_at and "automatically" in after.disabled_reason
    assert after.updated_at == hook.updated_at


def test_delete(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    webhooks.delete_hook(hook.id)
    assert webhooks.list_hooks() == []
    with pytest.raises(NotFound, match="hook"):
        webhooks.get_hook(hook.id)


@pytest.mark.parametrize(
    "call",
    [
        "get_hook",
        "disable_hook",
        "enable_hook",
        "delete_hook",
        "rotate_secret",
        "send_test",
        "history",
        "last_delivery",
    ],
)
def test_unknown_hook_ids_are_not_found(webhooks, call: str) -> None:
    with pytest.raises(NotFound, match=r"hook 4242 not found"):
        getattr(webhooks, call)(4242)


@pytest.mark.parametrize("call", ["get_delivery", "redeliver"])
def test_unknown_delivery_ids_are_not_found(webhooks, call: str) -> None:
    with pytest.raises(NotFound, match="delivery 4242 not found"):
        getattr(webhooks, call)(4242)


def test_rotate_secret_issues_a_new_one(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    rotated = webhooks.rotate_secret(hook.id)
    assert rotated.secret != hook.secret and rotated.secret.startswith("whsec_")
    assert rotated.previous_secret_expires_at is not None


def test_masked_view_hides_value_and_secret(webhooks) -> None:
    hook = webhooks.create_hook(**{**GOOD, "value": "a-long-api-key-value"})
    shown = hook.to_dict()
    assert shown["value"] == "a-lo…(20)" and hook.secret not in str(shown)
    assert hook.to_dict(reveal=True)["value"] == "a-long-api-key-value"


@pytest.mark.one_database
@pytest.mark.parametrize(
    ("options", "field"),
    [
        ({"dispatcher": "cron"}, "dispatcher"),
        ({"timeout": 0}, "timeout"),
        ({"retry_delays": "5,10"}, "retry_delays"),
        ({"retry_delays": [1, -1]}, "retry_delays"),
        ({"disable_after_failures": 0}, "disable_after_failures"),
        ({"disable_after_failures": 10**30}, "disable_after_failures"),  # would overflow the column it is compared with
        ({"allow_private_networks": "yes"}, "allow_private_networks"),
        ({"colour": 1}, "colour"),
        ({"dispatcher_concurrency": 0}, "dispatcher_concurrency"),
        ({"dispatcher_concurrency": 2.5}, "dispatcher_concurrency"),
        ({"dispatcher_concurrency": True}, "dispatcher_concurrency"),
    ],
)
def test_bad_install_options_name_the_option(crm, options: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        crm.install_addon("crm_webhooks", **options)
    assert raised.value.field == field
