"""The worker's scheduling rules, with no I/O: what to claim next and which delivery a free slot takes.

A worker keeps a few attempts' worth of claimed deliveries waiting for its N
slots.  The rules:

- **Per receiver**: a free slot takes the oldest waiting delivery whose receiver
  (``host:port``) has fewer than half the N slots busy with it, so a slow or
  dead receiver gets at most half of them while others have work; when nothing
  else is due ("drained"), or when the worker is closing, the oldest of all, so
  a lone receiver gets every slot.
- **Claiming**: a claim is a transaction, so it fetches several slots' worth
  (``depth``).  A saturated receiver's hooks are skipped, and it gets more only
  once the slots have taken half of what waits.  When a claim came back short
  (drained) and nothing was committed since, claiming again would find nothing
  again: the claimer waits instead of spinning, and looks again (a probe) at
  most every ``probe_s``.
- **Leases**: what waits for a slot has its lease renewed before it runs short.
- **Per-record order** is kept by the claim itself (``claim.py``): a delivery of
  a record is not claimable while an earlier one of that record to that hook is
  pending, so two of them are never in a worker at once.

Everything here is plain data driven by the worker (``worker.py``), which does
the I/O and passes the clock in (``now``: ``time.monotonic()``).
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from .claim import Claimed

PROBE_S = 1.0  # how stale "no other receiver has anything due" may get before it is checked again
FANOUT_RECHECK_S = 0.05  # how soon to look again while another worker writes delivery rows


@dataclass(frozen=True)
class ClaimRequest:
    """One claim to run: at most ``limit``, none of ``skip_hooks``, fanning out new events first or not."""

    limit: int
    skip_hooks: frozenset[int] = frozenset()
    fan_out_first: bool = False


class ClaimRound:
    """The claims of one round, one after another: ``first()``, then ``then(found)`` until None.

    With a saturated receiver, the round first asks for other receivers' work only;
    if that comes back short while few deliveries wait, it tops up with anyone's,
    the saturated receiver's included.  ``drained`` says, at the end, whether the
    round found everything due that it may take.
    """

    def __init__(self, limit: int, skip: frozenset[int], *, fan_out_first: bool, probe: bool, low: bool) -> None:
        self.limit = limit
        self.skip = skip
        self.fan_out_first = fan_out_first
        self.probe = probe
        self.low = low
        self.drained = False
        self._step = 0
        self._found = 0

    def first(self) -> ClaimRequest | None:
        self._step = 1
        if self.skip and not self.probe:
            # A moment ago no other receiver had anything, and nothing was committed since.
            self.drained = True
            if not self.low:
                return None
            self._step = 2
            return ClaimRequest(self.limit)
        return ClaimRequest(self.limit, self.skip, self.fan_out_first)

    def then(self, found: int) -> ClaimRequest | None:
        self._found += found
        if self._step == 1:
            self.drained = self._found < self.limit
            if self.skip and self.drained and self.low:
                self._step = 2
                return ClaimRequest(self.limit - self._found)
        self._step = 3
        return None


class Schedule:
    """What waits, what is in flight per receiver, and when to claim (see the module's rules)."""

    def __init__(self, concurrency: int, *, lease_s: float, renewal_margin_s: float) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.per_destination = max(1, concurrency // 2)
        # Claimed deliveries waiting for a slot: a claim costs a transaction, so it fetches
        # several slots' worth at once (a claim per attempt costs more CPU than the attempt).
        self.depth = max(4 * concurrency, 32)
        self.lease_s = lease_s
        self.renewal_margin_s = renewal_margin_s
        self.waiting: deque[Claimed] = deque()
        self.busy: Counter[str] = Counter()
        # Waiting deliveries per destination: "none has room" is then a look at a few
        # destinations, not at every waiting delivery on every take.
        self._queued: Counter[str] = Counter()
        self._hook_destination: dict[int, str] = {}
        self.drained = False  # the last claim found everything due it may take
        self.woken = False  # something was committed since the claimer last looked
        self._fan_out = True  # new events may need their delivery rows before the next claim
        self._probed_at = -math.inf
        self._lease_ends = math.inf  # when the oldest waiting lease runs out

    # -- the claimer's side ------------------------------------------------------

    def wake(self) -> None:
        """New work was committed: claim now, and it may be for a receiver with room."""
        self.woken = True
        self._fan_out = True
        self.drained = False

    def polled(self) -> None:
        """The claimer woke by itself: events may have been committed without a wake-up."""
        self._fan_out = True

    def fanout_behind(self) -> None:
        """The last fan-out stopped at its batch size, or another worker's is under way: more
        delivery rows are coming, and nobody will say when."""
        self._fan_out = True

    @property
    def rows_coming(self) -> bool:
        """Delivery rows are still being written (a fan-out left behind, or another worker's)."""
        return self._fan_out

    def idle_limit(self, wait: float) -> float:
        """How long the claimer may sleep with nothing to send: ``wait``, but only a moment
        while delivery rows are still being written (by another worker's fan-out, say)."""
        return min(wait, FANOUT_RECHECK_S) if self._fan_out else wait

    def should_claim(self) -> bool:
        """Whether a claim may find work for an idle slot.

        Not while every waiting delivery is for a saturated receiver and the last claim
        found nothing for the others: claiming again would find nothing again, in a loop
        that only burns the CPU the slots need.
        """
        return self.woken or len(self.waiting) <= self.concurrency or (self._eligible() is None and not self.drained)

    def claim_round(self, now: float) -> ClaimRound:
        """The claims to run now (call ``claimed()`` with what they found)."""
        fan_out_first, self._fan_out = self._fan_out, False
        self.woken = False
        saturated = {d for d, n in self.busy.items() if n >= self.per_destination}
        skip = frozenset(h for h, d in self._hook_destination.items() if d in saturated)
        # Only receivers with room, unless a moment ago there were none and nothing was
        # committed since: then that query would find none again.
        probe = bool(skip) and (not self.drained or fan_out_first or now - self._probed_at > PROBE_S)
        if probe:
            self._probed_at = now
        return ClaimRound(
            max(1, self.depth - len(self.waiting)),
            skip,
            fan_out_first=fan_out_first,
            probe=probe,
            low=len(self.waiting) <= self.concurrency,
        )

    def claimed(self, items: Iterable[Claimed], *, drained: bool, now: float) -> bool:
        """Take in what a round claimed; True when idle slots should look again."""
        items = list(items)
        if items and not self.waiting:
            self._lease_ends = now + self.lease_s
        became_drained = drained and not self.drained
        self.drained = drained
        for c in items:
            self._hook_destination[c.hook_id] = c.destination
            self._queued[c.destination] += 1
        self.waiting.extend(items)
        if not self.waiting:
            self._lease_ends = math.inf
        # Drained: an idle slot may now join a saturated receiver.
        return bool(items) or became_drained

    def renewal(self, now: float) -> list[int]:
        """The waiting deliveries whose leases must be renewed now (call ``renewed()`` once done)."""
        if now < self._lease_ends - self.renewal_margin_s:
            return []
        ids = [c.delivery_id for c in self.waiting]
        if not ids:
            self._lease_ends = math.inf
        return ids

    def renewed(self, at: float) -> None:
        """The leases of what waited when ``renewal(at)`` was asked now run from ``at``."""
        self._lease_ends = at + self.lease_s if self.waiting else math.inf

    def wait_limit(self, now: float, poll_interval: float) -> float:
        """How long the claimer may sleep: until the next poll, or until leases need renewing."""
        return max(0.0, min(poll_interval, self._lease_ends - self.renewal_margin_s - now))

    def release_all(self) -> list[int]:
        """Closing: every waiting delivery, to hand back unsent (others may take them at once)."""
        ids = [c.delivery_id for c in self.waiting]
        self.waiting.clear()
        self._queued.clear()
        self._lease_ends = math.inf
        return ids

    # -- the slots' side -----------------------------------------------------------

    def take(self) -> Claimed | None:
        """The delivery a free slot starts now, or None (counted busy until ``done()``)."""
        if not self.waiting:
            return None
        index = self._eligible()
        if index is None:
            if not self.drained:
                return None
            index = 0
        c = self.waiting[index]
        del self.waiting[index]
        self._queued[c.destination] -= 1
        if not self._queued[c.destination]:
            del self._queued[c.destination]
        self.busy[c.destination] += 1
        return c

    def done(self, c: Claimed) -> bool:
        """``c``'s attempt is over; True when its receiver just got room again.

        Then the last claim skipped it, so "nothing else is due" holds no longer
        until a claim that includes it says so.
        """
        self.busy[c.destination] -= 1
        if not self.busy[c.destination]:
            del self.busy[c.destination]
        room_again = self.busy[c.destination] == self.per_destination - 1
        if room_again:
            self.drained = False
        return room_again

    def _eligible(self) -> int | None:
        """Index of the oldest waiting delivery whose receiver has room."""
        busy, limit = self.busy, self.per_destination
        if not any(busy[d] < limit for d in self._queued):
            return None
        return next((i for i, c in enumerate(self.waiting) if busy[c.destination] < limit), None)
