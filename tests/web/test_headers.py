"""Security headers on every answer, pages without inline script or style, Secure cookies under HTTPS."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crm_stub.web import create_app

from .conftest import PASSWORD, Browser

ROOT = Path(__file__).resolve().parents[2]
HOOKS = "/system/integrations/webhooks"


def check_headers(response) -> None:
    csp = response.headers.get("Content-Security-Policy", "")
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives["frame-ancestors"] == ["'none'"], csp
    assert directives["default-src"] == ["'none'"] and directives["style-src"] == ["'self'"], csp
    assert directives["script-src"] == ["'self'"] and "'unsafe-inline'" not in csp  # script files, nothing inline
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_every_page_and_answer_carries_the_headers(admin: Browser, api, webhooks, webhook_receiver) -> None:
    hook = webhooks.create_hook(name="h", event="lead.created", url=webhook_receiver.url, key="X-K", value="v" * 12)
    delivery = webhooks.send_test(hook.id)
    pages = [
        "/system/",
        f"{HOOKS}/",
        f"{HOOKS}/new",
        f"{HOOKS}/{hook.id}/edit",
        f"{HOOKS}/{hook.id}/history",
        f"{HOOKS}/{hook.id}/last",
        f"{HOOKS}/{hook.id}/delete",
        f"{HOOKS}/deliveries/{delivery.id}",
        f"{HOOKS}/999/edit",  # 404
        "/nowhere",  # 404 without a route
    ]
    for url in pages:
        response = admin.get(url)
        assert response.status_code in (200, 404), url
        check_headers(response)
        assert response.headers["Cache-Control"] == "no-store", url  # a secret page must not come back from cache
    for url in ("/api/v1/hooks", "/api/v1/hooks/999", "/api/v1/openapi.json"):
        check_headers(api.call("GET", url))
    check_headers(api.call("GET", "/api/v1/hooks", token=False))  # 401
    with admin.client.get("/static/crm.css") as style:
        check_headers(style)
    check_headers(admin.post("/logout"))
    check_headers(Browser(admin.client).get("/login"))


def test_the_pages_have_no_inline_script_or_style() -> None:
    """What the policy forbids is not in any template (the browser test also listens for violations)."""
    templates = [*ROOT.glob("crm_stub/web/templates/**/*.html"), *ROOT.glob("crm_webhooks/web/templates/**/*.html")]
    assert len(templates) >= 10
    for template in templates:
        text = template.read_text()
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=|javascript:", text, re.I), template
        # Scripts come from files only: an empty <script src=...></script>, never one with code in it.
        for script in re.findall(r"<script\b[^>]*>.*?</script>", text, re.I | re.S):
            assert re.fullmatch(r'<script src="[^"]+" defer></script>', script), (template, script)
        assert text.lower().count("<script") == text.lower().count("</script>"), template


def test_the_session_cookie_is_secure_over_https(crm) -> None:
    crm.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
    app = create_app(crm, secret_key="s", TESTING=True, PREFERRED_URL_SCHEME="https")  # the test client's scheme
    secure = Browser(app.test_client())
    # Flask-WTF wants a same-site Referer on HTTPS forms (Referrer-Policy: same-origin still sends it).
    secure.client.environ_base["HTTP_REFERER"] = "https://localhost/login"
    response = secure.login()
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_over_plain_http_the_cookie_still_works(browser) -> None:
    """Served on a loopback port without TLS (crm-stub serve), a Secure cookie would never come back."""
    cookie = browser.login().headers["Set-Cookie"]
    assert "Secure" not in cookie


@pytest.mark.parametrize(("proxies", "secure"), [(0, False), (1, True)])
def test_behind_a_trusted_proxy_its_https_counts(crm, proxies, secure) -> None:
    crm.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
    app = create_app(crm, secret_key="s", TESTING=True, CRM_TRUSTED_PROXIES=proxies)
    browser = Browser(app.test_client())
    browser.client.environ_base.update(
        HTTP_X_FORWARDED_PROTO="https", HTTP_X_FORWARDED_FOR="198.51.100.20", HTTP_REFERER="https://localhost/login"
    )
    cookie = browser.login().headers["Set-Cookie"]
    assert ("Secure" in cookie) is secure
