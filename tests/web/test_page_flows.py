"""Every form of the webhooks page answers with a redirect (Post/Redirect/Get), and a secret survives a reload.

A reload of the page after a POST must never do the POST again: creating a
hook, rotating its secret, testing it all land on a page that a GET shows.
"""

from __future__ import annotations

import re

import pytest

BASE = "/system/integrations/webhooks"


def new_hook(admin, webhook_receiver, name: str = "venda"):
    form = {"name": name, "event": "sale.created", "method": "POST", "url": webhook_receiver.url}
    return admin.post(f"{BASE}/new", form)


def session_of(app, client) -> dict:
    cookie = client.get_cookie("session")
    return app.session_interface.get_signing_serializer(app).loads(cookie.value)


def test_creating_a_hook_redirects_to_its_secret_and_a_reload_creates_nothing(app, admin, webhooks, webhook_receiver):
    response = new_hook(admin, webhook_receiver)
    (hook,) = webhooks.list_hooks()
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.endswith(f"{BASE}/{hook.id}/secret") and hook.secret not in location
    for _ in range(2):  # the page, then a reload of it
        page = admin.get(location)
        assert page.status_code == 200 and hook.secret in page.get_data(as_text=True)
        assert "Webhook “venda” created" in page.get_data(as_text=True)
    assert len(webhooks.list_hooks()) == 1
    # The signed cookie says which hook may be shown, not the secret itself.
    assert hook.secret not in repr(session_of(app, admin.client))


def test_a_secret_page_not_just_made_shows_no_secret(app, admin, webhooks, webhook_receiver):
    hook = webhooks.create_hook(name="made elsewhere", event="sale.created", url=webhook_receiver.url)
    response = admin.get(f"{BASE}/{hook.id}/secret")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{BASE}/")
    page = admin.get(f"{BASE}/").get_data(as_text=True)
    assert hook.secret not in page and "Rotate the secret to see a new one." in page


def test_a_revealed_secret_is_no_longer_shown_once_rotated_elsewhere(admin, webhooks, webhook_receiver):
    new_hook(admin, webhook_receiver)
    (hook,) = webhooks.list_hooks()
    rotated = webhooks.rotate_secret(hook.id)  # by the CLI, say: the page's reveal was for the old one
    page = admin.get(f"{BASE}/{hook.id}/secret", follow_redirects=True).get_data(as_text=True)
    assert hook.secret not in page and rotated.secret not in page


def test_rotating_asks_first_then_redirects_to_the_new_secret(admin, webhooks, webhook_receiver):
    new_hook(admin, webhook_receiver)
    (hook,) = webhooks.list_hooks()
    confirm = admin.get(f"{BASE}/{hook.id}/rotate")
    assert confirm.status_code == 200 and "Rotate the secret of “venda”?" in confirm.get_data(as_text=True)
    assert webhooks.get_hook(hook.id).secret == hook.secret  # asking is not rotating
    response = admin.post(f"{BASE}/{hook.id}/rotate")
    rotated = webhooks.get_hook(hook.id)
    assert response.status_code == 303 and rotated.secret != hook.secret
    for _ in range(2):
        page = admin.get(response.headers["Location"]).get_data(as_text=True)
        assert rotated.secret in page and "New secret for “venda”" in page and "keeps signing too" in page
    assert webhooks.get_hook(hook.id).secret == rotated.secret  # the reload rotated nothing


@pytest.mark.parametrize(
    ("action", "path", "lands_on"),
    [
        ("edit", "/{hook}/edit", "/"),
        ("disable", "/{hook}/disable", "/"),
        ("enable", "/{hook}/enable", "/"),
        ("test", "/{hook}/test", "/deliveries/"),
        ("redeliver", "/deliveries/{delivery}/redeliver", "/deliveries/"),
        ("rotate", "/{hook}/rotate", "/{hook}/secret"),
        ("delete", "/{hook}/delete", "/"),
    ],
)
def test_every_form_answers_with_a_redirect(admin, webhooks, webhook_receiver, action, path, lands_on):
    hook = webhooks.create_hook(name="venda", event="sale.created", url=webhook_receiver.url)
    delivery = webhooks.send_test(hook.id)
    form = {"name": "vendas", "event": "sale.created", "method": "POST", "url": webhook_receiver.url}
    response = admin.post(BASE + path.format(hook=hook.id, delivery=delivery.id), form if action == "edit" else {})
    assert response.status_code in (302, 303), action
    assert lands_on.format(hook=hook.id) in response.headers["Location"]


def test_the_same_add_form_sent_twice_makes_one_hook(admin, webhooks, webhook_receiver) -> None:
    form = admin.get(f"{BASE}/new").get_data(as_text=True)
    token = re.search(r'name="once" value="([^"]+)"', form)[1]
    fields = {"name": "once", "event": "lead.created", "method": "POST", "url": webhook_receiver.url, "once": token}
    first = admin.post(f"{BASE}/new", fields)
    again = admin.post(f"{BASE}/new", fields)  # Back, then Send again
    (hook,) = webhooks.list_hooks()
    assert first.status_code == again.status_code == 303
    assert first.headers["Location"] == again.headers["Location"] == f"{BASE}/{hook.id}/secret"
    other = admin.post(f"{BASE}/new", {**fields, "once": "another form"})  # a new form is a new hook
    assert other.status_code == 303 and len(webhooks.list_hooks()) == 2
