"""Per-hook rate limits, shared by every worker on the database: a GCRA taken in the claim.

A limited hook has a theoretical arrival time, ``tat`` (``RateSlotRow``): its next
attempt may start once ``tat`` is at most ``BURST_S`` ahead of now, and each attempt
leased moves ``tat`` on by ``1 / max_per_second``.  The claim locks the hook's row
(``SKIP LOCKED`` on PostgreSQL: a hook another worker is taking slots of right now is
left for the next claim, not waited for), leases at most what fits, and moves ``tat``
past it, all in its one transaction: however many workers share the database, no more
leave than the rate allows.  A receiver that answers 429 or 503 with ``Retry-After``
moves ``tat`` to then, so the whole hook waits, not only that delivery.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable, Iterable

from sqlalchemy import Connection, select, update

from ..models import HookRow, RateSlotRow
from .retry import MAX_RETRY_AFTER, parse_retry_after

# How far ahead of now a hook's slots may be taken: a claim leases up to this many seconds'
# worth at once, so a worker that claims a few times a second keeps up with the rate.
BURST_S = 0.5
SLOWED_BY = (429, 503)
# How stale a worker's list of limited hooks may get (see ``Limits``).
REREAD_S = 1.0

R = RateSlotRow.__table__.c


def allowance(tat: dt.datetime, now: dt.datetime, rate: float, burst: float = BURST_S) -> int:
    """How many attempts may be leased now: each takes ``1 / rate`` s, the first once ``tat``
    is at most ``burst`` s ahead."""
    ahead = (max(tat, now) - now).total_seconds()
    if ahead > burst:
        return 0
    return math.floor((burst - ahead) * rate + 1e-9) + 1


def opens_at(tat: dt.datetime, burst: float = BURST_S) -> dt.datetime:
    """When a hook whose theoretical arrival time is ``tat`` may lease again."""
    return tat - dt.timedelta(seconds=burst)


def advanced(tat: dt.datetime, now: dt.datetime, rate: float, taken: int) -> dt.datetime:
    """``tat`` once ``taken`` attempts were leased now."""
    return max(tat, now) + dt.timedelta(seconds=taken / rate)


def limited(conn: Connection) -> dict[int, float]:
    """The hooks with a rate limit, and their rate (attempts a second)."""
    rows = conn.execute(select(HookRow.id, HookRow.max_per_second).where(HookRow.max_per_second.is_not(None)))
    return {hook_id: rate for hook_id, rate in rows}


class Limits:
    """The hooks with a rate limit and their rates, read again at most every ``REREAD_S``.

    A claim's main lease leaves every limited hook out in its own SQL (``claim.py``), so a
    limit set a moment ago holds at once; this list only says which limited hooks then get a
    lease of their own.  A stale one costs no round trip per claim, and at worst delays a
    just-limited hook's deliveries, or keeps its old rate, for ``REREAD_S``.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # One tuple, replaced whole: the claimer's thread and a dispatcher's may read it together.
        self._read: tuple[float, dict[int, float]] = (-math.inf, {})

    def rates(self, conn: Connection) -> dict[int, float]:
        now = self._clock()
        read_at, rates = self._read
        if now - read_at >= REREAD_S:
            rates = limited(conn)
            self._read = (now, rates)
        return rates


def slots(conn: Connection) -> dict[int, dt.datetime]:
    """Each rate-limited hook's theoretical arrival time."""
    return {hook_id: tat for hook_id, tat in conn.execute(select(R.hook_id, R.tat))}


def take(conn: Connection, hook_id: int) -> dt.datetime | None:
    """Lock ``hook_id``'s slot row for this claim and return its ``tat``; None when another
    worker holds it now (or it has none yet)."""
    stmt = select(R.tat).where(R.hook_id == hook_id).with_for_update(skip_locked=True)
    return conn.scalar(stmt)


def spend(conn: Connection, hook_id: int, tat: dt.datetime) -> None:
    """The slot row ``take()`` locked now says ``tat``."""
    conn.execute(update(RateSlotRow).where(R.hook_id == hook_id).values(tat=tat))


def slow_down(conn: Connection, answers: Iterable[tuple[int, int | None, str | None, dt.datetime]]) -> None:
    """Hooks whose receiver said 429 or 503 with ``Retry-After`` wait until then, whoever sends.

    ``answers``: (hook id, status code, Retry-After header, when answered).
    """
    for hook_id, code, header, at in answers:
        wait = parse_retry_after(header, at) if code in SLOWED_BY else None
        if wait:
            until = at + dt.timedelta(seconds=min(wait, MAX_RETRY_AFTER))
            conn.execute(update(RateSlotRow).where(R.hook_id == hook_id, R.tat < until).values(tat=until))
