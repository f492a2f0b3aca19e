"""The HTTP request of one attempt, and what an answer means: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlencode

from .. import __version__
from ..domain.envelope import query_params
from ..domain.hooks import BODY_METHODS, mask
from .claim import Claimed
from .retry import next_attempt_at, parse_retry_after
from .signing import sign
from .transport import Response

# From the package's version, so it cannot stay behind at a release (it said 0.1 at 0.2.0).
USER_AGENT = f"crm-webhooks/{__version__} (+https://www.standardwebhooks.com)"


@dataclass(frozen=True)
class Request:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def masked_headers(self, key: str | None) -> dict[str, str]:
        """The headers as recorded in history: the hook's value and the signature masked."""
        hidden = {"webhook-signature", (key or "").lower()}
        return {k: (mask(v) or "") if k.lower() in hidden else v for k, v in self.headers.items()}


def build_request(c: Claimed, timestamp: int) -> Request:
    """Method, URL, headers and body exactly as CONTRACT section 3 describes them."""
    headers = {"User-Agent": USER_AGENT, "webhook-id": c.event_id, "webhook-timestamp": str(timestamp)}
    if c.method in BODY_METHODS:
        body, url = c.body, c.url
        headers["Content-Type"] = "application/json"
    else:
        body = ""
        query = urlencode(query_params(c.event_id, c.event_type, c.timestamp, c.object_id))
        url = f"{c.url}{'&' if '?' in c.url else '?'}{query}"
    headers["webhook-signature"] = sign(c.event_id, timestamp, body, c.secrets)
    if c.key:
        headers[c.key] = c.value or ""
    return Request(c.method, url, headers, body.encode() if c.method in BODY_METHODS else None)


@dataclass(frozen=True)
class Outcome:
    status: str  # "pending" (retry at next_attempt_at), "succeeded" or "failed"
    next_attempt_at: dt.datetime | None = None
    gone: bool = False  # the receiver said 410 Gone: stop sending to this hook


def decide(
    response: Response,
    attempts: int,
    now: dt.datetime,
    delays: Sequence[float],
    *,
    jitter: float = 0.0,
    retry: bool = True,
) -> Outcome:
    """What the ``attempts``-th attempt's answer means for the delivery.

    2xx succeeds; 410 fails at once and retires the hook; anything else is
    retried on the schedule (``retry`` False for one-shot test sends), with a
    429 or 503's Retry-After as a floor.
    """
    if response.ok:
        return Outcome("succeeded")
    if response.status_code == 410:
        return Outcome("failed", gone=True)
    if not retry:
        return Outcome("failed")
    retry_after = parse_retry_after(response.retry_after, now) if response.status_code in (429, 503) else None
    when = next_attempt_at(attempts, now, delays, retry_after=retry_after, jitter=jitter)
    return Outcome("failed") if when is None else Outcome("pending", when)
