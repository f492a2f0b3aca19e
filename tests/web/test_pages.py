"""The webhooks page through Flask's test client: every route, every bad input, every refusal."""

from __future__ import annotations

import re

import pytest

BASE = "/system/integrations/webhooks"
GOOD = {
    "name": "venda",
    "event": "sale.created",
    "method": "POST",
    "url": "",
    "key": "X-Api-Key",
    "value": "s3cret-value",
}


def add(admin, webhook_receiver, **changes):
    return admin.post(f"{BASE}/new", {**GOOD, "url": webhook_receiver.url, **changes})


def test_anonymous_users_are_sent_to_login(browser) -> None:
    response = browser.get(f"{BASE}/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_only_admins_reach_the_system_pages(browser) -> None:
    browser.login("seller@example.com")
    assert browser.get(f"{BASE}/").status_code == 403
    assert browser.get("/system/").status_code == 403


def test_a_wrong_password_is_refused(browser) -> None:
    response = browser.login(password="not the password")
    assert response.status_code == 401 and "Wrong e-mail or password." in response.get_data(as_text=True)


def test_login_goes_back_only_to_this_site(browser) -> None:
    assert browser.login(next="//evil.example/").headers["Location"] == "/"
    assert browser.post("/logout").status_code == 302
    assert browser.get(f"{BASE}/").status_code == 302  # logged out
    assert browser.login(next=f"{BASE}/").headers["Location"] == f"{BASE}/"


def test_session_cookie_is_httponly_and_samesite(browser) -> None:
    response = browser.login()
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_system_menu_leads_to_webhooks(admin) -> None:
    page = admin.get("/system/").get_data(as_text=True)
    assert f'href="{BASE}/"' in page and "Webhooks" in page


def test_add_shows_the_secret_once_and_the_list_shows_the_hook(admin, webhooks, webhook_receiver) -> None:
    response = add(admin, webhook_receiver)
    assert response.status_code == 303
    hook = webhooks.list_hooks()[0]
    assert hook.secret in admin.get(response.headers["Location"]).get_data(as_text=True)
    page = admin.get(f"{BASE}/").get_data(as_text=True)
    row = re.search(rf'<tr data-hook-id="{hook.id}">(.*?)</tr>', page, re.S)[1]
    for shown in ("venda", "New sale", webhook_receiver.url, "POST", "never run"):
        assert shown in row
    assert hook.secret not in page and "s3cret-value" not in page


BAD = [
    ("name", {"name": ""}, "required"),
    ("event", {"event": ""}, "required"),
    ("event", {"event": "sale.deleted"}, "not an event of the catalog"),
    ("method", {"method": "TRACE"}, "not one of"),
    ("url", {"url": "ftp://x"}, "http:// or https://"),
    ("url", {"url": "http://169.254.169.254/"}, "link-local"),
    ("key", {"key": "Content-Type"}, "set by the webhook itself"),
    ("value", {"value": ""}, "required when a key is given"),
    ("key", {"key": "", "value": "orphan"}, "required when a value is given"),
]


@pytest.mark.parametrize(("field", "change", "message"), BAD, ids=[f"{f}:{next(iter(c.values()))}" for f, c, _ in BAD])
def test_errors_show_beside_their_field_and_store_nothing(
    admin, webhooks, webhook_receiver, field, change, message
) -> None:
    response = add(admin, webhook_receiver, **change)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    error = re.search(rf'<div class="error" id="{field}-error">(.*?)</div>', page)
    assert error and message in error[1]
    assert webhooks.list_hooks() == []
    # What was typed stays in the form.
    if change.get("url"):
        assert f'value="{change["url"]}"' in page


def test_edit_disable_enable_and_delete(admin, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver)
    hook = webhooks.list_hooks()[0]
    form = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    assert 'value="venda"' in form and 'value="sale.created" checked>' in form
    saved = admin.post(
        f"{BASE}/{hook.id}/edit", {**GOOD, "url": webhook_receiver.url, "name": "vendas", "method": "PUT"}
    )
    assert saved.status_code == 302
    assert (webhooks.get_hook(hook.id).name, webhooks.get_hook(hook.id).method) == ("vendas", "PUT")
    admin.post(f"{BASE}/{hook.id}/disable")
    assert webhooks.get_hook(hook.id).enabled is False
    assert "disabled" in admin.get(f"{BASE}/").get_data(as_text=True)
    admin.post(f"{BASE}/{hook.id}/enable")
    assert webhooks.get_hook(hook.id).enabled is True
    confirm = admin.get(f"{BASE}/{hook.id}/delete")
    assert "Delete webhook “vendas”?" in confirm.get_data(as_text=True)
    assert webhooks.list_hooks()  # asking is not deleting
    admin.post(f"{BASE}/{hook.id}/delete")
    assert webhooks.list_hooks() == []


@pytest.mark.webhooks_options(retry_delays=[])  # the failed attempt is a failed delivery
def test_the_configuration_sums_the_hook_up_above_the_form(admin, crm, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver, event="lead.created")
    hook = webhooks.list_hooks()[0]
    webhook_receiver.fail_next()
    crm.leads.create("ACME")
    webhooks.run_pending()
    admin.post(f"{BASE}/{hook.id}/disable")
    hook = webhooks.get_hook(hook.id)
    form = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    summary = form[form.index('id="hook-summary"') : form.index("</dl>")]
    assert f'id="summary-detail">{hook.status_detail}<' in summary  # since when, and why
    assert 'id="summary-failures">1<' in summary
    assert hook.last_run_at.strftime("%Y-%m-%d %H:%M:%S UTC") in summary
    assert f'href="{BASE}/{hook.id}/last"' in summary
    created, changed = (
        hook.created_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
        hook.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC"),
    )
    assert f'id="summary-created">{created}<' in summary and f'id="summary-changed">{changed}<' in summary
    assert "hook-summary" not in admin.get(f"{BASE}/new").get_data(as_text=True)  # a new hook has nothing to sum up


def test_an_attempt_folds_the_response_headers_as_text(admin, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver)
    hook = webhooks.list_hooks()[0]
    webhook_receiver.respond_with(500, headers={"X-Evil": "<b>bold</b>"}, body="no")
    admin.post(f"{BASE}/{hook.id}/test")
    page = admin.get(f"{BASE}/{hook.id}/last").get_data(as_text=True)
    folded = page[page.index('<details class="headers">') : page.index("</details>")]
    count = len(webhooks.last_delivery(hook.id).attempts[0].response_headers)
    assert f"<summary>Headers ({count})</summary>" in folded
    assert "X-Evil: &lt;b&gt;bold&lt;/b&gt;" in folded and "<b>" not in folded


def test_the_events_are_boxes_grouped_by_entity_each_with_all(admin) -> None:
    form = admin.get(f"{BASE}/new").get_data(as_text=True)
    assert form.count('<fieldset class="event-group">') == 6 and "<legend>Leads</legend>" in form
    codes = re.findall(r'name="events" value="([a-z_]+\.[a-z_]+)"', form)
    assert len(codes) == 33 == len(set(codes))
    assert re.findall(r'name="events" value="([a-z*]+\.\*|\*)"', form) == [
        "*",
        "lead.*",
        "client.*",
        "opportunity.*",
        "quote.*",
        "sale.*",
        "webhook.*",
    ]
    # The hooks' own events are a group of their own, which "Every event" does not take.
    assert "<legend>Webhooks</legend>" in form and codes[-3:] == [
        "webhook.failing",
        "webhook.disabled",
        "webhook.recovered",
    ]
    assert "“Every event” means the CRM" in form and "is chosen on its own" in form


def test_the_webhooks_group_in_portuguese(admin) -> None:
    form = admin.get(f"{BASE}/new", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "Webhook falhando" in form and "Webhook desativado" in form and "Webhook recuperado" in form
    assert "“Todos os eventos” são os do CRM" in form


@pytest.mark.parametrize(
    ("ticked", "typed", "events"),
    [
        (["webhook.failing"], "", ("webhook.failing",)),
        (["webhook.*"], "", ("webhook.*",)),
        ([], "webhook.*", ("webhook.*",)),
    ],
)
def test_the_form_takes_the_hooks_own_events(admin, webhooks, webhook_receiver, ticked, typed, events) -> None:
    form = {k: v for k, v in GOOD.items() if k != "event"}
    sent = admin.post(f"{BASE}/new", {**form, "url": webhook_receiver.url, "events": ticked, "more_events": typed})
    assert sent.status_code == 303, sent.get_data(as_text=True)
    (hook,) = webhooks.list_hooks()
    assert hook.events == events
    listed = admin.get(f"{BASE}/").get_data(as_text=True)
    assert ("Webhook failing" if events == ("webhook.failing",) else "Every event of webhooks") in listed


def test_boxes_and_typed_patterns_make_one_hook_and_come_back_checked(admin, webhooks, webhook_receiver) -> None:
    form = {k: v for k, v in GOOD.items() if k != "event"}
    sent = admin.post(
        f"{BASE}/new",
        {**form, "url": webhook_receiver.url, "events": ["lead.*", "sale.created"], "more_events": "*.stage_changed,"},
    )
    assert sent.status_code == 303
    (hook,) = webhooks.list_hooks()
    assert hook.events == ("lead.*", "sale.created", "*.stage_changed")
    page = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    assert 'value="lead.*" checked>' in page and 'value="sale.created" checked>' in page
    assert 'value="lead.created" checked>' not in page  # covered by "All", not ticked itself
    assert 'id="more_events" name="more_events" placeholder="*.stage_changed" value="*.stage_changed"' in page
    listed = admin.get(f"{BASE}/").get_data(as_text=True)
    assert "Every event of leads" in listed and "New sale" in listed and "Every “stage changed” event" in listed
    # Unticking everything is an error beside the boxes, and changes nothing.
    refused = admin.post(f"{BASE}/{hook.id}/edit", {**form, "url": webhook_receiver.url, "more_events": ""})
    assert refused.status_code == 422 and 'id="events-error"' in refused.get_data(as_text=True)
    assert webhooks.get_hook(hook.id).events == hook.events


def test_send_test_then_last_execution_shows_request_and_response(admin, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver)
    hook = webhooks.list_hooks()[0]
    response = admin.post(f"{BASE}/{hook.id}/test", follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "Test sent: succeeded." in page and "HTTP 200" in page
    assert "s3cret-value" not in page  # the header value is masked in the recorded request
    last = admin.get(f"{BASE}/{hook.id}/last").get_data(as_text=True)
    assert "webhook-signature" in last and "&#34;type&#34;: &#34;sale.created&#34;" in last  # escaped JSON


def test_the_last_execution_of_a_templated_hook_shows_the_body_that_went(
    admin, crm, webhooks, webhook_receiver
) -> None:
    hook = webhooks.create_hook(
        name="pos",
        event="lead.created",
        url=webhook_receiver.url,
        body_template='{"cliente": {{ object.name | tojson }}}',
    )
    crm.leads.create("Padaria <São João>")
    webhooks.run_pending()
    last = admin.get(f"{BASE}/{hook.id}/last").get_data(as_text=True)
    body = re.search(r'<pre class="body request-body">([^<]*)</pre>', last)[1]
    assert body == "{&#34;cliente&#34;: &#34;Padaria &lt;São João&gt;&#34;}"  # as sent, escaped for the page
    assert 'id="payload-read"' in last
    plain = webhooks.create_hook(name="plain", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhooks.run_pending()
    page = admin.get(f"{BASE}/{plain.id}/last").get_data(as_text=True)
    assert "request-body" not in page and 'id="payload-read"' not in page


def test_history_pages_and_redelivers(admin, crm, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver, event="lead.created")
    hook = webhooks.list_hooks()[0]
    for n in range(23):
        crm.leads.create(f"Lead {n}")
    webhooks.run_pending()
    first = admin.get(f"{BASE}/{hook.id}/history").get_data(as_text=True)
    assert first.count("<tr>") == 21  # header + 20
    older = re.search(r'href="([^"]+before=\d+)"', first)[1].replace("&amp;", "&")
    second = admin.get(older).get_data(as_text=True)
    assert second.count("<tr>") == 4 and "Older" not in second
    oldest = webhooks.history(hook.id, limit=50)[-1]
    again = admin.post(f"{BASE}/deliveries/{oldest.id}/redeliver", follow_redirects=True)
    assert "Sent again: succeeded." in again.get_data(as_text=True)
    assert webhook_receiver.requests[-1].headers["webhook-id"] == oldest.event_id


def test_rotate_shows_the_new_secret_once(admin, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver)
    hook = webhooks.list_hooks()[0]
    page = admin.post(f"{BASE}/{hook.id}/rotate", follow_redirects=True).get_data(as_text=True)
    rotated = webhooks.get_hook(hook.id)
    assert rotated.secret != hook.secret and rotated.secret in page
    assert rotated.secret not in admin.get(f"{BASE}/").get_data(as_text=True)


@pytest.mark.parametrize("path", ["/999/edit", "/999/last", "/999/history", "/deliveries/999", "/999/delete"])
def test_unknown_ids_are_404(admin, path: str) -> None:
    assert admin.get(BASE + path).status_code == 404


def test_forms_without_the_csrf_token_are_refused(admin, webhooks, webhook_receiver) -> None:
    response = admin.post(f"{BASE}/new", {**GOOD, "url": webhook_receiver.url}, csrf=False)
    assert response.status_code == 400
    assert webhooks.list_hooks() == []


def test_names_are_escaped(admin, webhooks, webhook_receiver) -> None:
    add(admin, webhook_receiver, name="<script>alert(1)</script>")
    page = admin.get(f"{BASE}/").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_portuguese_from_the_browser_and_a_switch(admin, webhook_receiver) -> None:
    add(admin, webhook_receiver, event="lead.created")
    pt = admin.get(f"{BASE}/", headers={"Accept-Language": "pt-BR,pt;q=0.9"}).get_data(as_text=True)
    assert "Adicionar Webhook" in pt and "Novo prospecto" in pt and "Última execução" in pt and "nunca executado" in pt
    assert 'lang="pt-BR"' in pt
    en = admin.get(f"{BASE}/?lang=en", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    assert "Add Webhook" in en and "New lead" in en
    # The choice sticks for the session.
    assert "Add Webhook" in admin.get(f"{BASE}/", headers={"Accept-Language": "pt-BR"}).get_data(as_text=True)
    form = admin.get(f"{BASE}/new?lang=pt_BR").get_data(as_text=True)
    assert "<legend>Prospectos</legend>" in form and "Mudança de fase do prospecto" in form
    for wrong in ("Conduz", "Folheto", "Brochura"):
        assert wrong not in form


@pytest.mark.parametrize(("lang", "said"), [("en", "This form has expired"), ("pt_BR", "Este formulário expirou")])
def test_a_form_without_its_token_is_refused_in_the_page_and_changes_nothing(admin, webhooks, lang, said) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url="http://127.0.0.1:9/x")
    response = admin.post(f"{BASE}/{hook.id}/disable?lang={lang}", {}, csrf=False)
    page = response.get_data(as_text=True)
    assert response.status_code == 400 and said in page and "<nav" in page  # the site's page, not a bare one
    assert webhooks.get_hook(hook.id).enabled


def test_the_configuration_leads_on_and_shows_the_whole_url(admin, webhooks) -> None:
    long_url = "http://127.0.0.1:9/" + "segment/" * 25 + "end"
    hook = webhooks.create_hook(name="long", event="lead.created", url=long_url)
    page = admin.get(f"{BASE}/{hook.id}/edit").get_data(as_text=True)
    summary = re.search(r'id="summary-url">(.*?)</dd>', page, re.S)[1]
    assert summary == f"POST {long_url}"
    links = re.search(r'id="hook-links">(.*?)</p>', page, re.S)[1]
    assert f"{BASE}/{hook.id}/history" in links and f"{BASE}/{hook.id}/last" in links
