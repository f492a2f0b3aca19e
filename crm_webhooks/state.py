"""Hook state changes shared by admin calls and the delivery engine.

Every change to which hooks are enabled moves ``hooks_version``, which is how
the outbox's cached index in every process learns of it.  A disabled hook's
pending deliveries are held (``next_attempt_at`` NULL), not failed: enabling
the hook again sends them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.orm import Session

from crm_stub.models import utcnow

from .domain.hooks import failures_reason
from .models import DeliveryRow, EventRow, HookEventRow, HookRow, MetaRow, RateSlotRow

D, H = DeliveryRow.__table__.c, HookRow.__table__.c


def bump_version(conn: Connection | Session) -> None:
    updated = conn.execute(update(MetaRow).where(MetaRow.id == 1).values(hooks_version=MetaRow.hooks_version + 1))
    if updated.rowcount == 0:
        conn.execute(insert(MetaRow).values(id=1, hooks_version=1))


def disable(conn: Connection | Session, hook_ids: Sequence[int], reason: str | None, now: dt.datetime) -> list[int]:
    """Disable the hooks that are enabled; returns those that were."""
    if not hook_ids:
        return []
    changed = list(
        conn.scalars(
            update(HookRow)
            .where(H.id.in_(hook_ids), H.enabled)
            .values(enabled=False, disabled_reason=reason, disabled_at=now, probed_at=None)
            .returning(H.id)
        )
    )
    if changed:
        conn.execute(
            update(DeliveryRow).where(D.hook_id.in_(changed), D.status == "pending").values(next_attempt_at=None)
        )
        bump_version(conn)
    return changed


def disable_failing(conn: Connection, hook_ids: Sequence[int], threshold: int, now: dt.datetime) -> list[int]:
    """Disable those of ``hook_ids`` whose consecutive failed deliveries reached ``threshold``."""
    failing = list(conn.scalars(select(H.id).where(H.id.in_(hook_ids), H.enabled, H.consecutive_failures >= threshold)))
    return disable(conn, failing, failures_reason(threshold), now)


def enable(conn: Connection | Session, hook_id: int, now: dt.datetime) -> bool:
    """Enable a hook and release its held deliveries; False when it already was."""
    changed = conn.execute(
        update(HookRow)
        .where(H.id == hook_id, H.enabled.is_(False))
        .values(enabled=True, disabled_reason=None, disabled_at=None, probed_at=None, consecutive_failures=0)
    ).rowcount
    if changed:
        conn.execute(
            update(DeliveryRow)
            .where(D.hook_id == hook_id, D.status == "pending", D.next_attempt_at.is_(None))
            .values(next_attempt_at=now)
        )
        bump_version(conn)
    return bool(changed)


def set_ordering(conn: Connection | Session, hook_id: int, *, ordered: bool) -> None:
    """A hook's pending deliveries name their event's record (``ordered``) or none, as new ones will."""
    record = select(EventRow.record).where(EventRow.id == D.event_id).scalar_subquery() if ordered else None
    conn.execute(update(DeliveryRow).where(D.hook_id == hook_id, D.status == "pending").values(record=record))


def set_codes(conn: Connection | Session, hook_id: int, codes: Sequence[str]) -> None:
    """The codes a hook takes, as the outbox looks them up (its patterns expanded)."""
    conn.execute(delete(HookEventRow).where(HookEventRow.hook_id == hook_id))
    conn.execute(insert(HookEventRow), [{"code": code, "hook_id": hook_id} for code in codes])


def set_rate_slot(conn: Connection | Session, hook_id: int, *, limited: bool) -> None:
    """A limited hook has its slot row (the claim locks it, so it exists before any claim looks);
    a hook no longer limited, none."""
    exists = conn.scalar(select(RateSlotRow.hook_id).where(RateSlotRow.hook_id == hook_id))
    if limited and exists is None:
        conn.execute(insert(RateSlotRow).values(hook_id=hook_id, tat=utcnow()))
    elif not limited and exists is not None:
        conn.execute(delete(RateSlotRow).where(RateSlotRow.hook_id == hook_id))
