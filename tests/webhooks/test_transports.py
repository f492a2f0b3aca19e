"""Both HTTP transports, side by side: an attempt records the same thing whichever sent it.

``Transport`` (urllib3) sends for ``run_pending``, redeliveries and test sends;
``AsyncTransport`` (aiohttp) for workers and the in-process dispatcher.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version

import pytest

from crm_webhooks.engine.transport import BODY_PREFIX, MAX_DRAIN, Response, Transport
from crm_webhooks.engine.transport_async import AsyncTransport

Send = Callable[..., Response]


def _sync(allow_private: bool, timeout: float, times: int) -> Callable[..., Response]:
    def send(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Response:
        transport = Transport(allow_private=allow_private, timeout=timeout)
        try:
            return [transport.send(method, url, headers or {}, body) for _ in range(times)][-1]
        finally:
            transport.close()

    return send


def _async(allow_private: bool, timeout: float, times: int) -> Callable[..., Response]:
    def send(method: str, url: str, headers: dict[str, str] | None = None, body: bytes | None = None) -> Response:
        async def once() -> Response:
            transport = AsyncTransport(allow_private=allow_private, timeout=timeout, per_host=2)
            try:
                return [await transport.send(method, url, headers or {}, body) for _ in range(times)][-1]
            finally:
                await transport.close()

        # In a thread of its own, as in the worker: the browser tests' Playwright keeps a loop
        # running in this one.
        with ThreadPoolExecutor(1) as thread:
            return thread.submit(asyncio.run, once()).result()

    return send


@pytest.fixture(params=["urllib3", "aiohttp"])
def transport(request: pytest.FixtureRequest) -> Callable[..., Send]:
    """A factory: ``transport(allow_private=..., timeout=..., times=...)`` gives a send function
    that sends ``times`` times over one transport and returns the last response."""
    make = _sync if request.param == "urllib3" else _async
    return lambda allow_private=True, timeout=2.0, times=1: make(allow_private, timeout, times)


class _Chunked(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive, answering with a chunked body of ``server.size`` bytes."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.server.connections.add(self.client_address)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        body = b"y" * self.server.size  # type: ignore[attr-defined]
        try:
            for start in range(0, len(body), 8192):
                chunk = body[start : start + 8192]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            self.wfile.write(b"0\r\n\r\n")
        except ConnectionError:  # the client stopped reading and hung up: what we test for
            self.close_connection = True

    def log_message(self, *args: object) -> None:  # quiet
        pass


@pytest.fixture
def chunked_server() -> Iterator[ThreadingHTTPServer]:
    # pytest-httpserver closes after each answer; keep-alive needs a server that keeps it.
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Chunked)
    server.connections = set()  # type: ignore[attr-defined]
    server.size = 0  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("size", "connections"),
    [
        (2, 1),  # read to its end: every attempt reuses the one connection
        (MAX_DRAIN, 1),
        # Too long to drain: each attempt drops its connection.  Far longer than MAX_DRAIN, as
        # aiohttp may have buffered a body just over it whole, and then reuses the connection.
        (16 * MAX_DRAIN, 3),
    ],
)
def test_a_chunked_answer_is_drained_to_keep_the_connection(transport, chunked_server, size, connections) -> None:
    chunked_server.size = size
    response = transport(times=3)("POST", f"http://127.0.0.1:{chunked_server.server_port}/h", {}, b"{}")
    assert response.ok and response.body == "y" * min(size, BODY_PREFIX)
    assert len(chunked_server.connections) == connections


def test_an_answer_is_recorded_with_its_body(transport, webhook_receiver) -> None:
    webhook_receiver.respond_with(201, body="created")
    response = transport()("POST", webhook_receiver.url, {"Content-Type": "application/json"}, b'{"a": 1}')
    assert (response.status_code, response.ok, response.error, response.body) == (201, True, None, "created")
    (request,) = webhook_receiver.requests
    assert request.get_data() == b'{"a": 1}' and request.headers["Content-Type"] == "application/json"
    # Nothing else than what urllib3 adds: receivers see the same request from either.
    assert request.headers["Accept-Encoding"] == "identity" and "Accept" not in request.headers


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (500, {}, "HTTP 500"),
        (410, {}, "HTTP 410"),
        # The Location is kept for history; the redirect itself is not followed.
        (
            302,
            {"Location": "http://127.0.0.1:1/elsewhere"},
            "HTTP 302: redirects are not followed (Location: http://127.0.0.1:1/elsewhere)",
        ),
        (429, {"Retry-After": "7"}, "HTTP 429"),
    ],
)
def test_a_refusal_is_an_error_with_what_the_retry_needs(transport, webhook_receiver, status, headers, error) -> None:
    webhook_receiver.respond_with(status, headers=headers, body="no")
    response = transport()("POST", webhook_receiver.url, {}, b"{}")
    assert (response.status_code, response.ok, response.error) == (status, False, error)
    assert response.retry_after == headers.get("Retry-After")
    assert response.location == headers.get("Location")
    assert len(webhook_receiver.requests) == 1


def test_a_long_answer_keeps_only_its_beginning(transport, webhook_receiver) -> None:
    webhook_receiver.respond_with(200, body="x" * (BODY_PREFIX * 3))
    response = transport()("POST", webhook_receiver.url, {}, b"{}")
    assert response.body == "x" * BODY_PREFIX


def test_a_get_carries_its_query_as_given(transport, webhook_receiver) -> None:
    # The query is built and encoded by us: sent byte for byte, not re-encoded.
    response = transport()("GET", webhook_receiver.url_for("/h") + "?type=lead.created&at=2026-01-01T00%3A00%3A00Z", {})
    assert response.ok
    (request,) = webhook_receiver.requests
    assert request.query_string == b"type=lead.created&at=2026-01-01T00%3A00%3A00Z" and request.get_data() == b""


def test_a_slow_receiver_times_out(transport, webhook_receiver) -> None:
    webhook_receiver.delay_next(1.0)
    response = transport(timeout=0.3)("POST", webhook_receiver.url, {}, b"{}")
    assert (response.status_code, response.error) == (None, "timed out after 0.3 s")


def test_nobody_listening_is_connection_refused(transport) -> None:
    with socket.socket() as s:  # a port that was free a moment ago, with nobody on it now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    response = transport()("POST", f"http://127.0.0.1:{port}/h", {}, b"{}")
    assert (response.status_code, response.error) == (None, "connection refused")


@pytest.mark.parametrize(
    ("host", "refused"),
    [
        ("127.0.0.1", "127.0.0.1 is a loopback address (allow_private_networks is off)"),
        # A name is screened after DNS: it reaches nothing the literal could not.
        ("localhost", "is a loopback address (allow_private_networks is off)"),
    ],
)
def test_the_network_guard_refuses_before_anything_is_sent(transport, webhook_receiver, host, refused) -> None:
    url = webhook_receiver.url.replace("127.0.0.1", host).replace("localhost", host)
    response = transport(allow_private=False)("POST", url, {}, b"{}")
    assert response.status_code is None
    assert response.error.startswith("refused by the network guard: ") and refused in response.error
    assert webhook_receiver.requests == []


TLS_CASES = [
    # (the receiver's certificate, the attempt's status, its error)
    ("valid", 200, None),
    ("self-signed", None, "TLS certificate not accepted: self-signed certificate"),
    ("expired", None, "TLS certificate not accepted: certificate has expired"),
    (
        "wrong name",
        None,
        "TLS certificate not accepted: IP address mismatch, certificate is not valid for '127.0.0.1'.",
    ),
    ("unknown issuer", None, "TLS certificate not accepted: unable to get local issuer certificate"),
    ("plain HTTP", None, "TLS handshake failed: wrong version number (does the receiver speak HTTPS?)"),
]


@pytest.mark.parametrize(("kind", "status", "error"), TLS_CASES, ids=[c[0] for c in TLS_CASES])
def test_a_receivers_tls_failure_is_an_attempts_error_in_words(transport, tls_receiver, kind, status, error) -> None:
    response = transport(times=2)("POST", tls_receiver(kind), {}, b"{}")
    assert (response.status_code, response.error) == (status, error)


TRICKLE_CASES = [
    # (how the receiver takes its time, scheme, the attempt's status, its error)
    ("connect", "http", None, "timed out after 1 s"),
    ("silent", "http", None, "timed out after 1 s"),
    ("silent", "https", None, "timed out after 1 s"),  # the TLS handshake is never answered
    ("status line", "http", None, "timed out after 1 s"),
    ("status line", "https", None, "timed out after 1 s"),
    # The receiver said 200: that stands (the event was taken), the attempt still ends in time.
    ("body", "http", 200, "reading the response failed: timed out after 1 s"),
    ("body", "https", 200, "reading the response failed: timed out after 1 s"),
]


@pytest.mark.parametrize(
    ("mode", "scheme", "status", "error"), TRICKLE_CASES, ids=[f"{c[0]}-{c[1]}" for c in TRICKLE_CASES]
)
def test_the_timeout_bounds_the_whole_attempt(transport, trickler, mode, scheme, status, error) -> None:
    # CONTRACT: `timeout` is seconds per attempt, whichever transport sends it, even when each
    # byte comes in time for a timeout per read.  The trickle would last 20 s.
    url = trickler(mode, scheme)
    started = time.monotonic()
    response = transport(timeout=1.0)("POST", url, {}, b"{}")
    elapsed = time.monotonic() - started
    assert (response.status_code, response.error) == (status, error)
    assert 0.9 < elapsed < 8, elapsed


@pytest.mark.parametrize(
    ("kind", "error"),
    [
        ("self-signed", "TLS certificate not accepted: self-signed certificate"),
        ("expired", "TLS certificate not accepted: certificate has expired"),
        ("plain HTTP", "TLS handshake failed: wrong version number (does the receiver speak HTTPS?)"),
    ],
    ids=["self-signed", "expired", "plain HTTP"],
)
def test_one_receivers_bad_tls_fails_its_own_attempts_only(
    webhooks, crm, webhook_receiver, tls_receiver, kind, error
) -> None:
    # run_pending, redeliver and send_test all go through the synchronous transport.
    broken = webhooks.create_hook(name="broken tls", event="lead.created", url=tls_receiver(kind))
    healthy = webhooks.create_hook(name="healthy", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    assert webhooks.run_pending() == 2
    failed = webhooks.last_delivery(broken.id)
    assert (failed.status, failed.attempts[0].status_code, failed.attempts[0].error) == ("pending", None, error)
    assert webhooks.last_delivery(healthy.id).status == "succeeded" and len(webhook_receiver.requests) == 1

    again = webhooks.redeliver(failed.id)
    assert [a.error for a in again.attempts][-1] == error
    test = webhooks.send_test(broken.id)
    assert (test.status, test.attempts[0].error) == ("failed", error)
    crm.leads.create("Next")  # and delivery to everyone else goes on
    assert webhooks.run_pending() == 2
    assert len(webhook_receiver.requests) == 2


@pytest.mark.parametrize(
    "webhooks_options",
    [
        {"allow_private_networks": True, "dispatcher": "manual"},  # run_pending: urllib3
        {"allow_private_networks": True, "dispatcher": "thread"},  # the dispatcher: aiohttp
    ],
    ids=["urllib3", "aiohttp"],
)
def test_the_user_agent_names_the_installed_version(crm, webhooks, webhook_receiver) -> None:
    webhooks.create_hook(name="ua", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("ACME")
    webhook_receiver.wait_for("lead.created")
    (request,) = webhook_receiver.requests
    assert (
        request.headers["User-Agent"] == f"crm-webhooks/{version('crm-webhooks')} (+https://www.standardwebhooks.com)"
    )


@pytest.mark.parametrize(
    "retry_after", ["\u00b2", "\u00b9\u00b2\u00b3", "12\u00b3"]
)  # digits to isdigit(), not to int()
def test_a_retry_after_of_superscript_digits_is_ignored_not_fatal(webhooks, crm, webhook_receiver, retry_after) -> None:
    hook = webhooks.create_hook(name="busy", event="lead.created", url=webhook_receiver.url)
    webhook_receiver.respond_with(429, headers={"Retry-After": retry_after})  # sent as Latin-1 bytes
    crm.leads.create("ACME")
    assert webhooks.run_pending() == 1
    delivery = webhooks.last_delivery(hook.id)
    assert (delivery.status, delivery.attempts[0].status_code) == ("pending", 429)
