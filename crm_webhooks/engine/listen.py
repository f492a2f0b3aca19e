"""Wake-ups from PostgreSQL: LISTEN for the NOTIFY the outbox sends with each commit.

A worker in another process learns of a committed event within milliseconds
instead of at its next poll.  Notifications can be missed (the connection
drops, the listener restarts), so the worker still polls, just rarely; the
listener reconnects on its own with a growing pause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine

from ..outbox import CHANNEL
from .retry import pause_after

log = logging.getLogger("crm_webhooks.listen")


class Listener:
    def __init__(self, engine: Engine, on_notify: Callable[[], None], *, channel: str = CHANNEL) -> None:
        self._engine = engine
        self._on_notify = on_notify
        self._channel = channel
        self._stop = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="crm-webhooks-listen", daemon=True)

    def start(self) -> Listener:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                self._listen()
                failures = 0
            except Exception as exc:  # a dropped connection: say so, wait, listen again
                self.listening.clear()
                failures += 1
                wait = pause_after(failures, first=0.4)
                log.warning("listening for deliveries failed", extra={"error": str(exc), "retry_in_s": wait})
                self._on_notify()  # what was missed meanwhile is picked up by a poll now
                self._stop.wait(wait)

    def _listen(self) -> None:
        # A connection of our own, out of the pool for good: it only ever listens.
        raw = self._engine.raw_connection()
        conn = raw.driver_connection
        raw.detach()
        try:
            conn.autocommit = True  # type: ignore[union-attr]
            conn.execute(f'LISTEN "{self._channel}"')  # type: ignore[union-attr]
            self.listening.set()
            while not self._stop.is_set():
                for _note in conn.notifies(timeout=1.0):  # type: ignore[union-attr]
                    self._on_notify()
        finally:
            raw.close()
