"""Deliveries to real local receivers: signed, authenticated, retried, never sent for rolled-back work."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import pytest
import sqlalchemy as sa
from standardwebhooks import Webhook

from crm_stub import EVENT_CODES, InvalidTransition
from crm_stub.logs import TEXT_FORMAT, TextFormatter, fields
from crm_stub.scenario import sales_cycle
from crm_webhooks import WebhookVerificationError, hook_disabled, verify
from crm_webhooks.domain.envelope import API_VERSION
from crm_webhooks.engine.record import Batch


def hook_for(webhooks, receiver, event: str = "lead.created", **fields):
    return webhooks.create_hook(
        **{"name": event, "event": event, "url": receiver.url, "key": "X-Api-Key", "value": "s3cret", **fields}
    )


def test_all_30_events_arrive_signed_and_authenticated(crm, webhooks, webhook_receiver) -> None:
    hooks = {code: hook_for(webhooks, webhook_receiver, code) for code in EVENT_CODES}
    sales_cycle(crm)
    webhooks.run_pending()
    by_type: dict[str, list] = {}
    for request in webhook_receiver.requests:
        by_type.setdefault(json.loads(request.get_data())["type"], []).append(request)
    assert set(by_type) == set(EVENT_CODES)
    for code, requests in by_type.items():
        for request in requests:
            envelope = webhook_receiver.verify(request, hooks[code])
            assert request.headers["X-Api-Key"] == "s3cret"
            assert request.headers["Content-Type"] == "application/json"
            assert request.headers["webhook-id"] == envelope["id"]
            assert envelope["type"] == code and envelope["timestamp"].endswith("Z")
            assert "id" in envelope["data"]["object"]
    for hook in webhooks.list_hooks():
        assert hook.status == "succeeded" and hook.last_run_at is not None


def test_envelope_carries_the_record_and_its_previous_attributes(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver, "lead.stage_changed")
    lead = crm.leads.create("ACME")
    crm.leads.change_stage(lead.id, "contacted")
    envelope = webhook_receiver.wait_for("lead.stage_changed")
    assert envelope["data"]["object"]["id"] == lead.id
    assert envelope["data"]["object"]["stage"] == "contacted"
    assert envelope["data"]["previous_attributes"] == {"stage": "new"}


def test_the_envelope_names_who_made_the_change(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver, "lead.stage_changed")
    ana = crm.users.create(name="Ana", email="ana@example.com")
    lead = crm.leads.create("ACME")  # by no user: a job, an import
    with crm.acting_as(ana.id):
        crm.leads.change_stage(lead.id, "contacted")
    crm.leads.change_stage(lead.id, "qualified")
    first = webhook_receiver.wait_for("lead.stage_changed")
    second = webhook_receiver.wait_for("lead.stage_changed", count=2)
    assert (first["actor_id"], second["actor_id"]) == (ana.id, None)
    assert first["api_version"] == second["api_version"] == API_VERSION
    assert "test" not in first and "test" not in second  # only test sends say "test"


@pytest.mark.parametrize("method", ["POST", "GET"])
def test_a_test_send_is_marked_so_a_receiver_can_ignore_it(webhooks, webhook_receiver, method: str) -> None:
    hook = hook_for(webhooks, webhook_receiver, "lead.created", method=method)
    webhooks.send_test(hook.id)
    (request,) = webhook_receiver.requests
    envelope = webhook_receiver.verify(request, hook)
    assert envelope["test"] in (True, "true") and envelope["api_version"] == API_VERSION
    if method == "POST":
        assert envelope["test"] is True and envelope["actor_id"] is None


def test_a_rolled_back_transaction_sends_nothing(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver)
    with pytest.raises(RuntimeError), crm.transaction():
        crm.leads.create("Never")
        raise RuntimeError("abort")
    assert webhooks.run_pending() == 0
    assert webhook_receiver.requests == []
    with crm.engine.connect() as conn:
        assert conn.scalar(sa.text("select count(*) from webhook_events")) == 0


def test_one_change_is_one_event_even_with_several_hooks(crm, webhooks, webhook_receiver) -> None:
    a, b = hook_for(webhooks, webhook_receiver), hook_for(webhooks, webhook_receiver)
    crm.leads.create("Once")
    assert webhooks.run_pending() == 2
    assert webhooks.run_pending() == 0  # nothing twice
    ids = {r.headers["webhook-id"] for r in webhook_receiver.requests}
    assert len(ids) == 1 and len(webhook_receiver.requests) == 2
    assert webhooks.last_delivery(a.id).event_id == webhooks.last_delivery(b.id).event_id


@pytest.mark.parametrize("call", ["run_pending", "send_test", "redeliver"])
def test_no_http_inside_the_crm_transaction(crm, webhooks, webhook_receiver, call: str) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    with crm.transaction():
        crm.leads.create("Inside")
        with pytest.raises(InvalidTransition, match=f"{call}.. sends over HTTP and cannot run inside"):
            getattr(webhooks, call)(*(() if call == "run_pending" else (hook.id,)))
        assert webhook_receiver.requests == []
    webhooks.run_pending()
    assert len(webhook_receiver.requests) == 1


@pytest.mark.webhooks_options(retry_delays=[0, 0, 0])
def test_retries_then_success_keep_the_event_id(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.fail_next(2)
    crm.leads.create("Flaky")
    assert webhooks.run_pending() == 3
    assert len({r.headers["webhook-id"] for r in webhook_receiver.requests}) == 1
    delivery = webhooks.last_delivery(hook.id)
    assert delivery.status == "succeeded"
    assert [a.status_code for a in delivery.attempts] == [500, 500, 200]
    assert delivery.attempts[0].response_body == "receiver error"
    assert webhooks.get_hook(hook.id).status == "succeeded"


@pytest.mark.webhooks_options(retry_delays=[0, 0], disable_after_failures=2)
def test_exhausted_retries_fail_and_auto_disable_with_a_signal(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    notices: list[tuple[int, str]] = []

    def notice(sender, *, hook, reason):
        notices.append((hook.id, reason))

    hook_disabled.connect(notice, sender=crm)
    try:
        webhook_receiver.fail_next(6)
        crm.leads.create("One")
        webhooks.run_pending()
        first = webhooks.last_delivery(hook.id)
        assert first.status == "failed" and len(first.attempts) == 3
        assert webhooks.get_hook(hook.id).status == "failing"
        assert webhooks.get_hook(hook.id).enabled
        crm.leads.create("Two")
        webhooks.run_pending()
    finally:
        hook_disabled.disconnect(notice, sender=crm)
    disabled = webhooks.get_hook(hook.id)
    assert (disabled.enabled, disabled.status) == (False, "disabled")
    assert "after 2 failed deliveries in a row" in disabled.status_detail
    assert disabled.disabled_at is not None
    assert notices == [(hook.id, disabled.disabled_reason)]
    # A failed delivery stays visible and recoverable.
    assert [d.status for d in webhooks.history(hook.id)] == ["failed", "failed"]


@pytest.mark.webhooks_options(retry_delays=[0, 0, 0])
def test_410_gone_disables_the_hook_at_once(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.respond_with(410)
    crm.leads.create("Gone")
    assert webhooks.run_pending() == 1
    assert webhooks.last_delivery(hook.id).status == "failed"
    hook = webhooks.get_hook(hook.id)
    assert not hook.enabled and "410 Gone" in hook.disabled_reason


@pytest.mark.webhooks_options(retry_delays=[0, 0], disable_after_failures=1)
def test_a_disabled_hook_keeps_its_pending_deliveries_until_enabled(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Queued")
    webhooks.disable_hook(hook.id)
    assert webhooks.run_pending() == 0
    held = webhooks.last_delivery(hook.id)
    assert held.status == "pending" and held.held
    crm.leads.create("While disabled")  # a disabled hook does not subscribe
    webhooks.enable_hook(hook.id)
    assert webhooks.run_pending() == 1
    assert webhook_receiver.envelopes[0]["data"]["object"]["name"] == "Queued"


def test_a_stale_hold_leaves_a_delivery_another_worker_has_taken(crm, webhooks, webhook_receiver) -> None:
    # A worker held a delivery claimed while its hook was disabled, but only after its lease
    # ran out, the hook was enabled again and another worker took the delivery: holding it
    # then would clear the other's lease and park a delivery of an enabled hook for good.
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Taken over")
    deliverer = webhooks.deliverer
    (claimed,) = deliverer.claim().claimed
    deliveries = sa.table("webhook_deliveries", sa.column("id"), sa.column("locked_by"), sa.column("next_attempt_at"))
    with crm.engine.begin() as conn:
        conn.execute(sa.update(deliveries).values(locked_by="another-worker"))
    deliverer.record(Batch(held=[claimed.delivery_id]))
    with crm.engine.connect() as conn:
        locked_by, next_attempt_at = conn.execute(sa.select(deliveries.c.locked_by, deliveries.c.next_attempt_at)).one()
    assert locked_by == "another-worker" and next_attempt_at is not None
    assert webhooks.last_delivery(hook.id).status == "pending"


@pytest.mark.webhooks_options(timeout=0.3, retry_delays=[60])
def test_a_slow_receiver_times_out_and_is_retried_later(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.delay_next(1.0)
    crm.leads.create("Slow")
    webhooks.run_pending()
    delivery = webhooks.last_delivery(hook.id)
    (attempt,) = delivery.attempts
    assert attempt.status_code is None and "timed out after 0.3 s" in attempt.error
    assert delivery.status == "pending" and delivery.next_attempt_at is not None


@pytest.mark.webhooks_options(retry_delays=[60])
def test_redirects_are_not_followed(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.respond_with(302, headers={"Location": "http://127.0.0.1:1/elsewhere"})
    crm.leads.create("Moved")
    webhooks.run_pending()
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    assert attempt.status_code == 302 and attempt.location == "http://127.0.0.1:1/elsewhere"
    assert "redirects are not followed" in attempt.error
    assert len(webhook_receiver.requests) == 1


def test_a_location_longer_than_history_keeps_is_cut_not_refused(crm, webhooks, webhook_receiver) -> None:
    # PostgreSQL refuses more than the column's 2048 characters: the attempt could not be
    # recorded, so the delivery would go out again and again.
    far = "http://127.0.0.1:1/" + "x" * 3000
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.respond_with(302, headers={"Location": far})
    crm.leads.create("Far away")
    assert webhooks.run_pending() == 1
    (attempt,) = webhooks.last_delivery(hook.id).attempts
    assert attempt.status_code == 302 and attempt.location == far[:2048]
    assert far in attempt.error  # the error sentence keeps all of it


@pytest.mark.webhooks_options(retry_delays=[0.2, 0.2])
def test_retry_after_is_honoured(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.respond_with(429, headers={"Retry-After": "120"})
    crm.leads.create("Busy")
    webhooks.run_pending()
    delivery = webhooks.last_delivery(hook.id)
    waited = (delivery.next_attempt_at - delivery.attempts[0].attempted_at).total_seconds()
    assert 119 <= waited <= 121


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_get_and_delete_carry_the_envelope_in_the_query_string(crm, webhooks, webhook_receiver, method: str) -> None:
    hook = hook_for(webhooks, webhook_receiver, method=method, url=webhook_receiver.url + "?token=abc")
    lead = crm.leads.create("Query")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert request.method == method and request.get_data() == b""
    assert "Content-Type" not in request.headers
    query = parse_qs(urlsplit(request.url).query)
    assert query["token"] == ["abc"]
    assert query["type"] == ["lead.created"] and query["object_id"] == [str(lead.id)]
    assert query["id"] == [request.headers["webhook-id"]] and query["timestamp"][0].endswith("Z")
    # The raw query string is what was signed: passed where a body would go.
    assert verify(request.query_string, request.headers, hook.secret)["object_id"] == str(lead.id)
    assert webhook_receiver.verify(request, hook)["type"] == "lead.created"


@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize(
    "tamper",
    [{"type": "lead.discarded"}, {"object_id": "999"}, {"token": "other"}],
    ids=["type", "object_id", "hooks-own-parameter"],
)
def test_a_captured_get_replayed_with_another_query_is_refused(
    crm, webhooks, webhook_receiver, method: str, tamper: dict[str, str]
) -> None:
    hook = hook_for(webhooks, webhook_receiver, method=method, url=webhook_receiver.url + "?token=abc")
    crm.leads.create("Captured")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    replayed = urlencode({**dict(parse_qsl(request.query_string.decode())), **tamper})
    with pytest.raises(WebhookVerificationError, match=r"^webhook-signature: "):
        verify(replayed, request.headers, hook.secret)
    with pytest.raises(WebhookVerificationError):
        verify(b"", request.headers, hook.secret)  # the old way: the query left out


@pytest.mark.webhooks_options(dispatcher="thread")
@pytest.mark.parametrize("method", ["GET", "DELETE"])
@pytest.mark.parametrize("sender", ["urllib3", "aiohttp"])
def test_a_query_the_hooks_url_brings_is_signed_as_it_arrives(
    crm, webhooks, webhook_receiver, method: str, sender: str
) -> None:
    # Characters each HTTP client would encode its own way: sent in the form that was signed.
    url = webhook_receiver.url + "?q=ação&b={x}|y&d=%zz&ab[]=1"
    hook = hook_for(webhooks, webhook_receiver, method=method, url=url)
    if sender == "urllib3":
        webhooks.send_test(hook.id)  # test sends go out through the synchronous transport
    else:
        crm.leads.create("Odd")  # the thread dispatcher sends through aiohttp
        webhook_receiver.wait_for("lead.created")
    (request,) = webhook_receiver.requests
    envelope = webhook_receiver.verify(request, hook)
    assert (envelope["q"], envelope["b"], envelope["d"], envelope["ab[]"]) == ("ação", "{x}|y", "%zz", "1")


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_put_and_patch_carry_the_body(crm, webhooks, webhook_receiver, method: str) -> None:
    hook_for(webhooks, webhook_receiver, method=method)
    crm.leads.create("Body")
    assert webhook_receiver.wait_for("lead.created")["data"]["object"]["name"] == "Body"
    assert webhook_receiver.requests[0].method == method


def test_secret_rotation_is_verified_by_a_receiver_holding_either_secret(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    old_secret = hook.secret
    new_secret = webhooks.rotate_secret(hook.id).secret
    crm.leads.create("Rotated")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    for secret in (old_secret, new_secret):
        Webhook(secret).verify(request.get_data(), dict(request.headers))
    with pytest.raises(WebhookVerificationError):
        verify(request.get_data(), dict(request.headers), "whsec_" + "A" * 44)


@pytest.mark.webhooks_options(secret_grace_hours=0)
def test_after_the_grace_period_only_the_new_secret_signs(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    new_secret = webhooks.rotate_secret(hook.id).secret
    crm.leads.create("Later")
    webhooks.run_pending()
    (request,) = webhook_receiver.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 1
    verify(request.get_data(), dict(request.headers), new_secret)
    with pytest.raises(WebhookVerificationError):
        verify(request.get_data(), dict(request.headers), hook.secret)


def test_history_records_attempts_with_masked_headers(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver, value="super-secret-token")
    crm.leads.create("Logged")
    webhooks.run_pending()
    delivery = webhooks.last_delivery(hook.id)
    (attempt,) = delivery.attempts
    assert attempt.status_code == 200 and attempt.error is None and attempt.duration_ms > 0
    assert attempt.response_body == "ok"
    headers = attempt.request_headers
    assert headers["X-Api-Key"] == "supe…(18)"
    assert headers["webhook-signature"].startswith("v1,") and headers["webhook-signature"].endswith(")")
    assert "super-secret-token" not in json.dumps(headers)
    assert delivery.payload["data"]["object"]["name"] == "Logged"


def test_history_is_newest_first_and_paginated(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    for n in range(5):
        crm.leads.create(f"L{n}")
    webhooks.run_pending()
    first = webhooks.history(hook.id, limit=2)
    second = webhooks.history(hook.id, limit=2, before=first[-1].id)
    names = [d.payload["data"]["object"]["name"] for d in first + second]
    assert names == ["L4", "L3", "L2", "L1"]


def test_a_burst_committed_in_a_tight_loop_is_delivered_and_listed_in_commit_order(
    crm, webhooks, webhook_receiver
) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    for n in range(60):  # many commits per millisecond on a fast machine
        crm.leads.create(f"B{n}")
    webhooks.run_pending()
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == [f"B{n}" for n in range(60)]
    history = webhooks.history(hook.id, limit=100)
    assert [d.payload["data"]["object"]["name"] for d in reversed(history)] == [f"B{n}" for n in range(60)]


def test_redeliver_sends_the_same_event_again(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Again")
    webhooks.run_pending()
    original = webhooks.last_delivery(hook.id)
    again = webhooks.redeliver(original.id)
    assert again.id != original.id and again.status == "succeeded"
    assert again.event_id == original.event_id
    first, second = webhook_receiver.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.get_data() == second.get_data()


def test_send_test_posts_a_sample_of_the_hooks_event(webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver, "opportunity.stage_changed")
    delivery = webhooks.send_test(hook.id)
    assert delivery.test and delivery.status == "succeeded" and len(delivery.attempts) == 1
    (request,) = webhook_receiver.requests
    envelope = webhook_receiver.verify(request, hook)
    assert envelope["type"] == "opportunity.stage_changed"
    assert set(envelope["data"]["object"]) >= {"id", "stage", "amount"}
    assert "stage" in envelope["data"]["previous_attributes"]
    # A test is not a run of the hook.
    assert webhooks.get_hook(hook.id).status == "never_run"


def test_a_failed_test_send_is_not_retried(webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.fail_next()
    delivery = webhooks.send_test(hook.id)
    assert delivery.status == "failed" and delivery.attempts[0].status_code == 500
    assert webhooks.run_pending() == 0


def test_prune_keeps_the_last_delivery_of_each_hook(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    for n in range(3):
        crm.leads.create(f"Old {n}")
    webhooks.run_pending()
    assert webhooks.prune(older_than=0) == 2
    (kept,) = webhooks.history(hook.id)
    assert kept.payload["data"]["object"]["name"] == "Old 2" and kept.attempts
    assert webhooks.prune(older_than=0) == 0


def test_prune_never_touches_pending_deliveries(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Waiting 1")
    crm.leads.create("Waiting 2")
    assert webhooks.prune(older_than=0) == 0
    assert [d.status for d in webhooks.history(hook.id)] == ["pending", "pending"]


@pytest.mark.webhooks_options(dispatcher="thread")
def test_the_thread_dispatcher_delivers_without_any_call(crm, webhooks, webhook_receiver) -> None:
    hook_for(webhooks, webhook_receiver)
    crm.leads.create("Background")
    deadline = time.monotonic() + 5
    while not webhook_receiver.requests and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [e["data"]["object"]["name"] for e in webhook_receiver.envelopes] == ["Background"]


@pytest.mark.webhooks_options(dispatcher="none")
def test_dispatcher_none_leaves_delivery_to_workers(crm, webhooks, webhook_receiver) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("For a worker")
    time.sleep(0.2)
    assert webhook_receiver.requests == []
    assert webhooks.last_delivery(hook.id).status == "pending"


def test_each_recorded_attempt_is_one_structured_log_line(crm, webhooks, webhook_receiver, caplog) -> None:
    hook = hook_for(webhooks, webhook_receiver)
    webhook_receiver.fail_next(status=500)
    crm.leads.create("Logged")
    caplog.set_level("INFO", logger="crm_webhooks.delivery")
    assert webhooks.run_pending() == 1
    (line,) = [r for r in caplog.records if r.name == "crm_webhooks.delivery"]
    delivery = webhooks.last_delivery(hook.id)
    # Operators' log shippers read the fields, not the message; the text format writes them as key=value.
    assert fields(line) == {
        "delivery": delivery.id,
        "event": delivery.event_id,
        "hook": hook.id,
        "status": 500,
        "outcome": "pending",
        "duration_ms": round(delivery.attempts[0].duration_ms, 1),
        "error": "HTTP 500",
    }
    assert f"attempt delivery={delivery.id} event={delivery.event_id} hook={hook.id} status=500 " in (
        TextFormatter(TEXT_FORMAT).format(line)
    )


def test_any_answer_body_is_kept_in_history(crm, webhooks, webhook_receiver) -> None:
    # Tabs, newlines and backslashes must survive PostgreSQL's COPY; a NUL byte is refused by
    # its text columns (the attempt could never be recorded, so it would be sent again and
    # again) and invalid UTF-8 cannot be stored either: both are kept as U+FFFD.
    body = b"tab\there\nline two\\n \x00 nul \xff end"
    webhook_receiver.respond_with(200, body=body)
    hook = hook_for(webhooks, webhook_receiver)
    crm.leads.create("Odd answer")
    assert webhooks.run_pending() == 1
    delivery = webhooks.last_delivery(hook.id)
    assert delivery.status == "succeeded"
    (attempt,) = delivery.attempts
    assert attempt.response_body == "tab\there\nline two\\n \ufffd nul \ufffd end"
