"""Which of a hook's secrets sign: the current one, and each retired one until its own grace ends.

A rotation retires the current secret with a deadline of its own, so rotating
again inside the grace period keeps every earlier secret signing until its
deadline, instead of dropping it: a receiver still holding it keeps verifying.
No I/O here; the times are naive UTC, as the database keeps them.
"""

from __future__ import annotations

import datetime as dt

# (secret, when it stops signing), oldest retired first.
Retired = tuple[tuple[str, dt.datetime], ...]


def live(retired: Retired, now: dt.datetime) -> Retired:
    """The retired secrets whose grace has not ended at ``now``."""
    return tuple((secret, until) for secret, until in retired if until > now)


def retire(current: str, retired: Retired, *, now: dt.datetime, grace: dt.timedelta) -> Retired:
    """What is retired after ``current`` is replaced at ``now``: the live ones, and ``current`` for ``grace``.

    Secrets whose grace is over are dropped here, so the stored list stays as
    short as what still signs.
    """
    kept = live(retired, now)
    return (*kept, (current, now + grace)) if grace > dt.timedelta(0) else kept


def signing_secrets(current: str, retired: Retired, now: dt.datetime) -> tuple[str, ...]:
    """The secrets a delivery at ``now`` is signed with: the current one, then the retired ones, newest first."""
    if not retired:  # the usual case, on the hot path: no tuple to build
        return (current,)
    return (current, *(secret for secret, _ in reversed(live(retired, now))))


def grace_ends(retired: Retired, now: dt.datetime) -> dt.datetime | None:
    """When the last retired secret stops signing (None: only the current one signs)."""
    return max((until for _, until in live(retired, now)), default=None)
