"""The HTTP request of one attempt, and what an answer means: pure functions, no I/O."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote, urlencode

from ..domain.attempt_errors import BODY_TEMPLATE, written
from ..domain.envelope import query_params, template_variables
from ..domain.hooks import BODY_METHODS, mask
from ..domain.templating import DEFAULT_CONTENT_TYPE, TemplateError, template
from ..version import __version__
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
    # Why it could not be made (its body template failed to render): then nothing is sent.
    error: str | None = None

    def masked_headers(self, key: str | None) -> dict[str, str]:
        """The headers as recorded in history: the hook's value and the signature masked."""
        hidden = {"webhook-signature", (key or "").lower()}
        return {k: (mask(v) or "") if k.lower() in hidden else v for k, v in self.headers.items()}


# A '%' that does not start an escape, and what stays unescaped in a query: urllib3 sends
# a query of only these as it is (and re-encodes anything else, where aiohttp does not).
_LONE_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")
_QUERY_SAFE = "!$&'()*+,;=:@/?%"


@lru_cache(maxsize=1024)
def _split_query(url: str) -> tuple[str, str]:
    """A hook's URL without its query, and that query in the one form both transports send as is.

    The signature covers the query byte for byte: it must not change on the way out.
    """
    base, _, query = url.partition("?")
    return base, quote(_LONE_PERCENT.sub("%25", query), safe=_QUERY_SAFE)


def build_request(c: Claimed, timestamp: int) -> Request:
    """Method, URL, headers and body exactly as CONTRACT section 3 describes them.

    A hook's body template is rendered here, at each attempt, from the hook as claimed: a
    template that fails gives a request with an ``error`` and no headers (nothing was signed).
    """
    headers = {"User-Agent": USER_AGENT, "webhook-id": c.event_id, "webhook-timestamp": str(timestamp)}
    if c.method in BODY_METHODS:
        url = c.url
        if c.body_template is None:
            body, headers["Content-Type"] = c.body, "application/json"
        else:
            headers["Content-Type"] = c.content_type or DEFAULT_CONTENT_TYPE
            try:
                body = _render(c, c.body_template, headers["Content-Type"])
            except TemplateError as exc:
                return Request(c.method, c.url, {}, None, error=written(BODY_TEMPLATE, why=str(exc)))
    else:
        # No body: the raw query string is the signed payload, so a replay with another
        # type or object_id fails verification like a tampered body would.
        base, own = _split_query(c.url)
        ours = urlencode(query_params(c.event_id, c.event_type, c.timestamp, c.object_id, test=c.test))
        body = f"{own}&{ours}" if own else ours
        url = f"{base}?{body}"
    headers["webhook-signature"] = sign(c.event_id, timestamp, body, c.secrets)
    if c.key:
        headers[c.key] = c.value or ""
    return Request(c.method, url, headers, body.encode() if c.method in BODY_METHODS else None)


def _render(c: Claimed, text: str, content_type: str) -> str:
    """What template ``text`` makes of ``c``'s event; TemplateError when it cannot."""
    variables = template_variables(c.body, c.hook_id, c.hook_name)
    return template(text).render(variables, content_type).decode()


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
