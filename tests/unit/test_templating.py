"""Hooks' conditions and body templates, as admins write them: what is delivered, what is refused.

Hostile cases assert the error, never how long it took: the deadline is what stops them, and a
test must not depend on the machine's speed.
"""

from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from babel.support import Translations

from crm_webhooks import ValidationError
from crm_webhooks.domain import templating
from crm_webhooks.domain.templating import (
    CHAT_MESSAGE,
    FLAT_SALE,
    MAX_OUTPUT,
    TemplateError,
    condition,
    is_json,
    template,
    validate_body_template,
    validate_condition,
    validate_content_type,
)

WON = {"id": 7, "stage": "won", "amount": "1500.00", "tags": ["vip", "b2b"], "name": "João Ação"}
SMALL_WIN = {**WON, "amount": "999.99"}
WON_NOW = 'object.stage == "won" and previous.stage != "won" and object.amount|float > 1000'


def variables(record: dict | None = None, **more: object) -> dict:
    return {
        "object": WON if record is None else record,
        "previous": {"stage": "proposal"},
        "event": "opportunity.updated",
        "hook": {"id": 3, "name": "ERP"},
        "id": "evt_1",
        "timestamp": "2026-01-15T13:45:00Z",
        **more,
    }


@pytest.mark.parametrize(
    ("text", "record", "previous", "event", "delivered"),
    [
        (WON_NOW, WON, {"stage": "proposal"}, "opportunity.updated", True),
        (WON_NOW, WON, {}, "opportunity.updated", True),  # nothing changed before: previous.stage is missing
        (WON_NOW, WON, {"stage": "won"}, "opportunity.updated", False),  # it was won already
        (WON_NOW, SMALL_WIN, {"stage": "proposal"}, "opportunity.updated", False),
        (WON_NOW, {**WON, "stage": "lost"}, {}, "opportunity.updated", False),
        ('"vip" in object.tags', WON, {}, "client.created", True),
        ('"vip" in object.tags', {**WON, "tags": []}, {}, "client.created", False),
        ('event.startswith("lead.")', WON, {}, "lead.created", True),
        ('event.startswith("lead.")', WON, {}, "client.created", False),
        ("previous.stage", WON, {}, "x.updated", False),
        ("previous.stage is defined", WON, {"stage": "new"}, "x.updated", True),
        ("object.amount|float >= 1500 and object.tags|length == 2", WON, {}, "x.created", True),
        ('object.name.lower().startswith("joão")', WON, {}, "x.created", True),
        ("object.items|length == 2", {"items": [{"sku": 1}, {"sku": 2}]}, {}, "sale.created", True),
        # A subscript is a key: without one, undefined (not the dict's `items` method)
        ('object["items"] is defined', {"id": 1}, {}, "sale.created", False),
        ("object.items() | list | length == 1", {"id": 1}, {}, "sale.created", True),
    ],
)
def test_a_condition_says_whether_an_event_is_delivered(text, record, previous, event, delivered) -> None:
    assert condition(text).matches(record, previous, event) is delivered


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("   ", None), ("  event == 'x.created'\n", "event == 'x.created'")],
)
def test_no_condition_or_the_text_stripped(value, expected) -> None:
    assert validate_condition(value) == expected


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("object.stage ==", "line 1: unexpected 'end of template'"),
        ("object.stage ==\n  )", "line 2: unexpected ')'"),
        ('object.stage = "won"', "line 1: unexpected '=': a condition is one expression"),
        ("x == 1 and stage", "unknown name stage, x (available: object, previous, event)"),
        ("cycler.__init__.__globals__", "unknown name cycler"),
        ("lipsum.__globals__", "unknown name lipsum"),
        ('event }}{% for i in range(9) %}{{ "x"', "line 1: unexpected 'end of print statement'"),
        ("{% if true %}1{% endif %}", "line 1"),
        ("object|pprint", "No filter named 'pprint'"),
        ("a" * 2001, "at most 2000 characters (got 2001)"),
        (42, "expected text, got a number"),
        (["event"], "expected text, got a list"),
        ("(" * 3000, "at most 2000 characters"),
        ("(" * 1000 + ")" * 1000, "too complex to compile"),
        # Flat to read, but a tree a thousand deep
        ("+".join(["1"] * 1000), "too complex to compile"),
        ("1" + "-1" * 999, "too complex to compile"),
    ],
)
def test_a_condition_that_cannot_be_is_refused_at_save(value, says) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_condition(value)
    assert refused.value.field == "condition"
    assert says in refused.value.reason


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("object.__class__", "'__class__' of 'dict' object is unsafe"),
        ("''.__class__.__mro__", "'__class__' of 'str' object is unsafe"),
        ("range.__self__", "'__self__' of 'function' object is unsafe"),
        ("event.__class__.__mro__[1].__subclasses__()", "is unsafe"),
        ("object['__class__']", "is unsafe"),
        ("object.tags.append", "'append' of 'list' object is unsafe"),
        ('"{:>999999999}".format(1)', "'format' cannot be called here"),
        ('"x" * 10**9', "a value would be longer than 262144 characters"),
        ("[1] * 10**9", "a value would be longer than"),
        ("10 ** (10 ** 10)", "a number would have more than 4096 bits"),
        ('"a".center(10**9)', "a value would be longer than"),
        ('"%999999999d" % 1', "a value would be longer than"),
        ('"%*d" % (10, 1)', "a value would be longer than"),
        ('"%(a)999999999s" % {"a": 1}', "a value would be longer than"),
        ('"%.999999999f"|format(1.5)', "a value would be longer than"),
        ('"ab"|replace("a", "x" * 200000)|replace("x", "yy")', "a value would be longer than"),
        ('range(100)|join("x" * 100000)', "a value would be longer than"),
        ("[[1]]|sum(start=[])", "sum only adds numbers"),
        ('range(100000)|map("string")|map("center", 200000)|list|length', "characters made in all"),
        ("object.amount|float / 0", "line 1: ZeroDivisionError"),
        ("object.missing.key", "UndefinedError: 'dict object' has no attribute 'missing'"),
        ("object.amount + 1", "TypeError"),
        ("range(10**9)", "OverflowError"),
        # No loops in an expression, but a long enough chain over the largest range still ends.
        ("range(100000)" + '|map("abs")' * 100 + "|list|length", "took longer than 50 ms"),
    ],
)
def test_a_hostile_or_broken_condition_fails_with_the_domain_error(text, says, monkeypatch) -> None:
    if "took longer" not in says:
        # The bound under test must be what stops it, even on a machine slow enough to reach the
        # deadline first (seen under load: 41 large strings took more than 50 ms).
        monkeypatch.setattr(templating, "CONDITION_SECONDS", 10.0)
    with pytest.raises(TemplateError) as failed:
        condition(text).matches(WON, {}, "opportunity.updated")
    assert says in str(failed.value)


