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
