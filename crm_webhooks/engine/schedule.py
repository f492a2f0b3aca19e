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
- **First attempts**: retries never take the last ``reserved_slots`` slots, so
  a new event finds a slot even while a backlog of retries (all due before it)
  keeps the others busy; and each claim first leases the share of first
  attempts that the queue lacks (``claim_mix``), then the rest by due time.
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
# The part of a worker's slots, and of what it claims, kept for first attempts, as Hook0 does.
FIRST_ATTEMPT_SHARE = 0.25


def reserved_slots(concurrency: int, share: float = FIRST_ATTEMPT_SHARE) -> int:
    """Slots a retry never takes: ``share`` of them, at least one, but never all (retries go too).

    A worker of one slot keeps none: its claims still bring first attempts in first.
    """
    if concurrency < 2:
        return 0
    return min(concurrency - 1, max(1, math.ceil(concurrency * share)))


@dataclass(frozen=True)
class ClaimMix:
    """A claim's make-up: up to ``first`` first attempts, then up to ``rest`` more by due time."""

    first: int
    rest: int


def claim_mix(room: int, *, share: float = FIRST_ATTEMPT_SHARE, firsts_waiting: int = 0, full: int = 0) -> ClaimMix:
    """How many first attempts to claim before anything else, and how many by due time after them.

    ``room``: how many the claim should bring; ``full``: how many a full queue holds (``room``
    when 0), of which ``share`` should be first attempts; ``firsts_waiting``: first attempts
    already claimed and waiting for a slot.  The first attempts it lacks may go past ``room``
    (a queue full of retries must still let new events in); the rest is at least one, so a
    claim can always tell whether more is due.
    """
    first = max(0, math.ceil((full or room) * share) - firsts_waiting)
    return ClaimMix(first, max(1, room - first))


@dataclass(frozen=True)
class ClaimRequest:
    """One claim to run: at most ``first`` first attempts, then at most ``limit`` more by due time,
    none of ``skip_hooks``, fanning out new events first or not."""

    limit: int
    skip_hooks: frozenset[int] = frozenset()
    fan_out_first: bool = False
    first: int = 0


class ClaimRound:
    """The claims of one round, one after another: ``first()``, then ``then(found, firsts)`` until None.

    With a saturated receiver, the round first asks for other receivers' work only;
    if that comes back short while few deliveries wait, or short of first attempts,
    it tops up with anyone's, the saturated receiver's included.  ``drained`` says,
    at the end, whether the round found everything due that it may take, and
    ``firsts_drained`` whether it found every first attempt it asked for.
    """

    def __init__(
        self,
        mix: ClaimMix,
        skip: frozenset[int],
        *,
        fan_out_first: bool,
        probe: bool,
        low: bool,
        firsts_drained: bool = False,
    ) -> None:
        self.limit = mix.rest
        self.firsts_wanted = mix.first
        self.skip = skip
        self.fan_out_first = fan_out_first
        self.probe = probe
        self.low = low
        self.drained = False
        self._step = 0
        self._found = 0  # by due time
        self._firsts = 0
        self._rest_asked = False  # a top-up asked for anyone's deliveries by due time
        self._firsts_drained_before = firsts_drained  # why it asks for none: still so after it

    @property
    def exhausted(self) -> bool:
        """Nothing else is due for anyone: the round asked for anyone's deliveries (no receiver
        skipped, or a top-up) and came back short.  Unlike ``drained``, which may only mean that
        receivers other than a saturated one have nothing."""
        return self._found < self.limit and (not self.skip or self._rest_asked)

    @property
    def firsts_drained(self) -> bool:
        if not self.firsts_wanted:
            return self._firsts_drained_before
        return self._firsts < self.firsts_wanted

    def first(self) -> ClaimRequest | None:
        self._step = 1
        if self.skip and not self.probe:
            # A moment ago no other receiver had anything, and nothing was committed since.
            self.drained = True
            return self._top_up()
        return ClaimRequest(self.limit, self.skip, self.fan_out_first, self.firsts_wanted)

    def then(self, found: int, firsts: int = 0) -> ClaimRequest | None:
        """``found`` deliveries came back, ``firsts`` of them as first attempts."""
        self._found += found - firsts
        self._firsts += firsts
        if self._step == 1:
            self.drained = self._found < self.limit
            if self.skip and ((self.drained and self.low) or self.firsts_drained):
                return self._top_up()
        self._step = 3
        return None

    def _top_up(self) -> ClaimRequest | None:
        """Anyone's: the rest while few wait, and the first attempts still lacking."""
        self._step = 2
        rest = self.limit - self._found if self.low and self.drained else 0
        self._rest_asked = rest > 0
        first = self.firsts_wanted - self._firsts
        if rest <= 0 and first <= 0:
            self._step = 3
            return None
        return ClaimRequest(max(0, rest), first=max(0, first))


