"""Delivery threads: the in-process ``thread`` dispatcher and the ``worker`` command.

N threads claim and send until told to stop.  Stopping is graceful: no new
claims, the attempt in flight finishes and is recorded, and what a thread had
claimed but not sent is released for others.  ``wake()`` (called right after
a commit that wrote deliveries) starts a round at once; otherwise a thread
sleeps until the next retry falls due, and at most ``poll_interval``, to
notice work committed by other processes.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .claim import next_due_at
from .deliver import Deliverer

log = logging.getLogger("crm_webhooks.worker")


class Worker:
    def __init__(self, deliverer: Deliverer, *, concurrency: int = 1, poll_interval: float = 0.25) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.deliverer = deliverer
        self.concurrency = concurrency
        self.poll_interval = poll_interval
        # Small claims when several threads share the queue: work spreads, one slow
        # receiver holds back few others, and a crash leaves few sent-but-unrecorded.
        self.batch = deliverer.batch_size if concurrency == 1 else 10
        self.attempts = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.listener: Any = None

    @property
    def stopping(self) -> bool:
        return self.deliverer.stopping.is_set()

    def start(self, *, listen: bool = False) -> None:
        """Start the threads; with ``listen`` on PostgreSQL, wake up on each committed delivery."""
        if listen and self.deliverer.engine.dialect.name == "postgresql":
            from .listen import Listener

            self.listener = Listener(self.deliverer.engine, self.wake).start()
        for n in range(self.concurrency):
            thread = threading.Thread(target=self._loop, name=f"crm-webhooks-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

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
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)

    def _loop(self) -> None:
        stop = self.deliverer.stopping
        failures = 0
        while not stop.is_set():
            self._wake.clear()
            try:
                sent = self.deliverer.deliver_batch(self.batch)
                failures = 0
            except Exception:  # the database went away: log, wait, try again; nothing is lost
                failures += 1
                wait = min(30.0, 0.5 * 2**failures)
                log.exception("delivery failed; retrying in %.1f s", wait)
                stop.wait(wait)
                continue
            if sent:
                with self._lock:
                    self.attempts += sent
                continue
            self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        try:
            with read_only(), self.deliverer.engine.connect() as conn:
                due = next_due_at(conn)
        except Exception:
            return self.poll_interval
        if due is None:
            return self.poll_interval
        return max(0.0, min(self.poll_interval, (due - utcnow()) / dt.timedelta(seconds=1)))
