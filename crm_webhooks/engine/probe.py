"""Claiming probes of hooks disabled for their failures: the one place with the prober's SQL.

Which hook is due is the domain's rule (``domain/probing.py``); here a worker reads the
disabled hooks (``ix_webhook_hooks_disabled``), and claims each one due with a conditional
update of ``probed_at``: set only while the hook is as it was read (still disabled, for the
same reason, last probed when it was).  Of several workers sharing PostgreSQL, the first to
commit wins; the others' update then finds a newer ``probed_at`` and changes nothing, so a
hook is probed once an interval whoever looks.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, bindparam, literal_column, select, update

from crm_stub.models import utcnow

from ..domain.hooks import HOLDS_EVENTS_LIKE
from ..domain.probing import next_probe_at
from ..models import DISABLED, HookRow

H = HookRow.__table__.c

# Written into the SQL as the index's predicate is, so the planner can see that it applies.
_DISABLED_FOR_FAILURES = (
    select(H.id, H.disabled_reason, H.disabled_at, H.probed_at)
    .where(literal_column(DISABLED), H.disabled_reason.like(HOLDS_EVENTS_LIKE))
    .order_by(H.id)
)

_CLAIM = (
    update(HookRow)
    .where(
        H.id == bindparam("hook"),
        literal_column(DISABLED),
        H.disabled_reason == bindparam("reason"),
        H.probed_at.is_not_distinct_from(bindparam("seen")),
    )
    .values(probed_at=bindparam("now"))
    .returning(H.id)
)


@dataclass(frozen=True)
class Probes:
    """What one look found: the hook this worker is to probe now (None: none), and when the next
    one falls due."""

    hook: int | None
    next_at: dt.datetime | None


def claim(engine: Engine, every: dt.timedelta) -> Probes:
    """Claim one probe due now, if any; when the next falls due says when to look again.

    One at a time: a probe may wait out a whole timeout, and a hook claimed but not yet
    probed would be kept from other workers (and its own interval stretched) meanwhile.
    """
    claimed: int | None = None
    later: list[dt.datetime] = []
    with engine.begin() as conn:
        now = utcnow()
        for row in conn.execute(_DISABLED_FOR_FAILURES).all():
            due = next_probe_at(row.disabled_reason, row.disabled_at, row.probed_at, every)
            if due is None:
                continue
            if due > now or claimed is not None:
                later.append(due)  # another due now, once this one is probed
                continue
            params = {"hook": row.id, "reason": row.disabled_reason, "seen": row.probed_at, "now": now}
            if conn.execute(_CLAIM, params).first() is not None:
                claimed = row.id
                later.append(next_probe_at(row.disabled_reason, row.disabled_at, now, every))
    return Probes(claimed, min(later, default=None))
