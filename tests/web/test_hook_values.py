"""A hook's header value stays with whoever knows it: on every surface.

- A new URL for a hook with a key/value header needs the value entered again
  (or the header removed): Python, the API, the page and the CLI alike, so
  whoever may change a hook cannot send the value to a server of their own.
- The API answers a delivery's payload (and the receiver's answers, which may
  echo it) only to a token with ``webhooks:read``.
- The edit page never puts the value into the HTML; an empty field keeps it.
"""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from crm_webhooks import ValidationError
from crm_webhooks.cli import main as webhooks_cli

BASE = "/system/integrations/webhooks"
CREDENTIAL = "the-erps-own-credential"


@pytest.fixture
def hook(webhooks, webhook_receiver):
    return webhooks.create_hook(
        name="erp", event="lead.created", url=webhook_receiver.url_for("/erp"), key="X-Api-Key", value=CREDENTIAL
    )


def carried(webhook_receiver, path: str) -> list[str | None]:
    return [r.headers.get("X-Api-Key") for r in webhook_receiver.requests if r.path == path]


# -- Python ---------------------------------------------------------------------------------


def test_a_new_url_needs_the_value_again(webhooks, webhook_receiver, hook) -> None:
    elsewhere = webhook_receiver.url_for("/elsewhere")
    with pytest.raises(ValidationError) as refused:
        webhooks.update_hook(hook.id, url=elsewhere)
    assert refused.value.field == "value" and "required again when the URL changes" in refused.value.reason
    with pytest.raises(ValidationError):
        webhooks.update_hook(hook.id, url=elsewhere, key="X-Other")  # a new key name is not the value
    assert webhooks.get_hook(hook.id) == hook  # nothing stored
    moved = webhooks.update_hook(hook.id, url=elsewhere, value="entered-again")
    assert (moved.url, moved.key, moved.value) == (elsewhere, "X-Api-Key", "entered-again")


def test_what_does_not_move_the_hook_keeps_its_value(webhooks, webhook_receiver, hook) -> None:
    assert webhooks.update_hook(hook.id, url=hook.url, name="same place").value == CREDENTIAL
    assert webhooks.update_hook(hook.id, method="PUT", key="X-Renamed").value == CREDENTIAL


def test_a_new_url_may_drop_the_header_instead(webhooks, webhook_receiver, hook) -> None:
    moved = webhooks.update_hook(hook.id, url=webhook_receiver.url_for("/open"), key=None, value=None)
    assert (moved.key, moved.value) == (None, None)
    # Without a header there is nothing to protect: the URL changes freely.
    assert webhooks.update_hook(hook.id, url=webhook_receiver.url_for("/again")).url.endswith("/again")


# -- the API ----------------------------------------------------------------------------------


def test_a_write_only_token_cannot_send_the_value_elsewhere(api, webhooks, webhook_receiver, hook) -> None:
    writer = api.token("webhooks:write")
    attacker = webhook_receiver.url_for("/attacker")
    refused = api.call("PATCH", f"/api/v1/hooks/{hook.id}", token=writer, json={"url": attacker})
    assert refused.status_code == 422 and refused.json["error"]["field"] == "value"
    assert webhooks.get_hook(hook.id).url == hook.url
    moved = api.call("PATCH", f"/api/v1/hooks/{hook.id}", token=writer, json={"url": attacker, "value": "mine"})
    assert moved.status_code == 200 and moved.json["url"] == attacker
    assert api.call("POST", f"/api/v1/hooks/{hook.id}/test", token=writer).status_code == 200
    assert carried(webhook_receiver, "/attacker") == ["mine"]
    assert not any(CREDENTIAL in str(r.headers) for r in webhook_receiver.requests)


def test_payloads_are_answered_only_to_readers(api, crm, webhooks, webhook_receiver, hook) -> None:
    writer, both = api.token("webhooks:write"), api.token("webhooks:read,webhooks:write")
    crm.leads.create("ACME Secret Deal")
    webhooks.run_pending()
    delivery = webhooks.last_delivery(hook.id)
    webhook_receiver.respond_with(200, body="echo: ACME Secret Deal", times=2)  # receivers may echo what they got

    again = api.call("POST", f"/api/v1/deliveries/{delivery.id}/redeliver", token=writer)
    assert again.status_code == 201 and again.json["status"] == "succeeded"
    assert "payload" not in again.json and "ACME" not in again.get_data(as_text=True)
    assert [a["response_body"] for a in again.json["attempts"]] == [None]
    test = api.call("POST", f"/api/v1/hooks/{hook.id}/test", token=writer)
    assert "payload" not in test.json and all(a["response_body"] is None for a in test.json["attempts"])

    read = api.call("POST", f"/api/v1/deliveries/{delivery.id}/redeliver", token=both)
    assert read.json["payload"]["data"]["object"]["name"] == "ACME Secret Deal"
    assert read.json["attempts"][0]["response_body"] == "ok"
    assert api.call("POST", f"/api/v1/hooks/{hook.id}/test", token=both).json["payload"]["type"] == "lead.created"
    assert api.call("GET", f"/api/v1/deliveries/{delivery.id}", token=writer).status_code == 403


