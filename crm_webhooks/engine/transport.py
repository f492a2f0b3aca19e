"""HTTP out: pooled keep-alive connections through urllib3, guarded at connect time.

urllib3 rather than requests on the hot path: the same engine without the
per-request session machinery, measured at about three times the posts per
second against a local nginx.  The guard resolves the host itself, checks
every address with ``netguard.refusal`` and connects to the address it
checked, so DNS cannot answer one thing to the check and another to connect.

urllib3 times the connect and each read on its own, so a receiver trickling a
byte at a time could hold an attempt for ever.  The sockets here take their
timeout from the attempt's deadline before every operation (connect, TLS
handshake, each send and read), which bounds the whole attempt instead.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cache
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import (
    ConnectTimeoutError,
    NameResolutionError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import parse_url
from urllib3.util.ssl_ import create_urllib3_context

from ..domain.attempt_errors import (
    BROKEN_BODY,
    CERTIFICATE,
    HANDSHAKE,
    NOT_HTTPS,
    REDIRECT,
    REDIRECT_TO,
    REFUSED,
    TIMED_OUT,
    UNRESOLVED,
    written,
)
from ..domain.response_headers import Headers, kept, printable
from .netguard import blocked, screen

BODY_PREFIX = 2048
# A response longer than this is not worth reading to keep the connection alive; a shorter
# one is read to its end, chunked or not, so the next attempt reuses the connection.
MAX_DRAIN = 256 * 1024


class BlockedDestination(NewConnectionError):
    """The network guard refused every address the host resolved to."""


# When the attempt this thread is sending must be over (time.monotonic()), or None outside one.
_deadline: ContextVar[float | None] = ContextVar("crm_webhooks_attempt_deadline", default=None)


def _bound(sock: socket.socket) -> None:
    """Give ``sock`` what is left of the attempt as its timeout, or time the attempt out."""
    deadline = _deadline.get()
    if deadline is None:
        return
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("timed out")  # what the socket itself raises: urllib3 knows it as a timeout
    sock.settimeout(left)


class _Bounded:
    """Every blocking call of the socket gets the time left before the attempt's deadline.

    These are the calls http.client and ssl make (reads through ``makefile`` use
    ``recv_into``); each is one wait under one timeout, so together they end by the deadline.
    """

    def connect(self, address: Any) -> None:
        _bound(self)  # type: ignore[arg-type]
        super().connect(address)  # type: ignore[misc]

    def do_handshake(self, *args: Any) -> None:
        _bound(self)  # type: ignore[arg-type]
        super().do_handshake(*args)  # type: ignore[misc]

    def recv(self, *args: Any) -> bytes:
        _bound(self)  # type: ignore[arg-type]
        return super().recv(*args)  # type: ignore[misc]

    def recv_into(self, *args: Any) -> int:
        _bound(self)  # type: ignore[arg-type]
        return super().recv_into(*args)  # type: ignore[misc]

    def send(self, *args: Any) -> int:
        _bound(self)  # type: ignore[arg-type]
        return super().send(*args)  # type: ignore[misc]

    def sendall(self, *args: Any) -> None:
        _bound(self)  # type: ignore[arg-type]
        super().sendall(*args)  # type: ignore[misc]


class _BoundedSocket(_Bounded, socket.socket):
    pass


class _BoundedSSLSocket(_Bounded, ssl.SSLSocket):
    pass


def tls_context() -> ssl.SSLContext:
    """How both transports check a receiver's certificate: the system's trust store (OpenSSL's
    ``SSL_CERT_FILE`` / ``SSL_CERT_DIR`` when set), a valid chain and the URL's host name."""
    context = create_urllib3_context()
    context.load_default_certs()
    # Only wrap_socket uses it (urllib3); asyncio's TLS goes through memory buffers instead.
    context.sslsocket_class = _BoundedSSLSocket
    return context


