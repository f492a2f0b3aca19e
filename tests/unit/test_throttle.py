"""A hook's rate limit as a GCRA: how many attempts may be leased now, and where that leaves the hook."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_webhooks.engine.throttle import advanced, allowance

NOW = dt.datetime(2026, 12, 3, 3, 0, 0)


def at(seconds: float) -> dt.datetime:
    return NOW + dt.timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("tat", "rate", "allowed"),
    [
        (at(-60), 20, 11),  # idle for a while: a burst's worth, no more (nothing saved up)
        (at(0), 20, 11),
        (at(0.25), 20, 6),  # half the burst already taken
        (at(0.5), 20, 1),  # at the edge of the burst: one
        (at(0.51), 20, 0),  # past it: none until time catches up
        (at(0), 1, 1),  # slow hooks get one at a time
        (at(0), 0.02, 1),
        (at(30), 0.02, 0),
        (at(0), 1000, 501),
    ],
)
def test_a_claim_may_lease_what_fits_within_a_burst_of_now(tat, rate, allowed) -> None:
    assert allowance(tat, NOW, rate) == allowed


@pytest.mark.parametrize(
    ("tat", "rate", "taken", "after"),
    [
        (at(-60), 20, 10, at(0.5)),  # an idle hook starts from now, not from its past
        (at(0.25), 20, 5, at(0.5)),
        (at(0), 4, 1, at(0.25)),
    ],
)
def test_each_attempt_leased_moves_the_hook_on_by_one_interval(tat, rate, taken, after) -> None:
    assert advanced(tat, NOW, rate, taken) == after
