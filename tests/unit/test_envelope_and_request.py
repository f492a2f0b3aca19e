"""The envelope, the request of an attempt, the meaning of an answer, and signatures."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest

from crm_webhooks.domain import envelope
from crm_webhooks.engine.claim import Claimed
from crm_webhooks.engine.request import build_request, decide
from crm_webhooks.engine.signing import WebhookVerificationError, new_secret, sign, verify
from crm_webhooks.engine.transport import Response

NOW = datetime(2026, 1, 1, 12, 0, 0)
SECRET = "whsec_" + base64.b64encode(b"k" * 32).decode()


def claimed(
    method: str = "POST",
    *,
    key: str | None = "X-Api-Key",
    url: str = "http://127.0.0.1/h",
    secrets=(SECRET,),
    test=False,
) -> Claimed:
    body = envelope.encode(envelope.build("evt_1", "lead.created", NOW, {"id": 7, "name": "ACME"}))
    return Claimed(
        1,
        0,
        "evt_1",
        "lead.created",
        "2026-01-01T12:00:00.000Z",
        "7",
        body,
        test,
        3,
        url,
        method,
        key,
        "s3cret",
        tuple(secrets),
        True,
    )


def test_envelope_shape() -> None:
    env = envelope.build("evt_1", "lead.updated", NOW, {"id": 7}, {"name": "Old"}, actor_id=3)
    assert env == {
        "id": "evt_1",
        "type": "lead.updated",
        "api_version": envelope.API_VERSION,
        "timestamp": "2026-01-01T12:00:00.000Z",
        "actor_id": 3,
        "data": {"object": {"id": 7}, "previous_attributes": {"name": "Old"}},
    }
    assert "previous_attributes" not in envelope.build("evt_1", "lead.created", NOW, {"id": 7})["data"]


@pytest.mark.parametrize(
    ("actor_id", "test", "extra"),
    [
        (None, False, {"actor_id": None}),  # a change made by no user (an import, a job)
        (5, False, {"actor_id": 5}),
        (None, True, {"actor_id": None, "test": True}),  # only test sends carry "test"
    ],
)
def test_a_new_event_says_who_made_it_and_whether_it_is_a_test(actor_id, test, extra) -> None:
    new = envelope.new_event("lead.created", {"id": 1}, None, NOW, actor_id, test=test)
    body = json.loads(new.body)
    assert {k: body[k] for k in ("actor_id", "test") if k in body} == extra
    assert body["api_version"] == envelope.API_VERSION
    assert list(body)[-1] == "data"  # the small fields first, for whoever reads the raw body


def test_the_api_version_is_a_date() -> None:
    assert datetime.strptime(envelope.API_VERSION, "%Y-%m-%d")


def test_encoding_keeps_money_exact_and_text_readable() -> None:
    body = envelope.encode(
        envelope.build("e", "opportunity.updated", NOW, {"id": 1, "name": "Ação"}, {"amount": Decimal("1500.00")})
    )
    assert '"amount":"1500.00"' in body and "Ação" in body


@pytest.mark.parametrize(("record_id", "object_id"), [(7, "7"), (None, None)])  # a sample may have no id
def test_a_new_event_carries_its_id_in_the_body_it_will_send(record_id, object_id) -> None:
    new = envelope.new_event("lead.updated", {"id": record_id, "name": "Ana"}, {"name": "Old"}, NOW, 2)
    assert json.loads(new.body) == {
        "id": new.id,
        "type": "lead.updated",
        "api_version": envelope.API_VERSION,
        "timestamp": "2026-01-01T12:00:00.000Z",
        "actor_id": 2,
        "data": {"object": {"id": record_id, "name": "Ana"}, "previous_attributes": {"name": "Old"}},
    }
    assert (new.object_id, new.timestamp) == (object_id, "2026-01-01T12:00:00.000Z")


def test_event_ids_are_unique_and_sort_by_time() -> None:
    ids = [envelope.new_event_id(now=t) for t in (1001.0, 1002.0, 1003.0)]
    assert ids == sorted(ids) and all(i.startswith("evt_") and len(i) == 30 for i in ids)
    assert len({envelope.new_event_id() for _ in range(1000)}) == 1000


@pytest.mark.parametrize(
    "clock",
    [
        pytest.param([5.0] * 50, id="fifty-in-one-millisecond"),
        pytest.param([5.0, 4.0, 4.5, 3.0, 5.0, 6.0], id="clock-stepping-back"),
    ],
)
def test_ids_made_one_after_another_sort_in_the_order_they_were_made(clock) -> None:
    # A fast machine writes many events in one millisecond: their order must not be left to chance.
    ids = envelope.EventIds()
    made = [ids.new(now=t) for t in clock]
    assert made == sorted(made) and len(set(made)) == len(made)


def test_a_tight_loop_of_ids_is_in_order() -> None:
    made = [envelope.new_event_id() for _ in range(5000)]
    assert made == sorted(made)


def test_post_request_exactly_as_the_contract_says() -> None:
    ts = int(time.time())
    req = build_request(claimed(), ts)
    assert (req.method, req.url) == ("POST", "http://127.0.0.1/h")
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["X-Api-Key"] == "s3cret"
    assert req.headers["webhook-id"] == "evt_1" and req.headers["webhook-timestamp"] == str(ts)
    # The signature by hand, as a receiver without our library would compute it.
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = base64.b64encode(
        hmac.new(key, f"evt_1.{ts}.{req.body.decode()}".encode(), hashlib.sha256).digest()
    ).decode()
    assert req.headers["webhook-signature"] == f"v1,{expected}"
    assert verify(req.body, req.headers, SECRET)["type"] == "lead.created"


def test_a_templated_request_sends_and_signs_what_the_template_renders() -> None:
    template = "{{ object.name }} / {{ hook.name }} / {{ previous | length }} / {{ id }} at {{ timestamp }}"
    c = replace(claimed(), hook_name="avisos", body_template=template, content_type="text/plain; charset=utf-8")
    req = build_request(c, int(time.time()))
    assert req.body == b"ACME / avisos / 0 / evt_1 at 2026-01-01T12:00:00.000Z"
    assert req.headers["Content-Type"] == "text/plain; charset=utf-8" and req.headers["X-Api-Key"] == "s3cret"
    assert req.error is None
    verify(req.body, req.headers, SECRET)


def test_a_template_that_fails_makes_no_request_and_says_where() -> None:
    c = replace(claimed(), body_template='{"id": {{ object.id }},\n "x": {{ object.id / 0 }}}')
    req = build_request(c, int(time.time()))
    assert req.error == "body template: line 2: ZeroDivisionError: division by zero"
    assert (req.headers, req.body) == ({}, None)  # nothing signed


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_bodyless_methods_put_the_envelope_in_the_query(method: str) -> None:
    req = build_request(claimed(method, url="http://127.0.0.1/h?x=1"), int(time.time()))
    assert req.body is None and "Content-Type" not in req.headers
    query = parse_qs(urlsplit(req.url).query)
    assert query == {
        "x": ["1"],
        "id": ["evt_1"],
        "type": ["lead.created"],
        "api_version": [envelope.API_VERSION],
        "timestamp": ["2026-01-01T12:00:00.000Z"],
        "object_id": ["7"],
    }
    # What is signed is the query string exactly as it goes on the wire.
    signed = urlsplit(req.url).query
    assert verify(signed, req.headers, SECRET)["object_id"] == "7"
    with pytest.raises(WebhookVerificationError, match=r"^webhook-signature: "):
        verify(b"", req.headers, SECRET)


@pytest.mark.parametrize(
    "tampered",
    [
        {"type": "lead.discarded"},
        {"object_id": "999"},
        {"x": "2"},
        {"test": "true"},
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_bodyless_request_replayed_with_another_query_fails_verification(method: str, tampered: dict) -> None:
    req = build_request(claimed(method, url="http://127.0.0.1/h?x=1"), int(time.time()))
    signed = urlsplit(req.url).query
    assert verify(signed, req.headers, SECRET)["type"] == "lead.created"
    with pytest.raises(WebhookVerificationError):
        verify(urlencode({**dict(parse_qsl(signed)), **tampered}), req.headers, SECRET)
    with pytest.raises(WebhookVerificationError):
        verify(signed + "&object_id=999", req.headers, SECRET)  # a repeated field appended


@pytest.mark.parametrize(("test", "marked"), [(True, {"test": ["true"]}), (False, {})])
def test_a_bodyless_test_send_says_so_in_its_query(test: bool, marked: dict) -> None:
    req = build_request(claimed("GET", test=test), int(time.time()))
    query = parse_qs(urlsplit(req.url).query)
    assert {k: v for k, v in query.items() if k == "test"} == marked


# What urllib3 sends as it is in a query: anything else it re-encodes (and aiohttp does not),
# so a hook's own query must already be in this form for the signature to hold.
_WIRE_SAFE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*")


@pytest.mark.parametrize(
    ("hook_url", "own_query"),
    [
        ("http://127.0.0.1/h?q=ação", "q=a%C3%A7%C3%A3o"),
        ("http://127.0.0.1/h?b={x}|y&ab[]=1", "b=%7Bx%7D%7Cy&ab%5B%5D=1"),
        ("http://127.0.0.1/h?c=a%20b&d=%zz", "c=a%20b&d=%25zz"),
        ("http://127.0.0.1/h?e=\"'<>^`", "e=%22'%3C%3E%5E%60"),
        ("http://127.0.0.1/h?y=a+b;c&z=%41", "y=a+b;c&z=%41"),
        ("http://127.0.0.1/h?", ""),
    ],
)
def test_a_hooks_own_query_is_sent_in_the_form_that_was_signed(hook_url: str, own_query: str) -> None:
    req = build_request(claimed("GET", url=hook_url), int(time.time()))
    query = urlsplit(req.url).query
    assert query.startswith(own_query) and _WIRE_SAFE.fullmatch(query)
    verify(query, req.headers, SECRET)


def test_two_live_secrets_sign_twice() -> None:
    other = new_secret()
    req = build_request(claimed(secrets=(other, SECRET)), int(time.time()))
    assert len(req.headers["webhook-signature"].split(" ")) == 2
    for s in (other, SECRET):
        verify(req.body, req.headers, s)


def test_masked_headers_hide_the_value_and_the_signature() -> None:
    req = build_request(claimed(), int(time.time()))
    masked = req.masked_headers("X-Api-Key")
    assert masked["X-Api-Key"] == "••••••" and "s3cret" not in json.dumps(masked)
    assert masked["webhook-signature"] != req.headers["webhook-signature"]
    assert masked["webhook-id"] == "evt_1"


def test_no_key_no_auth_header() -> None:
    req = build_request(claimed(key=None), int(time.time()))
    assert "X-Api-Key" not in req.headers


DELAYS = [10, 20]


@pytest.mark.parametrize(
    ("response", "attempts", "status", "wait", "gone"),
    [
        (Response(200, 1.0), 1, "succeeded", None, False),
        (Response(204, 1.0), 3, "succeeded", None, False),
        (Response(500, 1.0), 1, "pending", 10, False),
        (Response(500, 1.0), 2, "pending", 20, False),
        (Response(500, 1.0), 3, "failed", None, False),  # retries spent
        (Response(None, 1.0, error="timed out"), 1, "pending", 10, False),
        (Response(302, 1.0), 1, "pending", 10, False),  # a redirect is a failure
        (Response(410, 1.0), 1, "failed", None, True),  # Gone: no retry, retire the hook
        (Response(429, 1.0, retry_after="300"), 1, "pending", 300, False),
        (Response(503, 1.0, retry_after="1"), 1, "pending", 10, False),  # the schedule is longer
        (Response(500, 1.0, retry_after="300"), 1, "pending", 10, False),  # only 429/503 ask to wait
    ],
)
def test_decide(response: Response, attempts: int, status: str, wait: float | None, gone: bool) -> None:
    outcome = decide(response, attempts, NOW, DELAYS)
    assert outcome.status == status and outcome.gone is gone
    assert outcome.next_attempt_at == (None if wait is None else NOW + timedelta(seconds=wait))


def test_test_sends_are_never_retried() -> None:
    assert decide(Response(500, 1.0), 1, NOW, DELAYS, retry=False).status == "failed"


def test_new_secrets_are_random_and_long_enough() -> None:
    a, b = new_secret(), new_secret()
    assert a != b and a.startswith("whsec_") and len(base64.b64decode(a[6:])) == 32


def test_sign_matches_standard_webhooks_reference() -> None:
    # The example of the Standard Webhooks specification.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    assert (
        sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body, [secret])
        == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