@pytest.mark.parametrize(
    "text",
    [
        '("%(a)s" * 1000) % {"a": "x" * 200000}',
        '("%(a)s" * 1000)|format(a="x" * 200000)',
        '("%s" * 1000) % ((dict(a="x" * 200000).values(),) * 1000)',
        '("%s" * 1000)|format(*((dict(a="x" * 200000).items(),) * 1000))',
    ],
)
def test_a_format_printing_one_large_value_many_times_is_refused_before_it_is_made(text) -> None:
    # Made and then measured, it would be hundreds of megabytes (gigabytes with a longer format).
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError) as failed:
            condition(text).matches(WON, {}, "opportunity.updated")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "a value would be longer than" in str(failed.value)
    assert peak < 20 * MAX_OUTPUT


def test_a_condition_is_compiled_once_per_text() -> None:
    assert condition('"vip" in object.tags') is condition('"vip" in object.tags')


@pytest.mark.parametrize(
    "body",
    [
        CHAT_MESSAGE,
        FLAT_SALE,
        '{"who": {{ object.name|tojson }}, "tags": {{ object.tags|tojson }}, "hook": {{ hook.name|tojson }}}',
    ],
)
def test_ready_made_bodies_are_valid_json_with_accents_quotes_and_lists(body) -> None:
    sale = {"id": 9, "client_name": 'João "Ação" Ltda', "name": "João Ação", "amount": "10.50", "tags": ["à", "b"]}
    sale["items"] = [{"name": "Pão de queijo"}, {"name": "Café"}]
    sent = json.loads(template(body).render(variables(sale), "application/json").decode("utf-8"))
    assert "João" in json.dumps(sent, ensure_ascii=False)


@pytest.mark.parametrize(
    ("value", "printed"),
    [
        ("João Ação", '"João Ação"'),  # as the receiver reads it, not "Jo\\u00e3o"
        ({"b": 1, "a": "é"}, '{"b": 1, "a": "é"}'),  # the record's own order
        ("<b> & 'x'", "\"<b> & 'x'\""),  # a body is not HTML: nothing to escape
    ],
)
def test_tojson_writes_text_as_it_is(value: object, printed: str) -> None:
    body = template("{{ object.v | tojson }}").render(variables({"v": value}), "application/json")
    assert body.decode("utf-8") == printed


