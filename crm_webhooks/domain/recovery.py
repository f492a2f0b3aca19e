"""What enabling a hook brings back, and what a failing or disabled hook has left waiting.

A hook "started failing" at its first failed attempt (test sends aside) after its
last successful one.  What failed since then is what a replay from that moment
sends again (``domain/replay.py``'s rule): counted by the replay itself, so the
count shown is the count sent.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from crm_stub.models import iso

from .hooks import Hook
from .replay import Replay


@dataclass(frozen=True)
class Failing:
    """Since when a hook fails: the first failed attempt after its last success, and where its replay counts from.

    ``replay_from`` is the creation of the earliest delivery among those failed attempts: a delivery is
    created before it is tried, so counting from the attempt's time would leave that very one out.
    """

    since: dt.datetime
    replay_from: dt.datetime


@dataclass(frozen=True)
class LastError:
    """A hook's latest failed attempt, as the pages word an attempt's error (``status_code``, ``error``)."""

    attempted_at: dt.datetime
    status_code: int | None
    error: str | None


@dataclass(frozen=True)
class Recovery:
    """What enabling ``hook`` sends: its ``held`` deliveries, and the ``failed`` ones since it started failing.

    Before enabling it is a preview (``replay`` None); after, ``hook`` is the enabled hook, ``held`` the
    deliveries released and ``replay`` what was sent again (when asked to).
    """

    hook: Hook
    held: int
    failing: Failing | None
    failed: int
    replay: Replay | None = None

    @property
    def failing_since(self) -> dt.datetime | None:
        return None if self.failing is None else self.failing.since

    @property
    def replayed(self) -> int:
        return 0 if self.replay is None else self.replay.count

    @property
    def left(self) -> int:
        """Failed deliveries beyond one replay's bound: for another replay from the history page."""
        return 0 if self.replay is None else self.replay.remaining

    def to_dict(self) -> dict[str, Any]:
        return {
            "hook_id": self.hook.id,
            "enabled": self.hook.enabled,
            "held": self.held,
            "failed": self.failed,
            "failing_since": iso(self.failing_since),
            "replayed": self.replayed,
            "replay_ids": [] if self.replay is None else list(self.replay.ids),
            "left": self.left,
        }


@dataclass(frozen=True)
class Trouble:
    """A failing or disabled hook, for the list's notice: since when, its last error, what waits."""

    hook: Hook
    failing: Failing | None
    last_error: LastError | None
    pending: int

    @property
    def since(self) -> dt.datetime | None:
        """A disabled hook's since when it was disabled; a failing one's since it started failing."""
        if not self.hook.enabled and self.hook.disabled_at is not None:
            return self.hook.disabled_at
        return None if self.failing is None else self.failing.since
