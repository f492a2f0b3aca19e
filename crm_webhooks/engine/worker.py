"""The delivery pipeline of the in-process ``thread`` dispatcher and of the ``worker`` command.

    Claimer ──(Schedule: claimed, waiting)──> N slots ──(queue of results)──> Recorder

All three stages are coroutines of one asyncio loop, in one thread: they share
the ``Schedule`` (``schedule.py``, the rules, no I/O) without a lock, because
only the loop touches it.  The claimer leases due deliveries in batches; each
slot sends one attempt after another through aiohttp (``transport_async``), so
an attempt costs no thread; the recorder writes what was sent, many attempts
per transaction, and one by one after a batch fails, so that one bad row cannot
make the whole batch go out again.  Database work runs in a small executor
whose threads run at a lower priority than the loop: when cores are short, the
responses the slots wait for come first.

When ``probe_disabled_every`` is set, a fourth stage, the prober, looks now and then
for hooks disabled for their failures that are due a test send (``probe.py``) and
hands each to ``probe`` (the services' test send and enable) in a thread of its own:
a probe waits for a receiver that may be down, and must hold up neither the loop
nor the database threads.  It adds nothing to a claim.

``wake()`` (a commit in this process, a NOTIFY from another) may be called from
any thread; it is passed to the loop.  Otherwise the claimer sleeps until the
next retry falls due, and at most ``poll_interval``.  ``stop()`` is graceful: no
new claims, each slot finishes its attempt, the recorder writes them, and what
was claimed but not sent is released so other workers can take it at once.
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
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, TypeVar

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .claim import Claimed, next_due_at, renewal_margin
from .deliver import Deliverer
from .observe import NEXT_DUE
from .record import Batch
from .retry import pause_after
from .schedule import Schedule
from .send import send_async

if TYPE_CHECKING:  # aiohttp is imported by the worker's loop only
    from .transport_async import AsyncTransport

log = logging.getLogger("crm_webhooks.worker")

T = TypeVar("T")

RECORD_BATCH = 200  # attempts recorded per transaction, at most
RECORD_GATHER_S = 0.050  # how long the recorder waits for more before writing a batch
RECORD_TRIES = 5  # tries of a batch whose every row fails (the database is away) before letting it go
BACKGROUND_NICE = 5  # how much lower the database threads run than the loop
DB_THREAD_PREFIX = "crm-webhooks-db"
PROBE_LOOK_S = 5.0  # how often the prober looks for newly disabled hooks, at most
PROBE_LOOK_MIN_S = 0.05  # and at least this long between looks, whatever falls due


def _lower_priority() -> None:
    """Let the kernel run the loop first when cores are short (Linux: per thread).

    Throughput is the loop's latency: a response that waits for a core delays the
    next attempt on its slot, while claims and records can wait a moment.
    """
    if sys.platform == "linux":  # elsewhere the call would lower the whole process
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), BACKGROUND_NICE)


class _Database:
    """Runs the pipeline's database calls off the loop, in threads of lower priority."""

    def __init__(self, deliverer: Deliverer) -> None:
        # SQLite serialises writers anyway: a second thread would only wait for the lock.
        threads = 2 if deliverer.engine.dialect.name == "postgresql" else 1
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=DB_THREAD_PREFIX, initializer=_lower_priority)

    async def run(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, lambda: call(*args, **kwargs))

    def close(self) -> None:
        self._executor.shutdown(wait=True)


