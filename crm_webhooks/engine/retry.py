"""When to try a failed delivery again: a pure function of the attempt and the answer."""

from __future__ import annotations

import email.utils
import random
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta

MAX_RETRY_AFTER = 86_400.0


def next_attempt_at(
    failures: int,
    now: datetime,
    delays: Sequence[float],
    *,
    retry_after: float | None = None,
    jitter: float = 0.0,
    rand: random.Random | None = None,
) -> datetime | None:
    """When to attempt again after the ``failures``-th failed attempt, or None when retries are spent.

    delay = delays[failures - 1] * (1 + u * jitter), u uniform in [0, 1)

    A receiver's ``Retry-After`` (429, 503) is honoured as a floor, capped at a
    day so a typo on its side cannot park a delivery for ever.
    """
    if failures < 1 or failures > len(delays):
        return None
    delay = float(delays[failures - 1])
    if jitter:
        delay *= 1 + (rand or random).random() * jitter
    if retry_after is not None:
        delay = max(delay, min(retry_after, MAX_RETRY_AFTER))
    return now + timedelta(seconds=delay)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    # ASCII only: isdigit() is also true of "²", which float() refuses, from a receiver's header.
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now.replace(tzinfo=UTC)).total_seconds())


def pause_after(failures: int, *, first: float = 0.5, most: float = 30.0) -> float:
    """How long a worker waits before trying its database (or listener) again after ``failures``
    failed tries in a row: doubling from ``first``, at most ``most``."""
    return min(most, first * 2 ** max(0, failures - 1))


def next_try_in(failures: int, left: float, *, first: float = 0.5, most: float = 10.0) -> float | None:
    """Seconds until the next try at a database that is not there yet, after ``failures`` failed
    tries, with ``left`` seconds of the wait allowed: doubling from ``first`` up to ``most``, cut
    to what is left, and None once nothing is (the caller gives up)."""
    if left <= 0:
        return None
    return min(pause_after(failures, first=first, most=most), left)


# Answers that say the receiver, or the gateway in front of it, was down, rather than what it
# thought of the event: with no answer at all (refused, timed out), the retries a receiver's
# return releases.  A 500 or a 4xx is about the event (the same payload may fail again: its
# retries would be spent in seconds), and a 429 asked for fewer requests: those keep their time.
RECEIVER_DOWN: tuple[int, ...] = (502, 503, 504)


def releases_retries(failing_before: bool, answers: Iterable[bool]) -> bool:
    """Whether a hook's receiver is back: a 2xx (True in ``answers``, in the order they came)
    after a failed attempt, the hook's last recorded one (``failing_before``) or one of ``answers``.

    Then its deliveries waiting for a retry need not wait out their backoff: the receiver
    that failed them answers again.
    """
    failing = failing_before
    for ok in answers:
        if ok and failing:
            return True
        failing = not ok
    return False
