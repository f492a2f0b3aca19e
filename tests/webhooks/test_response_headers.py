"""History keeps each attempt's response headers, bounded, whatever the receiver answers.

A receiver is anybody's server.  The hostile ones here speak raw HTTP on a
loopback socket: dozens of headers, kilobytes in each, bytes that are not text.
Whichever transport sent the attempt (urllib3 for ``run_pending``, aiohttp for
the dispatcher and workers) and whichever database keeps it, history holds at
most ``MAX_HEADERS`` of them, each cut to its limit, ``MAX_TOTAL`` characters
in all, as text.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from crm_webhooks.domain.response_headers import MAX_HEADERS, MAX_NAME, MAX_TOTAL, MAX_VALUE, from_json, kept
from tests.waiting import wait_until

# What each hostile receiver answers besides "200 OK", by the path of its hook.
HOSTILE = {
    "many": [(b"X-Many-%d" % n, b"%d" % n) for n in range(80)],  # http.client refuses more than 100
    "huge": [(b"X-Huge-%d" % n, b"h" * 7000) for n in range(40)],  # aiohttp refuses a line over 8 KiB
    "binary": [
        (b"X-Escape", b"red\x1b[31m\x07bell\x7f"),
        (b"X-Latin-1", b"caf\xe9 \x80\xff"),
        (b"X-Utf-8", "café ação".encode()),
        (b"X-Tab", b"a\tb"),
    ],
}


# A redirect whose Location carries an escape sequence, a NUL and a right-to-left override.
REDIRECT = [(b"Location", b"http://x/\x1b[31m\x00<b>\xe2\x80\xae")]
STATUS = {"redirect": b"302 Found"}


def _answer(path: bytes) -> bytes:
    name = path.strip(b"/").decode()
    lines = b"".join(b"%s: %s\r\n" % pair for pair in {**HOSTILE, "redirect": REDIRECT}[name])
    return (
        b"HTTP/1.1 "
        + STATUS.get(name, b"200 OK")
        + b"\r\n"
        + lines
        + b"Content-Length: 2\r\nConnection: close\r\n\r\nok"
    )


@pytest.fixture
def hostile_receiver() -> Iterator[str]:
    """The base URL of a raw HTTP server answering each path of ``HOSTILE`` with its headers."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed: the test is over
                return
            with conn:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += conn.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                sizes = [line[15:] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")]
                length = int(sizes[0]) if sizes else 0
                while len(body) < length:
                    body += conn.recv(65536)
                conn.sendall(_answer(head.split(b" ")[1]))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.shutdown(socket.SHUT_RDWR)  # wakes the accept() waiting in serve(); close() alone does not
    server.close()
    thread.join(5)


def _within_bounds(headers: tuple[tuple[str, str], ...]) -> None:
    assert len(headers) <= MAX_HEADERS
    assert sum(len(name) + len(value) for name, value in headers) <= MAX_TOTAL
    for name, value in headers:
        assert len(name) <= MAX_NAME and len(value) <= MAX_VALUE
        assert all(char == "\t" or char.isprintable() for char in name + value), (name, value)


@pytest.mark.webhooks_options(dispatcher="thread")
@pytest.mark.parametrize("sender", ["urllib3", "aiohttp"])
def test_hostile_response_headers_are_recorded_bounded(crm, webhooks, hostile_receiver, sender: str) -> None:
    hooks = {
        path: webhooks.create_hook(name=path, event="lead.created", url=f"{hostile_receiver}/{path}")
        for path in HOSTILE
    }
    if sender == "urllib3":
        for hook in hooks.values():
            webhooks.send_test(hook.id)  # test sends go out through the synchronous transport
    else:
        crm.leads.create("Hostile")  # the thread dispatcher sends through aiohttp
        wait_until(lambda: all(webhooks.last_delivery(h.id).attempts for h in hooks.values()), what="3 attempts")
    kept_by = {}
    for path, hook in hooks.items():
        (attempt,) = webhooks.last_delivery(hook.id).attempts
        assert attempt.status_code == 200 and attempt.error is None, (path, attempt.error)
        _within_bounds(attempt.response_headers)
        kept_by[path] = dict(attempt.response_headers)

    # Many: the first MAX_HEADERS, in the order they came.
    assert [name for name in kept_by["many"]][:3] == ["X-Many-0", "X-Many-1", "X-Many-2"]
    assert len(kept_by["many"]) == MAX_HEADERS
    # Huge: each value cut, and the whole held to MAX_TOTAL (a few headers, not 280 KB).
    huge = [value for name, value in kept_by["huge"].items() if name.startswith("X-Huge")]
    assert huge[0] == "h" * (MAX_VALUE - 1) + "…"
    assert 1 <= len(huge) < 10
    # Binary: control characters and bytes that are not UTF-8 become U+FFFD; UTF-8 and tabs are kept.
    binary = kept_by["binary"]
    assert binary["X-Escape"] == "red\ufffd[31m\ufffdbell\ufffd"
    assert binary["X-Latin-1"] == "caf\ufffd \ufffd\ufffd"
    assert binary["X-Utf-8"] == "café ação"
    assert binary["X-Tab"] == "a\tb"


def test_an_attempt_without_an_answer_has_no_headers(crm, webhooks) -> None:
    hook = webhooks.create_hook(name="nobody", event="lead.created", url="http://127.0.0.1:9/hooks")
    webhooks.send_test(hook.id)
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    assert attempt.status_code is None and attempt.response_headers is None


# Bounds the receivers above cannot reach through both transports (each refuses some of these
# answers outright), and what a database written by anyone may hold.
@pytest.mark.parametrize(
    ("received", "stored"),
    [
        ([(b"X-Nul", b"a\x00b")], (("X-Nul", "a\ufffdb"),)),
        ([(b"X\x80Name", b"v")], (("X\ufffdName", "v"),)),
        ([("X-C1", "a\x9bb")], (("X-C1", "a\ufffdb"),)),  # a terminal's CSI, as Latin-1 text
        ([("X-" + "n" * 200, "v")], (("X-" + "n" * (MAX_NAME - 3) + "…", "v"),)),
        # 7 headers of 6 + 1000 characters, then what is left of MAX_TOTAL (8000), then no more.
        ([(b"X-Long", b"v" * 5000)] * 20, (("X-Long", "v" * 999 + "…"),) * 7 + (("X-Long", "v" * 951 + "…"),)),
    ],
)
def test_what_is_kept_of_headers_as_received(received, stored) -> None:
    assert kept(received) == stored


@pytest.mark.parametrize(
    ("column", "read"),
    [
        (None, None),
        ("", None),
        ("not json", None),
        ('{"a": "b"}', None),
        ('[["a", "b"], ["c"], [1, 2], "d", ["e", "f"]]', (("a", "b"), ("e", "f"))),
        ('[["a", "' + "x" * 5000 + '"]]', (("a", "x" * (MAX_VALUE - 1) + "…"),)),
    ],
)
def test_headers_read_back_from_the_database_are_bounded_too(column, read) -> None:
    assert from_json(column) == read


@pytest.mark.webhooks_options(dispatcher="thread")
@pytest.mark.parametrize("sender", ["urllib3", "aiohttp"])
def test_a_hostile_location_is_recorded_made_safe(crm, webhooks, hostile_receiver, sender: str) -> None:
    hook = webhooks.create_hook(name="r", event="lead.created", url=f"{hostile_receiver}/redirect")
    if sender == "urllib3":
        webhooks.send_test(hook.id)  # test sends go out through the synchronous transport
    else:
        crm.leads.create("Redirected")  # the thread dispatcher sends through aiohttp
        wait_until(lambda: webhooks.last_delivery(hook.id).attempts, what="an attempt")
    attempt = webhooks.last_delivery(hook.id).attempts[0]
    if sender == "urllib3":
        assert attempt.status_code == 302 and attempt.error.startswith("HTTP 302: redirects are not followed")
    # aiohttp refuses the answer outright (a NUL in a header): a failed attempt, its error safe too.
    for stored in (attempt.error, attempt.location or ""):
        assert not any(ord(ch) < 32 or 0x7F <= ord(ch) <= 0x9F for ch in stored), stored
