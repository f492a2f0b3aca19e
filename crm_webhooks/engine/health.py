"""Raising the operational events in the transaction that changes the hook they are about.

``after_outcomes`` runs where a batch of attempts is recorded (engine/record.py),
``after_admin_disable`` where an admin disables a hook (hooks.py): each reads the
hooks it changed as they now are, asks the domain which events that raises
(domain/operational.py) and writes them through the outbox, so they are as durable
as the change itself and never go to the hook they are about.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Row, select, update
from sqlalchemy.orm import Session

from ..domain.hooks import status_of
from ..domain.operational import DISABLED, Outcome, hook_object, raised
from ..models import DeliveryRow, HookRow
from ..outbox import raise_operational

D, H = DeliveryRow.__table__.c, HookRow.__table__.c
_COLUMNS = (
    H.id,
    H.name,
    H.url,
    H.enabled,
    H.last_run_at,
    H.last_result,
    H.consecutive_failures,
    H.disabled_reason,
    H.recovery_owed,
)  # never the secret nor the header value


def after_outcomes(
    conn: Connection,
    succeeded: Mapping[int, bool],
    disabled: Mapping[int, str],
    warn_at: int | None,
) -> int:
    """The events raised by the recorded outcomes of hooks ``succeeded`` (hook id -> one of its deliveries
    succeeded) and ``disabled`` (hook id -> reason code); returns how many were written."""
    # Only a hook that owes a recovery, may owe a warning or was just disabled can raise one:
    # the common case, healthy hooks, costs one look at their primary keys.
    may_raise = H.recovery_owed | H.id.in_(list(disabled))
    if warn_at is not None:
        may_raise |= H.consecutive_failures >= warn_at
    rows = conn.execute(select(*_COLUMNS).where(H.id.in_(list(succeeded)), may_raise).order_by(H.id)).all()
    written = 0
    for row in rows:
        outcome = Outcome(
            succeeded=succeeded[row.id],
            failures=row.consecutive_failures,
            disabled=disabled.get(row.id),
            owed=row.recovery_owed,
        )
        events, owed = raised(outcome, warn_at)
        if owed != row.recovery_owed:
            conn.execute(update(HookRow).where(H.id == row.id).values(recovery_owed=owed))
        written += _write(conn, row, events)
    return written


def after_admin_disable(session: Session, hook_ids: Iterable[int]) -> int:
    """``webhook.disabled`` (reason ``admin``) for each of ``hook_ids``, which an admin just disabled."""
    ids = list(hook_ids)
    if not ids:
        return 0
    rows = session.execute(select(*_COLUMNS).where(H.id.in_(ids)).order_by(H.id)).all()
    return sum(_write(session, row, (DISABLED,)) for row in rows)


def _write(conn: Connection | Session, row: Row[Any], events: tuple[str, ...]) -> int:
    if not events:
        return 0
    obj = hook_object(
        hook_id=row.id,
        name=row.name,
        url=row.url,
        status=status_of(row.enabled, row.last_run_at, row.last_result),
        consecutive_failures=row.consecutive_failures,
        last_error=_last_error(conn, row.id),
        reason=None if row.enabled else row.disabled_reason,
    )
    return sum(raise_operational(conn, code, obj) for code in events)


def _last_error(conn: Connection | Session, hook_id: int) -> str | None:
    """The error of the hook's latest delivery that has one (the hook keeps none of its own)."""
    latest = select(D.last_error).where(D.hook_id == hook_id, D.last_error.is_not(None)).order_by(D.id.desc()).limit(1)
    return conn.execute(latest).scalar()
