"""A real browser (Debian's Chromium, driven by Playwright) against the web app served on loopback."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from crm_stub.web import create_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
WIDTHS = (1366, 800, 390)  # a laptop, a small window, a phone
PASSWORD = "correct horse battery"


@contextmanager
def serving(crm, **config: Any) -> Iterator[str]:
    """The web app on a loopback port, with an admin who can log in; yields its base URL."""
    crm.users.create("Ana Admin", "ana@example.com", is_admin=True, password=PASSWORD)
    server = make_server("127.0.0.1", 0, create_app(crm, secret_key="browser-test", **config), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


@pytest.fixture
def served(crm) -> Iterator[str]:
    with serving(crm) as url:
        yield url


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail("Debian's chromium is missing: .ci/run installs it")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # As root in a sandbox with no network but loopback: no sandbox, no background traffic.
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        try:
            yield browser
        finally:
            browser.close()


def csp_violations(page: Any) -> list[str]:
    """What the Content-Security-Policy blocked on this page, as Chromium reports it (kept as it happens)."""
    found: list[str] = []
    page.on("console", lambda message: "Content Security Policy" in message.text and found.append(message.text))
    return found


@contextmanager
def browsing(chromium, lang: str = "en") -> Iterator[Any]:
    """A fresh browser tab speaking ``lang``; fails if the Content-Security-Policy blocked anything."""
    accept = "pt-BR,pt;q=0.9" if lang == "pt_BR" else "en-US,en;q=0.9"
    context = chromium.new_context(
        viewport={"width": 1366, "height": 800},
        locale="pt-BR" if lang == "pt_BR" else "en-US",
        extra_http_headers={"Accept-Language": accept},
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    blocked = csp_violations(page)
    try:
        yield page
    finally:
        context.close()
    # The pages need no inline script or style: the policy blocks nothing they use.
    assert blocked == []


@pytest.fixture
def page(chromium) -> Iterator[Any]:
    with browsing(chromium) as tab:
        yield tab


@pytest.fixture
def scriptless(chromium) -> Iterator[Any]:
    """A phone-sized tab with script turned off: every page must work without it."""
    context = chromium.new_context(viewport={"width": 390, "height": 800}, java_script_enabled=False)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(params=["en", "pt_BR"])
def lang(request) -> str:
    return request.param


@pytest.fixture
def tab(chromium, lang) -> Iterator[Any]:
    with browsing(chromium, lang) as page:
        yield page


def shoot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(ARTIFACTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 800})


def log_in(page, site: str, password: str = PASSWORD) -> None:
    page.goto(f"{site}/login")
    page.fill("#email", "ana@example.com")
    page.fill("#password", password)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def no_sideways_scroll(page) -> None:
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 800})
        wide, inner = page.evaluate("[document.scrollingElement.scrollWidth, window.innerWidth]")
        assert wide <= inner, (page.url, width, wide, inner)
        assert page.locator("header.top button").bounding_box()["height"] < 40  # "Log out" on one line
    page.set_viewport_size({"width": 1366, "height": 800})


def look(page, name: str) -> None:
    """Photographed at every width, and fitting each."""
    shoot(page, name)
    no_sideways_scroll(page)
