"""A hook's condition and body template from the page's form: saved, shown again, refused beside their fields.

They are advanced options: folded away on a hook without them, open on one that has them or
when one of them is wrong.  The ready-made bodies are there to read without any script.
"""

from __future__ import annotations

import html
import re

import pytest

from crm_webhooks.domain.templating import CHAT_MESSAGE, FLAT_SALE

BASE = "/system/integrations/webhooks"
WON = 'object.stage == "won" and object.amount|float > 1000'
FORM = {"name": "POS", "events": ["opportunity.stage_changed"], "more_events": "", "method": "POST"}


def post(admin, url: str, webhook_receiver, **changes):
    return admin.post(url, {**FORM, "url": webhook_receiver.url, **changes})


def textarea(page: str, name: str) -> str:
    # The page puts a line break after <textarea>, which the browser drops: a text may begin with one.
    found = re.search(rf'<textarea id="{name}"[^>]*>\n(.*?)</textarea>', page, re.S)
    return html.unescape(found[1])


def input_value(page: str, name: str) -> str:
    return html.unescape(re.search(rf'<input id="{name}"[^>]* value="([^"]*)"', page)[1])


def error(page: str, field: str) -> str | None:
    found = re.search(rf'<div class="error" id="{field}-error">(.*?)</div>', page)
    return found and html.unescape(found[1])


def folded(page: str) -> bool:
    return '<details class="advanced" id="advanced">' in page


def summary(page: str) -> str:
    return page[page.index('id="hook-summary"') : page.index("</dl>")]


def test_a_new_hook_has_them_folded_with_the_examples_there_to_read(admin) -> None:
    page = admin.get(f"{BASE}/new").get_data(as_text=True)
    assert folded(page)
    assert textarea(page, "condition") == textarea(page, "body_template") == ""
    shown = re.findall(r'<pre id="example-[a-z-]+-text">(.*?)</pre>', page, re.S)
    assert [html.unescape(text) for text in shown] == [CHAT_MESSAGE, FLAT_SALE]
    # The buttons that fill the box need the script, which shows them.
    assert page.count('class="btn secondary use-example" type="button"') == 2
    assert len(re.findall(r'<button class="btn secondary use-example"[^>]* hidden>', page)) == 2


def test_a_condition_and_a_template_from_the_form_are_saved_and_shown_again(admin, webhooks, webhook_receiver) -> None:
    typed = FLAT_SALE.replace("\n", "\r\n")  # as a browser sends a textarea's lines
    sent = post(admin, f"{BASE}/new", webhook_receiver, condition=f"  {WON}\r\n", body_template=typed, content_type="")
    assert sent.status_code == 303
    (hook,) = webhooks.list_hooks()
    assert (hook.condition, hook.body_template, hook.content_type) == (WON, FLAT_SALE, "application/json")

    page = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    assert not folded(page) and 'id="advanced" open>' in page
    assert textarea(page, "condition") == WON and textarea(page, "body_template") == FLAT_SALE
    assert input_value(page, "content_type") == ""  # the default, which the placeholder says
    said = summary(page)
    assert html.unescape(re.search(r'id="summary-condition"><code>(.*?)</code>', said)[1]) == WON
    assert 'id="summary-skipped">0 events skipped by its condition<' in said
    assert 'id="summary-body">Template (application/json)<' in said

    listed = admin.get(f"{BASE}/").get_data(as_text=True)
    line = re.search(r'<div class="muted if-condition" title="([^"]*)">(.*?)</div>', listed)
    assert html.unescape(line[1]) == WON and html.unescape(line[2]) == f"if {WON}"


