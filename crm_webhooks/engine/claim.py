"""Claiming due deliveries: the one place that decides who sends what.

A claim sets a lease (``locked_until``) on up to ``limit`` due deliveries in
one statement.  On PostgreSQL the inner select takes ``FOR UPDATE SKIP
LOCKED``, so concurrent workers split the queue instead of queueing on each
other; SQLite's ``BEGIN IMMEDIATE`` already serialises claimers.  A lease that
runs out (a worker died mid-send) makes the delivery due again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from sqlalchemy import Connection, and_, case, func, or_, select, update

from ..models import DeliveryRow, EventRow, HookRow

D, E, H = DeliveryRow.__table__.c, EventRow.__table__.c, HookRow.__table__.c


@dataclass(frozen=True)
class Claimed:
    """A delivery in hand, with everything needed to send it."""

    delivery_id: int
    attempt_count: int
    event_id: str
    event_type: str
    timestamp: str
    object_id: str | None
    body: str
    test: bool
    hook_id: int
    url: str
    method: str
    key: str | None
    value: str | None
    secrets: tuple[str, ...]
    enabled: bool

    @property
    def held(self) -> bool:
        """Its hook was disabled since it was queued: it waits for the hook (test sends go anyway)."""
        return not self.enabled and not self.test

    @cached_property
    def destination(self) -> str:
        """``host:port`` the attempt goes to: workers share their senders out by it."""
        return urlsplit(self.url).netloc.lower()


def _due(now: dt.datetime):  # type: ignore[no-untyped-def]
    return and_(
        D.status == "pending",
        D.next_attempt_at <= now,
        or_(D.locked_until.is_(None), D.locked_until < now),
    )


def claim_due(
    conn: Connection,
    *,
    now: dt.datetime,
    limit: int,
    lease_until: dt.datetime,
    worker: str,
    skip_hooks: Collection[int] = (),
) -> list[Claimed]:
    """Lease up to ``limit`` due deliveries, oldest due first, and load them.

    ``skip_hooks``: hooks whose receiver already has all the attempts in flight it may.
    """
    condition = _due(now)
    if skip_hooks:
        condition = and_(condition, D.hook_id.not_in(list(skip_hooks)))
    due = (
        select(D.id)
        .where(condition)
        .order_by(D.next_attempt_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    ids = conn.scalars(
        update(DeliveryRow).where(D.id.in_(due)).values(locked_until=lease_until, locked_by=worker).returning(D.id)
    ).all()
    return load_claimed(conn, ids, now)


def load_claimed(conn: Connection, ids: list[int], now: dt.datetime) -> list[Claimed]:
    if not ids:
        return []
    rows = conn.execute(
        select(
            D.id,
            D.attempt_count,
            E.id,
            E.type,
            E.timestamp,
            E.object_id,
            E.body,
            E.test,
            H.id,
            H.url,
            H.method,
            H.key,
            H.value,
            H.secret,
            H.previous_secret,
            H.previous_secret_expires_at,
            H.enabled,
        )
        .join(EventRow, E.id == D.event_id)
        .join(HookRow, H.id == D.hook_id)
        .where(D.id.in_(ids))
        .order_by(D.next_attempt_at, D.id)
    ).all()
    claimed = []
    for r in rows:
        secrets = (r[13],) if r[14] is None or r[15] is None or r[15] <= now else (r[13], r[14])
        claimed.append(
            Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], secrets, r[16])
        )
    return claimed


def renew(conn: Connection, ids: list[int], *, lease_until: dt.datetime, worker: str) -> None:
    """Extend the lease of deliveries still held by ``worker``."""
    if ids:
        conn.execute(update(DeliveryRow).where(D.id.in_(ids), D.locked_by == worker).values(locked_until=lease_until))


def next_due_at(conn: Connection) -> dt.datetime | None:
    """When the earliest pending delivery falls due (None when nothing waits).

    A delivery leased by someone else is due again only when its lease ends.
    """
    due_at = case((D.locked_until > D.next_attempt_at, D.locked_until), else_=D.next_attempt_at)
    return conn.scalar(select(func.min(due_at)).where(D.status == "pending", D.next_attempt_at.is_not(None)))
