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
from urllib.parse import parse_qsl

from standardwebhooks import Webhook, WebhookVerificationError
from standardwebhooks.webhooks import EmptyWebhookSecretError

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


_REQUIRED = ("webhook-id", "webhook-timestamp", "webhook-signature")


def verify(payload: bytes | str, headers: Mapping[str, str], secret: str) -> Any:
    """Check a received webhook; returns its envelope.

    ``payload`` is what was signed: the body as received, or for GET and
    DELETE the raw query string (``request.query_string``), which is parsed
    into a dict of its fields.  Any failure (a header missing or malformed, a
    timestamp more than five minutes off, no matching signature, a body that is
    not UTF-8, an unusable secret) raises ``WebhookVerificationError`` whose
    message starts with the field at fault, so a receiver answers 401 for all.
    """
    try:
        signer = _signer(secret)
    except (ValueError, TypeError, RuntimeError, EmptyWebhookSecretError):
        raise WebhookVerificationError("secret: not a whsec_ base64 signing secret") from None
    try:
        text = payload.decode() if isinstance(payload, (bytes, bytearray)) else payload
    except UnicodeDecodeError:
        raise WebhookVerificationError("body: not UTF-8, so not what was signed") from None
    lowered = {name.lower(): value for name, value in headers.items()}
    for name in _REQUIRED:
        if not str(lowered.get(name) or "").strip():
            raise WebhookVerificationError(f"{name}: missing")
    try:
        signer.verify(text, lowered, json_parse=False)
    except WebhookVerificationError as exc:
        # The library checks the timestamp, then the signatures; name which failed.
        field = "webhook-signature" if "signature found" in str(exc) else "webhook-timestamp"
        raise WebhookVerificationError(f"{field}: {exc}") from None
    except ValueError:
        # The library unpacks and base64-decodes each entry without a guard (binascii.Error too).
        raise WebhookVerificationError(
            "webhook-signature: malformed; expected space-separated 'v1,<base64 digest>' entries"
        ) from None
    return _envelope(text)


def _envelope(text: str) -> Any:
    """The signed payload read back: a JSON body, or a GET/DELETE query string's fields."""
    if not text:
        return None
    if text.lstrip().startswith(("{", "[")):
        try:
            return json.loads(text)
        except ValueError:
            raise WebhookVerificationError("body: signed, but not the JSON envelope") from None
    # The envelope's fields are appended after the hook's own query: the last value wins.
    return dict(parse_qsl(text, keep_blank_values=True))


__all__ = ["SECRET_PREFIX", "WebhookVerificationError", "new_secret", "sign", "verify"]
