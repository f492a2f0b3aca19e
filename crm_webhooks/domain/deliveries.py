"""What history shows: deliveries and their attempts, as plain read-only values."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any


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

    @property
    def payload(self) -> dict[str, Any]:
        """The envelope that was (or will be) sent."""
        return json.loads(self.body)

    @property
    def held(self) -> bool:
        """Pending, but waiting for its hook to be enabled again."""
        return self.status == "pending" and self.next_attempt_at is None
