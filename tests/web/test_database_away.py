"""The database goes away under a running web app: each page and API call says so, and comes back with it.

A loopback relay stands between the app and PostgreSQL, so that shutting it takes the
database away from this app only (other tests share the server).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres


class Gate:
    """A TCP relay to the database that can be shut (live connections cut, new ones dropped) and opened."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            upstream = socket.create_connection(self.target)
            self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                _cut(s)

    def shut(self) -> None:
        self.open.clear()
        for s in self.sockets:
            _cut(s)
        for s in self.sockets:
            s.close()
        self.sockets = []

    def close(self) -> None:
        self.shut()
        self.listener.close()


def _cut(s: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already cut from the other side
        s.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def gate(postgres_database_url: str) -> Iterator[Gate]:
    url = sa.make_url(postgres_database_url)
    relay = Gate(url.host or "127.0.0.1", url.port or 5432)
    try:
        yield relay
    finally:
        relay.close()


@pytest.fixture
def crm_database_url(postgres_database_url: str, gate: Gate) -> str:
    """The plugin's CRM, reaching its database through the gate."""
    return sa.make_url(postgres_database_url).set(host="127.0.0.1", port=gate.port).render_as_string(False)


def test_while_the_database_is_away_pages_and_the_api_answer_503_and_come_back_with_it(admin, api, gate) -> None:
    metrics = api.token("metrics:read")
    gate.shut()

    page = admin.get("/system/integrations/webhooks/")
    assert page.status_code == 503 and page.headers["Retry-After"] == "5"
    assert "The database cannot be reached right now" in page.get_data(as_text=True)
    listed = api.call("GET", "/api/v1/hooks")
    assert listed.status_code == 503 and listed.get_json()["error"]["code"] == "database_unavailable"
    scraped = api.call("GET", "/metrics", token=metrics)
    assert scraped.status_code == 503 and scraped.get_json()["error"]["code"] == "database_unavailable"

    gate.open.set()
    assert admin.get("/system/integrations/webhooks/").status_code == 200
    assert api.call("GET", "/api/v1/hooks").status_code == 200
    assert api.call("GET", "/metrics", token=metrics).status_code == 200
