"""Logging in and out: where a login may lead, sessions that really end, and throttled guessing.

Sessions and failed logins are stored in the CRM's database, so every test
here runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import re
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from crm_stub import CRM, CRMError
from crm_stub.models import LoginFailure, LoginSession, User
from crm_stub.web import create_app
from crm_stub.web.auth import safe_next
from crm_stub.web.throttle import Limits, address_key

from .conftest import PASSWORD, Browser

HOOKS = "/system/integrations/webhooks/"


@pytest.fixture
def crm_database_url(database_url: str) -> str:
    return database_url


def browser_at(app: Flask, address: str = "127.0.0.1", **headers: str) -> Browser:
    client = app.test_client()
    client.environ_base.update(REMOTE_ADDR=address, **{f"HTTP_{k.upper()}": v for k, v in headers.items()})
    return Browser(client)


def logged_in(browser: Browser) -> bool:
    """Whether the browser's admin session opens the System page."""
    response = browser.get("/system/")
    assert response.status_code in (200, 302)
    return response.status_code == 200


# -- 8. only same-site paths after login ------------------------------------------------

ELSEWHERE = [
    "/%09/evil.example",  # Werkzeug drops the tab: "//evil.example"
    "/%0a/evil.example",  # a line break in Location was a 500
    "/%0d/evil.example",
    "/%0d%0aSet-Cookie:%20x=1",
    "//evil.example/",
    "/%2F/evil.example",
    "/%5Cevil.example",  # "/\evil.example": browsers read "\" as "/"
    "/\\evil.example",
    "https://evil.example/",
    "https:evil.example",
    "javascript:alert(1)",
    "evil.example",
    "%2F%2Fevil.example",
    "/%20/evil.example",
    "/caf%C3%A9",  # not ASCII: not a path we make
]


@pytest.mark.one_database
@pytest.mark.parametrize("target", ELSEWHERE)
def test_a_login_leads_only_to_a_path_of_this_site(browser, target) -> None:
    response = browser.login(next=target)
    assert response.status_code == 302
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", [HOOKS, "/system/", f"{HOOKS}1/history?before=20", f"{HOOKS}?lang=pt_BR&x=%2F", "/"])
def test_a_login_goes_back_to_the_page_asked_for(browser, target) -> None:
    quoted = target.replace("%", "%25").replace("?", "%3F").replace("&", "%26")
    assert browser.login(next=quoted).headers["Location"] == target


def test_the_check_itself() -> None:
    for bad in ["/\t/x", "/\n/x", "/\r/x", "//x", "/\\x", "/x y", "x", "", None, 5, "/\u00e9"]:
        assert safe_next(bad) is None, bad
    assert safe_next("/system/?a=1&b=%2F") == "/system/?a=1&b=%2F"


# -- 9. sessions that end ------------------------------------------------------------------


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app, admin: Browser) -> None:
    copied = admin.client.get_cookie("session").value
    assert admin.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie("session", copied)
    response = thief.get(HOOKS)
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert not logged_in(admin)


def test_logging_out_ends_this_session_only(app) -> None:
    office, laptop = browser_at(app), browser_at(app)
    office.login(), laptop.login()
    office.post("/logout")
    assert not logged_in(office) and logged_in(laptop)


def test_a_new_password_ends_every_session_of_the_user(app, crm: CRM) -> None:
    office, laptop, other = browser_at(app), browser_at(app), browser_at(app)
    office.login(), laptop.login(), other.login("seller@example.com")
    admin = crm.users.get_by_email("admin@example.com")
    crm.users.set_password(admin.id, "a brand new password")
    assert not logged_in(office) and not logged_in(laptop)
    assert other.get("/system/").status_code == 403  # the seller is still logged in (and not an admin)
    assert browser_at(app).login(password="a brand new password").status_code == 302
    assert browser_at(app).login().status_code == 401  # the old password is gone too


def test_the_cli_ends_sessions_too(app, crm: CRM) -> None:
    """crm-stub users logout / set-password: for a lost laptop, or a password that leaked."""
    from click.testing import CliRunner

    from crm_stub.cli import main

    def cli(*args: str, input: str | None = None):
        result = CliRunner().invoke(main, ["--database-url", crm.database_url, "users", *args], input=input)
        assert result.exit_code == 0, result.output
        return result.stdout

    office, laptop = browser_at(app), browser_at(app)
    office.login(), laptop.login()
    assert cli("logout", "--email", "admin@example.com") == "2 sessions of <admin@example.com> ended\n"
    assert not logged_in(office) and not logged_in(laptop)
    office.login()
    cli("set-password", "--email", "admin@example.com", input="another good password\n" * 2)
    assert not logged_in(office)
    assert browser_at(app).login(password="another good password").status_code == 302


