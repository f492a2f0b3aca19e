"""SIGTERM and SIGINT for a long-running command, read when the command is ready for them.

A Python signal handler runs in the main thread between any two bytecodes, even while
that thread holds a lock the handler needs: ``Event.set()`` in a handler deadlocks when
the signal lands inside ``Event.wait()`` on the same event.  So the handlers here do
nothing; the interpreter writes each signal's number to a socket (``set_wakeup_fd``),
and the command reads it at a point of its own choosing.  Nothing is lost in between:
a signal that came early waits in the socket.
"""

from __future__ import annotations

import select
import signal
import socket
import time
from collections import deque
from types import FrameType, TracebackType

STOPS = (signal.SIGTERM, signal.SIGINT)


def _ignore(_signum: int, _frame: FrameType | None) -> None:
    """Python-level handler: the number is already on its way to the socket."""


class StopSignals:
    """``with StopSignals() as signals: ... signals.wait()``; main thread only."""

    def __init__(self, signals: tuple[signal.Signals, ...] = STOPS) -> None:
        self.signals = signals
        self._reader: socket.socket | None = None
        self._writer: socket.socket | None = None
        self._old_fd = -1
        self._old_handlers: dict[signal.Signals, object] = {}
        self._heard: deque[signal.Signals] = deque()  # read from the socket, not yet returned

    def __enter__(self) -> StopSignals:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)  # the interpreter's write must never block a signal
        self._reader.setblocking(False)
        self._old_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in self.signals:
            self._old_handlers[signum] = signal.signal(signum, _ignore)
        return self

    def wait(self, timeout: float | None = None) -> signal.Signals | None:
        """The next stop signal, or None when ``timeout`` seconds passed without one."""
        assert self._reader is not None, "use StopSignals in a with block"
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._heard:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready, _, _ = select.select([self._reader], [], [], left)
            if not ready:
                return None
            try:
                data = self._reader.recv(256)
            except BlockingIOError:  # woken for nothing: look again
                continue
            # Other numbers are other signals' (a handler someone else installed): not a stop.
            self._heard.extend(signal.Signals(n) for n in data if n in self.signals)
        return self._heard.popleft()

    def __exit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _traceback: TracebackType | None
    ) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        signal.set_wakeup_fd(self._old_fd)
        for sock in (self._reader, self._writer):
            if sock is not None:
                sock.close()
