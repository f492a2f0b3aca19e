"""What the engine tells whoever watches it: attempts recorded, slots busy, database errors.

The engine calls an ``Observer`` at the points an operator wants counted and
knows nothing of how they are counted: the metrics (``crm_webhooks.metrics``)
subclass it, and the engine's default is this one, which does nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .send import Sent

# The ``operation`` a database error is counted under: a fixed set, so a label never grows.
CLAIM, RENEW, RECORD, NEXT_DUE, QUEUE, PROBE = "claim", "renew", "record", "next_due", "queue", "probe"


class Observer:
    """Called from the engine's threads and its loop: an implementation must be thread-safe and quick."""

    def recorded(self, sent: Sequence[Sent]) -> None:
        """Attempts now in history (a batch is announced once, after its transaction committed)."""

    def events_written(self, count: int) -> None:
        """A CRM transaction that wrote ``count`` events to the outbox committed."""

    def slots(self, change: int) -> None:
        """A worker's loop started (+its slots) or stopped (-its slots)."""

    def slot_busy(self, change: int) -> None:
        """A worker's slot started (+1) or finished (-1) an attempt."""

    def database_error(self, operation: str) -> None:
        """A statement of ``operation`` failed (the database away, a lock timeout...)."""


NOBODY = Observer()
