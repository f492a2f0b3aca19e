"""The worker's scheduling rules, driven directly: no database, no network, no clock."""

from __future__ import annotations

import pytest

from crm_webhooks.engine.claim import Claimed
from crm_webhooks.engine.schedule import FANOUT_RECHECK_S, PROBE_S, ClaimRequest, Schedule

_ids = iter(range(1, 1_000_000))


def delivery(host: str = "a", *, hook: int | None = None, enabled: bool = True) -> Claimed:
    hook_id = hook if hook is not None else ord(host[0])
    return Claimed(
        next(_ids), 0, "evt_x", "lead.created", "t", "1", "{}", False, hook_id,
        f"http://{host}.test/h", "POST", None, None, ("whsec_x",), enabled,
    )  # fmt: skip


def schedule(concurrency: int = 4) -> Schedule:
    return Schedule(concurrency, lease_s=25.0, renewal_margin_s=21.0)


def run_round(s: Schedule, found: list[Claimed], now: float = 0.0) -> list[ClaimRequest]:
    """Play one claim round, each claim finding what ``found`` still holds; returns the requests made."""
    plan = s.claim_round(now)
    requests, got = [], []
    request = plan.first()
    while request is not None:
        requests.append(request)
        take = [c for c in found if c.hook_id not in request.skip_hooks][: request.limit]
        for c in take:
            found.remove(c)
        got += take
        request = plan.then(len(take))
    s.claimed(got, drained=plan.drained, now=now)
    return requests


def test_a_free_slot_takes_the_oldest_waiting_delivery() -> None:
    s = schedule()
    first, second = delivery("a"), delivery("b")
    s.claimed([first, second], drained=True, now=0)
    assert s.take() is first and s.take() is second and s.take() is None


def test_a_receiver_gets_at_most_half_the_slots_while_another_has_work() -> None:
    s = schedule(4)
    slow = [delivery("slow") for _ in range(4)]
    fast = delivery("fast")
    s.claimed([*slow, fast], drained=False, now=0)
    taken = [s.take() for _ in range(3)]
    assert taken == [slow[0], slow[1], fast]  # the third slot skips past the slow receiver
    assert s.take() is None  # nothing else has room, and the queue may still hold others' work


def test_a_lone_receiver_gets_every_slot_once_nothing_else_is_due() -> None:
    s = schedule(4)
    slow = [delivery("slow") for _ in range(4)]
    s.claimed(slow, drained=True, now=0)
    assert [s.take() for _ in range(4)] == slow


def test_room_again_is_said_once_when_a_saturated_receiver_frees_a_slot() -> None:
    s = schedule(4)
    items = [delivery("slow") for _ in range(3)]
    s.claimed(items, drained=True, now=0)
    taken = [s.take() for _ in range(3)]
    assert s.done(taken[0]) is False  # 2 still busy: at its cap of 2, no room yet
    assert s.done(taken[1]) is True and s.drained is False  # room again: a claim must look again
    assert s.done(taken[2]) is False


def test_the_claimer_waits_while_only_a_saturated_receiver_has_work() -> None:
    s = schedule(2)
    s.claimed([delivery("dead") for _ in range(10)], drained=False, now=0)
    s.take()
    assert s.should_claim()  # nine wait for a saturated receiver, but others may have work due
    s.claimed([], drained=True, now=0)
    assert not s.should_claim()  # claiming again would find nothing again: no spinning
    s.wake()
    assert s.should_claim()  # something was committed


def test_a_round_skips_saturated_receivers_then_tops_up_when_little_waits() -> None:
    s = schedule(2)  # one slot per receiver
    dead = delivery("dead", hook=1)
    s.claimed([dead], drained=False, now=0)
    s.take()  # the dead receiver is now saturated
    later = [delivery("dead", hook=1) for _ in range(3)]
    requests = run_round(s, list(later), now=0.0)
    # First only other receivers' work (none), then, the queue being low, anyone's.
    assert requests[0].skip_hooks == {1} and requests[0].fan_out_first
    assert requests[1] == ClaimRequest(requests[0].limit)
    assert list(s.waiting) == later and s.drained


