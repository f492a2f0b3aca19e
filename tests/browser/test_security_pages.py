"""What the pages show of the security rules, in a real browser, in English and Portuguese.

- The edit form never holds a hook's header value: the field is empty, says
  "unchanged", and a new URL asks for the value again beside the field.
- A throttled login says why and for how long.
- Logging out ends the session for a copy of the cookie too.
- Nothing on any page is blocked by the Content-Security-Policy (the ``page``
  fixture listens; the contexts made here listen too).

Each state is photographed at 1366, 800 and 390 px into test-artifacts/.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from crm_stub.web.throttle import Limits

from .conftest import browsing, log_in, serving, shoot

CREDENTIAL = "erp-credential-never-shown"


@pytest.fixture
def site(crm) -> Iterator[str]:
    """The web app with a login limit of 3 wrong passwords per account."""
    with serving(crm, CRM_LOGIN_LIMITS=Limits(per_account=3, window=dt.timedelta(minutes=15))) as url:
        yield url


WORDS = {
    "en": {
        "unchanged": "unchanged",
        "hint": "Leave it empty to keep it",
        "new url": "required again when the URL changes (or empty the key to send no header)",
        "throttled": "Too many wrong passwords for this e-mail. Try again in 15 min.",
    },
    "pt_BR": {
        "unchanged": "inalterado",
        "hint": "Deixe em branco para mantê-lo",
        "new url": "obrigatório de novo quando a URL muda (ou esvazie a chave para não enviar cabeçalho)",
        "throttled": "Senhas erradas demais para este e-mail. Tente de novo em 15 min.",
    },
}


def test_the_edit_form_never_holds_the_value(tab, site, lang, webhooks, webhook_receiver) -> None:
    words = WORDS[lang]
    hook = webhooks.create_hook(
        name="ERP", event="sale.created", url=webhook_receiver.url_for("/erp"), key="X-Api-Key", value=CREDENTIAL
    )
    log_in(tab, site)
    tab.goto(f"{site}/system/integrations/webhooks/{hook.id}/edit")
    assert tab.input_value("#value") == "" and CREDENTIAL not in tab.content()
    assert tab.get_attribute("#value", "placeholder") == words["unchanged"]
    assert words["hint"] in tab.inner_text("#value-hint")
    shoot(tab, f"edit-form-{lang}")

    # A new URL with the value left empty: asked for beside the field, nothing stored.
    tab.fill("#url", webhook_receiver.url_for("/elsewhere"))
    tab.click("main button[type=submit]")
    assert tab.inner_text("#value-error") == words["new url"]
    assert tab.input_value("#value") == "" and webhooks.get_hook(hook.id).url.endswith("/erp")
    shoot(tab, f"edit-form-new-url-{lang}")
    tab.fill("#value", "typed-again")
    tab.click("main button[type=submit]")
    tab.wait_for_url("**/system/integrations/webhooks/")
    saved = webhooks.get_hook(hook.id)
    assert (saved.url, saved.value) == (webhook_receiver.url_for("/elsewhere"), "typed-again")

    # Renaming with the field left empty keeps the value.
    tab.goto(f"{site}/system/integrations/webhooks/{hook.id}/edit")
    tab.fill("#name", "ERP renamed")
    tab.click("main button[type=submit]")
    tab.wait_for_url("**/system/integrations/webhooks/")
    assert (webhooks.get_hook(hook.id).name, webhooks.get_hook(hook.id).value) == ("ERP renamed", "typed-again")


def test_a_throttled_login_says_why_and_for_how_long(tab, site, lang) -> None:
    for _ in range(3):
        log_in(tab, site, "a wrong guess")
    log_in(tab, site)  # the right password, too late
    assert tab.inner_text(".flash.error") == WORDS[lang]["throttled"]
    assert "/login" in tab.url
    shoot(tab, f"login-throttled-{lang}")


def test_a_copy_of_the_cookie_dies_with_the_logout(chromium, page, site) -> None:
    log_in(page, site)
    assert page.url.endswith("/system/")
    copied = page.context.cookies()
    with browsing(chromium) as stolen:
        stolen.context.add_cookies(copied)
        stolen.goto(f"{site}/system/")
        assert stolen.url.endswith("/system/")  # the copy works while the session lives
        page.click("header button[type=submit]")  # Log out
        page.wait_for_url("**/login")
        stolen.goto(f"{site}/system/")
        assert "/login" in stolen.url