def test_tojson_indents_a_little_and_no_more() -> None:
    tree = {"v": [[i] for i in range(3)]}
    assert json.loads(template("{{ object.v | tojson(2) }}").render(variables(tree))) == tree["v"]
    with pytest.raises(TemplateError, match="indent is a number from 0 to 8"):
        template("{{ object.v | tojson(100000000) }}").render(variables(tree))


def test_the_chat_message_and_the_flat_sale_read_as_intended() -> None:
    sale = {"id": 9, "client_name": "João Ação", "amount": "10.50", "items": [{"name": "Pão"}], "stage": "won"}
    chat = json.loads(template(CHAT_MESSAGE).render(variables({**sale, "name": "João Ação"}), "application/json"))
    assert chat == {"text": "[opportunity.updated] João Ação (won)"}
    flat = json.loads(template(FLAT_SALE).render(variables(sale), "application/json"))
    assert flat == {
        "cliente": "João Ação",
        "valor": 10.5,
        "itens": ["Pão"],
        "evento": "opportunity.updated",
        "id": "evt_1",
    }


def test_the_flat_sale_of_a_sale_as_the_crm_sends_it() -> None:
    # What a sale's record holds: no client name and no items.
    sale = {"id": 3, "opportunity_id": 2, "client_id": 5, "quote_id": None, "amount": "1500.50"}
    flat = json.loads(template(FLAT_SALE).render(variables(sale), "application/json"))
    assert (flat["cliente"], flat["valor"], flat["itens"]) == (5, 1500.5, [])


def test_a_body_is_utf8_bytes_and_other_content_types_need_not_be_json() -> None:
    body = template("Olá {{ object.name }}: {{ object.tags|join(', ') }}").render(variables(), "text/plain")
    assert body == "Olá João Ação: vip, b2b".encode()


@pytest.mark.parametrize(
    ("content_type", "json_expected"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("Application/JSON", True),
        ("application/vnd.api+json", True),
        ("application/cloudevents+json; charset=utf-8", True),
        ("text/plain", False),
        ("application/x-www-form-urlencoded", False),
        ("application/jsonp", False),
    ],
)
def test_which_content_types_are_json(content_type, json_expected) -> None:
    assert is_json(content_type) is json_expected


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{"a": {{ object.name }}}', "the body is not valid JSON: line 1, column 7"),
        ('{\n  "a": 1,\n  "b": {{ object.tags }}\n}', "line 3, column 9"),
        ('{"a": {{ "NaN" }}}', "the body is not valid JSON"),
        ("", "the body is not valid JSON: line 1, column 1"),
    ],
)
def test_a_json_body_that_is_not_json_names_the_line_and_column(body, says) -> None:
    with pytest.raises(TemplateError) as failed:
        template(body).render(variables(), "application/json; charset=utf-8")
    assert says in str(failed.value)


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ('{\n  "valor": {{ object.amount / 0 }}\n}', "line 2: TypeError"),
        ('{\n  "valor": {{ object.amount|float / 0 }}\n}', "line 2: ZeroDivisionError: float division by zero"),
        ("{{ object.__class__ }}", "line 1: SecurityError"),
        ("ok\n{{ object.__class__.__init__.__globals__ }}", "line 2: SecurityError"),
        ("{{ [].append }}", "is unsafe"),
        ("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{{ loop(i) }}{% endfor %}", "cannot be called here"),
        ("{{ '' ~ ('x' * 200000) ~ ('x' * 200000) }}", "a value would be longer than"),
        ("{{ 9 ** 9999 }}", "more than 4096 bits"),
        # Output past the limit, written in pieces no single check refuses
        ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", f"longer than {MAX_OUTPUT} characters"),
        # A macro's or a {% set %} block's body is joined in one go, even when nothing prints it
        (
            "{% macro m() %}{% for i in range(3000) %}{{ 'x' * 100 }}{% endfor %}{% endmacro %}{% set x = m() %}done",
            "longer than",
        ),
        ("{% set x %}{% for i in range(3000) %}{{ 'x' * 100 }}{% endfor %}{% endset %}done", "longer than"),
        # Doubling by recursion, without range
        ('{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s }}{% endmacro %}{{ d("a", 60)|length }}', "longer than"),
        # Time: loops that would run for hours, with range and without
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "line 1: took longer than 200 ms",
        ),
        (
            '{% macro m(n) %}{% for c in "abcdefghij" %}{{ m(n - 1) if n else "" }}{% endfor %}{% endmacro %}{{ m(20) }}',
            "took longer than 200 ms",
        ),
        ("{% macro m(n) %}{{ m(n + 1) }}{% endmacro %}{{ m(0) }}", "RecursionError"),
    ],
)
def test_a_broken_or_hostile_body_fails_with_the_domain_error_naming_the_line(body, says, monkeypatch) -> None:
    if "took longer" not in says:
        monkeypatch.setattr(templating, "TEMPLATE_SECONDS", 10.0)  # as in the conditions' table above
    with pytest.raises(TemplateError) as failed:
        template(body).render(variables(), "text/plain")
    assert says in str(failed.value)


