"""Sending again what failed while a receiver was down: one call behind the CLI, the API and the page.

Which deliveries qualify, and in which order, is ``domain/replay.py``'s rule;
here it is one query.  Its cost follows the window asked for: the deliveries
created since ``since`` (of the hook, through ``ix_webhook_deliveries_hook``,
when one is given), grouped by event to find each one's latest delivery.

Each qualifying delivery gets a new one of the same event to the same hook, as
``redeliver`` makes (same ``webhook-id``).  They are queued for whoever
delivers (the dispatcher, ``run_pending``, workers), oldest first, or with
``send`` sent in the calling thread before the call returns (the CLI, where
nothing else may be running).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Select, case, func, insert, select

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_stub.services.base import MAX_ID

from .domain.replay import MAX_REPLAY, Batch, Progress, Replay, Selection, selection
from .engine.deliver import Deliverer
from .hooks import HookService
from .models import DeliveryRow, EventRow, HookRow, MetaRow
from .outbox import notify_workers

D, E, H = DeliveryRow.__table__.c, EventRow.__table__.c, HookRow.__table__.c


def _scope(s: Selection) -> list[Any]:
    where = []
    if s.hook_id is not None:
        where.append(D.hook_id == s.hook_id)
    if s.since is not None:
        where.append(D.created_at >= s.since)
    return where


def _qualifying(s: Selection) -> Select[Any]:
    """The deliveries ``s`` replays, with what a new delivery of each needs, oldest event first."""
    # A redelivery is always created after what it redelivers: within the window, the
    # latest delivery of an event to a hook is the latest of all.
    latest = select(func.max(D.id)).where(*_scope(s)).group_by(D.event_id, D.hook_id)
    return (
        select(
            D.id,
            D.event_id,
            D.hook_id,
            H.enabled,
            # As fan-out does: the record, when the hook keeps per-record order now.
            case((H.ordering == "record", E.record), else_=None).label("record"),
        )
        .join(EventRow, E.id == D.event_id)
        .join(HookRow, H.id == D.hook_id)
        .where(D.id.in_(latest), D.status == s.status, E.test.is_(False), *_scope(s))
        .order_by(D.event_id, D.hook_id)
    )


class ReplayService:
    def __init__(self, crm: CRM, hooks: HookService, deliverer: Deliverer) -> None:
        self._crm = crm
        self._hooks = hooks
        self._deliverer = deliverer

    def replay(
        self,
        *,
        hook_id: int | None = None,
        since: str | dt.datetime | None = None,
        status: str = "failed",
        limit: int = MAX_REPLAY,
        dry_run: bool = False,
        send: bool = False,
    ) -> Replay:
        """Send again the deliveries that qualify (see ``domain/replay.py``), at most ``limit``.

        ``since``: a datetime, ``2h``/``30m``/``7d`` ago, or ISO 8601 text.  ``dry_run``
        changes nothing and tells what would go.
        """
        chosen = selection(hook_id=hook_id, since=since, status=status, limit=limit, now=utcnow())
        if chosen.hook_id is not None:
            self._hooks.get(chosen.hook_id)  # an unknown hook is an error, not "nothing to send"
        stmt = _qualifying(chosen)
        if dry_run:
            with self._crm._read() as session:
                return self._found(session, chosen, stmt)[0]
        with self._crm.transaction() as session:
            # One replay at a time: a second click waits for the first and then finds its
            # deliveries already queued.  (SQLite's BEGIN IMMEDIATE serialises already.)
            session.execute(select(MetaRow.id).where(MetaRow.id == 1).with_for_update())
            found, rows = self._found(session, chosen, stmt)
            if not rows:
                return found
            now = utcnow()
            ids = self._queue(session, rows, now, leased=send)
            notify_workers(session)  # workers elsewhere: look now
        if send:
            self._deliverer.send_leased(ids)
        return Replay(chosen, found.originals, found.remaining, ids=tuple(ids), queued_at=now)

    def _found(self, session: Any, chosen: Selection, stmt: Select[Any]) -> tuple[Replay, list[Any]]:
        total = session.scalar(select(func.count()).select_from(stmt.subquery()))
        rows = list(session.execute(stmt.limit(chosen.limit)))
        return Replay(chosen, tuple(r.id for r in rows), remaining=total - len(rows)), rows

    def _queue(self, session: Any, rows: list[Any], now: dt.datetime, *, leased: bool) -> list[int]:
        """New pending deliveries for ``rows``, in their order, all created at ``now``."""
        lease = {"locked_until": now + self._deliverer.lease, "locked_by": self._deliverer.worker} if leased else {}
        values = [
            {
                "event_id": r.event_id,
                "hook_id": r.hook_id,
                "status": "pending",
                "attempt_count": 0,
                # A microsecond apart, so that claims, which take the earliest due first, keep the order;
                # a disabled hook's wait for it to be enabled (held), as its other pending ones do.
                "next_attempt_at": now + dt.timedelta(microseconds=n) if r.enabled else None,
                "created_at": now,
                "record": r.record,
                **lease,
            }
            for n, r in enumerate(rows)
        ]
        made = session.scalars(insert(DeliveryRow).returning(DeliveryRow.id, sort_by_parameter_order=True), values)
        return list(made)

    def progress(self, batch: Batch | None) -> Progress:
        """How the deliveries of one replay are doing (``Replay.batch``; None: a replay that queued none)."""
        if batch is None or not 0 <= batch.first <= batch.last <= MAX_ID:  # from a URL: ids a database holds
            return Progress()
        stmt = (
            select(D.status, func.count())
            .where(D.id.between(batch.first, batch.last), D.created_at == batch.queued_at)
            .group_by(D.status)
        )
        if batch.hook_id is not None:
            stmt = stmt.where(D.hook_id == batch.hook_id)
        with self._crm._read() as session:
            counts: dict[str, int] = {status: n for status, n in session.execute(stmt)}
        return Progress(
            succeeded=counts.get("succeeded", 0), failed=counts.get("failed", 0), pending=counts.get("pending", 0)
        )
