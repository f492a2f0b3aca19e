"""One attempt: build the request, send it, and say what the answer means. Records nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from crm_stub.models import utcnow

from ..domain.options import Options
from .claim import Claimed
from .request import Outcome, Request, build_request, decide
from .transport import Response, Transport

if TYPE_CHECKING:  # aiohttp is imported by workers only
    from .transport_async import AsyncTransport


@dataclass(frozen=True)
class Sent:
    """An attempt made, waiting to be recorded."""

    claimed: Claimed
    request: Request
    response: Response
    at: dt.datetime
    outcome: Outcome


def send(c: Claimed, transport: Transport, options: Options) -> Sent:
    """The attempt through the synchronous transport (``run_pending``, tests and redeliveries)."""
    request = build_request(c, int(time.time()))
    response = unsent(request) or transport.send(request.method, request.url, request.headers, request.body)
    return answered(c, request, response, options)


async def send_async(c: Claimed, transport: AsyncTransport, options: Options) -> Sent:
    """The attempt on a worker's event loop, through its ``AsyncTransport``."""
    if c.body_template is None:
        request = build_request(c, int(time.time()))
    else:
        # A template may run until its deadline: in a thread, not on the loop every slot shares.
        request = await asyncio.to_thread(build_request, c, int(time.time()))
    response = unsent(request) or await transport.send(request.method, request.url, request.headers, request.body)
    return answered(c, request, response, options)


def unsent(request: Request) -> Response | None:
    """A request that could not be made is a failed attempt with no HTTP answer, retried like one."""
    return None if request.error is None else Response(None, 0.0, error=request.error)


def answered(c: Claimed, request: Request, response: Response, options: Options) -> Sent:
    at = utcnow()
    outcome = decide(
        response,
        c.attempt_count + 1,
        at,
        options.retry_delays,
        jitter=options.retry_jitter,
        retry=not c.test,
    )
    return Sent(c, request, response, at, outcome)