class _Signal:
    """Wakes every coroutine waiting on it; each looks again (an event replaced when set)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout: float | None = None) -> bool:
        """True when notified, False when ``timeout`` passed first."""
        if timeout is None:
            return await self._event.wait()
        try:
            await asyncio.wait_for(self._event.wait(), timeout)
        except TimeoutError:
            return False
        return True


class Claimer:
    """Leases due deliveries into the schedule, renews the leases of what waits, sleeps when idle."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self.nudged = _Signal()
        self.rounds = 0  # times it claimed: what an idle worker must not burn

    async def run(self) -> None:
        p, schedule = self.p, self.p.schedule
        failures = 0
        while not p.stopping:
            if not schedule.should_claim():
                # Until there is something to claim for, the next poll, or leases to renew.
                if await self.nudged.wait(schedule.wait_limit(time.monotonic(), p.poll_interval)):
                    continue  # nudged: look again
                schedule.polled()
                if p.stopping:
                    break
            try:
                await self._renew()
                found = await self._claim_round()
                failures = 0
            except Exception:  # the database went away: log, wait, try again; nothing is lost
                failures += 1
                schedule.polled()
                wait = pause_after(failures)
                log.exception("claiming failed", extra={"retry_in_s": wait})
                await self.nudged.wait(wait)
                continue
            if schedule.woken or p.stopping:
                continue  # committed meanwhile: look again at once
            if not schedule.waiting or (found and schedule.exhausted):
                # Until the next is due, the next poll, or what waits needs its leases renewed.
                due_in = None if schedule.rows_coming else await self._due_in()
                idle = schedule.idle_for(time.monotonic(), p.poll_interval, due_in)
                if not (schedule.woken or schedule.changed_since_round or p.stopping):  # not lost meanwhile
                    await self.nudged.wait(idle)
                schedule.polled()
            elif not found:
                # Deliveries wait for busy slots and nothing else is due: claiming again would
                # find nothing again until a slot frees up, a commit, or the next poll.
                limit = schedule.idle_limit(schedule.wait_limit(time.monotonic(), p.poll_interval))
                nudged = await self.nudged.wait(max(0.02, limit))
                if not nudged:
                    schedule.polled()

    async def _renew(self) -> None:
        started = time.monotonic()
        ids = self.p.schedule.renewal(started)
        if ids:
            await self.p.db.run(self.p.deliverer.renew, ids)
            self.p.schedule.renewed(started)  # only once done: a failed renewal is tried again

    async def _claim_round(self) -> int:
        """One round of claims into the schedule; returns how many deliveries it found."""
        p = self.p
        self.rounds += 1
        plan = p.schedule.claim_round(time.monotonic())
        claimed: list[Claimed] = []
        complete = False
        try:
            request = plan.first()
            while request is not None:
                claim = await p.db.run(
                    p.deliverer.claim,
                    request.limit,
                    request.skip_hooks,
                    fan_out_first=request.fan_out_first,
                    first=request.first,
                )
                if claim.fanout_behind:
                    p.schedule.fanout_behind()
                claimed += claim.claimed
                request = plan.then(len(claim.claimed), claim.firsts)
            complete = True
        finally:
            # What an earlier claim of a failed round leased is this worker's all the same.
            drained, firsts_drained = complete and plan.drained, complete and plan.firsts_drained
            exhausted = complete and plan.exhausted
            if p.schedule.claimed(
                claimed, drained=drained, firsts_drained=firsts_drained, exhausted=exhausted, now=time.monotonic()
            ):
                p.slots_wanted.notify()
        return len(claimed)

    async def _due_in(self) -> float | None:
        """Seconds until the next pending delivery falls due; None when none waits (or the
        database cannot say: the next poll looks again)."""
        try:
            due = await self.p.db.run(_next_due_at, self.p.deliverer)
        except Exception:
            return None
        return None if due is None else max(0.0, (due - utcnow()) / dt.timedelta(seconds=1))


def _next_due_at(deliverer: Deliverer) -> dt.datetime | None:
    with deliverer.counting_errors(NEXT_DUE), read_only(), deliverer.engine.connect() as conn:
        return next_due_at(conn)


class Slots:
    """N coroutines, each taking the next delivery the schedule gives it and sending it."""

    def __init__(self, pipeline: Pipeline, transport: AsyncTransport) -> None:
        self.p = pipeline
        self.transport = transport

    async def run(self) -> None:
        await asyncio.gather(*(self._slot() for _ in range(self.p.schedule.concurrency)))

    async def _slot(self) -> None:
        p, schedule = self.p, self.p.schedule
        observer = p.deliverer.observer
        while not p.stopping:
            c = schedule.take()
            if c is None:
                await p.slots_wanted.wait()
                continue
            if schedule.should_claim():
                p.claimer.nudged.notify()
            observer.slot_busy(1)
            try:
                if c.held:
                    p.recorder.put(Batch(held=[c.delivery_id]))
                else:
                    p.recorder.put(Batch(sent=[await send_async(c, self.transport, p.deliverer.options)]))
            except Exception:  # never lose the lease silently: it runs out and another worker retries
                log.exception("sending failed", extra={"delivery": c.delivery_id})
            finally:
                observer.slot_busy(-1)
                if schedule.done(c):  # its receiver has room again: idle slots and the claimer may use it
                    p.claimer.nudged.notify()
                    p.slots_wanted.notify()