def test_no_probe_for_other_receivers_until_something_changes_or_a_while_passes() -> None:
    s = schedule(2)
    s.claimed([delivery("dead", hook=1)], drained=False, now=0)
    s.take()
    s.claimed([delivery("dead", hook=1) for _ in range(5)], drained=False, now=0)
    run_round(s, [], now=0.0)  # a probe: nothing for others
    assert s.drained
    assert run_round(s, [], now=0.1) == []  # a moment later, nothing committed: no query at all
    assert run_round(s, [], now=0.1 + PROBE_S + 0.01)[0].skip_hooks == {1}  # stale: look again
    s.wake()
    assert run_round(s, [], now=0.2 + PROBE_S)[0].fan_out_first  # a commit: fan out and look


def test_a_poll_or_a_fan_out_left_behind_fans_out_on_the_next_claim() -> None:
    s = schedule()
    assert run_round(s, [])[0].fan_out_first  # a new worker fans out first
    assert not run_round(s, [])[0].fan_out_first
    s.polled()
    assert run_round(s, [])[0].fan_out_first
    s.fanout_behind()
    assert run_round(s, [])[0].fan_out_first


def test_while_delivery_rows_are_still_being_written_the_claimer_sleeps_only_a_moment() -> None:
    s = schedule()
    run_round(s, [])  # fans out: nothing behind now
    assert s.idle_limit(5.0) == 5.0
    s.fanout_behind()  # another worker's fan-out was under way: its rows come without a word
    assert s.idle_limit(5.0) == FANOUT_RECHECK_S
    run_round(s, [])
    assert s.idle_limit(5.0) == 5.0


def test_a_claim_asks_for_several_slots_worth_less_what_waits() -> None:
    s = schedule(4)
    assert run_round(s, [])[0].limit == 32
    s.claimed([delivery("a") for _ in range(30)], drained=False, now=0)
    assert run_round(s, [])[0].limit == 2


@pytest.mark.parametrize(
    ("now", "expected"),
    [(0.0, False), (3.9, False), (4.0, True), (30.0, True)],
)
def test_waiting_leases_are_renewed_before_they_run_short(now, expected) -> None:
    s = schedule()  # a lease of 25 s renewed when 21 s are left: 4 s after the claim
    waiting = [delivery("a"), delivery("b")]
    s.claimed(waiting, drained=False, now=0.0)
    assert s.renewal(now) == ([c.delivery_id for c in waiting] if expected else [])


def test_a_renewal_counts_only_once_done() -> None:
    s = schedule()
    s.claimed([delivery("a")], drained=False, now=0.0)
    assert s.renewal(4.0) and s.renewal(4.5)  # not done yet (or it failed): still due
    s.renewed(4.5)
    assert s.renewal(5.0) == [] and s.renewal(8.5)  # the next one falls due 4 s after that


def test_the_claimer_sleeps_until_renewal_or_poll_whichever_comes_first() -> None:
    s = schedule()
    assert s.wait_limit(0.0, poll_interval=5.0) == 5.0  # nothing waits: only the poll
    s.claimed([delivery("a")], drained=False, now=0.0)
    assert s.wait_limit(1.0, poll_interval=5.0) == pytest.approx(3.0)
    assert s.wait_limit(9.0, poll_interval=5.0) == 0.0


def test_closing_hands_back_everything_that_waits() -> None:
    s = schedule()
    waiting = [delivery("a"), delivery("b")]
    s.claimed(waiting, drained=False, now=0.0)
    assert s.release_all() == [c.delivery_id for c in waiting]
    assert s.take() is None and s.renewal(100.0) == []


def test_a_schedule_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        schedule(0)
