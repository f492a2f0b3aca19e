"""The form's Preview button: the form comes back as typed, with what it would send; nothing is sent or saved."""

from __future__ import annotations

import html
import re

import pytest

BASE = "/system/integrations/webhooks"
FORM = {"name": "CRM", "events": ["lead.created"], "more_events": "", "method": "POST", "preview": "1"}


def panel(page: str, part: str) -> str | None:
    found = re.search(rf'id="preview-{part}"[^>]*>(.*?)</(?:p|pre)>', page, re.S)
    return found and html.unescape(found[1])


def test_a_new_hook_previewed_on_a_record_is_not_saved(admin, crm, webhooks, webhook_receiver) -> None:
    lead = crm.leads.create("João")
    form = {**FORM, "url": webhook_receiver.url, "body_template": "Olá {{ object.name }}", "content_type": "text/plain"}
    page = admin.post(f"{BASE}/new", {**form, "condition": "object.name != ''", "preview_record": f"lead:{lead.id}"})
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert panel(text, "condition") == "The condition is true."
    assert panel(text, "request") == (
        f"POST {webhook_receiver.url}\n" + "".join(f"{k}: {v}\n" for k, v in _headers(text).items()) + "\nOlá João"
    )
    assert f'value="lead:{lead.id}"' in text and "Olá {{ object.name }}" in html.unescape(text)
    assert webhooks.list_hooks() == [] and webhook_receiver.requests == []


def _headers(page: str) -> dict[str, str]:
    lines = panel(page, "request").split("\n")[1:]
    return dict(line.split(": ", 1) for line in lines if ": " in line and not line.startswith("Olá"))


def test_an_edited_hook_previews_its_changes_without_saving_them(admin, crm, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="CRM", event="lead.created", url=webhook_receiver.url, key="X-K", value="s3cret-v")
    crm.leads.create("ACME")
    page = admin.post(
        f"{BASE}/{hook.id}/edit", {**FORM, "url": webhook_receiver.url, "key": "X-K", "condition": "false"}
    )
    text = page.get_data(as_text=True)
    assert page.status_code == 200, text
    assert panel(text, "condition") == "The condition is false: nothing would be sent."
    assert "X-K: ••••••••" in panel(text, "request") and "s3cret-v" not in text
    assert webhooks.get_hook(hook.id) == hook and webhook_receiver.requests == []


@pytest.mark.parametrize(
    ("record", "said"),
    [("lead", "'lead' is not entity:id, e.g. lead:42"), ("lead:999", "lead 999 not found"), ("", "name a record")],
    ids=["bad", "unknown", "nothing stored"],
)
def test_a_wrong_record_is_said_beside_its_box(admin, webhooks, webhook_receiver, record, said) -> None:
    page = admin.post(f"{BASE}/new", {**FORM, "url": webhook_receiver.url, "preview_record": record})
    text = html.unescape(page.get_data(as_text=True))
    assert page.status_code == 422
    assert said in re.search(r'<div class="error" id="record-error">(.*?)</div>', text)[1]
    assert webhooks.list_hooks() == []