class Recorder:
    """Writes what the slots hand over, a batch per transaction, gathered for a moment."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline
        self._pending = Batch()
        self._ready = _Signal()
        self._closing = False
        self.attempts = 0  # attempts recorded (or let go after failing to record)

    def put(self, batch: Batch) -> None:
        was_empty = not self._pending
        self._pending.add(batch)
        if was_empty:
            self._ready.notify()  # only the first of a batch pays for the wake-up

    def close(self) -> None:
        self._closing = True
        self._ready.notify()

    async def run(self) -> None:
        while True:
            if not self._pending:
                if self._closing:
                    return
                await self._ready.wait()
                continue
            if not self._closing:
                # Gather for a moment: a transaction per attempt would cost more CPU than the
                # attempts themselves, and nobody waits on the recording.
                await asyncio.sleep(RECORD_GATHER_S)
            batch = self._take()
            await self._record(batch)

    def _take(self) -> Batch:
        pending = self._pending
        if len(pending.sent) <= RECORD_BATCH:
            self._pending = Batch()
            return pending
        self._pending = Batch(sent=pending.sent[RECORD_BATCH:])
        return Batch(sent=pending.sent[:RECORD_BATCH], held=pending.held, released=pending.released)

    async def _record(self, batch: Batch) -> None:
        """Record ``batch``; after it fails, its items one by one.

        An item that fails alone while others succeed is let go (logged): its lease
        runs out and it is sent again.  When every item fails, the database is away:
        wait and try again, a few times.
        """
        run = self.p.db.run
        for tries in range(1, RECORD_TRIES + 1):
            try:
                recorded = await run(self.p.deliverer.record, batch)
                # The next delivery of those records may go now, and so may what a receiver
                # answering again released, and the operational events the batch raised.
                if recorded.raised:
                    self.p.wake()  # they need their delivery rows written first
                elif recorded.released or any(s.claimed.record for s in batch.sent):
                    self.p.schedule.more_due()
                    self.p.claimer.nudged.notify()
                break
            except Exception:
                log.exception("recording failed", extra={"attempts": len(batch.sent), "try": tries})
            if len(batch) > 1:
                failed = Batch()
                for one in batch.split():
                    try:
                        await run(self.p.deliverer.record, one)
                    except Exception:
                        failed.add(one)
                if len(failed) < len(batch):
                    for s in failed.sent:
                        log.error("attempt not recorded; it goes again", extra={"delivery": s.claimed.delivery_id})
                    break
            await asyncio.sleep(pause_after(tries))
        self.attempts += len(batch.sent)


class Prober:
    """Claims the probes of disabled hooks that fall due and runs each through ``probe``."""

    def __init__(self, pipeline: Pipeline, probe: Callable[[int], bool]) -> None:
        self.p = pipeline
        self.probe = probe
        self.stopped = _Signal()
        self.probes = 0  # probes run (answered or not)

    async def run(self) -> None:
        minutes = self.p.deliverer.options.probe_disabled_every
        if minutes is None:
            return  # off: not a query, not a thread
        look = min(PROBE_LOOK_S, minutes * 60)
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(1, thread_name_prefix="crm-webhooks-probe") as sender:
            failures = 0
            while not self.p.stopping:
                wait = look
                try:
                    found = await self.p.db.run(self.p.deliverer.claim_probes)
                    failures = 0
                except Exception:  # the database went away: the claimer says so too; look again later
                    failures += 1
                    wait = pause_after(failures)
                    log.exception("looking for probes failed", extra={"retry_in_s": wait})
                else:
                    if found.hook is not None and not self.p.stopping:  # one left claimed: an interval later
                        await self._probe(loop, sender, found.hook)
                    if found.next_at is not None:
                        wait = min(look, max(PROBE_LOOK_MIN_S, (found.next_at - utcnow()).total_seconds()))
                if not self.p.stopping:  # a stop while it looked or probed: its signal has gone already
                    await self.stopped.wait(wait)

    async def _probe(self, loop: asyncio.AbstractEventLoop, sender: ThreadPoolExecutor, hook_id: int) -> None:
        try:
            enabled = await loop.run_in_executor(sender, self.probe, hook_id)
        except Exception:  # claimed all the same: it is probed again an interval later
            log.exception("probing failed", extra={"hook": hook_id})
            enabled = False
        self.probes += 1
        if enabled:  # its held deliveries, and those sent again, are due now
            self.p.wake()


class Pipeline:
    """One run of the loop: the schedule and its stages, from start to stop."""

    def __init__(
        self,
        deliverer: Deliverer,
        concurrency: int,
        poll_interval: float,
        probe: Callable[[int], bool] | None = None,
    ) -> None:
        options = deliverer.options
        self.deliverer = deliverer
        self.poll_interval = poll_interval
        self.schedule = Schedule(
            concurrency,
            lease_s=deliverer.lease.total_seconds(),
            renewal_margin_s=renewal_margin(options.timeout),
        )
        self.stopping = False
        self.db = _Database(deliverer)
        self.slots_wanted = _Signal()
        self.claimer = Claimer(self)
        self.recorder = Recorder(self)
        self.prober = None if probe is None else Prober(self, probe)

    def wake(self) -> None:
        self.schedule.wake()
        self.claimer.nudged.notify()

    def stop(self) -> None:
        self.stopping = True
        self.claimer.nudged.notify()
        self.slots_wanted.notify()
        if self.prober is not None:
            self.prober.stopped.notify()

    async def run(self) -> None:
        from .transport_async import AsyncTransport  # aiohttp is imported by workers only

        options = self.deliverer.options
        transport = AsyncTransport(
            allow_private=options.allow_private_networks, timeout=options.timeout, per_host=self.schedule.concurrency
        )
        recording = asyncio.create_task(self.recorder.run(), name="recorder")
        self.deliverer.observer.slots(self.schedule.concurrency)
        try:
            stages = [self.claimer.run(), Slots(self, transport).run()]
            if self.prober is not None:
                stages.append(self.prober.run())
            await asyncio.gather(*stages)
        finally:
            self.deliverer.observer.slots(-self.schedule.concurrency)
            self.recorder.put(Batch(released=self.schedule.release_all()))
            self.recorder.close()
            await recording
            await transport.close()
            self.db.close()


class Worker:
    """Runs a ``Pipeline`` in a thread of its own until ``stop()``; safe to call from any thread."""

    def __init__(
        self,
        deliverer: Deliverer,
        *,
        concurrency: int = 1,
        poll_interval: float = 0.25,
        probe: Callable[[int], bool] | None = None,
    ) -> None:
        """``probe``: send a disabled hook a test event and enable it when answered (True then);
        without it, disabled hooks are not probed whatever the options say."""
        self.deliverer = deliverer
        self.pipeline = Pipeline(deliverer, concurrency, poll_interval, probe)
        self.listener: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started = threading.Event()
        # stop() before the loop runs (a SIGTERM during start-up) is kept here for the loop to see.
        self._stop_asked = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def attempts(self) -> int:
        """Attempts recorded so far."""
        return self.pipeline.recorder.attempts

    @property
    def running(self) -> bool:
        """Whether the loop's thread is still at work."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def probes(self) -> int:
        """Disabled hooks probed so far."""
        prober = self.pipeline.prober
        return 0 if prober is None else prober.probes

    @property
    def claim_rounds(self) -> int:
        """Times the claimer claimed so far."""
        return self.pipeline.claimer.rounds

    def start(self, *, listen: bool = False) -> None:
        """Start the loop's thread; with ``listen`` on PostgreSQL, wake up on each committed event."""
        # Imported before the loop starts, not on its first attempt: aiohttp and its TLS
        # contexts take a quarter of a second, which the first deliveries would wait for.
        from . import transport_async  # noqa: F401

        self._thread = threading.Thread(target=self._run, name="crm-webhooks-loop", daemon=True)
        self._thread.start()
        self._started.wait()
        if listen and self.deliverer.engine.dialect.name == "postgresql":
            from .listen import Listener

            self.listener = Listener(self.deliverer.engine, self.wake).start()

    def _run(self) -> None:
        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._started.set()
            if self._stop_asked.is_set():  # asked before the loop could hear it
                self.pipeline.stop()
            await self.pipeline.run()

        try:
            asyncio.run(main())
        finally:
            self._started.set()

    def wake(self) -> None:
        """New work was committed: claim now."""
        self._call(self.pipeline.wake)

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming; with ``timeout``, also wait that long for the attempts in flight."""
        self._stop_asked.set()
        if self.listener is not None:
            self.listener.stop()
        self._call(self.pipeline.stop)
        if timeout is not None:
            self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _call(self, call: Callable[[], None]) -> None:
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nothing left to tell
                loop.call_soon_threadsafe(call)
