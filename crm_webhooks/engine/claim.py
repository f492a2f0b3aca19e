"""Claiming due deliveries: the one place that decides who sends what.

A claim sets a lease (``locked_until``) on up to ``limit`` due deliveries in
one statement.  On PostgreSQL the inner select takes ``FOR UPDATE SKIP
LOCKED``, so concurrent workers split the queue instead of queueing on each
other; SQLite's ``BEGIN IMMEDIATE`` already serialises claimers.  A lease that
runs out (a worker died mid-send) makes the delivery due again.

A claim may first lease up to ``first`` first attempts (never tried yet), then
the rest by due time: a backlog of retries, all due earlier, would otherwise come
before every new event (``schedule.claim_mix`` decides how many).  Both are the
same statement, the first one narrowed to first attempts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Select,
    Update,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    update,
)

from crm_stub.models import utcnow

from ..domain.secrets import signing_secrets
from ..models import DeliveryRow, EventRow, HookRow
from . import fanout, throttle

D, E, H = DeliveryRow.__table__.c, EventRow.__table__.c, HookRow.__table__.c
# Written into the SQL, not bound: PostgreSQL uses a partial index (WHERE status = 'pending')
# only when it can see the value, and a prepared statement's generic plan cannot.
PENDING = literal_column("'pending'")
NEVER_TRIED = literal_column("0")  # the same for ix_webhook_deliveries_first_due


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
    record: str | None = None  # its record, when its hook keeps per-record order
    # The hook as it is at this attempt: a template fixed after a failed render is used by the retry.
    hook_name: str = ""
    body_template: str | None = None  # None: the envelope is the body
    content_type: str | None = None  # None: application/json

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


# What a sender needs of a delivery's event and hook, named as ``_claimed()`` reads them.
_EVENT_AND_HOOK = (
    E.id.label("event_id"),
    E.type.label("event_type"),
    E.timestamp,
    E.object_id,
    E.body,
    E.test,
    H.id.label("hook_id"),
    H.url,
    H.method,
    H.key,
    H.value,
    H.secret,
    H.retired_secrets,
    H.enabled,
    H.name.label("hook_name"),
    H.body_template,
    H.content_type,
)


def lease_length(timeout: float) -> dt.timedelta:
    """How long a claim holds a delivery: one attempt (at most ``timeout``) twice over and its
    bookkeeping, short enough that a dead worker's deliveries go out again soon."""
    return dt.timedelta(seconds=timeout * 2 + 5)


def renewal_margin(timeout: float) -> float:
    """Seconds before a lease ends when it is renewed: a whole attempt and its recording still fit, twice."""
    return timeout * 2 + 1


def waits_behind_earlier(d: Any) -> Any:
    """Whether an earlier delivery of ``d``'s record to ``d``'s hook is still pending (due,
    in flight, or waiting for a retry): then ``d`` waits, so the receiver gets the record's
    events in the order they were committed.  One probe of ``ix_webhook_deliveries_record``.
    """
    earlier = DeliveryRow.__table__.alias("earlier")
    return (
        select(earlier.c.id)
        .where(
            earlier.c.hook_id == d.hook_id,
            earlier.c.record == d.record,
            earlier.c.record.is_not(None),
            earlier.c.status == PENDING,
            earlier.c.event_id < d.event_id,
        )
        .exists()
    )


def _due(condition: Any, limit: str) -> Select[Any]:
    """The ids of up to ``:limit`` deliveries meeting ``condition``, oldest due first, locked
    (``SKIP LOCKED``: what another worker is leasing now is left to it)."""
    return (
        select(D.id)
        .where(condition)
        .order_by(D.next_attempt_at)
        .limit(bindparam(limit))
        .with_for_update(skip_locked=True)
    )


@cache
def _is_due(skip_hooks: bool, one_hook: bool) -> Any:
    """Due now (``:now``), not leased, not waiting behind its record, and (but for ``one_hook``)
    of a hook without a rate limit: those are leased only as their rate allows (``throttle.py``)."""
    now = bindparam("now")
    condition = and_(
        D.status == PENDING,
        D.next_attempt_at <= now,
        or_(D.locked_until.is_(None), D.locked_until < now),
        or_(D.record.is_(None), ~waits_behind_earlier(D)),
    )
    if one_hook:
        return and_(condition, D.hook_id == bindparam("hook"))
    # In the statement, not from a list read beforehand: no extra round trip, and a limit set a
    # moment ago holds at once.
    condition = and_(condition, D.hook_id.not_in(select(H.id).where(H.max_per_second.is_not(None))))
    if skip_hooks:
        condition = and_(condition, D.hook_id.not_in(bindparam("skip", expanding=True)))
    return condition