def test_a_form_without_them_keeps_them_and_emptied_they_are_gone(admin, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(
        name="chat", event="lead.created", url=webhook_receiver.url, condition=WON, body_template=CHAT_MESSAGE
    )
    # A script written for 0.4.0 posts the fields it knows: the others stay as they are.
    kept = admin.post(
        f"{BASE}/{hook.id}/edit",
        {"name": "chat", "event": "lead.created", "method": "POST", "url": webhook_receiver.url},
    )
    assert kept.status_code == 302
    assert (webhooks.get_hook(hook.id).condition, webhooks.get_hook(hook.id).body_template) == (WON, CHAT_MESSAGE)

    emptied = post(admin, f"{BASE}/{hook.id}/edit", webhook_receiver, condition=" ", body_template="", content_type="")
    assert emptied.status_code == 302
    hook = webhooks.get_hook(hook.id)
    assert (hook.condition, hook.body_template, hook.content_type) == (None, None, "application/json")
    page = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    assert folded(page) and 'id="summary-body">Standard envelope<' in page and "summary-condition" not in page
    assert "if-condition" not in admin.get(f"{BASE}/").get_data(as_text=True)


BAD = [
    ("condition", {"condition": "object.stage =="}, "line 1: unexpected"),
    ("condition", {"condition": 'customer.name == "ACME"'}, "unknown name customer (available: object"),
    ("body_template", {"body_template": '{"a": {{ object.name }'}, "line 1: unexpected '}'"),
    ("body_template", {"body_template": '{% include "secrets" %}'}, "include is not available in a body template"),
    ("content_type", {"body_template": CHAT_MESSAGE, "content_type": "json"}, "'json' is not a media type"),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD, ids=[f"{f}:{m[:20]}" for f, _, m in BAD])
@pytest.mark.parametrize("editing", [False, True], ids=["new", "edit"])
def test_a_wrong_one_is_said_beside_its_field_kept_in_it_and_nothing_is_stored(
    admin, webhooks, webhook_receiver, field, change, message, editing
) -> None:
    hook = webhooks.create_hook(name="before", event="lead.created", url=webhook_receiver.url) if editing else None
    url = f"{BASE}/{hook.id}/edit" if hook else f"{BASE}/new"
    response = post(admin, url, webhook_receiver, **{"condition": "", "body_template": "", **change})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert message in error(page, field) and not folded(page)
    assert f'aria-describedby="{field}-error"' in page or f" {field}-error" in page
    for name, value in change.items():
        assert (input_value(page, name) if name == "content_type" else textarea(page, name)) == value
    assert webhooks.list_hooks() == ([webhooks.get_hook(hook.id)] if hook else [])
    if hook:
        assert webhooks.get_hook(hook.id) == hook


def test_every_mistake_is_said_at_once(admin, webhooks, webhook_receiver) -> None:
    response = admin.post(
        f"{BASE}/new",
        {**FORM, "url": "ftp://x", "condition": "object.stage ==", "body_template": "{{ x }}", "content_type": "json"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert [field for field in ("url", "condition", "body_template", "content_type") if error(page, field)] == [
        "url",
        "condition",
        "body_template",
        "content_type",
    ]
    assert webhooks.list_hooks() == []


@pytest.mark.parametrize(
    ("skipped", "lang", "said"),
    [
        (1, "en", "1 event skipped by its condition"),
        (2, "en", "2 events skipped by its condition"),
        (1, "pt_BR", "1 evento ignorado pela condição"),
        (2, "pt_BR", "2 eventos ignorados pela condição"),
    ],
)
def test_the_summary_counts_what_the_condition_turned_away(admin, crm, webhooks, webhook_receiver, skipped, lang, said):
    hook = webhooks.create_hook(name="ACME only", event="lead.created", url=webhook_receiver.url, condition=WON)
    for n in range(skipped):
        crm.leads.create(f"Lead {n}")
    webhooks.run_pending()
    page = admin.get(f"{BASE}/{hook.id}/edit?lang={lang}").get_data(as_text=True)
    assert f'id="summary-skipped">{said}<' in summary(page)
    history = admin.get(f"{BASE}/{hook.id}/history?lang={lang}").get_data(as_text=True)
    assert f'id="history-skipped">{said}: <code>' in history


def test_they_speak_portuguese(admin, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(
        name="chat", event="lead.created", url=webhook_receiver.url, condition=WON, body_template=CHAT_MESSAGE
    )
    page = admin.get(f"{BASE}/{hook.id}/edit?lang=pt_BR").get_data(as_text=True)
    for said in ("Avançado: condição, corpo e ritmo", "Condição", "Tipo de conteúdo", "Usar este exemplo", "Modelo ("):
        assert said in page
    listed = admin.get(f"{BASE}/").get_data(as_text=True)
    assert re.search(r'class="muted if-condition"[^>]*>se object\.stage', listed)


def test_a_rate_limit_from_the_advanced_part_is_saved_shown_again_and_refused_beside_its_field(
    admin, webhooks, webhook_receiver
) -> None:
    created = post(admin, f"{BASE}/new", webhook_receiver, condition="", body_template="", max_per_second="20")
    assert created.status_code == 303, created.get_data(as_text=True)
    (hook,) = webhooks.list_hooks()
    assert hook.max_per_second == 20
    page = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    assert input_value(page, "max_per_second") == "20" and not folded(page)
    wrong = post(admin, f"{BASE}/{hook.id}/edit", webhook_receiver, condition="", max_per_second="fast")
    page = wrong.get_data(as_text=True)
    assert wrong.status_code == 422 and "at most 1000" in error(page, "max_per_second")
    assert input_value(page, "max_per_second") == "fast" and webhooks.get_hook(hook.id).max_per_second == 20
    lifted = post(admin, f"{BASE}/{hook.id}/edit", webhook_receiver, condition="", max_per_second="")
    assert lifted.status_code == 302 and webhooks.get_hook(hook.id).max_per_second is None
