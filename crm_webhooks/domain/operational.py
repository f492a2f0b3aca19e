"""The addon's operational events: which one a hook's recorded outcome raises, and what it carries.

``webhook.failing`` warns once per failing streak, when a hook's failed deliveries in a
row reach a share of those that disable it; ``webhook.disabled`` says a hook was
disabled and why; ``webhook.recovered`` is the first success after a warning (or after
an automatic disable).  A hook "owes" a recovery from the warning or the automatic
disable until that success, across an admin's disable and enable: enabling a hook is no
proof that its receiver is back.  No I/O here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

FAILING, DISABLED, RECOVERED = "webhook.failing", "webhook.disabled", "webhook.recovered"
DEFAULT_WARN_AT_SHARE = 0.5


def warn_after(disable_after: int | None, share: float) -> int | None:
    """Failed deliveries in a row that raise ``webhook.failing``: ``share`` of ``disable_after``, rounded
    up, at least 1.  None when hooks are never disabled: there is nothing to warn of."""
    if disable_after is None:
        return None
    # The share as written, not its binary float: that may lie a hair above a whole product and round up one too many.
    return max(1, math.ceil(Fraction(str(share)) * disable_after))


@dataclass(frozen=True)
class Outcome:
    """A hook's state once a batch of its deliveries' attempts is recorded."""

    succeeded: bool  # one of its deliveries in the batch succeeded
    failures: int  # its failed deliveries in a row, now (after the batch's last success, if any)
    disabled: str | None  # why the batch disabled it (a reason code), or None
    owed: bool  # before the batch: a webhook.recovered is owed at its next success


def raised(outcome: Outcome, warn_at: int | None) -> tuple[tuple[str, ...], bool]:
    """The operational events ``outcome`` raises, in order, and whether a recovery is owed after it."""
    events: list[str] = []
    owed = outcome.owed
    if outcome.succeeded and owed:
        events.append(RECOVERED)
        owed = False
    # The failures counted are those after the batch's last success: a new streak may begin in it.
    if warn_at is not None and outcome.failures >= warn_at and not owed:
        events.append(FAILING)
        owed = True
    if outcome.disabled is not None:
        events.append(DISABLED)
        owed = True
    return tuple(events), owed


def hook_object(
    *,
    hook_id: int,
    name: str,
    url: str,
    status: str,
    consecutive_failures: int,
    last_error: str | None,
    reason: str | None,
) -> dict[str, Any]:
    """An operational event's ``data.object``: the hook concerned, never its secret or header value.

    ``reason`` is the stored code of why it is disabled (``failures:5``, ``admin``, ``gone``),
    None while it is enabled.
    """
    return {
        "id": hook_id,
        "name": name,
        "url": url,
        "status": status,
        "consecutive_failures": consecutive_failures,
        "last_error": last_error,
        "reason": reason,
    }
