"""Addon tests use the QA plugin's own fixtures, on SQLite and on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import select
import socket
import ssl
import threading
from collections.abc import Callable, Iterator

import pytest
import trustme
from pytest_httpserver import HTTPServer


@pytest.fixture
def crm_database_url(database_url: str) -> str:
    # The plugin's crm fixture reads this; tests/conftest.py parametrises it over both databases.
    return database_url


# -- receivers that misbehave at the TLS or TCP level (tests/webhooks/test_transports.py) ----------


def _tls_context(kind: str, ca: trustme.CA) -> ssl.SSLContext:
    """The server side of a TLS receiver whose certificate is ``kind``, under the trusted ``ca``."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    now = dt.datetime.now(dt.UTC)
    if kind == "valid":
        ca.issue_cert("127.0.0.1").configure_cert(context)
    elif kind == "expired":
        ca.issue_cert(
            "127.0.0.1", not_before=now - dt.timedelta(days=30), not_after=now - dt.timedelta(days=1)
        ).configure_cert(context)
    elif kind == "wrong name":
        ca.issue_cert("receiver.example").configure_cert(context)
    elif kind == "unknown issuer":
        trustme.CA().issue_cert("127.0.0.1").configure_cert(context)
    elif kind == "self-signed":
        own = trustme.CA()  # a CA's certificate is signed by its own key: served as the leaf
        with own.cert_pem.tempfile() as cert, own.private_key_pem.tempfile() as key:
            context.load_cert_chain(cert, key)
    else:
        raise ValueError(kind)
    return context


@pytest.fixture(scope="session")
def receivers_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def trusted_ca(receivers_ca: trustme.CA, tmp_path, monkeypatch) -> trustme.CA:
    """The test receivers' CA, trusted as an operator trusts one: through OpenSSL's ``SSL_CERT_FILE``."""
    bundle = tmp_path / "receivers-ca.pem"
    receivers_ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    return receivers_ca


@pytest.fixture
def tls_receiver(trusted_ca: trustme.CA) -> Iterator[Callable[[str], str]]:
    """``tls_receiver(kind)`` is the https:// URL of a receiver answering 200 whose certificate is
    ``kind`` (see ``_tls_context``), or ``"plain HTTP"`` for one that does not speak TLS at all."""
    servers: list[HTTPServer] = []

    def start(kind: str) -> str:
        context = None if kind == "plain HTTP" else _tls_context(kind, trusted_ca)
        server = HTTPServer(host="127.0.0.1", port=0, ssl_context=context, threaded=True)
        server.expect_request(re.compile(".*")).respond_with_data("ok")
        server.start()
        servers.append(server)
        return f"https://127.0.0.1:{server.port}/hooks"

    yield start
    for server in servers:
        server.clear()
        server.stop()


class _Trickler:
    """A TCP receiver that takes its time, one way per ``mode``, over raw sockets.

    ``connect``: the accept queue is full, so a connection is never established;
    ``silent``: accepts, never says a word (over https, the TLS handshake is what waits);
    ``status line``: the whole answer one byte at a time; ``body``: the status and headers at
    once, then the body one byte at a time.  Trickled to the end, an answer takes
    ``TRICKLE_SECONDS``; with ``tls`` (a server context) it is trickled over TLS.
    """

    TRICKLE_SECONDS = 20.0

    def __init__(self, mode: str, tls: ssl.SSLContext | None = None) -> None:
        self.mode = mode
        self.tls = tls
        self.stopped = threading.Event()
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = [self.listener]
        if mode == "connect":
            # Linux keeps one connection in a zero-length queue and drops the SYNs after it.
            self.listener.listen(0)
            self.sockets.append(socket.create_connection(("127.0.0.1", self.port)))
            return
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed at teardown
                return
            self.sockets.append(conn)
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        body = b"x" * 40
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
        try:
            if self.mode == "silent":
                self.stopped.wait()
                return
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
                self.sockets.append(conn)
            conn.recv(65536)
            if self.mode == "body":
                conn.sendall(head)
                trickled = body
            else:
                trickled = head + body
            interval = self.TRICKLE_SECONDS / len(trickled)
            for byte in trickled:
                # The sender's goodbye (a FIN or TLS close_notify): hang up too, as a server
                # does, rather than keep it waiting for ours.
                said, _, _ = select.select([conn], [], [], interval)
                if self.stopped.is_set() or (said and not conn.recv(65536)):
                    return
                conn.sendall(bytes([byte]))
        except OSError:  # the sender gave up and hung up: what the tests expect
            return
        finally:
            conn.close()

    def close(self) -> None:
        self.stopped.set()
        for sock in self.sockets:
            sock.close()


@pytest.fixture
def trickler(trusted_ca: trustme.CA) -> Iterator[Callable[[str, str], str]]:
    """``trickler(mode, scheme)`` is the URL of a fresh ``_Trickler`` receiver."""
    made: list[_Trickler] = []

    def start(mode: str, scheme: str = "http") -> str:
        made.append(_Trickler(mode, _tls_context("valid", trusted_ca) if scheme == "https" else None))
        return f"{scheme}://127.0.0.1:{made[-1].port}/hooks"

    yield start
    for receiver in made:
        receiver.close()
