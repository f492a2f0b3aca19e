"""Replaying deliveries after a receiver's outage: what qualifies, in which order, and what came of it.

The rule, which ``crm_webhooks/replay.py`` runs as one query:

- a delivery qualifies when it is the *latest* delivery of its event to its hook,
  has the status asked for (``failed`` by default), was created since the moment
  asked for, belongs to the hook asked for (or any), and is not a test send;
- so a delivery already sent again does not qualify while its redelivery is
  pending or once it succeeded: a second click, or a second script run, finds
  nothing new to send.  Should the redelivery fail too, it is the latest, and it
  qualifies in turn (once);
- they go oldest event first (event ids sort in commit order), at most ``limit``
  per call; ``remaining`` says how many more qualify.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crm_stub.models import iso

from ..exceptions import Problems
from .durations import parse_since
from .messages import N_

# Pending deliveries are still on their way: sending them again would only make two of each.
STATUSES = ("failed", "succeeded")
MAX_REPLAY = 1000


@dataclass(frozen=True)
class Selection:
    """Which deliveries to send again: validated, with ``since`` as naive UTC."""

    hook_id: int | None = None
    since: dt.datetime | None = None
    status: str = "failed"
    limit: int = MAX_REPLAY


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def selection(
    *, hook_id: Any = None, since: Any = None, status: Any = "failed", limit: Any = MAX_REPLAY, now: dt.datetime
) -> Selection:
    """Check every field, naming each wrong one at once, and read ``since`` (``2h`` or ISO 8601) against ``now``."""
    problems = Problems()
    if hook_id is not None and not (_whole(hook_id) and hook_id >= 1):
        problems.add("hook_id", N_("a hook id (a whole number from 1), or null for every hook"))
    if status not in STATUSES:
        problems.add(
            "status", N_("%(value)s is not one of %(choices)s"), value=repr(status), choices=", ".join(STATUSES)
        )
    if not (_whole(limit) and 1 <= limit <= MAX_REPLAY):
        problems.add("limit", N_("a whole number from 1 to %(high)s"), high=MAX_REPLAY)
    moment = None if since is None else problems.check(parse_since, since, now=now)
    problems.raise_any()
    return Selection(hook_id=hook_id, since=moment, status=status, limit=limit)


@dataclass(frozen=True)
class Batch:
    """The deliveries one replay queued: those of ``hook_id`` (or any) with ids from ``first`` to ``last``
    created at ``queued_at``, to the microsecond: another delivery would have to be written among them,
    to the same hook, in that same microsecond to be counted with them."""

    first: int
    last: int
    queued_at: dt.datetime
    hook_id: int | None = None


@dataclass(frozen=True)
class Replay:
    """What one call sent again, or on a dry run would have.

    ``originals`` are the deliveries that qualified, oldest first; ``ids`` the new
    deliveries made for them, in the same order (none on a dry run); ``batch``
    names them, to follow their progress.
    """

    selection: Selection
    originals: tuple[int, ...]
    remaining: int
    ids: tuple[int, ...] = ()
    queued_at: dt.datetime | None = None

    @property
    def dry_run(self) -> bool:
        return self.queued_at is None

    @property
    def count(self) -> int:
        return len(self.originals)

    @property
    def batch(self) -> Batch | None:
        if not self.ids or self.queued_at is None:
            return None
        return Batch(min(self.ids), max(self.ids), self.queued_at, self.selection.hook_id)

    def to_dict(self) -> dict[str, Any]:
        s = self.selection
        return {
            "dry_run": self.dry_run,
            "hook_id": s.hook_id,
            "status": s.status,
            "since": iso(s.since),
            "count": self.count,
            "remaining": self.remaining,
            "originals": list(self.originals),
            "ids": list(self.ids),
            "queued_at": iso(self.queued_at),
        }


@dataclass(frozen=True)
class Progress:
    """How the deliveries of one replay are doing."""

    succeeded: int = 0
    failed: int = 0
    pending: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed + self.pending

    @property
    def done(self) -> bool:
        return self.pending == 0