def _set_lease(ids: Any) -> Update:
    return (
        update(DeliveryRow)
        .where(D.id.in_(ids))
        .values(locked_until=bindparam("lease_until"), locked_by=bindparam("worker"))
    )


@cache
def _lease(skip_hooks: bool, first_only: bool = False, one_hook: bool = False) -> Update:
    """SQLite: lease up to ``:limit`` due deliveries, oldest due first, to ``:worker`` until
    ``:lease_until``; with ``first_only``, only first attempts (``ix_webhook_deliveries_first_due``
    holds just those).

    Built once per shape, with bound parameters: claims run many times a second and
    building the statement each time cost more CPU than the database spent running it.
    """
    condition = _is_due(skip_hooks, one_hook)
    if first_only:
        condition = and_(condition, D.attempt_count == NEVER_TRIED)
    return _set_lease(_due(condition, "limit").scalar_subquery())


@cache
def _lease_and_load(skip_hooks: bool, one_hook: bool = False) -> Select[Any]:
    """PostgreSQL: lease up to ``:first`` due first attempts, then up to ``:limit`` more by due
    time, and load them, in one statement (each round trip adds to commit-to-receiver latency):
    the update is a CTE joined to events and hooks.  ``one_hook``: only ``:hook``'s, by due time.

    SQLite has no DML in a CTE, nor joined columns in RETURNING: it takes a statement for each.
    """
    condition = _is_due(skip_hooks, one_hook)
    rest = _due(condition, "limit")
    firsts = None
    if not one_hook:
        firsts = _due(and_(condition, D.attempt_count == NEVER_TRIED), "first").cte("firsts")
        # Its own rows are not skipped as locked: the first attempts just taken are left out by name.
        rest = rest.where(D.id.not_in(select(firsts.c.id)))
    rest_ids = rest.cte("rest")
    ids = select(rest_ids.c.id) if firsts is None else select(firsts.c.id).union_all(select(rest_ids.c.id))
    leased = _set_lease(ids.scalar_subquery()).returning(
        D.id, D.attempt_count, D.event_id, D.hook_id, D.next_attempt_at, D.record
    )
    claimed = leased.cte("claimed")
    first = literal_column("false") if firsts is None else claimed.c.id.in_(select(firsts.c.id))
    order = (
        (claimed.c.next_attempt_at, claimed.c.id)
        if firsts is None
        else (first.desc(), claimed.c.next_attempt_at, claimed.c.id)
    )
    return (
        select(
            claimed.c.id.label("delivery_id"),
            claimed.c.attempt_count,
            claimed.c.record,
            first.label("first"),
            *_EVENT_AND_HOOK,
        )
        .join_from(claimed, EventRow, E.id == claimed.c.event_id)
        .join(HookRow, H.id == claimed.c.hook_id)
        .order_by(*order)
    )


_LOAD = (
    select(D.id.label("delivery_id"), D.attempt_count, D.record, *_EVENT_AND_HOOK)
    .join(EventRow, E.id == D.event_id)
    .join(HookRow, H.id == D.hook_id)
    .where(D.id.in_(bindparam("ids", expanding=True)))
    .order_by(D.next_attempt_at, D.id)
)


@dataclass(frozen=True)
class Claim:
    """What one claim found: the deliveries now leased (its first attempts first), and whether
    fan-out has more to write."""

    claimed: list[Claimed]
    fanout_behind: bool = False
    firsts: int = 0  # how many of ``claimed`` the share of first attempts took


def claim(
    engine: Engine,
    *,
    limit: int,
    lease: dt.timedelta,
    worker: str,
    skip_hooks: Collection[int] = (),
    fan_out_first: bool = True,
    first: int = 0,
    limits: throttle.Limits | None = None,
) -> Claim:
    """Lease up to ``first`` due first attempts, then up to ``limit`` more due deliveries, oldest
    due first, to ``worker``, and load them.

    ``skip_hooks``: hooks whose receiver already has all the attempts in flight it may.
    A hook with a rate limit gets, besides, at most what its rate allows now (``throttle.py``);
    ``limits`` keeps the list of those hooks between claims (without it, it is read each time).
    ``fan_out_first``: write the delivery rows of newly committed events first; a
    worker that knows nothing was committed since its last claim skips that query.
    """
    limits = limits or throttle.Limits()
    params: dict[str, Any] = {"limit": limit, "first": first, "worker": worker}
    if skip_hooks:
        params["skip"] = list(skip_hooks)
    with engine.begin() as conn:
        # Behind: a full batch was written, or another transaction is writing some now.
        behind = fan_out_first and fanout.fan_out(conn) in (fanout.BATCH, fanout.SKIPPED)
        # The lease runs from now, not from before a wait for SQLite's lock or the fan-out.
        now = utcnow()
        params.update(now=now, lease_until=now + lease)
        claimed, firsts = _lease_due(conn, params, bool(skip_hooks))
        for hook_id, rate in limits.rates(conn).items():
            if hook_id not in skip_hooks:
                claimed += _lease_limited(conn, params, hook_id, rate)
    return Claim(claimed, behind, firsts)