def test_a_template_error_carries_a_message_to_translate() -> None:
    with pytest.raises(TemplateError) as failed:
        template("a\n{{ 'x' * 10**9 }}").render(variables(), "text/plain")
    message = failed.value.message
    assert message.text == "line %(line)s: %(reason)s"
    assert message.params["line"] == 2
    assert message.params["reason"].text == "a value would be longer than %(limit)s characters"


def test_the_body_template_and_content_type_at_save() -> None:
    assert validate_body_template(None, None) == (None, "application/json")
    assert validate_body_template("  ", "") == (None, "application/json")
    assert validate_body_template(" {{ object|tojson }}\n", " text/plain; charset=utf-8 ") == (
        "{{ object|tojson }}",
        "text/plain; charset=utf-8",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "errors"),
    [
        ("{{ object.name }", None, [("body_template", "line 1: unexpected '}'")]),
        ("{\n{% if object %}\n", None, [("body_template", "line 2: Unexpected end of template")]),
        (
            "{{ secret }}",
            None,
            [("body_template", "unknown name secret (available: object, previous, event, hook, id, timestamp)")],
        ),
        ("{% include 'x.html' %}", None, [("body_template", "line 1: include is not available in a body template")]),
        ("{{ object|pprint }}", None, [("body_template", "No filter named 'pprint'")]),
        ("x" * 20001, None, [("body_template", "at most 20000 characters (got 20001)")]),
        ({"text": "x"}, None, [("body_template", "expected text, got an object")]),
        ("{% for i in range(2) %}" * 25 + "{% endfor %}" * 25, None, [("body_template", "too complex to compile")]),
        ("{}", "json", [("content_type", "'json' is not a media type (e.g. application/json)")]),
        ("{}", "text/plain\r\nX-Injected: 1", [("content_type", "is not a media type")]),
        ("{}", "text/plain; charset=utf-8; q", [("content_type", "is not a media type")]),
        ("{}", "a/" + "b" * 200, [("content_type", "at most 200 characters")]),
        ("{}", 1, [("content_type", "expected text, got a number")]),
        ("{}", "text/plain; charset=latin-1", [("content_type", "the body is sent as UTF-8: charset=latin-1")]),
        ("{}", 'text/plain; CHARSET="iso-8859-1"', [("content_type", "the body is sent as UTF-8")]),
        ("{{", "json", [("body_template", "line 1"), ("content_type", "is not a media type")]),
    ],
)
def test_a_body_template_or_content_type_that_cannot_be_is_refused_at_save(body, content_type, errors) -> None:
    with pytest.raises(ValidationError) as refused:
        validate_body_template(body, content_type)
    found = [(e.field, str(e.message)) for e in refused.value.errors]
    assert [field for field, _ in found] == [field for field, _ in errors]
    for (_, said), (_, expected) in zip(found, errors, strict=True):
        assert expected in said


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "text/plain;charset=UTF-8",
        'text/plain; charset="utf8"',
        'multipart/form-data; boundary="a b"',
    ],
)
def test_media_types_with_parameters_are_kept_as_given(content_type) -> None:
    assert validate_content_type(content_type) == content_type


def test_a_template_error_reads_in_portuguese_where_the_surface_has_the_catalog() -> None:
    catalog = Translations.load(Path(__file__).resolve().parents[2] / "crm_webhooks" / "translations", ["pt_BR"])
    with pytest.raises(TemplateError) as failed:
        template("{\n\n{{ 'x' * 10**9 }}").render(variables(), "application/json")
    assert failed.value.message.render(catalog.gettext, catalog.ngettext) == (
        "linha 3: um valor teria mais de 262144 caracteres"
    )
