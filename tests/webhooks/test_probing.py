"""Half-open probing: a hook disabled for its failures is sent a test event every N minutes by the
worker, and enabled again (with what it held and what failed) once its receiver answers 2xx.
Never a hook an admin disabled, nor one whose receiver said 410 Gone.  On SQLite and PostgreSQL.

One failed delivery disables a hook here, and retries are off: each failure is final.
The interval is 0.01 minute (0.6 s): tests wait for what the worker does by polling.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_webhooks.engine.worker import Worker
from crm_webhooks.models import HookRow

from ..waiting import wait_until

EVERY_S = 0.6
pytestmark = pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=1, probe_disabled_every=0.01)


@pytest.fixture
def start_worker() -> Iterator:
    """``start_worker(addon)``: a worker of that addon, as ``crm-webhooks worker`` runs one; stopped after."""
    started: list[Worker] = []

    def start(addon) -> Worker:
        worker = addon.worker(concurrency=2, poll_interval=0.25)
        worker.start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop(timeout=10)


def disabled_long_ago(crm, *hook_ids: int) -> None:
    """As if disabled an hour ago: due for a probe at once, not an interval after the test disabled them."""
    with crm.engine.begin() as conn:
        conn.execute(
            sa.update(HookRow).where(HookRow.id.in_(hook_ids)).values(disabled_at=utcnow() - dt.timedelta(hours=1))
        )


def probes(webhooks, hook_id: int) -> list:
    """The hook's test sends (the probes), oldest first."""
    return [d for d in reversed(webhooks.history(hook_id)) if d.test]


def disable_by_failure(crm, webhooks, receiver, name: str, *, status: int = 503):
    hook = webhooks.create_hook(name=name, event="lead.created", url=receiver.url_for(f"/{name}"))
    receiver.respond_with(status, path=f"/{name}")
    crm.leads.create(f"{name} down")
    webhooks.run_pending()
    assert not webhooks.get_hook(hook.id).enabled
    return hook


def probe_lines(caplog) -> list[tuple[int, str, int | None]]:
    """The probes' log lines: hook, outcome and the receiver's status."""
    return [(r.hook, r.outcome, r.status) for r in caplog.records if r.name == "crm_webhooks.probe"]


def test_a_hook_whose_receiver_is_back_is_enabled_by_the_worker_with_nothing_lost(
    crm, webhooks, webhook_receiver, start_worker, caplog
) -> None:
    caplog.set_level(logging.INFO, "crm_webhooks.probe")
    erp = webhooks.create_hook(name="erp", events=["lead.*"], url=webhook_receiver.url_for("/erp"))
    ops = webhooks.create_hook(name="ops", events=["webhook.*"], url=webhook_receiver.url_for("/ops"))
    webhook_receiver.fail_next(1, status=503, path="/erp")
    lead = crm.leads.create("Ana")  # fails: the hook is disabled
    webhooks.run_pending()
    assert webhooks.get_hook(erp.id).disabled_code == "failures:1"
    crm.leads.change_stage(lead.id, "contacted")  # held while it is off
    crm.leads.change_stage(lead.id, "qualified")
    webhooks.run_pending()

    worker = start_worker(webhooks)  # the receiver is back: the first probe, an interval after the disable, enables it
    wait_until(lambda: webhooks.get_hook(erp.id).enabled, what="the probe to enable the hook")
    erp_requests = lambda: [r for r in webhook_receiver.requests if r.path == "/erp"]  # noqa: E731
    wait_until(lambda: len(erp_requests()) == 5, what="the probe, the failed event and the held ones")
    wait_until(lambda: len(webhook_receiver.received("webhook.recovered")) == 1, what="webhook.recovered")

    probe, *more = probes(webhooks, erp.id)
    assert more == [] and worker.probes == 1 and probe.status == "succeeded"
    erp_got = [webhook_receiver.verify(r, erp) for r in erp_requests()]
    refused, probed, delivered = erp_got[0], erp_got[1], erp_got[2:]
    assert probed["id"] == probe.event_id  # a signed sample event, in history as a test
    assert [(e["type"], e["data"]["object"].get("stage")) for e in delivered] == [
        ("lead.created", "new"),  # sent again: it failed since the hook started failing
        ("lead.stage_changed", "contacted"),
        ("lead.stage_changed", "qualified"),
    ]
    assert delivered[0]["id"] == refused["id"] and len({e["id"] for e in delivered}) == 3  # each once
    told = [webhook_receiver.verify(r, ops)["type"] for r in webhook_receiver.requests if r.path == "/ops"]
    assert told == ["webhook.failing", "webhook.disabled", "webhook.recovered"]
    assert probe_lines(caplog) == [(erp.id, "enabled", 200)]


def test_a_receiver_still_down_keeps_the_hook_disabled_and_is_probed_again_an_interval_later(
    crm, webhooks, webhook_receiver, start_worker, caplog
) -> None:
    caplog.set_level(logging.INFO, "crm_webhooks.probe")
    webhook_receiver.respond_with(503, times=100, path="/erp")
    erp = disable_by_failure(crm, webhooks, webhook_receiver, "erp")
    disabled_long_ago(crm, erp.id)  # the first probe at once
    worker = start_worker(webhooks)
    wait_until(lambda: len(probes(webhooks, erp.id)) >= 2, what="a second probe")
    worker.stop(timeout=10)

    first, second, *_ = probes(webhooks, erp.id)
    assert [first.status, second.status] == ["failed", "failed"]
    assert first.attempts[0].status_code == 503 and len(first.attempts) == 1  # one attempt, no retries
    # Not at the prober's next look: an interval after the first was claimed (its send may have
    # started late on a busy machine, hence half of one: probing again at once takes a few ms).
    waited = (second.attempts[0].attempted_at - first.attempts[0].attempted_at).total_seconds()
    assert waited >= EVERY_S / 2
    hook = webhooks.get_hook(erp.id)
    assert not hook.enabled and hook.disabled_code == "failures:1"
    assert probe_lines(caplog)[:2] == [(erp.id, "failed", 503)] * 2