def test_sessions_expire_on_the_server(crm: CRM) -> None:
    crm.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
    app = create_app(crm, secret_key="s", TESTING=True, CRM_SESSION_LIFETIME=dt.timedelta(seconds=0))
    browser = browser_at(app)
    assert browser.login().status_code == 302
    assert not logged_in(browser)


def test_the_database_keeps_only_a_hash_of_the_session_token(admin: Browser, crm: CRM) -> None:
    with admin.client.session_transaction() as cookie:
        token = cookie["sid"]
    with crm.engine.connect() as conn:
        stored = conn.execute(sa.select(LoginSession.token_hash, LoginSession.user_id)).all()
    assert len(stored) == 1 and token not in stored[0][0] and len(stored[0][0]) == 64


def test_a_cookie_of_the_previous_version_opens_nothing(app, crm: CRM) -> None:
    """It carried the user id alone, signed with the same key: today it is not a session."""
    browser = browser_at(app)
    with browser.client.session_transaction() as cookie:
        cookie["user_id"] = crm.users.get_by_email("admin@example.com").id
    assert not logged_in(browser)


def test_a_database_of_the_previous_version_gets_sessions_and_throttling(database_url: str) -> None:
    """A CRM opening a database made before login sessions existed creates their tables and works."""
    with CRM(database_url) as old:
        old.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
        with old.engine.begin() as conn:  # as the previous version left it: neither table
            conn.execute(sa.text("DROP TABLE login_sessions"))
            conn.execute(sa.text("DROP TABLE login_failures"))
        assert not {"login_sessions", "login_failures"} & set(sa.inspect(old.engine).get_table_names())
    with CRM(database_url) as crm:
        app = create_app(crm, secret_key="s", TESTING=True, CRM_LOGIN_LIMITS=Limits(per_account=2))
        browser = browser_at(app)
        assert browser.login(password="wrong password").status_code == 401
        assert browser.login().status_code == 302 and logged_in(browser)
        browser.post("/logout")
        assert not logged_in(browser)
        assert browser.login(password="wrong password").status_code == 401
        assert browser.login(password="wrong password").status_code == 401
        assert browser.login().status_code == 429


# -- 10. throttled guessing -------------------------------------------------------------------

LIMITS = Limits(per_account=3, per_address=5, window=dt.timedelta(minutes=15), hash_slots=1, hash_wait=0.3)


@pytest.fixture
def throttled(crm: CRM) -> Flask:
    crm.users.create("Admin", "admin@example.com", is_admin=True, password=PASSWORD)
    crm.users.create("Seller", "seller@example.com", password=PASSWORD)
    return create_app(crm, secret_key="s", TESTING=True, CRM_LOGIN_LIMITS=LIMITS)


@pytest.fixture
def hashes(monkeypatch) -> list[str]:
    """The password checks made, by e-mail."""
    from crm_stub.services.users import UserService

    made: list[str] = []
    real = UserService.authenticate

    def counting(self, address, password):
        made.append(address)
        return real(self, address, password)

    monkeypatch.setattr(UserService, "authenticate", counting)
    return made


def test_after_too_many_wrong_passwords_even_the_right_one_is_refused(throttled, hashes) -> None:
    browser = browser_at(throttled)
    for _ in range(LIMITS.per_account):
        assert browser.login(password="guess").status_code == 401
    refused = browser.login()
    page = refused.get_data(as_text=True)
    assert refused.status_code == 429 and "Too many wrong passwords for this e-mail." in page
    assert 14 * 60 <= int(refused.headers["Retry-After"]) <= 15 * 60 and "Try again in 15 min." in page
    assert len(hashes) == LIMITS.per_account  # a refused login costs no password check
    assert not logged_in(browser)
    # From anywhere: the account is what is throttled.
    assert browser_at(throttled, "203.0.113.9").login().status_code == 429
    # Other accounts are not.
    assert browser_at(throttled).login("seller@example.com").status_code == 302


def test_the_account_opens_again_when_its_failures_age_out(throttled, crm: CRM) -> None:
    browser = browser_at(throttled)
    for _ in range(LIMITS.per_account):
        browser.login(password="guess")
    assert browser.login().status_code == 429
    with crm.engine.begin() as conn:  # a quarter of an hour later
        conn.execute(sa.update(LoginFailure).values(at=LoginFailure.at - LIMITS.window))
    assert browser.login().status_code == 302


def test_a_right_password_forgives_this_address_its_own_mistakes_only(throttled) -> None:
    home, attacker = browser_at(throttled, "198.51.100.7"), browser_at(throttled, "203.0.113.66")
    home.login(password="typo"), home.login(password="typo")
    assert home.login().status_code == 302
    attacker.login(password="guess"), attacker.login(password="guess")
    home.post("/logout")
    home.login(password="typo")  # one of its own, and the attacker's two: the limit
    assert home.login().status_code == 429


