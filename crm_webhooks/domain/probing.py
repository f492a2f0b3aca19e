"""Half-open probing: when a hook disabled for its failures is sent a test event to see if its receiver is back.

Off unless ``Options.probe_disabled_every`` is set.  Only a hook its failures disabled
is probed: an admin chose to stop it, and a receiver that answered 410 Gone said it is
gone for good, so neither is re-enabled behind anyone's back.  A probe falls due an
interval after the hook was disabled, then an interval after its last probe.  No I/O here.
"""

from __future__ import annotations

import datetime as dt

from .hooks import disabled_for_failures


def next_probe_at(
    reason: str | None, disabled_at: dt.datetime | None, probed_at: dt.datetime | None, every: dt.timedelta
) -> dt.datetime | None:
    """When a disabled hook's next probe falls due; None when it is never probed.

    A hook with neither time (disabled before they were kept) is due at once.
    """
    if not disabled_for_failures(reason):
        return None
    last = max((t for t in (disabled_at, probed_at) if t is not None), default=None)
    return dt.datetime.min if last is None else last + every


def probe_due(
    reason: str | None,
    disabled_at: dt.datetime | None,
    probed_at: dt.datetime | None,
    *,
    now: dt.datetime,
    every: dt.timedelta,
) -> bool:
    """Whether a disabled hook is to be probed at ``now``."""
    due = next_probe_at(reason, disabled_at, probed_at, every)
    return due is not None and due <= now
