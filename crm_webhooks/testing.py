"""A webhook receiver for tests, on pytest-httpserver: what QA scenarios are written with.

It answers 200 on any path unless told otherwise, keeps what it received
(oldest first, bodies already parsed), checks signatures as an integrator
would, and can wait for an event, delivering pending work meanwhile when the
addon's dispatcher is ``manual``.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .domain.hooks import BODY_METHODS, Hook
from .engine.signing import WebhookVerificationError
from .engine.signing import verify as verify_signature

if TYPE_CHECKING:
    from pytest_httpserver import HTTPServer
    from werkzeug import Request, Response

    from .addon import WebhooksAddon


class SignatureMismatch(AssertionError, WebhookVerificationError):
    """A received request that the hook given did not sign: a failed check in a test."""


@dataclass(frozen=True)
class _Scripted:
    status: int
    delay: float
    headers: dict[str, str]
    body: str


class WebhookReceiver:
    def __init__(self, server: HTTPServer, webhooks: WebhooksAddon | None = None, *, path: str = "/hooks") -> None:
        import re

        from werkzeug import Response

        self._server = server
        self._webhooks = webhooks
        self._path = path
        # Scripted answers by path (None: any path), oldest first.
        self._script: dict[str | None, deque[_Scripted]] = {}
        self._lock = threading.Lock()
        self._in_flight = 0
        # Our own log, kept as requests arrive: a late answer to an earlier
        # receiver on the same server can never show up here.
        self._requests: list[Request] = []
        self._response_cls = Response
        server.expect_request(re.compile(".*")).respond_with_handler(self._handle)

    # -- where to post -----------------------------------------------------------

    @property
    def url(self) -> str:
        """An address on the receiver (any path is answered)."""
        return self._server.url_for(self._path)

    def url_for(self, path: str) -> str:
        return self._server.url_for(path)

    # -- what arrived --------------------------------------------------------------

    @property
    def requests(self) -> list[Request]:
        """The werkzeug requests received, oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def envelopes(self) -> list[dict[str, Any]]:
        """Each request's envelope: the JSON body, or for GET/DELETE the query string's fields."""
        return [envelope_of(r) for r in self.requests]

    def received(self, type: str | None = None) -> list[dict[str, Any]]:
        return [e for e in self.envelopes if type is None or e.get("type") == type]

    def clear(self) -> None:
        with self._lock:
            self._requests.clear()
            self._script.clear()

    # -- how to answer ---------------------------------------------------------------

    def respond_with(
        self,
        status: int = 200,
        *,
        times: int = 1,
        delay: float = 0.0,
        headers: dict[str, str] | None = None,
        body: str = "",
        path: str | None = None,
    ) -> None:
        """Answer the next ``times`` requests (to ``path``, or any) this way, then 200 again."""
        with self._lock:
            script = self._script.setdefault(path, deque())
            script.extend(_Scripted(status, delay, dict(headers or {}), body) for _ in range(times))

    def fail_next(self, times: int = 1, status: int = 500, *, path: str | None = None) -> None:
        self.respond_with(status, times=times, body="receiver error", path=path)

    def delay_next(self, seconds: float, times: int = 1, *, path: str | None = None) -> None:
        self.respond_with(200, times=times, delay=seconds, path=path)

    def _handle(self, request: Request) -> Response:
        with self._lock:
            self._requests.append(request)
            script = self._script.get(request.path) or self._script.get(None)
            scripted = script.popleft() if script else None
            self._in_flight += 1
        try:
            if scripted is None:
                return self._response_cls("ok", status=200)
            if scripted.delay:
                time.sleep(scripted.delay)
            return self._response_cls(scripted.body, status=scripted.status, headers=scripted.headers)
        finally:
            with self._lock:
                self._in_flight -= 1

    def settle(self, timeout: float = 10.0) -> None:
        """Wait for answers still being written (a late one the sender gave up on) to finish."""
        deadline = time.monotonic() + timeout
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.01)

    # -- checking -------------------------------------------------------------------

    def verify(self, request: Request, hook: Hook) -> dict[str, Any]:
        """Check ``request``'s signature with the hook's secret; returns its envelope (see ``envelope_of``).

        The signed payload is the body, or for GET and DELETE the raw query
        string, as any Standard Webhooks receiver passes it.  When it does not
        match, the test fails with a ``SignatureMismatch``: an AssertionError
        naming the hook and the request's ``webhook-id`` (and still a
        ``crm_webhooks.WebhookVerificationError``).
        """
        __tracebackhide__ = True  # pytest shows the test's line, not this helper's
        try:
            verify_signature(signed_payload(request), request.headers, hook.secret)
        except WebhookVerificationError as exc:
            webhook_id = request.headers.get("webhook-id", "(none)")
            raise SignatureMismatch(
                f"request webhook-id {webhook_id} ({request.method} {request.path}) is not signed by "
                f"hook {hook.id} ({hook.name!r}, {hook.event}): {exc}"
            ) from None
        return envelope_of(request)

    def wait_for(self, type: str | None = None, *, timeout: float = 5.0, count: int = 1) -> dict[str, Any]:
        """The ``count``-th envelope of ``type`` to arrive (delivering pending work meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.received(type)
            if len(found) >= count:
                return found[count - 1]
            if time.monotonic() >= deadline:
                seen = [e.get("type") for e in self.envelopes]
                raise AssertionError(f"no {type or 'event'} #{count} within {timeout:g} s; received: {seen}")
            manual = self._webhooks is not None and self._webhooks.options.dispatcher == "manual"
            if manual and self._webhooks.run_pending(timeout=max(0.1, deadline - time.monotonic())):  # type: ignore[union-attr]
                continue
            time.sleep(0.01)


@contextmanager
def isolated_database(url: str) -> Iterator[str]:
    """A URL for one test: on PostgreSQL a fresh schema of that database, dropped afterwards.

    Other databases are used as given (a SQLite file is its own isolation).
    """
    import sqlalchemy as sa

    from crm_stub.db import normalize_url

    url = normalize_url(url)
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "postgresql":
        yield url
        return
    schema = f"crm_test_{uuid.uuid4().hex[:12]}"
    # pre_ping: a test may kill every connection to the database (to test recovery).
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            yield parsed.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
    finally:
        admin.dispose()


def signed_payload(request: Request) -> bytes:
    """What a request's signature covers: its body, or for GET and DELETE its raw query string."""
    return request.get_data() if request.method in BODY_METHODS else request.query_string


def envelope_of(request: Request) -> dict[str, Any]:
    """The envelope a request carries: its JSON body, its query's fields (GET, DELETE), or, for a
    hook whose body template makes something else, ``{"body": <the text>}``."""
    data = request.get_data()
    if not data:
        return dict(request.args)
    try:
        found = json.loads(data)
    except ValueError:
        found = None
    return found if isinstance(found, dict) else {"body": data.decode("utf-8", "replace")}