def test_an_admins_disable_and_a_410_gone_are_never_probed(crm, webhooks, webhook_receiver, start_worker) -> None:
    paused = webhooks.create_hook(name="paused", event="lead.created", url=webhook_receiver.url_for("/paused"))
    webhooks.disable_hook(paused.id)
    gone = disable_by_failure(crm, webhooks, webhook_receiver, "gone", status=410)
    down = disable_by_failure(crm, webhooks, webhook_receiver, "down")  # made last, probed last of one look
    disabled_long_ago(crm, paused.id, gone.id, down.id)
    assert webhooks.get_hook(gone.id).disabled_code == "gone"

    start_worker(webhooks)  # one look finds every hook disabled an hour ago: only "down" is probed
    wait_until(lambda: webhooks.get_hook(down.id).enabled, what="the probe of the hook disabled for its failures")

    for hook in (paused, gone):
        assert probes(webhooks, hook.id) == [] and not webhooks.get_hook(hook.id).enabled
    assert {r.path for r in webhook_receiver.requests} == {"/gone", "/down"}  # their failures, and the probe


def test_a_look_claims_one_probe_so_a_slow_one_holds_no_other_hook_back(crm, webhooks, webhook_receiver) -> None:
    down = [disable_by_failure(crm, webhooks, webhook_receiver, f"down{n}") for n in range(3)]
    disabled_long_ago(crm, *(h.id for h in down))
    # Each probe may wait out a whole timeout: hooks claimed behind it would wait too, and
    # other workers could not take them.  One a look; the next look comes at once.
    looks = [webhooks.deliverer.claim_probes() for _ in range(4)]
    assert [look.hook for look in looks] == [down[0].id, down[1].id, down[2].id, None]
    assert all(look.next_at <= utcnow() for look in looks[:2])


@pytest.mark.webhooks_options(retry_delays=[], disable_after_failures=1)
def test_probing_is_off_by_default(crm, webhooks, webhook_receiver, start_worker) -> None:
    assert webhooks.options.probe_disabled_every is None
    erp = disable_by_failure(crm, webhooks, webhook_receiver, "erp")
    disabled_long_ago(crm, erp.id)
    fine = webhooks.create_hook(name="fine", event="lead.created", url=webhook_receiver.url_for("/fine"))
    worker = start_worker(webhooks)
    crm.leads.create("Bia")  # held for erp, delivered to fine
    wait_until(lambda: webhooks.last_delivery(fine.id).status == "succeeded", what="the other hook's delivery")
    worker.stop(timeout=10)
    assert worker.probes == 0 and probes(webhooks, erp.id) == []
    assert not webhooks.get_hook(erp.id).enabled


@pytest.mark.postgres
def test_two_workers_on_postgresql_probe_a_hook_once_an_interval(
    postgres_database_url, webhook_receiver, start_worker
) -> None:
    options = {"allow_private_networks": True, "dispatcher": "manual", "retry_delays": [], "disable_after_failures": 1}
    with CRM(postgres_database_url) as first:
        one = first.install_addon("crm_webhooks", **options, probe_disabled_every=0.01)
        second = CRM(postgres_database_url)  # another process on the same database
        other = second.addons["crm_webhooks"]
        webhook_receiver.respond_with(503, times=100, path="/erp")
        erp = disable_by_failure(first, one, webhook_receiver, "erp")
        disabled_long_ago(first, erp.id)  # both see it due at once, as they start
        workers = [start_worker(one), start_worker(other)]
        wait_until(lambda: len(probes(one, erp.id)) >= 2, what="a second probe")
        for worker in workers:
            worker.stop(timeout=10)
        second.close()

        sent = [p.attempts[0].attempted_at for p in probes(one, erp.id)]
        gaps = [(later - earlier).total_seconds() for earlier, later in itertools.pairwise(sent)]
        assert min(gaps) >= EVERY_S / 2, gaps  # never two in one interval (both at once: a few ms apart)
        assert sum(w.probes for w in workers) == len(sent)


@pytest.mark.webhooks_options(dispatcher="thread", retry_delays=[], disable_after_failures=1, probe_disabled_every=0.01)
def test_the_thread_dispatcher_in_the_crms_process_probes_too(crm, webhooks, webhook_receiver) -> None:
    webhook_receiver.fail_next(1, status=503)
    erp = webhooks.create_hook(name="erp", event="lead.created", url=webhook_receiver.url)
    crm.leads.create("Ana")  # fails: disabled, then probed and enabled, with nobody calling anything
    wait_until(lambda: len(webhook_receiver.requests) == 3, what="the failure, the probe and the replay")
    wait_until(lambda: webhooks.get_hook(erp.id).enabled, what="the hook enabled")
    assert [d.test for d in reversed(webhooks.history(erp.id))] == [False, True, False]