def test_an_address_trying_many_accounts_is_throttled(throttled, hashes) -> None:
    browser = browser_at(throttled, "203.0.113.5")
    for n in range(LIMITS.per_address):
        assert browser.login(f"nobody{n}@example.com", "guess").status_code == 401
    refused = browser.login()
    assert refused.status_code == 429
    assert "Too many wrong passwords from your network address." in refused.get_data(as_text=True)
    assert len(hashes) == LIMITS.per_address
    assert browser_at(throttled, "203.0.113.6").login().status_code == 302  # another address


def test_an_ipv6_client_counts_as_its_whole_64(throttled) -> None:
    for n in range(LIMITS.per_address):
        browser_at(throttled, f"2001:db8:1:2::{n + 1:x}").login(f"nobody{n}@example.com", "guess")
    assert browser_at(throttled, "2001:db8:1:2:ffff::1").login().status_code == 429
    assert browser_at(throttled, "2001:db8:1:3::1").login().status_code == 302
    assert address_key("::ffff:192.0.2.1") == "192.0.2.1" and address_key("fe80::1%eth0") == "fe80::/64"
    assert address_key(None) == "unknown"


def test_unknown_accounts_are_throttled_alike(throttled) -> None:
    """The throttle counts the e-mail as typed: it tells nobody which accounts exist."""
    answers = []
    for email, address in (("admin@example.com", "192.0.2.1"), ("nobody@example.com", "192.0.2.2")):
        browser = browser_at(throttled, address)
        for _ in range(LIMITS.per_account):
            assert browser.login(email, "guess").status_code == 401
        refused = browser.login(email, "guess")
        answers.append(
            (refused.status_code, re.search(r'class="flash error">(.*?)<', refused.get_data(as_text=True))[1])
        )
    assert answers[0] == answers[1] and answers[0][0] == 429


def test_the_message_speaks_portuguese(throttled) -> None:
    browser = browser_at(throttled, ACCEPT_LANGUAGE="pt-BR")
    for _ in range(LIMITS.per_account):
        browser.login(password="guess")
    page = browser.login().get_data(as_text=True)
    assert "Senhas erradas demais para este e-mail. Tente de novo em 15 min." in page


def test_password_checks_run_a_few_at_a_time(throttled, monkeypatch) -> None:
    """Anonymous clients cannot have more passwords hashed at once than the slots: the rest hear 'busy'."""
    from crm_stub.services.users import UserService

    entered, release = threading.Event(), threading.Event()
    real = UserService.authenticate

    def slow(self, address, password):
        entered.set()
        release.wait(10)
        return real(self, address, password)

    monkeypatch.setattr(UserService, "authenticate", slow)
    first = browser_at(throttled, "192.0.2.10")
    first.get("/login")
    answers = []
    worker = threading.Thread(target=lambda: answers.append(first.login(password="guess").status_code))
    worker.start()
    try:
        assert entered.wait(10)
        busy = browser_at(throttled, "192.0.2.11").login()
        assert busy.status_code == 503 and busy.headers["Retry-After"] == "5"
        assert "The server is busy checking other log-ins." in busy.get_data(as_text=True)
    finally:
        release.set()
        worker.join(10)
    assert answers == [401]
    assert browser_at(throttled, "192.0.2.11").login().status_code == 302  # the slot is free again


def test_passwords_are_hashed_with_scrypt_at_full_cost_unless_the_host_is_told_otherwise(crm: CRM, monkeypatch) -> None:
    monkeypatch.delenv("CRM_PASSWORD_HASH")
    crm.users.create("Full", "full@example.com", password=PASSWORD)
    monkeypatch.setenv("CRM_PASSWORD_HASH", "scrypt:1024:8:1")
    crm.users.create("Cheap", "cheap@example.com", password=PASSWORD)
    with crm.engine.connect() as conn:
        stored = dict(conn.execute(sa.select(User.email, User.password_hash)).all())
    assert stored["full@example.com"].startswith("scrypt:32768:8:1$")
    assert stored["cheap@example.com"].startswith("scrypt:1024:8:1$")
    # A stored hash names its method: changing the setting locks nobody out.
    assert crm.users.authenticate("full@example.com", PASSWORD) is not None
    monkeypatch.setenv("CRM_PASSWORD_HASH", "rot13")
    with pytest.raises(CRMError, match="CRM_PASSWORD_HASH"):
        crm.users.create("Odd", "odd@example.com", password=PASSWORD)
    assert crm.users.authenticate("cheap@example.com", PASSWORD) is not None
    assert crm.users.authenticate("nobody@example.com", PASSWORD) is None
