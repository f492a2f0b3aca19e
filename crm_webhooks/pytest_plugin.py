"""The pytest plugin for QA: fixtures ``crm``, ``webhooks`` and ``webhook_receiver``.

Registered through the ``pytest11`` entry point, so installing the project is
enough.  ``--crm-database-url`` (or ``CRM_TEST_DATABASE_URL``) runs the same
scenarios on another database, PostgreSQL included; options for the addon come
from the ``webhooks_options`` marker or fixture.  Unless the session was given
encryption keys, it uses a key file of its own in a temporary directory, so
tests never write one into the user's home.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

DEFAULT_OPTIONS: dict[str, Any] = {"allow_private_networks": True, "dispatcher": "manual"}


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("crm_webhooks")
    group.addoption(
        "--crm-database-url",
        default=os.environ.get("CRM_TEST_DATABASE_URL"),
        help="SQLAlchemy URL of the database the crm fixture uses (default: a temporary SQLite file)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "webhooks_options(**options): install options of crm_webhooks for this test")


@pytest.fixture(scope="session", autouse=True)
def _webhooks_encryption_keys(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A key file for the session's CRMs (and the processes they start), never one in the home directory."""
    from .encryption import KEY_FILE_ENV, KEYS_ENV, generate_key_file

    if os.environ.get(KEYS_ENV) or os.environ.get(KEY_FILE_ENV):
        yield
        return
    path = tmp_path_factory.mktemp("crm-webhooks-keys") / "encryption-keys"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_FILE_ENV, str(path))
        # Made now, so that no process of a test announces a new key file on its stderr.
        generate_key_file(path)
        yield


@pytest.fixture
def crm_database_url(request: pytest.FixtureRequest, tmp_path: Any) -> Iterator[str]:
    """Where the ``crm`` fixture's CRM lives: a fresh one per test (a schema of its own on PostgreSQL)."""
    from .testing import isolated_database

    given = request.config.getoption("--crm-database-url")
    if not given:
        yield f"sqlite:///{tmp_path}/crm.db"
        return
    with isolated_database(given) as url:
        yield url


@pytest.fixture
def webhooks_options(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Install options of the addon: loopback allowed, manual dispatcher, plus the marker's."""
    marker = request.node.get_closest_marker("webhooks_options")
    return {**DEFAULT_OPTIONS, **(marker.kwargs if marker else {})}


@pytest.fixture
def crm(crm_database_url: str, webhooks_options: dict[str, Any]) -> Iterator[Any]:
    """A fresh CRM with ``crm_webhooks`` installed."""
    from crm_stub import CRM

    instance = CRM(crm_database_url)
    try:
        instance.install_addon("crm_webhooks", **webhooks_options)
        yield instance
    finally:
        instance.close()


@pytest.fixture
def webhooks(crm: Any) -> Any:
    """The addon object of the ``crm`` fixture."""
    return crm.addons["crm_webhooks"]


@pytest.fixture(scope="session")
def _webhook_http_server() -> Iterator[Any]:
    from pytest_httpserver import HTTPServer

    # Loopback only, and threaded so a late answer does not hold up the others.
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


@pytest.fixture
def webhook_receiver(_webhook_http_server: Any, request: pytest.FixtureRequest) -> Iterator[Any]:
    """A local HTTP receiver answering 200 on any path (``url``, ``requests``, ``verify``, ``wait_for``)."""
    from .testing import WebhookReceiver

    _webhook_http_server.clear()
    # With a crm in the test, wait_for() can deliver pending work itself.
    uses_crm = "webhooks" in request.fixturenames or "crm" in request.fixturenames
    webhooks = request.getfixturevalue("webhooks") if uses_crm else None
    receiver = WebhookReceiver(_webhook_http_server, webhooks)
    try:
        yield receiver
    finally:
        # A late answer still being written would land in the next test's log.
        receiver.settle()
        _webhook_http_server.clear()
