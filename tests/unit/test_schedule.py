"""The worker's scheduling rules, driven directly: no database, no network, no clock."""

from __future__ import annotations

import pytest

from crm_webhooks.engine.claim import Claimed
from crm_webhooks.engine.schedule import (
    FANOUT_RECHECK_S,
    PROBE_S,
    ClaimMix,
    ClaimRequest,
    Schedule,
    claim_mix,
    reserved_slots,
)

_ids = iter(range(1, 1_000_000))


def delivery(host: str = "a", *, hook: int | None = None, enabled: bool = True, attempts: int = 0) -> Claimed:
    hook_id = hook if hook is not None else ord(host[0])
    return Claimed(
        next(_ids), attempts, "evt_x", "lead.created", "t", "1", "{}", False, hook_id,
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
        allowed = [c for c in found if c.hook_id not in request.skip_hooks]
        firsts = [c for c in allowed if not c.attempt_count][: request.first]
        take = firsts + [c for c in allowed if c not in firsts][: request.limit]
        for c in take:
            found.remove(c)
        got += take
        request = plan.then(len(take), len(firsts))
    s.claimed(got, drained=plan.drained, firsts_drained=plan.firsts_drained, exhausted=plan.exhausted, now=now)
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


def test_a_round_that_found_everything_due_is_not_followed_by_another_until_something_changes() -> None:
    s = schedule(8)
    run_round(s, [delivery("a")])  # a woken worker finds the one new event
    assert s.exhausted
    # The slot starting that send would only wait behind a second transaction finding nothing.
    assert not s.should_claim()
    s.take()
    assert not s.should_claim()
    for change in (Schedule.wake, Schedule.more_due, Schedule.polled):
        run_round(s, [])  # found nothing more
        assert not s.should_claim()
        change(s)
        assert s.should_claim(), change.__name__


def test_a_round_skips_saturated_receivers_then_tops_up_when_little_waits() -> None:
    s = schedule(2)  # one slot per receiver
    dead = delivery("dead", hook=1)
    s.claimed([dead], drained=False, now=0)
    s.take()  # the dead receiver is now saturated
    later = [delivery("dead", hook=1) for _ in range(3)]
    requests = run_round(s, list(later), now=0.0)
    # First only other receivers' work (none), then, the queue being low, anyone's.
    assert requests[0].skip_hooks == {1} and requests[0].fan_out_first
    assert requests[1] == ClaimRequest(requests[0].limit, first=requests[0].first)
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
    empty = run_round(s, [])[0]
    assert (empty.first, empty.limit) == (8, 24)  # a quarter of it first attempts, when due
    s.claimed([delivery("a") for _ in range(30)], drained=False, now=0)
    assert run_round(s, [])[0] == ClaimRequest(2)  # first attempts enough wait already


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


def test_a_lone_saturated_receivers_queue_is_topped_up_though_others_have_nothing() -> None:
    s = schedule(4)  # two slots per receiver while others have work
    s.claimed([delivery("a") for _ in range(10)], drained=False, now=0)
    busy = [s.take(), s.take()]  # receiver a is saturated
    run_round(s, [])  # other receivers' work only: none (drained), but a's may be plenty
    assert s.drained and not s.exhausted
    busy += [s.take(), s.take()]  # nothing else due: the lone receiver takes every slot
    for c in busy[:2]:
        s.done(c)
        busy.append(s.take())
    assert len(s.waiting) <= s.concurrency
    # The queue runs low: claim more of a's, or half the slots idle until a's busy count falls
    # to its share (seen as a third of the throughput gone in bench/workers.py).
    assert s.should_claim()


@pytest.mark.parametrize(
    ("due_in", "now", "sleeps"),
    [
        (None, 0.0, 4.0),  # nothing else due: until what waits needs its leases renewed (25 - 21 s)
        (1.5, 0.0, 1.5),  # a retry falls due first
        (30.0, 3.5, 0.5),  # a long poll, but the renewal comes first
        (0.0, 0.0, 0.02),  # due now: a moment, not a spin
    ],
)
def test_a_claimer_that_found_everything_due_sleeps_until_the_first_of_due_poll_or_renewal(due_in, now, sleeps) -> None:
    s = schedule()
    run_round(s, [])  # it has fanned out: no rows coming
    s.claimed([delivery("a")], drained=True, now=0.0)  # waits for a slot; its lease ends at 25 s
    # (A poll of 60 s once let the leases run out: the worker itself then sent them twice.)
    assert s.idle_for(now, poll_interval=60.0, due_in=due_in) == pytest.approx(sleeps)


def test_a_claimer_sleeps_only_a_moment_while_rows_are_still_being_written() -> None:
    s = schedule()
    s.fanout_behind()
    assert s.idle_for(0.0, poll_interval=5.0, due_in=None) == FANOUT_RECHECK_S


@pytest.mark.parametrize("change", ["more_due", "room_again"])
def test_what_became_claimable_while_a_round_ran_is_claimed_for(change) -> None:
    s = schedule(4)
    s.claimed([delivery("a") for _ in range(6)], drained=True, now=0)  # more wait than there are slots
    busy = [s.take() for _ in range(2)]  # the receiver's share of the slots: it is saturated
    plan = s.claim_round(0.0)
    request = plan.first()
    # Meanwhile (the claim is in the database thread) a record's next delivery was recorded,
    # or the receiver answered and has room again.
    s.more_due() if change == "more_due" else s.done(busy[0])
    while request is not None:
        request = plan.then(0)  # that claim, begun before, found nothing
    s.claimed([], drained=plan.drained, firsts_drained=plan.firsts_drained, now=0)
    assert s.should_claim()


def test_closing_hands_back_everything_that_waits() -> None:
    s = schedule()
    waiting = [delivery("a"), delivery("b")]
    s.claimed(waiting, drained=False, now=0.0)
    assert s.release_all() == [c.delivery_id for c in waiting]
    assert s.take() is None and s.renewal(100.0) == []


def test_a_schedule_needs_a_slot() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        schedule(0)


# -- first attempts are never starved by retries --------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "reserved"),
    [(1, 0), (2, 1), (3, 1), (4, 1), (5, 2), (8, 2), (16, 4), (64, 16)],
)
def test_a_quarter_of_the_slots_at_least_one_is_kept_for_first_attempts(concurrency, reserved) -> None:
    assert reserved_slots(concurrency) == reserved
    assert schedule(concurrency).retry_slots == concurrency - reserved


