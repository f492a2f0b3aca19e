"""Who calls the deliverer: a background thread, the caller (``manual``), or nobody here (``none``)."""

from __future__ import annotations

import datetime as dt
import logging
import threading

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .claim import next_due_at
from .deliver import Deliverer

log = logging.getLogger("crm_webhooks.dispatcher")


class ThreadDispatcher:
    """Delivers in a background thread, woken right after a commit writes deliveries.

    Between wake-ups it sleeps until the next retry falls due, and at most
    ``poll_interval`` seconds, to notice work committed by other processes.
    """

    def __init__(self, deliverer: Deliverer, *, poll_interval: float = 2.0) -> None:
        self._deliverer = deliverer
        self._poll = poll_interval
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crm-webhooks-dispatcher", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                if self._deliverer.deliver_batch():
                    failures = 0
                    continue
                wait = self._until_next_due()
                failures = 0
            except Exception:  # a database hiccup must not kill delivery for the life of the process
                failures += 1
                wait = min(30.0, 0.5 * 2**failures)
                log.exception("delivery loop failed; retrying in %.1f s", wait)
            self._wake.wait(wait)

    def _until_next_due(self) -> float:
        with read_only(), self._deliverer.engine.connect() as conn:
            due = next_due_at(conn)
        if due is None:
            return self._poll
        return max(0.0, min(self._poll, (due - utcnow()) / dt.timedelta(seconds=1)))

    def stop(self, timeout: float = 30.0) -> None:
        """Stop taking work; the attempt in flight finishes and is recorded."""
        self._stopping.set()
        self._wake.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout)
