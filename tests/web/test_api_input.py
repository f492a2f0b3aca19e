"""Bodies and ids the API must refuse with a 4xx naming the field, never a 500 or the wrong record."""

from __future__ import annotations

import json

import pytest

GOOD = {
    "name": "venda",
    "event": "sale.created",
    "url": "http://127.0.0.1:9/pos",
    "key": "X-Api-Key",
    "value": "s3cret",
}
BASE = "/system/integrations/webhooks"
# Digits int() reads but a URL id must not be: Arabic-Indic, Devanagari and full-width one, a superscript.
NOT_ASCII = ["\u0661", "\u0967", "\uff11", "\u00b9"]


@pytest.fixture
def hook_id(api) -> int:
    response = api.call("POST", "/api/v1/hooks", json=GOOD)
    assert response.status_code == 201
    return response.json["id"]


@pytest.mark.parametrize("field", ["hook_id", "self", "id", "secret", "created_at"])
def test_a_patch_naming_no_hook_field_is_422(api, webhooks, hook_id, field) -> None:
    response = api.call("PATCH", f"/api/v1/hooks/{hook_id}", json={field: 1})
    assert response.status_code == 422 and response.json["error"]["field"] == field
    assert webhooks.get_hook(hook_id).name == "venda"


@pytest.mark.parametrize("field", ["hook_id", "self"])
def test_a_create_naming_no_hook_field_is_422(api, webhooks, field) -> None:
    response = api.call("POST", "/api/v1/hooks", json={**GOOD, field: 1})
    assert response.status_code == 422 and response.json["error"]["field"] == field
    assert webhooks.list_hooks() == []


@pytest.mark.parametrize("opening", ["[", '{"a":'])
@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_a_deeply_nested_body_is_400(api, hook_id, method, opening) -> None:
    depth = 100_000
    closing = {"[": "]", '{"a":': "}"}[opening]
    body = '{"name": ' + opening * depth + "1" + closing * depth + "}"
    url = f"/api/v1/hooks/{hook_id}" if method == "PATCH" else "/api/v1/hooks"
    response = api.call(method, url, data=body, content_type="application/json")
    assert response.status_code == 400 and response.json["error"]["field"] == "body"
    assert "nested too deeply" in response.json["error"]["message"]


@pytest.mark.parametrize("field", ["name", "url", "key", "value", "event"])
@pytest.mark.parametrize("method", ["PATCH", "POST"])
def test_a_lone_surrogate_is_422_naming_its_field(api, webhooks, hook_id, method, field) -> None:
    text = json.dumps({**GOOD, field: "venda \ud800"})  # json.dumps writes it as the escape "\ud800"
    url = f"/api/v1/hooks/{hook_id}" if method == "PATCH" else "/api/v1/hooks"
    response = api.call(method, url, data=text, content_type="application/json")
    assert response.status_code == 422 and response.json["error"]["field"] == field
    assert [h.id for h in webhooks.list_hooks()] == [hook_id] and webhooks.get_hook(hook_id).name == "venda"


def test_a_lone_surrogate_in_a_field_name_is_422(api, hook_id) -> None:
    response = api.call("PATCH", f"/api/v1/hooks/{hook_id}", data='{"\\udc00": "x"}', content_type="application/json")
    assert response.status_code == 422


def test_a_whole_surrogate_pair_is_text_like_any_other(api) -> None:
    response = api.call(
        "POST", "/api/v1/hooks", data=json.dumps({**GOOD, "name": "venda \U0001f680"}), content_type="application/json"
    )
    assert response.status_code == 201 and response.json["name"] == "venda \U0001f680"


def id_routes(app) -> list[tuple[str, str]]:
    """Every route with an id in its path, with each of its methods."""
    return [
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if "<int:" in rule.rule
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"})
    ]


@pytest.mark.parametrize("digit", NOT_ASCII)
def test_ids_are_ascii_digits_only_on_every_route(app, api, admin, hook_id, digit) -> None:
    assert hook_id == 1
    routes = id_routes(app)
    assert len(routes) >= 20  # the API's 9 and the pages' 11
    for method, rule in routes:
        path = rule.replace("<int:hook_id>", digit).replace("<int:delivery_id>", digit)
        path = path.replace("<any(enable, disable):action>", "disable")
        assert "<" not in path, rule
        if path.startswith("/api/"):
            response = api.call(method, path)
        else:
            response = admin.client.open(path, method=method, data={"csrf_token": admin.token})
        assert response.status_code == 404, (method, path, response.status_code)
    assert api.call("GET", "/api/v1/hooks/1").status_code == 200  # the ASCII one is hook 1


@pytest.mark.parametrize("digit", NOT_ASCII)
def test_ids_in_query_strings_are_ascii_digits_only(api, admin, hook_id, digit) -> None:
    for name in ("hook_id", "before"):
        response = api.call("GET", f"/api/v1/deliveries?{name}={digit}")
        assert response.status_code == 422 and response.json["error"]["field"] == name
    response = api.call("GET", f"/api/v1/hooks?after={digit}")
    assert response.status_code == 422 and response.json["error"]["field"] == "after"
    for odd in (" 1", "1_0", "+1", "--1"):
        assert api.call("GET", f"/api/v1/hooks?after={odd}").status_code == 422, odd
    # The page ignores a 'before' it cannot read, as it ignores any other: the first page.
    assert admin.get(f"{BASE}/{hook_id}/history?before={digit}").status_code == 200
