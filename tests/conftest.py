"""Fixtures shared by every test: a database of each supported kind, and a CRM on it."""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from crm_stub import CRM
from crm_webhooks.testing import isolated_database

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL")
# Still scrypt, at a 32nd of its cost: hundreds of logins and users are made here, and the
# host's full cost (about 0.1 s of CPU a check) is what its own test below keeps.
os.environ.setdefault("CRM_PASSWORD_HASH", "scrypt:1024:8:1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``one_database`` check what is refused before any SQL runs (validation):
    their PostgreSQL copies would test nothing the SQLite ones do not, at four times the setup."""
    kept, dropped = [], []
    for item in items:
        spec = getattr(item, "callspec", None)
        twice = item.get_closest_marker("one_database") and spec and spec.params.get("database_url") == "postgresql"
        (dropped if twice else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """A command run in this process (CliRunner) sets up logging for a whole process; the next
    test must not inherit its handlers (their streams were that command's captured output)."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def postgres_database_url() -> Iterator[str]:
    """A fresh schema on the PostgreSQL server of CRM_TEST_POSTGRES_URL; required under CI."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CRM_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests (see .ci/run)")
        pytest.skip("CRM_TEST_POSTGRES_URL is not set; run under .ci/run for PostgreSQL")
    with isolated_database(POSTGRES_URL) as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/crm.db"
    return request.getfixturevalue("postgres_database_url")


@pytest.fixture
def host(database_url: str) -> Iterator[CRM]:
    """A bare host CRM (no addon) on each kind of database."""
    crm = CRM(database_url)
    try:
        yield crm
    finally:
        crm.close()


@pytest.fixture
def stuck_receiver(webhook_receiver):
    """A receiver that answers nobody until the test opens its gate: a dead one, for a while.

    For each request it notes how many the healthy receiver had had by then.
    """
    gate = threading.Event()
    arrived: list[int] = []
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)

    def hang(request: Request) -> Response:
        arrived.append(len(webhook_receiver.requests))
        gate.wait(30)
        return Response("late")

    server.expect_request(re.compile(".*")).respond_with_handler(hang)
    server.start()
    try:
        yield server, arrived, gate
    finally:
        gate.set()
        server.clear()
        server.stop()


@pytest.fixture
def outage(crm, webhooks, webhook_receiver) -> Callable[..., list[Any]]:
    """``outage(*names, test_sends=False)``: while the receiver answers 500, a lead of each name is created
    (and first, with ``test_sends``, each hook on lead.created sends a test); then the receiver is back and
    has forgotten them.  Returns the failed deliveries of those leads, every hook's.

    With no retries (``retry_delays=[]``), each is a failed delivery, as after an outage that outlasted them.
    """

    def happen(*names: str, test_sends: bool = False) -> list[Any]:
        hooks = [h for h in webhooks.list_hooks() if h.event == "lead.created"]
        webhook_receiver.fail_next(len(hooks) * (len(names) + test_sends))
        for hook in hooks if test_sends else ():
            webhooks.send_test(hook.id)
        for name in names:
            crm.leads.create(name)
        webhooks.run_pending()
        webhook_receiver.clear()
        return [d for h in hooks for d in webhooks.history(h.id) if d.status == "failed" and not d.test]

    return happen
