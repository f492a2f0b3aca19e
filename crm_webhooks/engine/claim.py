"""Claiming due deliveries: the one place that decides who sends what.

A claim sets a lease (``locked_until``) on up to ``limit`` due deliveries in
one statement.  On PostgreSQL the inner select takes ``FOR UPDATE SKIP
LOCKED``, so concurrent workers split the queue instead of queueing on each
other; SQLite's ``BEGIN IMMEDIATE`` already serialises claimers.  A lease that
runs out (a worker died mid-send) makes the delivery due again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection, Row, Select, Update, and_, bindparam, case, func, or_, select, update

from ..domain.secrets import signing_secrets
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

    @property
    def identity(self) -> tuple[int, str, int]:
        """What names this delivery for good: SQLite may give a deleted row's id to a new one."""
        return (self.delivery_id, self.event_id, self.hook_id)

    @cached_property
    def destination(self) -> str:
        """``host:port`` the attempt goes to: workers share their senders out by it."""
        return urlsplit(self.url).netloc.lower()


# What a sender needs of a delivery, its event and its hook, in the order _claimed() reads it.
_EVENT_AND_HOOK = (
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
    H.retired_secrets,
    H.enabled,
)


@cache
def _lease(skip_hooks: bool) -> Update:
    """Lease up to ``:limit`` due deliveries, oldest due first, to ``:worker`` until ``:lease_until``.

    Built once per shape, with bound parameters: claims run many times a second and
    building the statement each time cost more CPU than PostgreSQL spent running it.
    """
    now = bindparam("now")
    condition = and_(
        D.status == "pending",
        D.next_attempt_at <= now,
        or_(D.locked_until.is_(None), D.locked_until < now),
    )
    if skip_hooks:
        condition = and_(condition, D.hook_id.not_in(bindparam("skip", expanding=True)))
    due = (
        select(D.id)
        .where(condition)
        .order_by(D.next_attempt_at)
        .limit(bindparam("limit"))
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    return (
        update(DeliveryRow)
        .where(D.id.in_(due))
        .values(locked_until=bindparam("lease_until"), locked_by=bindparam("worker"))
    )


@cache
def _lease_and_load(skip_hooks: bool) -> Select[Any]:
    """PostgreSQL: lease and load in one statement, the update a CTE joined to events and hooks.

    SQLite has no DML in a CTE, nor joined columns in RETURNING: it takes two.
    """
    leased = _lease(skip_hooks).returning(D.id, D.attempt_count, D.event_id, D.hook_id, D.next_attempt_at)
    claimed = leased.cte("claimed")
    return (
        select(claimed.c.id, claimed.c.attempt_count, *_EVENT_AND_HOOK)
        .join_from(claimed, EventRow, E.id == claimed.c.event_id)
        .join(HookRow, H.id == claimed.c.hook_id)
        .order_by(claimed.c.next_attempt_at, claimed.c.id)
    )


_LOAD = (
    select(D.id, D.attempt_count, *_EVENT_AND_HOOK)
    .join(EventRow, E.id == D.event_id)
    .join(HookRow, H.id == D.hook_id)
    .where(D.id.in_(bindparam("ids", expanding=True)))
    .order_by(D.next_attempt_at, D.id)
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
    params: dict[str, Any] = {"now": now, "limit": limit, "lease_until": lease_until, "worker": worker}
    if skip_hooks:
        params["skip"] = list(skip_hooks)
    if conn.dialect.name == "postgresql":
        return _claimed(conn.execute(_lease_and_load(bool(skip_hooks)), params), now)
    ids = conn.scalars(_lease(bool(skip_hooks)).returning(D.id), params).all()
    return load_claimed(conn, list(ids), now)


def load_claimed(conn: Connection, ids: list[int], now: dt.datetime) -> list[Claimed]:
    if not ids:
        return []
    return _claimed(conn.execute(_LOAD, {"ids": ids}), now)


def _claimed(rows: Iterable[Row[Any]], now: dt.datetime) -> list[Claimed]:
    claimed = []
    for r in rows:
        # Retired secrets sign too, each until its own grace ends (value and secrets arrive decrypted).
        secrets = signing_secrets(r[13], r[14], now)
        claimed.append(
            Claimed(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], secrets, r[15])
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