class _Guarded:
    allow_private: bool = False
    host: str
    port: int
    timeout: Any
    socket_options: Any

    def _new_conn(self) -> socket.socket:
        try:
            infos = socket.getaddrinfo(self.host.strip("[]"), self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        allowed, refused = screen(infos, lambda info: str(info[4][0]), allow_private=self.allow_private)
        if refused and not allowed:
            raise BlockedDestination(self, blocked(refused))  # type: ignore[arg-type]
        last_error: OSError | None = None
        for family, socktype, proto, _name, sockaddr in allowed:
            sock = _BoundedSocket(family, socktype, proto)
            try:
                for option in self.socket_options or ():
                    sock.setsockopt(*option)
                # urllib3 hands the connect timeout as a number, or a sentinel for "default".
                sock.settimeout(self.timeout if isinstance(self.timeout, (int, float)) else None)
                sock.connect(sockaddr)
                return sock
            except TimeoutError as exc:
                sock.close()
                raise ConnectTimeoutError(self, f"connection to {self.host} timed out") from exc  # type: ignore[arg-type]
            except OSError as exc:
                sock.close()
                last_error = exc
        raise NewConnectionError(self, f"failed to connect to {self.host}:{self.port}: {last_error}") from last_error  # type: ignore[arg-type]


@cache
def _pool_classes(allow_private: bool) -> dict[str, type[HTTPConnectionPool]]:
    attrs = {"allow_private": allow_private}
    http = type("GuardedHTTPConnection", (_Guarded, HTTPConnection), attrs)
    https = type("GuardedHTTPSConnection", (_Guarded, HTTPSConnection), attrs)
    return {
        "http": type("GuardedHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
        "https": type("GuardedHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
    }


@dataclass(frozen=True)
class Response:
    """What one attempt got back; ``status_code`` None means no HTTP answer at all."""

    status_code: int | None
    duration_ms: float
    error: str | None = None
    body: str | None = None
    retry_after: str | None = None
    location: str | None = None
    headers: Headers | None = None  # as received, bounded (response_headers.kept)

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class Transport:
    """One keep-alive pool per destination, owned here so none is closed under our feet."""

    def __init__(self, *, allow_private: bool, timeout: float, maxsize: int = 4) -> None:
        self.timeout = timeout
        self.maxsize = maxsize
        self._classes = _pool_classes(allow_private)
        # The whole attempt is bounded by the deadline `send` sets; these are urllib3's own.
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)
        self._tls: ssl.SSLContext | None = None  # made with the first https:// pool
        self._pools: dict[tuple[str, str, int], HTTPConnectionPool] = {}
        # URL -> (pool, path and query): parsing a hook's URL once, not per attempt.
        self._targets: dict[str, tuple[HTTPConnectionPool, str]] = {}
        self._lock = threading.Lock()

    def _target(self, url: str) -> tuple[HTTPConnectionPool, str]:
        target = self._targets.get(url)
        if target is not None:
            return target
        parsed = parse_url(url)
        scheme = (parsed.scheme or "http").lower()
        key = (scheme, (parsed.host or "").lower(), parsed.port or (443 if scheme == "https" else 80))
        with self._lock:
            pool = self._pools.get(key)
            if pool is None:
                tls: dict[str, Any] = {}
                if scheme == "https":
                    self._tls = self._tls or tls_context()
                    tls["ssl_context"] = self._tls
                pool = self._classes[scheme](
                    key[1], key[2], maxsize=self.maxsize, block=False, timeout=self._timeout, retries=False, **tls
                )
                self._pools[key] = pool
            if len(self._targets) > 4096:  # GET URLs carry their event: do not grow for ever
                self._targets.clear()
            target = self._targets[url] = (pool, parsed.request_uri)
        return target

    def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        started = time.perf_counter()
        deadline = _deadline.set(time.monotonic() + self.timeout)
        try:
            return self._send(started, method, url, headers, body)
        finally:
            _deadline.reset(deadline)

    def _send(self, started: float, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        try:
            pool, path = self._target(url)
            resp = pool.urlopen(
                method,
                path,
                body=body,
                headers=headers,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
            )
        except Exception as exc:  # every failure to get an answer is an attempt's error, never a crash
            return Response(None, _ms(started), error=describe(exc, self.timeout))
        headers = kept(resp.headers.items(), latin_1=True)  # they came with the status
        try:
            header = resp.headers.get("content-length")
            length = int(header) if header is not None and header.isdigit() else None
            data = resp.read(to_read(length))
            if not drained(length, data):
                resp.close()
        except Exception as exc:  # the status arrived; a body that breaks off is noted, not fatal
            error = written(BROKEN_BODY, why=describe(exc, self.timeout))
            return Response(resp.status, _ms(started), error=error, headers=headers)
        finally:
            resp.release_conn()
        return answer(
            resp.status, started, data, resp.headers.get("location"), resp.headers.get("retry-after"), headers
        )

    def close(self) -> None:
        with self._lock:
            for pool in self._pools.values():
                pool.close()
            self._pools.clear()
            self._targets.clear()


def to_read(length: int | None) -> int:
    """How much of an answer to read: to its end (MAX_DRAIN at most, chunked or not) so that
    the connection is reused, or only the prefix history keeps when it is longer."""
    return BODY_PREFIX if length is not None and length > MAX_DRAIN else MAX_DRAIN + 1


def drained(length: int | None, data: bytes) -> bool:
    """Whether ``data`` was the whole answer: if not, the connection must be dropped."""
    return (length is None or length <= MAX_DRAIN) and len(data) <= MAX_DRAIN


def answer(
    status: int,
    started: float,
    data: bytes,
    location: str | None,
    retry_after: str | None,
    headers: Headers,
) -> Response:
    """The Response of an attempt that got an HTTP answer, whichever transport sent it."""
    prefix = data[:BODY_PREFIX]
    # Whole (the error quotes it all), but a receiver's Location may carry escapes and NULs.
    location = None if location is None else printable(location)
    return Response(
        status,
        _ms(started),
        error=None if 200 <= status < 300 else _status_error(status, location),
        # NUL as U+FFFD, like bytes that are not UTF-8: PostgreSQL's text refuses it, and an
        # attempt that cannot be recorded would be sent again and again.
        body=prefix.decode("utf-8", "replace").replace("\x00", "\ufffd") if prefix else None,
        retry_after=retry_after,
        location=location,
        headers=headers,
    )


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 3)


def _status_error(status: int, location: str | None) -> str:
    if 300 <= status < 400:
        return f"HTTP {status}: " + (written(REDIRECT_TO, location=location) if location else written(REDIRECT))
    return f"HTTP {status}"


def tls_error(exc: ssl.SSLError) -> str:
    """One line for a TLS failure, from whichever transport: what the receiver got wrong."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return written(CERTIFICATE, why=exc.verify_message or exc.reason)
    # ssl.SSLError.reason is OpenSSL's own name for it (WRONG_VERSION_NUMBER), or None.
    reason = exc.reason.replace("_", " ").lower() if exc.reason else str(exc)
    # What OpenSSL makes of an HTTP answer read as a TLS record, by version.
    plain = exc.reason in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "HTTP_REQUEST")
    return written(NOT_HTTPS if plain else HANDSHAKE, why=reason)


def describe(exc: BaseException, timeout: float) -> str:
    """One line saying why an attempt got no answer, from urllib3's nested errors."""
    seen: BaseException | None = exc
    while seen is not None:
        # Most specific first: in urllib3 a refused or unresolvable connection is a kind of timeout.
        if isinstance(seen, BlockedDestination):
            return str(seen).split(": ", 1)[-1]
        if isinstance(seen, NameResolutionError):
            return written(UNRESOLVED, why=seen.__cause__ or seen)
        if isinstance(seen, ConnectionRefusedError):
            return written(REFUSED)
        if isinstance(seen, NewConnectionError) and seen.__cause__ is None:
            return str(seen).split(": ", 1)[-1]
        if isinstance(seen, (ReadTimeoutError, TimeoutError, socket.timeout)) or type(seen) is ConnectTimeoutError:
            return written(TIMED_OUT, seconds=f"{timeout:g}")
        if isinstance(seen, ssl.SSLError):
            return tls_error(seen)
        # urllib3 nests its errors in `reason`; ssl's `reason` is a string, not a cause.
        reason = getattr(seen, "reason", None)
        seen = reason if isinstance(reason, BaseException) else seen.__cause__ or seen.__context__
    return f"{type(exc).__name__}: {exc}"