@pytest.mark.parametrize(
    ("room", "firsts_waiting", "full", "first", "rest"),
    [
        (500, 0, 0, 125, 375),  # run_pending's batch: a quarter of it first attempts, if due
        (32, 0, 32, 8, 24),  # an empty queue
        (10, 3, 32, 5, 5),  # first attempts already waiting count towards the share
        (10, 8, 32, 0, 10),  # the share is there: by due time only
        (1, 0, 32, 8, 1),  # a queue full of retries still lets a share of first attempts in
        (4, 0, 32, 8, 1),  # and always asks for one more by due time, to know whether more is due
        (32, 40, 32, 0, 32),
    ],
)
def test_a_claim_takes_its_share_of_first_attempts_then_the_rest_by_due_time(
    room, firsts_waiting, full, first, rest
) -> None:
    assert claim_mix(room, firsts_waiting=firsts_waiting, full=full) == ClaimMix(first, rest)


def test_retries_never_take_the_slots_kept_for_first_attempts() -> None:
    s = schedule(4)  # one slot kept
    retries = [delivery("slow", attempts=2) for _ in range(6)]
    s.claimed(retries, drained=True, now=0)
    assert [s.take() for _ in range(4)] == [*retries[:3], None]  # the fourth slot stays free
    fresh = delivery("slow")
    s.claimed([fresh], drained=True, now=0)
    assert s.take() is fresh  # behind every retry, yet straight into the free slot
    s.done(retries[0])
    assert s.take() is retries[3]  # a retry's slot freed: the next retry takes it


def test_an_idle_kept_slot_makes_the_claimer_look_for_first_attempts_once() -> None:
    s = schedule(4)
    s.claimed([delivery("slow", attempts=1) for _ in range(20)], drained=True, now=0)
    assert None not in [s.take() for _ in range(3)]
    assert s.take() is None and s.should_claim()  # only retries wait, a kept slot is idle
    requests = run_round(s, [delivery("slow", attempts=1) for _ in range(5)])
    assert requests[-1].first == 8 and len(s.waiting) == 17  # none found: none due
    assert not s.should_claim()
    s.wake()  # a commit: there may be some now
    assert s.should_claim()


def test_a_round_past_a_saturated_receiver_still_brings_its_first_attempts() -> None:
    s = schedule(2)  # one slot per receiver, one kept for first attempts
    earlier = [delivery("shared", hook=h, attempts=1) for h in (2, 1, 1, 1, 1, 1, 1, 1, 1, 1)]
    s.claimed(earlier, drained=False, now=0)
    s.take()  # the shared receiver is saturated, and plenty waits: no top-up by due time
    fresh = [delivery("shared", hook=2) for _ in range(3)]
    found = [delivery("shared", hook=1, attempts=1) for _ in range(5)] + fresh
    requests = run_round(s, found, now=0.0)
    assert requests[0].skip_hooks == {1, 2}
    assert requests[1] == ClaimRequest(0, first=requests[0].first)  # first attempts only, anyone's
    assert [c for c in s.waiting if not c.attempt_count] == fresh
