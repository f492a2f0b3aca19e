"""Deliveries: history, redelivery, test sends and pruning."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, delete, exists, func, insert, select
from sqlalchemy.orm import aliased, selectinload

from crm_stub import CRM, NotFound
from crm_stub.models import utcnow
from crm_stub.services.base import MAX_ID, check_id

from .domain import response_headers
from .domain.deliveries import Attempt, Delivery, Queue, age_s
from .domain.durations import naive_utc
from .domain.messages import N_
from .domain.samples import sample
from .engine import fanout
from .engine.claim import PENDING
from .engine.deliver import Deliverer
from .exceptions import ValidationError
from .hooks import HookService
from .models import AttemptRow, DeliveryRow, EventRow
from .outbox import write_event

D, E = DeliveryRow.__table__.c, EventRow.__table__.c
STATUSES = ("pending", "succeeded", "failed")
MAX_PAGE = 1000


@dataclass(frozen=True)
class HistoryPage:
    """Deliveries newest first, and whether newer or older ones are left (with the same filter)."""

    deliveries: tuple[Delivery, ...]
    newer: bool
    older: bool


def to_delivery(row: DeliveryRow, waiting_for: int | None = None) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        event=row.event.type,
        hook_id=row.hook_id,
        status=row.status,
        attempts=tuple(
            Attempt(
                id=a.id,
                attempted_at=a.attempted_at,
                status_code=a.status_code,
                error=a.error,
                duration_ms=a.duration_ms,
                request_headers=dict(a.request_headers or {}),
                response_body=a.response_body,
                request_body=a.request_body,
                location=a.location,
                response_headers=response_headers.from_json(a.response_headers),
            )
            for a in row.attempts
        ),
        created_at=row.created_at,
        next_attempt_at=row.next_attempt_at,
        finished_at=row.finished_at,
        test=row.event.test,
        body=row.event.body,
        waiting_for=waiting_for,
    )


def _waiting_for() -> Any:
    """The earliest pending delivery of the same record to the same hook, before this one."""
    earlier = aliased(DeliveryRow)
    return (
        select(earlier.id)
        .where(
            DeliveryRow.record.is_not(None),
            DeliveryRow.status == "pending",
            earlier.hook_id == DeliveryRow.hook_id,
            earlier.record == DeliveryRow.record,
            earlier.status == PENDING,
            earlier.event_id < DeliveryRow.event_id,
        )
        .order_by(earlier.event_id)
        .limit(1)
        .correlate(DeliveryRow)
        .scalar_subquery()
    )


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _waiting(now: dt.datetime) -> list[Any]:
    """Pending, held, due and in-flight deliveries, and when the oldest due one fell due."""
    pending = D.status == "pending"
    leased = D.locked_until > now
    due = pending & (D.next_attempt_at <= now) & ~leased.is_(True)
    return [
        _count(pending),
        _count(pending & D.next_attempt_at.is_(None)),
        _count(due),
        _count(pending & leased),
        func.min(case((due, D.next_attempt_at), else_=None)),
    ]


class DeliveryService:
    def __init__(self, crm: CRM, hooks: HookService, deliverer: Deliverer) -> None:
        self._crm = crm
        self._hooks = hooks
        self._deliverer = deliverer

    def list(
        self,
        *,
        hook_id: int | None = None,
        status: str | None = None,
        since: dt.datetime | None = None,
        limit: int = 50,
        before: int | None = None,
        after: int | None = None,
    ) -> list[Delivery]:
        """Newest first; ``before`` (a delivery id) gives the next, older page, ``after`` the ``limit`` just newer."""
        if status is not None and status not in STATUSES:
            raise ValidationError(
                "status", N_("%(value)s is not one of %(choices)s"), value=repr(status), choices=", ".join(STATUSES)
            )
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            raise ValidationError("limit", N_("a whole number from 1 to %(high)s"), high=MAX_PAGE)
        # Just after ``after`` means the oldest ones above it: counted upwards, then shown newest first.
        upwards = after is not None
        stmt = (
            select(DeliveryRow, _waiting_for())
            .options(selectinload(DeliveryRow.attempts))
            .order_by(DeliveryRow.id.asc() if upwards else DeliveryRow.id.desc())
            .limit(limit)
        )
        if hook_id is not None:
            self._hooks.get(hook_id)  # an unknown hook is an error, not an empty page
            stmt = stmt.where(DeliveryRow.hook_id == hook_id)
        if status is not None:
            stmt = stmt.where(DeliveryRow.status == status)
        if since is not None:
            stmt = stmt.where(DeliveryRow.created_at >= naive_utc(since))
        if before is not None:
            stmt = stmt.where(DeliveryRow.id < min(before, MAX_ID))
        if after is not None:
            stmt = stmt.where(DeliveryRow.id > min(after, MAX_ID))
        self.settle()
        with self._crm._read() as session:
            found = [to_delivery(row, waiting_for) for row, waiting_for in session.execute(stmt)]
        return found[::-1] if upwards else found

    def page(
        self,
        hook_id: int,
        *,
        status: str | None = None,
        before: int | None = None,
        after: int | None = None,
        size: int = 20,
    ) -> HistoryPage:
        """A page of a hook's history, newest first, and whether there is more on either side."""
        if before is not None and after is not None:
            raise ValidationError("after", N_("give either before or after, not both"))
        found = self.list(hook_id=hook_id, status=status, before=before, after=after, limit=size + 1)
        more = len(found) > size
        if after is not None:  # counted upwards from `after`: the extra one is the newest
            shown = found[1:] if more else found
            newer, older = more, bool(shown) and self._any(hook_id, status, before=shown[-1].id)
        else:
            shown = found[:size]
            newer = before is not None and bool(shown) and self._any(hook_id, status, after=shown[0].id)
            older = more
        return HistoryPage(tuple(shown), newer=newer, older=older)

    def _any(self, hook_id: int, status: str | None, **side: int) -> bool:
        return bool(self.list(hook_id=hook_id, status=status, limit=1, **side))

    def stats(self) -> dict[str, Any]:
        """The queue at a glance, for operators: one query over the deliveries table."""
        now = utcnow()
        stmt = select(*_waiting(now), _count(D.status == "failed"), _count(D.status == "succeeded"))
        self.settle()
        with self._crm._read() as session:
            row = session.execute(stmt).one()
        oldest = row[4]
        return {
            "pending": int(row[0] or 0),
            "held": int(row[1] or 0),
            "due": int(row[2] or 0),
            "in_flight": int(row[3] or 0),
            "failed": int(row[5] or 0),
            "succeeded": int(row[6] or 0),
            "oldest_due_age_s": None if oldest is None else round((now - oldest).total_seconds(), 3),
        }

    def queue(self) -> Queue:
        """What waits, for a metrics scrape: one read, and none of ``stats()``'s fan-out first.

        Only pending deliveries (the partial index of due ones) and events not fanned out yet
        (their partial index) are read, so a scrape costs the same with years of history kept.
        """
        now = utcnow()
        not_fanned_out = E.fanout.is_not(None)
        stmt = select(
            *_waiting(now),
            select(func.count()).where(not_fanned_out).scalar_subquery(),
            select(func.min(E.created_at)).where(not_fanned_out).scalar_subquery(),
        ).where(D.status == PENDING)
        with self._crm._read() as session:
            row = session.execute(stmt).one()
        return Queue(
            pending=int(row[0] or 0),
            held=int(row[1] or 0),
            due=int(row[2] or 0),
            in_flight=int(row[3] or 0),
            oldest_due_age_s=age_s(now, row[4]),
            fanout_waiting=int(row[5] or 0),
            oldest_fanout_age_s=age_s(now, row[6]),
        )

    def settle(self) -> None:
        """Give committed events their delivery rows now, so that a read right after a change sees them.

        A dispatcher or worker does it on its next claim, which may not have come
        yet (``manual``, or a worker elsewhere); only then is this a write.
        """
        with self._crm._read() as session:
            if not fanout.pending(session):
                return
        fanout.fan_out_in_passes(self._crm.transaction)

    def get(self, delivery_id: int) -> Delivery:
        stmt = (
            select(DeliveryRow, _waiting_for())
            .options(selectinload(DeliveryRow.attempts))
            .where(DeliveryRow.id == check_id("delivery", delivery_id))
        )
        with self._crm._read() as session:
            found = session.execute(stmt).first()
            if found is None:
                raise NotFound("delivery", delivery_id)
            return to_delivery(*found)

    def last(self, hook_id: int) -> Delivery | None:
        page = self.list(hook_id=hook_id, limit=1)
        return page[0] if page else None

    def _enqueue_leased(self, session: Any, event_id: str, hook_id: int) -> int:
        """A delivery leased to this process, so no dispatcher takes it while we send it now."""
        now = utcnow()
        return session.scalar(
            insert(DeliveryRow)
            .values(
                event_id=event_id,
                hook_id=hook_id,
                status="pending",
                attempt_count=0,
                next_attempt_at=now,
                created_at=now,
                locked_until=now + self._deliverer.lease,
                locked_by=self._deliverer.worker,
            )
            .returning(DeliveryRow.id)
        )

    def redeliver(self, delivery_id: int) -> Delivery:
        """Send a delivery's event to its hook again, now, under the same event id."""
        with self._crm.transaction() as session:
            original = session.get(DeliveryRow, check_id("delivery", delivery_id))
            if original is None:
                raise NotFound("delivery", delivery_id)
            new_id = self._enqueue_leased(session, original.event_id, original.hook_id)
        self._deliverer.send_leased([new_id])
        return self.get(new_id)

    def send_test(self, hook_id: int) -> Delivery:
        """Send a sample event of the hook's type now; one attempt, no retries."""
        hook = self._hooks.get(hook_id)
        obj, changes = sample(hook.event)
        with self._crm.transaction() as session:
            event_id = write_event(session, hook.event, obj, changes, test=True)
            new_id = self._enqueue_leased(session, event_id, hook.id)
        self._deliverer.send_leased([new_id])
        return self.get(new_id)

    def prune(self, older_than: dt.timedelta | dt.datetime | float, *, dry_run: bool = False) -> int:
        """Delete finished deliveries created before the cutoff, keeping each hook's latest; returns how many.

        With ``dry_run``, only counts them (what a confirmation question quotes).
        """
        try:
            if isinstance(older_than, dt.datetime):
                cutoff = naive_utc(older_than)
            elif isinstance(older_than, dt.timedelta):
                cutoff = utcnow() - older_than
            elif isinstance(older_than, (int, float)) and not isinstance(older_than, bool) and older_than >= 0:
                cutoff = utcnow() - dt.timedelta(seconds=older_than)
            else:
                raise ValidationError("older_than", "a timedelta, a datetime or a number of seconds")
        except OverflowError:  # 99999999 weeks ago is before the year 1
            raise ValidationError("older_than", "further back than any date") from None
        latest = select(func.max(DeliveryRow.id)).group_by(DeliveryRow.hook_id)
        doomed = select(DeliveryRow.id).where(
            DeliveryRow.status != "pending",
            DeliveryRow.created_at < cutoff,
            DeliveryRow.id.not_in(latest),
        )
        if dry_run:
            with self._crm._read() as session:
                return session.scalar(select(func.count()).select_from(doomed.subquery())) or 0
        with self._crm.transaction() as session:
            ids = list(session.scalars(doomed))
            for chunk in (ids[i : i + 500] for i in range(0, len(ids), 500)):
                session.execute(delete(AttemptRow).where(AttemptRow.delivery_id.in_(chunk)))
                session.execute(delete(DeliveryRow).where(DeliveryRow.id.in_(chunk)))
            orphan = ~exists().where(DeliveryRow.event_id == EventRow.id)
            fanned_out = EventRow.fanout.is_(None)  # one not fanned out yet has no deliveries *yet*
            session.execute(delete(EventRow).where(orphan, fanned_out, EventRow.created_at < cutoff))
            return len(ids)