def _lease_limited(conn: Connection, params: dict[str, Any], hook_id: int, rate: float) -> list[Claimed]:
    """As many of ``hook_id``'s due deliveries as its rate allows now, oldest due first."""
    now = params["now"]
    tat = throttle.take(conn, hook_id)
    allowed = 0 if tat is None else throttle.allowance(tat, now, rate)
    if tat is None or not allowed:
        return []
    leased = _lease_hook(conn, {**params, "limit": allowed, "hook": hook_id})
    if leased:
        throttle.spend(conn, hook_id, throttle.advanced(tat, now, rate, len(leased)))
    return leased


def _lease_due(conn: Connection, params: dict[str, Any], skip_hooks: bool) -> tuple[list[Claimed], int]:
    """Up to ``first`` first attempts, then up to ``limit`` more by due time; and how many were first."""
    now = params["now"]
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_lease_and_load(skip_hooks), params).all()
        return _claimed(rows, now), sum(1 for r in rows if r.first)
    # What the first statement leased is no longer due (its lease runs from now): the second skips it.
    firsts = _lease_ids(conn, {**params, "limit": params["first"]}, _lease(skip_hooks, first_only=True))
    rest = _lease_ids(conn, params, _lease(skip_hooks)) if params["limit"] else []
    return load_claimed(conn, firsts, now) + load_claimed(conn, rest, now), len(firsts)


def _lease_ids(conn: Connection, params: dict[str, Any], statement: Update) -> list[int]:
    return list(conn.scalars(statement.returning(D.id), params)) if params["limit"] else []


def _lease_hook(conn: Connection, params: dict[str, Any]) -> list[Claimed]:
    """Up to ``limit`` of ``hook``'s due deliveries, oldest due first."""
    if conn.dialect.name == "postgresql":
        return _claimed(conn.execute(_lease_and_load(False, one_hook=True), params), params["now"])
    return load_claimed(conn, _lease_ids(conn, params, _lease(False, one_hook=True)), params["now"])


def load_claimed(conn: Connection, ids: list[int], now: dt.datetime) -> list[Claimed]:
    if not ids:
        return []
    return _claimed(conn.execute(_LOAD, {"ids": ids}), now)


def _claimed(rows: Iterable[Row[Any]], now: dt.datetime) -> list[Claimed]:
    claimed = []
    for r in rows:
        # Retired secrets sign too, each until its own grace ends (value and secrets arrive decrypted).
        claimed.append(
            Claimed(
                r.delivery_id,
                r.attempt_count,
                r.event_id,
                r.event_type,
                r.timestamp,
                r.object_id,
                r.body,
                r.test,
                r.hook_id,
                r.url,
                r.method,
                r.key,
                r.value,
                signing_secrets(r.secret, r.retired_secrets, now),
                r.enabled,
                r.record,
                r.hook_name,
                r.body_template,
                r.content_type,
            )
        )
    return claimed


def renew(engine: Engine, ids: list[int], *, lease: dt.timedelta, worker: str) -> None:
    """Extend the lease of deliveries still held by ``worker``."""
    if ids:
        with engine.begin() as conn:
            conn.execute(
                update(DeliveryRow).where(D.id.in_(ids), D.locked_by == worker).values(locked_until=utcnow() + lease)
            )


def next_due_at(conn: Connection) -> dt.datetime | None:
    """When the earliest pending delivery falls due (None when nothing waits).

    A delivery leased by someone else is due again only when its lease ends; one
    that waits behind an earlier delivery of its record is not counted (the earlier
    one's recording wakes this process's worker, others' at their next poll).
    """
    due_at = case((D.locked_until > D.next_attempt_at, D.locked_until), else_=D.next_attempt_at)
    waiting = (
        D.status == PENDING,
        D.next_attempt_at.is_not(None),
        or_(D.record.is_(None), ~waits_behind_earlier(D)),
    )
    slots = throttle.slots(conn)
    if not slots:
        return conn.scalar(select(func.min(due_at)).where(*waiting))
    # A rate-limited hook's deliveries are due once its next slot opens too: without that,
    # an idle worker would claim again and again for what its rate does not allow yet.
    unlimited = conn.scalar(select(func.min(due_at)).where(*waiting, D.hook_id.not_in(list(slots))))
    limited = conn.execute(
        select(D.hook_id, func.min(due_at)).where(*waiting, D.hook_id.in_(list(slots))).group_by(D.hook_id)
    )
    times = [max(due, throttle.opens_at(slots[hook_id])) for hook_id, due in limited]
    return min([*times, *([unlimited] if unlimited else [])], default=None)
