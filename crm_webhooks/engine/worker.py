"""Delivery threads: the in-process ``thread`` dispatcher and the ``worker`` command.

A pipeline, so that one slow or dead receiver holds back nobody else:

    claimer ──(claimed, waiting)──> sender loop, N slots ──(sent)──> recorder

A free slot starts the oldest waiting delivery whose receiver has fewer than
half the N slots busy with it, so a dead receiver gets at most half of them
while others wait, and a lone receiver gets them all.

The claimer leases due deliveries in small batches; the sender runs N slot
coroutines on one asyncio loop (``transport_async``: aiohttp, so an attempt
costs no thread and little CPU), each sending one attempt after another; the
recorder writes whatever has been sent, many attempts per transaction.  The
claimer and recorder run at a lower priority than the loop: when cores are
short, the responses the slots wait for come first.  ``wake()`` (a commit in this
process, a NOTIFY from another) starts a claim at once; otherwise the claimer
sleeps until the next retry falls due, and at most ``poll_interval``.

Stopping is graceful: no new claims, each sender finishes its attempt, the
recorder writes them, and what was claimed but not sent is released so other
workers can take it at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import sys
import threading
import time
from collections import Counter, deque
from typing import TYPE_CHECKING, Any

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .claim import Claimed, next_due_at
from .deliver import Deliverer, Sent

if TYPE_CHECKING:  # aiohttp is imported by the sender loop only
    from .transport_async import AsyncTransport

log = logging.getLogger("crm_webhooks.worker")

_DONE = object()  # tells a thread downstream that no more is coming
RECORD_BATCH = 200  # attempts recorded per transaction, at most
RECORD_GATHER_S = 0.050  # how long the recorder waits for more before writing a batch
BACKGROUND_NICE = 5  # how much lower the claimer and recorder threads run than the sender loop
PROBE_S = 1.0  # how stale "no other receiver has anything due" may get before it is checked again


def _lower_priority() -> None:
    """Let the kernel run the sender loop first when cores are short (Linux: per thread).

    Throughput is the loop's latency: a response that waits for a core delays the
    next attempt on its slot, while claims and records can wait a moment.  Measured
    with ``bench/workers.py``: 2 workers went from 0.81-0.82 to 0.83 of the ideal.
    """
    if sys.platform == "linux":  # elsewhere the call would lower the whole process
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class Worker:
    def __init__(self, deliverer: Deliverer, *, concurrency: int = 1, poll_interval: float = 0.25) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.deliverer = deliverer
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.attempts = 0
        self.claim_rounds = 0  # times the claimer woke up to claim: what an idle worker must not burn
        self.listener: Any = None
        self._wake = threading.Event()
        # Claimed deliveries waiting for a sender.  A claim costs a transaction, so it
        # fetches several senders' worth at once (claiming per attempt would cost more CPU
        # than the attempts); their leases are renewed while they wait.
        self._depth = max(4 * concurrency, 32)
        self._lease_ends = float("inf")  # monotonic: when the oldest waiting lease runs out
        # New events may need their delivery rows written before the next claim.
        self._fan_out = True
        self._probed_at = 0.0  # monotonic: when a claim last looked for other receivers' work
        self._waiting: deque[Claimed] = deque()
        self._closed = False
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)  # the claimer waits on it
        # The sender loop waits on an asyncio event; other threads set it through the loop.
        self._loop: asyncio.AbstractEventLoop | None = None
        self._work: asyncio.Event | None = None  # idle slots wait on it; replaced each time it is set
        self._kicked = False  # a wake-up is on its way to the sender loop already
        # A destination past half the senders yields to others that wait: a slow or dead
        # receiver cannot take every sender, yet a lone receiver gets them all.
        self.per_destination = max(1, concurrency // 2)
        self._busy: Counter[str] = Counter()
        # Waiting deliveries per destination: finding none with room is then a look at
        # a few destinations, not at every waiting delivery on every take.
        self._queued: Counter[str] = Counter()
        self._hook_destination: dict[int, str] = {}
        # The last claim found everything due it may take: what waits is all there is.
        self._drained = False
        self._woken = False  # wake() was called since the claimer last looked
        # What the senders did, for the recorder; it is woken once per batch, not per attempt.
        self._sent: deque[Any] = deque()
        self._sent_ready = threading.Event()
        self._threads: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        return self.deliverer.stopping.is_set()

    def start(self, *, listen: bool = False) -> None:
        """Start the threads; with ``listen`` on PostgreSQL, wake up on each committed delivery."""
        if listen and self.deliverer.engine.dialect.name == "postgresql":
            from .listen import Listener

            self.listener = Listener(self.deliverer.engine, self.wake).start()
        # Imported before the threads start, not on the sender's first turn: aiohttp and its TLS
        # contexts take a quarter of a second here, which the first deliveries would wait for.
        from . import transport_async  # noqa: F401

        sender = self._thread(self._send_loop, "send")
        claimer = self._thread(self._claim_loop, "claim", background=True)
        self._threads = [claimer, sender, self._thread(self._record_loop, "record", background=True)]

    def _thread(self, target: Any, name: str, *, background: bool = False) -> threading.Thread:
        def run() -> None:
            if background:
                _lower_priority()
            target()

        thread = threading.Thread(target=run, name=f"crm-webhooks-{name}", daemon=True)
        thread.start()
        return thread

    def wake(self) -> None:
        """New work was committed: claim now, and it may be for a receiver with room."""
        with self._lock:
            self._woken = True
            self._fan_out = True
            self._drained = False
            self._cond.notify()
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming; with ``timeout``, also wait that long for the attempts in flight."""
        self.deliverer.stopping.set()
        self._wake.set()
        with self._lock:
            self._cond.notify()
            self._kick()
        if self.listener is not None:
            self.listener.stop()
        if timeout is not None:
            self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(None if deadline is None else max(0.0, deadline - time.monotonic()))

    # -- the three stages -------------------------------------------------------------

    def _claim_loop(self) -> None:
        stop = self.deliverer.stopping
        failures = 0
        try:
            while not stop.is_set():
                self._wake.clear()
                with self._cond:
                    if not self._cond.wait_for(self._should_claim, timeout=self._claim_timeout()):
                        self._fan_out = True  # a poll: events may have come without a wake-up
                    self._woken = False
                    self.claim_rounds += 1
                    fan_out_first, self._fan_out = self._fan_out, False
                    room = max(1, self._depth - len(self._waiting))
                    # A saturated receiver gets more only once the senders have taken half of
                    # what waits; until then only other receivers' deliveries are worth claiming.
                    low = len(self._waiting) <= self.concurrency
                    saturated = {d for d, n in self._busy.items() if n >= self.per_destination}
                    skip = {h for h, d in self._hook_destination.items() if d in saturated}
                if stop.is_set():
                    break
                try:
                    self._renew_waiting()
                    # Only deliveries for receivers with room, unless a moment ago there were none
                    # and nothing was committed since: then that query would find none again.
                    probe = bool(skip) and (
                        not self._drained or fan_out_first or time.monotonic() - self._probed_at > PROBE_S
                    )
                    if skip and not probe:
                        claimed = self.deliverer.claim(room, fan_out_first=False) if low else []
                        drained = True
                    else:
                        claimed = self.deliverer.claim(room, skip_hooks=skip, fan_out_first=fan_out_first)
                        # Fewer than asked: no receiver with room has anything more due, so a sender
                        # with nothing else to do may join a saturated receiver (a lone one gets them all).
                        drained = len(claimed) < room
                        if skip:
                            self._probed_at = time.monotonic()
                        if skip and drained and low:
                            claimed += self.deliverer.claim(room - len(claimed), fan_out_first=False)
                    if self.deliverer.fanout_behind:
                        self._fan_out = True
                    failures = 0
                except Exception:  # the database went away: log, wait, try again; nothing is lost
                    failures += 1
                    self._fan_out = True
                    wait = min(30.0, 0.5 * 2**failures)
                    log.exception("claiming failed; again in %.1f s", wait)
                    stop.wait(wait)
                    continue
                with self._lock:
                    if claimed and not self._waiting:
                        self._lease_ends = time.monotonic() + self.deliverer.lease.total_seconds()
                    became_drained = drained and not self._drained
                    self._drained = drained
                    for c in claimed:
                        self._hook_destination[c.hook_id] = c.destination
                        self._queued[c.destination] += 1
                    self._waiting.extend(claimed)
                    if claimed or became_drained:  # drained: idle slots may join a saturated receiver now
                        self._kick()
                    idle = not self._waiting
                if idle:
                    self._lease_ends = float("inf")
                    self._wake.wait(max(0.02, self._idle_wait()))  # never a busy loop
                    self._fan_out = True
        finally:
            with self._lock:
                self._closed = True
                self._kick()

    def _renewal_margin(self) -> float:
        # Renewed while a whole attempt (at most the timeout) and its recording still fit, twice over.
        return self.deliverer.options.timeout * 2 + 1

    def _claim_timeout(self) -> float:
        """How long the claimer may wait: until the next poll, or until leases need renewing."""
        return max(0.0, min(self.poll_interval, self._lease_ends - self._renewal_margin() - time.monotonic()))

    def _renew_waiting(self) -> None:
        """Extend the leases of what waits for a sender before they run short (claimer thread)."""
        if time.monotonic() < self._lease_ends - self._renewal_margin():
            return
        with self._lock:
            ids = [c.delivery_id for c in self._waiting]
        self._lease_ends = self.deliverer.renew(ids) if ids else float("inf")

    def _should_claim(self) -> bool:
        """Whether a claim may find work for an idle sender (caller holds the lock).

        Not while every waiting delivery is for a saturated receiver and the last
        claim found nothing for the others: claiming again would find nothing again,
        in a loop that only burns the CPU the senders need.
        """
        return (
            self.deliverer.stopping.is_set()
            or self._woken
            or len(self._waiting) <= self.concurrency
            or (self._eligible() is None and not self._drained)
        )

    def _eligible(self) -> int | None:
        """Index of the oldest waiting delivery whose receiver has room (caller holds the lock)."""
        busy, limit = self._busy, self.per_destination
        if not any(busy[d] < limit for d in self._queued):
            return None
        return next((i for i, c in enumerate(self._waiting) if busy[c.destination] < limit), None)

    def _kick(self) -> None:
        """Wake the sender loop from another thread (caller holds the lock)."""
        if self._loop is not None and not self._kicked:
            self._kicked = True
            self._loop.call_soon_threadsafe(self._wake_slots)

    def _pop(self) -> Claimed | None:
        """The oldest waiting delivery whose receiver has room; the oldest of all when nothing
        else is due (a lone receiver gets every slot) or when closing; None when there is none
        to start (caller holds the lock)."""
        if not self._waiting:
            return None
        index = self._eligible()
        if index is None:
            if not (self._drained or self._closed):
                return None
            index = 0
        c = self._waiting[index]
        del self._waiting[index]
        self._queued[c.destination] -= 1
        if not self._queued[c.destination]:
            del self._queued[c.destination]
        self._busy[c.destination] += 1
        return c

    def _send_loop(self) -> None:
        try:
            asyncio.run(self._send_all())
        finally:
            self._hand_over(_DONE)

    async def _send_all(self) -> None:
        from .transport_async import AsyncTransport  # aiohttp is imported by workers only

        options = self.deliverer.options
        transport = AsyncTransport(
            allow_private=options.allow_private_networks, timeout=options.timeout, per_host=self.concurrency
        )
        with self._lock:
            self._loop, self._work = asyncio.get_running_loop(), asyncio.Event()
        try:
            # One coroutine per slot, each sending one attempt after another: no task, callback
            # and wake-up per attempt, so a freed slot starts its next attempt at once.
            await asyncio.gather(*(self._slot(transport) for _ in range(self.concurrency)))
        finally:
            with self._lock:
                self._loop = self._work = None
            await transport.close()

    async def _slot(self, transport: AsyncTransport) -> None:
        while True:
            with self._lock:
                c = self._pop()
                if c is not None and self._should_claim():
                    self._cond.notify()  # the claimer may have work to do now
                finished = c is None and self._closed and not self._waiting
                work = self._work
            if finished:
                return
            if c is None:
                assert work is not None
                await work.wait()  # set by _wake_slots(): new deliveries, or a receiver with room
                continue
            await self._attempt(c, transport)

    def _wake_slots(self) -> None:
        """On the loop: wake every idle slot (each looks again; those that find nothing wait again)."""
        with self._lock:
            self._kicked = False
            work, self._work = self._work, asyncio.Event()
        if work is not None:
            work.set()

    async def _attempt(self, c: Claimed, transport: AsyncTransport) -> None:
        try:
            if self.stopping:
                self._hand_over(("released", c.delivery_id))  # claimed, never sent: others may take it now
            elif c.held:
                self._hand_over(("held", c.delivery_id))
            else:
                self._hand_over(("sent", await self.deliverer.send_async(c, transport)))
        except Exception:  # never lose the lease silently: it runs out and another worker retries
            log.exception("sending delivery %s failed", c.delivery_id)
        finally:
            with self._lock:
                self._busy[c.destination] -= 1
                room_again = self._busy[c.destination] == self.per_destination - 1
                if room_again:
                    # The last claim skipped this receiver, so "nothing else is due" no
                    # longer holds until a claim that includes it says so.
                    self._drained = False
                    self._cond.notify()
                    self._wake.set()
            if room_again:  # idle slots may now start on this receiver
                self._wake_slots()

    def _hand_over(self, item: Any) -> None:
        """Pass a result to the recorder; only the first of a batch pays for waking it."""
        self._sent.append(item)
        if not self._sent_ready.is_set():
            self._sent_ready.set()

    def _record_loop(self) -> None:
        finished = False
        while not finished:
            self._sent_ready.wait()
            # Gather for a moment: a transaction per attempt would cost the worker more CPU
            # than the attempts themselves, and nobody waits on the recording.
            time.sleep(RECORD_GATHER_S)
            self._sent_ready.clear()  # before taking: whatever comes after it wakes us again
            batch: list[Any] = []
            while self._sent and len(batch) < RECORD_BATCH:
                item = self._sent.popleft()
                if item is _DONE:
                    finished = True
                else:
                    batch.append(item)
            if self._sent:
                self._sent_ready.set()  # more than a batch waits
            self._record(batch)

    def _record(self, items: list[tuple[str, Any]]) -> None:
        if not items:
            return
        sent: list[Sent] = [x for kind, x in items if kind == "sent"]
        held = [x for kind, x in items if kind == "held"]
        released = [x for kind, x in items if kind == "released"]
        for attempt in range(1, 6):
            try:
                self.deliverer.record(sent, held, released)
                break
            except Exception:  # keep the results and try again: the attempt happened
                log.exception("recording %d attempts failed (try %d)", len(sent), attempt)
                time.sleep(min(10.0, 0.5 * 2**attempt))
        self.attempts += len(sent)

    def _idle_wait(self) -> float:
        try:
            with read_only(), self.deliverer.engine.connect() as conn:
                due = next_due_at(conn)
        except Exception:
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (due - utcnow()) / dt.timedelta(seconds=1)))