# -- the page ------------------------------------------------------------------------------------


def form_of(admin, hook) -> str:
    return admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)


def edit(admin, hook, **changes):
    fields = {"name": hook.name, "event": hook.event, "method": hook.method, "url": hook.url, "key": hook.key}
    return admin.post(f"{BASE}/{hook.id}/edit", {**fields, "value": "", **changes})


def test_the_edit_page_never_holds_the_value(admin, hook) -> None:
    page = form_of(admin, hook)
    assert CREDENTIAL not in page
    field = re.search(r'<input id="value"[^>]*>', page)[0]
    assert " value=" not in field and 'type="password"' in field and 'autocomplete="new-password"' in field
    assert 'placeholder="unchanged"' in field
    assert "Leave it empty to keep it" in page


def test_an_empty_value_keeps_the_stored_one(admin, webhooks, hook) -> None:
    assert edit(admin, hook, name="renamed").status_code == 302
    assert (webhooks.get_hook(hook.id).name, webhooks.get_hook(hook.id).value) == ("renamed", CREDENTIAL)
    assert edit(admin, hook, value="a-new-credential").status_code == 302
    assert webhooks.get_hook(hook.id).value == "a-new-credential"
    assert edit(admin, hook, key="", value="").status_code == 302  # both empty: no header
    assert (webhooks.get_hook(hook.id).key, webhooks.get_hook(hook.id).value) == (None, None)


def test_a_new_url_on_the_page_asks_for_the_value_again(admin, webhooks, webhook_receiver, hook) -> None:
    elsewhere = webhook_receiver.url_for("/elsewhere")
    refused = edit(admin, hook, url=elsewhere)
    page = refused.get_data(as_text=True)
    error = re.search(r'id="value-error">(.*?)<', page)[1]
    assert (
        refused.status_code == 422
        and error == "required again when the URL changes (or empty the key to send no header)"
    )
    assert webhooks.get_hook(hook.id).url == hook.url and CREDENTIAL not in page
    assert edit(admin, hook, url=elsewhere, value="typed-again").status_code == 302
    assert (webhooks.get_hook(hook.id).url, webhooks.get_hook(hook.id).value) == (elsewhere, "typed-again")


def test_a_form_with_an_error_does_not_send_the_typed_value_back(admin, webhooks, webhook_receiver, hook) -> None:
    again = edit(admin, hook, name="", value="typed-on-edit")
    assert again.status_code == 422 and "typed-on-edit" not in again.get_data(as_text=True)
    new = admin.post(
        f"{BASE}/new",
        {
            "name": "",
            "event": "lead.created",
            "method": "POST",
            "url": webhook_receiver.url,
            "key": "X-K",
            "value": "typed-on-new",
        },
    )
    assert new.status_code == 422 and "typed-on-new" not in new.get_data(as_text=True)


def test_a_new_hook_form_has_no_unchanged_hint(admin) -> None:
    page = admin.get(f"{BASE}/new").get_data(as_text=True)
    assert 'placeholder="unchanged"' not in page and "Leave it empty" not in page


# -- the CLI ---------------------------------------------------------------------------------------


def test_the_cli_asks_for_the_value_with_a_new_url(crm, webhooks, webhook_receiver, hook) -> None:
    def cli(*args: str):
        return CliRunner().invoke(
            webhooks_cli, ["--database-url", crm.database_url, "hooks", "update", str(hook.id), *args]
        )

    elsewhere = webhook_receiver.url_for("/elsewhere")
    refused = cli("--url", elsewhere)
    assert refused.exit_code != 0 and "value: required again when the URL changes" in refused.stderr
    assert webhooks.get_hook(hook.id).url == hook.url
    assert cli("--url", elsewhere, "--value", "typed-again").exit_code == 0
    assert webhooks.get_hook(hook.id).value == "typed-again"
    assert cli("--url", webhook_receiver.url_for("/third"), "--no-auth").exit_code == 0
    assert webhooks.get_hook(hook.id).key is None
    assert "--value again" in CliRunner().invoke(webhooks_cli, ["hooks", "update", "--help"]).stdout