class Schedule:
    """What waits, what is in flight per receiver, and when to claim (see the module's rules)."""

    def __init__(
        self,
        concurrency: int,
        *,
        lease_s: float,
        renewal_margin_s: float,
        first_share: float = FIRST_ATTEMPT_SHARE,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self.per_destination = max(1, concurrency // 2)
        self.first_share = first_share
        self.retry_slots = concurrency - reserved_slots(concurrency, first_share)
        self.busy_retries = 0
        self.firsts_waiting = 0
        self.firsts_drained = False  # the last claim found every first attempt due it asked for
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
        self.exhausted = False  # the last claim found everything due, for any receiver
        self.woken = False  # something was committed since the claimer last looked
        # Something else may be claimable since the round under way began (``more_due()``, room
        # again at a receiver): that round's "exhausted" must not hide it.
        self._changed_in_round = False
        self._fan_out = True  # new events may need their delivery rows before the next claim
        self._probed_at = -math.inf
        self._lease_ends = math.inf  # when the oldest waiting lease runs out

    # -- the claimer's side ------------------------------------------------------

    def wake(self) -> None:
        """New work was committed: claim now, and it may be for a receiver with room."""
        self.woken = True
        self._fan_out = True
        self.drained = self.exhausted = False
        self.firsts_drained = False

    def more_due(self) -> None:
        """Deliveries the last claim could not take may be due now (a record's earlier delivery
        was recorded, a receiver that answered again released its retries): claim again.

        ``drained`` stands: whether other receivers than a saturated one have work is looked
        at again as before (a commit, or ``PROBE_S``), not at every recording."""
        self.exhausted = False
        self._changed_in_round = True

    def polled(self) -> None:
        """The claimer woke by itself: events may have been committed without a wake-up,
        and retries may have fallen due."""
        self._fan_out = True
        self.exhausted = False
        self.firsts_drained = False

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

        Not once the last claim found everything due, for any receiver, until something changes
        (a commit, a receiver with room again, ``more_due()``): claiming again would find
        nothing again, in a loop that only burns the CPU the slots need, and while a slot
        starts sending what was just claimed, its transaction only delays that send.
        """
        return (
            self.woken
            or (len(self.waiting) <= self.concurrency and not self.exhausted)
            or (self._eligible() is None and not self.drained)
            or self._wants_firsts()
        )

    def _wants_firsts(self) -> bool:
        """A slot is idle, no first attempt waits for it, and some may be due (a reserved slot would idle)."""
        return (
            self.retry_slots < self.concurrency
            and not (self.firsts_waiting or self.firsts_drained)
            and sum(self.busy.values()) < self.concurrency
        )

    def claim_round(self, now: float) -> ClaimRound:
        """The claims to run now (call ``claimed()`` with what they found)."""
        fan_out_first, self._fan_out = self._fan_out, False
        self.woken = self._changed_in_round = False
        saturated = {d for d, n in self.busy.items() if n >= self.per_destination}
        skip = frozenset(h for h, d in self._hook_destination.items() if d in saturated)
        # Only receivers with room, unless a moment ago there were none and nothing was
        # committed since: then that query would find none again.
        probe = bool(skip) and (not self.drained or fan_out_first or now - self._probed_at > PROBE_S)
        if probe:
            self._probed_at = now
        mix = claim_mix(
            max(1, self.depth - len(self.waiting)),
            # None due a moment ago, and nothing committed since: asking again would find none again.
            share=0.0 if self.firsts_drained else self.first_share,
            firsts_waiting=self.firsts_waiting,
            full=self.depth,
        )
        return ClaimRound(
            mix,
            skip,
            fan_out_first=fan_out_first,
            probe=probe,
            low=len(self.waiting) <= self.concurrency,
            firsts_drained=self.firsts_drained,
        )

    def claimed(
        self,
        items: Iterable[Claimed],
        *,
        drained: bool,
        now: float,
        firsts_drained: bool = False,
        exhausted: bool = False,
    ) -> bool:
        """Take in what a round claimed; True when idle slots should look again."""
        items = list(items)
        if items and not self.waiting:
            self._lease_ends = now + self.lease_s
        became_drained = drained and not self.drained
        if self._changed_in_round:  # what it found short may be there now
            exhausted = False
        self.drained = drained
        self.exhausted = exhausted
        self.firsts_drained = firsts_drained
        for c in items:
            self._hook_destination[c.hook_id] = c.destination
            self._queued[c.destination] += 1
            self.firsts_waiting += c.attempt_count == 0
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

    @property
    def changed_since_round(self) -> bool:
        """More may be claimable than the last round began to look for (``more_due()``, room
        again at a receiver): the claimer must not go to sleep on that round's findings."""
        return self._changed_in_round

    def idle_for(self, now: float, poll_interval: float, due_in: float | None) -> float:
        """How long the claimer may sleep once it found everything due: until the next delivery
        falls due (``due_in`` seconds; None: none waits), the next poll, or the renewal of what
        waits for a slot, whichever comes first; only a moment while rows are still being written."""
        if self._fan_out:
            return FANOUT_RECHECK_S
        wait = self.wait_limit(now, poll_interval)
        return max(0.02, wait if due_in is None else min(wait, due_in))

    def wait_limit(self, now: float, poll_interval: float) -> float:
        """How long the claimer may sleep: until the next poll, or until leases need renewing."""
        return max(0.0, min(poll_interval, self._lease_ends - self.renewal_margin_s - now))

    def release_all(self) -> list[int]:
        """Closing: every waiting delivery, to hand back unsent (others may take them at once)."""
        ids = [c.delivery_id for c in self.waiting]
        self.waiting.clear()
        self._queued.clear()
        self.firsts_waiting = 0
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
            index = next((i for i, c in enumerate(self.waiting) if self._may_start(c)), None)
            if index is None:
                return None
        c = self.waiting[index]
        del self.waiting[index]
        self._queued[c.destination] -= 1
        if not self._queued[c.destination]:
            del self._queued[c.destination]
        self.busy[c.destination] += 1
        if c.attempt_count:
            self.busy_retries += 1
        else:
            self.firsts_waiting -= 1
        return c

    def done(self, c: Claimed) -> bool:
        """``c``'s attempt is over; True when its receiver just got room again.

        Then the last claim skipped it, so "nothing else is due" holds no longer
        until a claim that includes it says so.
        """
        self.busy[c.destination] -= 1
        if not self.busy[c.destination]:
            del self.busy[c.destination]
        if c.attempt_count:
            self.busy_retries -= 1
        room_again = self.busy[c.destination] == self.per_destination - 1
        if room_again:
            self.drained = False
            self._changed_in_round = True
        return room_again

    def _may_start(self, c: Claimed) -> bool:
        """A first attempt may take any slot; a retry only one of the ``retry_slots``."""
        return not c.attempt_count or self.busy_retries < self.retry_slots

    def _eligible(self) -> int | None:
        """Index of the oldest waiting delivery whose receiver has room, and that may start."""
        busy, limit = self.busy, self.per_destination
        if not any(busy[d] < limit for d in self._queued):
            return None
        if not self.firsts_waiting and self.busy_retries >= self.retry_slots:
            return None  # only retries wait, and they may take no more slots
        return next((i for i, c in enumerate(self.waiting) if busy[c.destination] < limit and self._may_start(c)), None)
