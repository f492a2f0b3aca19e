"""Standard Webhooks signatures, through the ``standardwebhooks`` package.

Signed content is ``"{id}.{timestamp}.{body}"`` with HMAC-SHA256 keyed by the
hook's ``whsec_`` secret.  During a secret rotation the header carries one
signature per live secret, space-separated, so a receiver holding either
verifies.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


@lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    # Decoding the secret costs more than the HMAC; hooks send many times.
    return Webhook(secret)


def sign(event_id: str, timestamp: int, body: str, secrets_: Iterable[str]) -> str:
    """The ``webhook-signature`` header value: ``v1,<sig>`` per secret, space-separated."""
    when = datetime.fromtimestamp(timestamp, tz=UTC)
    return " ".join(_signer(s).sign(event_id, when, body) for s in secrets_)


def verify(body: bytes | str, headers: Mapping[str, str], secret: str) -> Any:
    """Check a received webhook; returns the parsed JSON body (None for an empty one).

    Raises ``WebhookVerificationError`` when a header is missing, the
    timestamp is more than five minutes off, or no signature matches.
    """
    text = body.decode() if isinstance(body, bytes) else body
    # GET and DELETE carry no body: verify, but there is nothing to parse.
    _signer(secret).verify(text, dict(headers), json_parse=False)
    return json.loads(text) if text else None


__all__ = ["SECRET_PREFIX", "WebhookVerificationError", "new_secret", "sign", "verify"]
