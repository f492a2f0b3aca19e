"""What history shows: deliveries and their attempts, as plain read-only values."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from .response_headers import Headers


@dataclass(frozen=True)
class Attempt:
    id: int
    attempted_at: dt.datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    request_headers: dict[str, str]
    response_body: str | None
    location: str | None
    # [name, value] pairs as received, bounded; None: no HTTP answer (or made before migration 0008).
    response_headers: Headers | None = None
    # What a body template rendered, as sent but for NUL (kept as U+FFFD) and a long body's end
    # (its start kept, then a line saying how much more went); None: the envelope went (or no body).
    request_body: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class Delivery:
    id: int
    event_id: str
    event: str
    hook_id: int
    status: str  # "pending", "succeeded" or "failed"
    attempts: tuple[Attempt, ...]
    created_at: dt.datetime
    next_attempt_at: dt.datetime | None
    finished_at: dt.datetime | None
    test: bool
    body: str
    # The earlier delivery of the same record to the same hook that this one waits behind.
    waiting_for: int | None = None

    @property
    def payload(self) -> dict[str, Any]:
        """The envelope that was (or will be) sent."""
        return json.loads(self.body)

    @property
    def held(self) -> bool:
        """Pending, but waiting for its hook to be enabled again."""
        return self.status == "pending" and self.next_attempt_at is None

    @property
    def status_detail(self) -> str:
        """The status in words, with why a pending delivery waits."""
        if self.held:
            return "pending (held: hook disabled)"
        if self.status == "pending" and self.waiting_for is not None:
            return f"pending (waiting behind delivery {self.waiting_for}, an earlier event of the same record)"
        return self.status + (" (test)" if self.test else "")

    def to_dict(self, *, payload: bool = False) -> dict[str, Any]:
        return delivery_dict(self, payload=payload)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def attempt_dict(a: Attempt) -> dict[str, Any]:
    return {
        "id": a.id,
        "attempted_at": _iso(a.attempted_at),
        "status_code": a.status_code,
        "error": a.error,
        "duration_ms": a.duration_ms,
        "request_headers": a.request_headers,
        "response_body": a.response_body,
        "location": a.location,
        "response_headers": None if a.response_headers is None else [list(p) for p in a.response_headers],
        "request_body": a.request_body,
    }


def delivery_dict(d: Delivery, *, payload: bool = False) -> dict[str, Any]:
    """JSON-ready; the envelope only when asked (it can be large)."""
    shown: dict[str, Any] = {
        "id": d.id,
        "event_id": d.event_id,
        "event": d.event,
        "hook_id": d.hook_id,
        "status": d.status,
        "held": d.held,
        "waiting_for": d.waiting_for,
        "test": d.test,
        "attempts": [attempt_dict(a) for a in d.attempts],
        "created_at": _iso(d.created_at),
        "next_attempt_at": _iso(d.next_attempt_at),
        "finished_at": _iso(d.finished_at),
    }
    if payload:
        shown["payload"] = d.payload
    return shown


@dataclass(frozen=True)
class Queue:
    """What waits, read from the database at one moment: for a scrape, so no writes were made to read it.

    ``pending`` includes the ``held`` (their hook is disabled), the ``due`` and those ``in_flight``
    (leased by a worker); ``fanout_waiting``: committed events whose delivery rows are not written yet.
    Ages are seconds, 0 when nothing waits.
    """

    pending: int
    held: int
    due: int
    in_flight: int
    oldest_due_age_s: float
    fanout_waiting: int
    oldest_fanout_age_s: float


def age_s(now: dt.datetime, since: dt.datetime | None) -> float:
    """Seconds from ``since`` to ``now``; 0 for nothing, or for a clock of another machine a little ahead."""
    return 0.0 if since is None else max(0.0, (now - since).total_seconds())
