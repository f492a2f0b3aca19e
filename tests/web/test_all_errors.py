"""Every wrong field at once, beside its field, in the reader's language: the form and the API alike."""

from __future__ import annotations

import pytest

from crm_webhooks import ValidationError

BASE = "/system/integrations/webhooks"
# A newcomer's first try: no name, no event, a URL that is no web address, a key without its value.
FIRST_TRY = {"name": "", "event": "", "method": "POST", "url": "ftp://bad", "key": "X-Api-Key", "value": ""}
WRONG = {"name", "event", "url", "value"}


def test_the_service_names_every_wrong_field_in_one_error(webhooks) -> None:
    with pytest.raises(ValidationError) as raised:
        webhooks.create_hook(**FIRST_TRY)
    assert {e.field for e in raised.value.errors} == WRONG
    assert str(raised.value).startswith("name: required; event: required; url: must start with http://")
    assert webhooks.list_hooks() == []


def test_the_form_shows_every_error_beside_its_field(admin, webhooks) -> None:
    response = admin.post(f"{BASE}/new", FIRST_TRY)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    for field in WRONG:
        assert f'id="{field}-error"' in page
    assert "must start with http:// or https://" in page and webhooks.list_hooks() == []


def test_the_form_says_it_in_portuguese(admin) -> None:
    page = admin.post(f"{BASE}/new?lang=pt_BR", FIRST_TRY).get_data(as_text=True)
    for words in ("obrigatório", "deve começar com http:// ou https://", "obrigatório quando há uma chave"):
        assert words in page
    assert "required" not in page


def test_an_empty_api_body_lists_every_missing_field(api) -> None:
    response = api.call("POST", "/api/v1/hooks", json={})
    assert response.status_code == 422
    errors = response.json["error"]["errors"]
    assert errors == [
        {"field": "name", "message": "required"},
        {"field": "event", "message": "required"},
        {"field": "url", "message": "required"},
    ]
    assert response.json["error"]["field"] == "name"


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("name", 123, "expected text, got a number"),
        ("name", ["a"], "expected text, got a list"),
        ("url", {"href": "x"}, "expected text, got an object"),
        ("event", True, "expected text, got true or false"),
        ("method", 1.5, "expected text, got a number"),
        ("value", 7, "expected text, got a number"),
        ("key", 7, "expected text, got a number"),
    ],
)
def test_a_wrong_type_says_what_it_got(api, webhooks, field, value, said) -> None:
    good = {"name": "n", "event": "lead.created", "url": "http://127.0.0.1:9/x", "key": "X-K", "value": "v"}
    response = api.call("POST", "/api/v1/hooks", json={**good, field: value})
    assert response.status_code == 422
    assert {"field": field, "message": said} in response.json["error"]["errors"]
    assert webhooks.list_hooks() == []


def test_an_unknown_field_is_named_with_the_others(api, webhooks) -> None:
    response = api.call("POST", "/api/v1/hooks", json={"colour": "red", "name": ""})
    fields = [e["field"] for e in response.json["error"]["errors"]]
    assert response.status_code == 422 and fields == ["colour", "name", "event", "url"]
    assert webhooks.list_hooks() == []


def test_the_api_answers_in_the_language_asked_for(api) -> None:
    response = api.call("POST", "/api/v1/hooks", json={"url": "ftp://bad"}, headers={"Accept-Language": "pt-BR"})
    messages = {e["field"]: e["message"] for e in response.json["error"]["errors"]}
    assert messages == {"name": "obrigatório", "event": "obrigatório", "url": "deve começar com http:// ou https://"}
    english = api.call("POST", "/api/v1/hooks", json={"url": "ftp://bad"})
    assert english.json["error"]["errors"][2]["message"] == "must start with http:// or https://"


def pt(api, method: str, url: str, **kw):
    return api.call(method, url, headers={"Accept-Language": "pt-BR"}, **kw)


GOOD = {"name": "n", "event": "lead.created", "url": "http://127.0.0.1:9/x"}


@pytest.mark.parametrize(
    ("url", "said"),
    [
        (
            "http://[::ffff:169.254.169.254]/",
            "um endereço link-local, recusado mesmo em redes privadas (169.254.169.254,",
        ),
        ("http://a:b/", "não é uma URL válida: confira os colchetes do host e se a porta é um número de 1 a 65535"),
    ],
)
def test_url_refusals_are_portuguese_through_and_through(api, url, said) -> None:
    (error,) = pt(api, "POST", "/api/v1/hooks", json={**GOOD, "url": url}).json["error"]["errors"]
    assert error["field"] == "url" and said in error["message"]


def test_not_found_and_a_body_that_is_no_object_are_portuguese_too(api, admin) -> None:
    assert pt(api, "GET", "/api/v1/hooks/999").json["error"]["message"] == "webhook 999 não encontrado"
    assert pt(api, "POST", "/api/v1/hooks", json=[1]).json["error"]["message"].startswith("esperava um objeto JSON")
    page = admin.get(f"{BASE}/999/history?lang=pt_BR")
    assert page.status_code == 404 and "webhook 999 não encontrado" in page.get_data(as_text=True)


def test_every_lone_surrogate_is_named(api, webhooks) -> None:
    raw = '{"name": "\\ud800", "url": "\\udfff", "event": "lead.created"}'
    response = api.call("POST", "/api/v1/hooks", data=raw, content_type="application/json")
    assert [e["field"] for e in response.json["error"]["errors"]] == ["name", "url"]
    assert webhooks.list_hooks() == []


def test_a_long_wrong_value_is_quoted_back_short(api) -> None:
    response = api.call("POST", "/api/v1/hooks", json={**GOOD, "event": "x" * 5000, "enabled": None})
    messages = {e["field"]: e["message"] for e in response.json["error"]["errors"]}
    assert messages["event"].startswith("'" + "x" * 40 + "…' is not an event") and len(messages["event"]) < 200
    assert messages["enabled"] == "expected true or false, got null"


def test_update_hook_still_takes_the_id_by_name(webhooks) -> None:
    hook = webhooks.create_hook(**GOOD)
    assert webhooks.update_hook(hook_id=hook.id, name="renamed").name == "renamed"
