"""Signatures as a receiver checks them: the reference cases of Standard Webhooks, and hostile headers.

``crm_webhooks.verify`` promises one kind of failure, ``WebhookVerificationError``,
whatever arrives: a receiver that catches it answers 401, never 500.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import pytest

from crm_webhooks import WebhookVerificationError, verify
from crm_webhooks.engine.signing import new_secret, sign

VECTORS = json.loads((Path(__file__).parent / "data" / "standard_webhooks_vectors.json").read_text())
MSG_ID, PAYLOAD, SECRET = VECTORS["message_id"], VECTORS["payload"], VECTORS["secret"]


def spec_signature(secret: str, msg_id: str, timestamp: int, payload: bytes) -> str:
    """The v1 signature computed from the specification alone, not through any library."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + payload, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, payload: bytes, *, msg_id: str = MSG_ID, offset: int = 0) -> dict[str, str]:
    timestamp = int(time.time()) + offset
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": spec_signature(secret, msg_id, timestamp, payload),
    }


@pytest.mark.parametrize("case", VECTORS["signing"], ids=lambda c: c["name"])
def test_signing_matches_the_reference_vectors(case: dict[str, Any]) -> None:
    assert sign(MSG_ID, case["timestamp"], PAYLOAD, ["whsec_" + SECRET]) == case["signature"]


@pytest.mark.parametrize("case", VECTORS["verification"], ids=lambda c: c["name"])
def test_verification_agrees_with_the_reference_vectors(case: dict[str, Any]) -> None:
    headers = signed_headers(SECRET, PAYLOAD.encode(), offset=case.get("timestamp_offset", 0))
    valid = headers["webhook-signature"]
    if "signature" in case:
        headers["webhook-signature"] = case["signature"].replace("VALID[:8]", valid[:8]).replace("VALID", valid)
    for name, value in case.get("headers", {}).items():
        if value is None:
            del headers[name]
        else:
            headers[name] = value
    secret = case.get("secret_prefix", "") + SECRET
    if case["valid"]:
        assert verify(PAYLOAD.encode(), headers, secret) == {"test": 2432232314}
    else:
        with pytest.raises(WebhookVerificationError):
            verify(PAYLOAD.encode(), headers, secret)


OUR_SECRET = new_secret()
BODY = b'{"id": "evt_1", "type": "lead.created"}'


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("webhook-signature", "garbage"),
        ("webhook-signature", "v1,a,b"),
        ("webhook-signature", "v1=abc"),
        ("webhook-signature", "v1,dawfeoifkpqwoekfpqoekf"),
        ("webhook-signature", "v1,%%%%"),
        ("webhook-signature", ","),
        ("webhook-signature", "   "),
        ("webhook-signature", "v1,AAAA"),  # well formed, wrong
        ("webhook-id", ""),
        ("webhook-timestamp", "nan"),
        ("webhook-timestamp", "1e400"),
        ("webhook-timestamp", "-1"),
    ],
)
def test_a_malformed_header_is_a_verification_error_naming_it(header: str, value: str) -> None:
    headers = {**signed_headers(OUR_SECRET, BODY), header: value}
    with pytest.raises(WebhookVerificationError, match=f"^{header}: "):
        verify(BODY, headers, OUR_SECRET)


@pytest.mark.parametrize(
    ("body", "secret", "field"),
    [
        (b"\xff\xfe{}", OUR_SECRET, "body"),  # not UTF-8
        (BODY, "whsec_not base64!", "secret"),
        (BODY, "", "secret"),
    ],
    ids=["body-not-utf-8", "secret-not-base64", "secret-empty"],  # a fresh secret would name the test anew each run
)
def test_a_body_or_secret_that_cannot_be_used_is_a_verification_error(body: bytes, secret: str, field: str) -> None:
    headers = signed_headers(OUR_SECRET, body)
    with pytest.raises(WebhookVerificationError, match=f"^{field}: "):
        verify(body, headers, secret)


def test_header_names_are_case_insensitive() -> None:
    headers = {k.title(): v for k, v in signed_headers(OUR_SECRET, BODY).items()}
    assert verify(BODY, headers, OUR_SECRET)["type"] == "lead.created"
