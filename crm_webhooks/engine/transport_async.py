"""HTTP out for the worker: many attempts in flight on one asyncio loop, through aiohttp.

The worker keeps ``--concurrency`` attempts waiting on receivers at once.  As
threads, each attempt paid for Python's HTTP parsing and for the GIL hand-offs
between sixteen threads; on one loop, with aiohttp's C parser, the same
attempts cost the worker about half the CPU (``bench/workers.py``).  What an
attempt records is the same as through ``transport.Transport``: the same
``Response``, the same error sentences, the same network guard (names are
screened by the resolver, so the connection goes to an address that was
checked; literal addresses before the request).
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import sys
import time
from typing import Any

import aiohttp
from aiohttp.abc import ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from ..domain.addresses import parse_ip, refusal
from ..domain.attempt_errors import BROKEN_BODY, NO_CONNECTION, REFUSED, TIMED_OUT, UNRESOLVED, written
from ..domain.response_headers import kept
from .netguard import blocked, screen
from .transport import Response, _ms, answer, drained, tls_context, tls_error, to_read

_ASYNCIO_KEEPS_TLS = sys.version_info < (3, 12, 8) or (3, 13, 0) <= sys.version_info < (3, 13, 1)


class Blocked(OSError):
    """The network guard refused every address a name resolved to."""


class _GuardedResolver(ThreadedResolver):
    def __init__(self, allow_private: bool) -> None:
        super().__init__()
        self.allow_private = allow_private

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        hosts = await super().resolve(host, port, family)
        allowed, refused = screen(hosts, lambda h: h["host"], allow_private=self.allow_private)
        if not allowed:
            raise Blocked(blocked(refused))
        return allowed


class AsyncTransport:
    """One aiohttp session: keep-alive connections per destination, no cookies, no redirects.

    Create and use it inside the running loop it belongs to.
    """

    def __init__(self, *, allow_private: bool, timeout: float, per_host: int) -> None:
        self.timeout = timeout
        self.allow_private = allow_private
        connector = aiohttp.TCPConnector(
            limit=0,
            limit_per_host=per_host,
            resolver=_GuardedResolver(allow_private),
            ttl_dns_cache=10,
            # The same checks as the other transport, with the trust store of now (not of import).
            ssl=tls_context(),
            # Before CPython 3.12.8 / 3.13.1 asyncio keeps a TLS connection for ever when the
            # receiver never finishes the TLS goodbye (one that stalls, say): aiohttp aborts them.
            enable_cleanup_closed=_ASYNCIO_KEEPS_TLS,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            # Per attempt, as the contract says, and one timer per attempt rather than one per read.
            timeout=aiohttp.ClientTimeout(total=timeout),
            # One receiver's cookies must never reach another; bodies are kept as they came.
            cookie_jar=aiohttp.DummyCookieJar(),
            auto_decompress=False,
            # The same request headers as urllib3's, so a receiver sees no difference.
            headers={"Accept-Encoding": "identity"},
            skip_auto_headers=("Accept",),
        )
        # URL -> (parsed URL, the guard's refusal of a literal address): parsed once per hook.
        self._targets: dict[str, tuple[URL, str | None]] = {}

    def _target(self, url: str) -> tuple[URL, str | None]:
        target = self._targets.get(url)
        if target is None:
            parsed = URL(url, encoded=True)  # the query is ours, already encoded: sent as it is
            ip = parse_ip(parsed.raw_host or "")
            why = refusal(ip, allow_private=self.allow_private) if ip is not None else None
            if len(self._targets) > 4096:  # GET URLs carry their event: do not grow for ever
                self._targets.clear()
            target = self._targets[url] = (parsed, blocked([(str(ip), why)]) if why else None)
        return target

    async def send(self, method: str, url: str, headers: dict[str, str], body: bytes | None) -> Response:
        started = time.perf_counter()
        try:
            target, refused = self._target(url)
            if refused:
                return Response(None, _ms(started), error=refused)
            resp = await self._session.request(method, target, data=body, headers=headers, allow_redirects=False)
        except Exception as exc:  # every failure to get an answer is an attempt's error, never a crash
            return Response(None, _ms(started), error=describe(exc, self.timeout))
        headers = kept(resp.raw_headers)  # they came with the status
        try:
            length = resp.content_length
            data = await _read(resp.content, to_read(length))
            if not drained(length, data):
                resp.close()
        except Exception as exc:  # the status arrived; a body that breaks off is noted, not fatal
            # Half read, the connection cannot serve another attempt: dropped now, as a polite
            # TLS goodbye would wait up to 30 s on a receiver that has stopped answering.
            if resp.connection is not None and resp.connection.transport is not None:
                resp.connection.transport.abort()
            error = written(BROKEN_BODY, why=describe(exc, self.timeout))
            return Response(resp.status, _ms(started), error=error, headers=headers)
        finally:
            resp.release()
        return answer(
            resp.status, started, data, resp.headers.get("Location"), resp.headers.get("Retry-After"), headers
        )

    async def close(self) -> None:
        await self._session.close()


async def _read(content: aiohttp.StreamReader, limit: int) -> bytes:
    """Up to ``limit`` bytes of the body: all of it when it is shorter."""
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := await content.read(limit - size)):
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def describe(exc: BaseException, timeout: float) -> str:
    """One line saying why an attempt got no answer, in ``transport.describe``'s words."""
    cause: Any = exc.__cause__
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(cause, Blocked):
            return str(cause)
        return written(UNRESOLVED, why=exc.os_error)
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return written(TIMED_OUT, seconds=f"{timeout:g}")
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        return tls_error(exc.certificate_error)  # type: ignore[arg-type]
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, ssl.SSLError):
        return tls_error(exc.os_error)
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, ConnectionRefusedError):
            return written(REFUSED)
        return written(NO_CONNECTION, host=exc.host, port=exc.port, why=exc.os_error)
    return f"{type(exc).__name__}: {exc}"
