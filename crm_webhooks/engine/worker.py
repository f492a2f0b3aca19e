"""Delivery threads: the in-process ``thread`` dispatcher and the ``worker`` command.

A pipeline, so that one slow or dead receiver holds back nobody else:

    claimer ──(claimed, at most 2 x concurrency waiting)──> N senders ──(sent)──> recorder

The claimer leases due deliveries in small batches; each sender makes one
attempt at a time; the recorder writes whatever has been sent, many attempts
per transaction.  ``wake()`` (a commit in this process, a NOTIFY from
another) starts a claim at once; otherwise the claimer sleeps until the next
retry falls due, and at most ``poll_interval``.

Stopping is graceful: no new claims, each sender finishes its attempt, the
recorder writes them, and what was claimed but not sent is released so other
workers can take it at once.
"""

from __future__ import annotations

import datetime as dt
import logging
import queue
import threading
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .claim import Claimed, next_due_at
from .deliver import Deliverer, Sent
from .transport import Transport

log = logging.getLogger("crm_webhooks.worker")

_DONE = object()  # tells a thread downstream that no more is coming


class Worker:
    def __init__(self, deliverer: Deliverer, *, concurrency: int = 1, poll_interval: float = 0.25) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.deliverer = deliverer
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        self.attempts = 0
        self.listener: Any = None
        self._wake = threading.Event()
        # Claimed deliveries waiting for a sender: enough to keep every sender busy, few
        # enough that none waits long under its lease.
        self._todo: queue.Queue[Any] = queue.Queue()
        self._waiting = threading.Semaphore(2 * concurrency)
        self._sent: queue.Queue[Any] = queue.Queue()
        # At most half the senders on one destination: a dead receiver cannot take them all.
        self.per_destination = max(1, concurrency // 2)
        self._busy: Counter[str] = Counter()
        self._busy_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._senders: list[threading.Thread] = []

    @property
    def stopping(self) -> bool:
        return self.deliverer.stopping.is_set()

    def start(self, *, listen: bool = False) -> None:
        """Start the threads; with ``listen`` on PostgreSQL, wake up on each committed delivery."""
        if self.concurrency > self.deliverer.transport.maxsize:
            # One keep-alive connection per sender to the same receiver.
            old = self.deliverer.transport
            self.deliverer.transport = Transport(
                allow_private=self.deliverer.options.allow_private_networks,
                timeout=self.deliverer.options.timeout,
                maxsize=self.concurrency,
            )
            old.close()
        if listen and self.deliverer.engine.dialect.name == "postgresql":
            from .listen import Listener

            self.listener = Listener(self.deliverer.engine, self.wake).start()
        self._senders = [self._thread(self._send_loop, f"send-{n}") for n in range(self.concurrency)]
        claimer = self._thread(self._claim_loop, "claim")
        self._threads = [claimer, *self._senders, self._thread(self._record_loop, "record")]

    def _thread(self, target: Any, name: str) -> threading.Thread:
        thread = threading.Thread(target=target, name=f"crm-webhooks-{name}", daemon=True)
        thread.start()
        return thread

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop claiming; with ``timeout``, also wait that long for the attempts in flight."""
        self.deliverer.stopping.set()
        self._wake.set()
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
                free = self._free_slots()
                if free == 0:
                    continue  # _free_slots waited for a sender to take one; look again
                try:
                    claimed = self.deliverer.claim(free)
                    failures = 0
                except Exception:  # the database went away: log, wait, try again; nothing is lost
                    self._return_slots(free)
                    failures += 1
                    wait = min(30.0, 0.5 * 2**failures)
                    log.exception("claiming failed; again in %.1f s", wait)
                    stop.wait(wait)
                    continue
                self._return_slots(free - len(claimed))
                for c in claimed:
                    self._todo.put(c)
                if not claimed:
                    self._wake.wait(self._idle_wait())
        finally:
            for _ in self._senders:
                self._todo.put(_DONE)

    def _free_slots(self) -> int:
        """How many more deliveries may wait for a sender (blocks briefly for at least one)."""
        if not self._waiting.acquire(timeout=0.5):
            return 0
        taken = 1
        while taken < 2 * self.concurrency and self._waiting.acquire(blocking=False):
            taken += 1
        return taken

    def _return_slots(self, n: int) -> None:
        for _ in range(n):
            self._waiting.release()

    def _send_loop(self) -> None:
        stop = self.deliverer.stopping
        while True:
            item = self._todo.get()
            if item is _DONE:
                self._sent.put(_DONE)
                return
            self._waiting.release()
            c: Claimed = item
            if stop.is_set():
                self._sent.put(("released", c.delivery_id))  # claimed, never sent: others may take it now
            elif not c.enabled and not c.test:
                self._sent.put(("held", c.delivery_id))  # its hook was disabled since: keep it for later
            else:
                destination = urlsplit(c.url).netloc.lower()
                with self._busy_lock:
                    full = self._busy[destination] >= self.per_destination
                    if not full:
                        self._busy[destination] += 1
                if full:
                    self._sent.put(("deferred", c.delivery_id))  # its receiver is busy: a little later
                    continue
                try:
                    self._sent.put(("sent", self.deliverer.send(c)))
                except Exception:  # never lose the lease silently: it runs out and another worker retries
                    log.exception("sending delivery %s failed", c.delivery_id)
                finally:
                    with self._busy_lock:
                        self._busy[destination] -= 1

    def _record_loop(self) -> None:
        finished = 0
        while finished < len(self._senders):
            batch: list[Any] = [self._sent.get()]
            while len(batch) < 200:  # whatever else is ready goes in the same transaction
                try:
                    batch.append(self._sent.get_nowait())
                except queue.Empty:
                    break
            finished += sum(1 for item in batch if item is _DONE)
            self._record([item for item in batch if item is not _DONE])

    def _record(self, items: list[tuple[str, Any]]) -> None:
        if not items:
            return
        sent: list[Sent] = [x for kind, x in items if kind == "sent"]
        held = [x for kind, x in items if kind == "held"]
        released = [x for kind, x in items if kind == "released"]
        deferred = [x for kind, x in items if kind == "deferred"]
        for attempt in range(1, 6):
            try:
                self.deliverer.record(sent, held, released, deferred)
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
