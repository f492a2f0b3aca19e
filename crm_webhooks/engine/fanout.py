"""Fanning events out: one delivery row per hook an event was written for.

The CRM's transaction writes only the event row, with the ids of the hooks
that matched it (``fanout``), because every row and index page written there
is paid by each CRM call.  Whoever claims deliveries next turns those ids into
delivery rows, many events in one transaction, where the index pages are
shared.  A partial index holds only events still to fan out, so finding them
costs the same with a million events kept as with none.

On PostgreSQL ``SKIP LOCKED`` lets concurrent workers fan out different
events, all in one statement; SQLite's ``BEGIN IMMEDIATE`` already serialises
them, and there ``plan()`` decides in Python (round trips cost nothing there).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections import Counter
from collections.abc import Callable, Collection
from contextlib import AbstractContextManager
from typing import Any, NamedTuple

from sqlalchemy import Connection, exists, insert, select, text, update
from sqlalchemy.orm import Session

from crm_stub.models import utcnow

from ..domain.attempt_errors import CONDITION, written
from ..domain.messages import Message
from ..domain.templating import TemplateError, condition
from ..models import AttemptRow, DeliveryRow, EventRow, HookRow

A, D, E, H = AttemptRow.__table__.c, DeliveryRow.__table__.c, EventRow.__table__.c, HookRow.__table__.c

# Enough to drain a burst in a few claims without holding the write lock for long.
BATCH = 1000
# SQLite: a fan-out holds the database's one write lock, which the CRM's own writes wait for (30 s
# at most): conditions that each run to their deadline must not keep it much past this.
CONDITIONS_BUDGET_S = 1.0


def parse_ids(text: str) -> list[int]:
    """``"3,7"`` -> ``[3, 7]``: the form the outbox stores (SQL ``group_concat``/``string_agg``)."""
    return [int(part) for part in text.split(",") if part]


def plan(
    events: list[tuple[str, str, dt.datetime, str | None]],
    enabled: dict[int, bool],
    ordered: Collection[int] = (),
    decided: Decisions | None = None,
) -> list[dict[str, object]]:
    """The delivery rows for ``(event id, fanout, created_at, record)``, given which hooks exist now.

    ``enabled`` maps each existing hook to whether it is enabled.  A hook deleted
    since the event was written gets nothing (deleting a hook fans out first, so
    no later hook can inherit its id's events); a hook disabled since gets its
    delivery held (``next_attempt_at`` NULL), as the deliveries it already had are.
    The deliveries of ``ordered`` hooks (``ordering`` = 'record') name the event's
    record, which the claim keeps in order.  A hook with a condition gets a delivery
    only where ``decided`` says its condition held.
    """
    conditioned, passed = (decided.conditions, decided.allowed()) if decided else ({}, {})
    return [
        delivery_row(event_id, hook_id, created_at, record, enabled=enabled[hook_id], ordered=hook_id in ordered)
        for event_id, fanout, created_at, record in events
        for hook_id in parse_ids(fanout)
        if hook_id in enabled and (hook_id not in conditioned or hook_id in passed.get(event_id, ()))
    ]


def delivery_row(
    event_id: str, hook_id: int, created_at: dt.datetime, record: str | None, *, enabled: bool, ordered: bool
) -> dict[str, object]:
    """A new pending delivery, held (no ``next_attempt_at``) while its hook is disabled."""
    return {
        "event_id": event_id,
        "hook_id": hook_id,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": created_at if enabled else None,
        "created_at": created_at,
        "record": record if ordered else None,
    }


# -- conditions -----------------------------------------------------------------------------


class Waiting(NamedTuple):
    """An event, and the hooks whose conditions decide whether it is delivered to them."""

    id: str
    created_at: dt.datetime
    record: str | None
    body: str
    hook_ids: list[int]


def judge(text: str, envelope: dict[str, Any]) -> bool | Message:
    """Whether the condition ``text`` holds for the event, or why it could not be evaluated."""
    return _judge(text, *_names(envelope))


def _names(envelope: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], str]:
    """What a condition reads of an envelope: ``object``, ``previous`` and ``event``."""
    data = envelope.get("data") or {}
    return data.get("object") or {}, data.get("previous_attributes") or {}, str(envelope.get("type", ""))


def _judge(text: str, object: dict[str, Any], previous: dict[str, Any], event: str) -> bool | Message:
    try:
        return condition(text).matches(object, previous, event)
    except TemplateError as exc:
        return exc.message


class Decisions:
    """What hooks' conditions decide about events, without I/O; written at once afterwards.

    A true condition gets its delivery; a false one counts in the hook's ``skipped_by_condition``;
    one that cannot be evaluated becomes a failed delivery saying why (a silent skip would hide a
    broken condition, and a crash would stop every hook's fan-out).
    """

    def __init__(self, conditions: dict[int, str]) -> None:
        self.conditions = conditions
        self.passed: list[tuple[Waiting, list[int]]] = []
        self.skipped: Counter[int] = Counter()
        self.broken: list[tuple[Waiting, int, Message]] = []

    def decide(self, event: Waiting) -> None:
        names = _names(json.loads(event.body))
        # Hooks that share a condition share its verdict on an event: evaluated once.
        verdicts: dict[str, bool | Message] = {}
        passed = []
        for hook_id in event.hook_ids:
            text = self.conditions[hook_id]
            verdict = verdicts.get(text)
            if verdict is None:
                verdict = verdicts[text] = _judge(text, *names)
            if verdict is True:
                passed.append(hook_id)
            elif verdict is False:
                self.skipped[hook_id] += 1
            else:
                self.broken.append((event, hook_id, verdict))
        if passed:
            self.passed.append((event, passed))

    def allowed(self) -> dict[str, set[int]]:
        """Each decided event's hooks whose condition let it through."""
        return {event.id: set(hook_ids) for event, hook_ids in self.passed}


def _fail_broken(conn: Connection | Session, broken: list[tuple[Waiting, int, Message]]) -> None:
    if not broken:
        return
    now = utcnow()
    for event, hook_id, why in broken:
        error = written(CONDITION, why=str(why))
        delivery_id = conn.execute(
            insert(DeliveryRow.__table__)
            .values(
                event_id=event.id,
                hook_id=hook_id,
                status="failed",
                attempt_count=1,
                next_attempt_at=None,
                created_at=event.created_at,
                finished_at=now,
                last_error=error,
            )
            .returning(D.id)
        ).scalar_one()
        conn.execute(
            insert(AttemptRow.__table__).values(
                delivery_id=delivery_id, attempted_at=now, error=error, duration_ms=0.0, request_headers={}
            )
        )
    failed_hooks = {hook_id for _, hook_id, _ in broken}
    conn.execute(update(HookRow).where(H.id.in_(failed_hooks)).values(last_run_at=now, last_result="failed"))


def pending(conn: Connection | Session) -> bool:
    """Whether any committed event still waits to be fanned out."""
    return conn.scalar(select(exists().where(E.fanout.is_not(None)))) or False


# PostgreSQL: the same rule as plan() in one statement, since each round trip adds to
# commit-to-receiver latency (four of them cost a waiting worker about 4 ms).  FOR SHARE
# on the hooks: a hook being deleted right now is either gone when this reads it, or
# its deletion waits for these rows to commit and then deletes them with the hook.
#
# One fan-out at a time per schema (an advisory lock held until its transaction ends; the
# others skip it): two fan-outs side by side could each write one event of a record and a
# claim could then see the later one's delivery but not the earlier's, still uncommitted.
_FAN_OUT_PG = text("""
WITH lock AS (
    SELECT pg_try_advisory_xact_lock(hashtext('crm_webhooks.fanout'), hashtext(current_schema())) AS got
), ev AS (
    SELECT id, fanout, created_at, record FROM webhook_events
    WHERE fanout IS NOT NULL AND (SELECT got FROM lock) ORDER BY id LIMIT :limit FOR UPDATE SKIP LOCKED
), done AS (
    UPDATE webhook_events AS e SET fanout = NULL FROM ev WHERE e.id = ev.id
    RETURNING ev.id, ev.fanout, ev.created_at, ev.record
), pairs AS (
    SELECT done.id AS event_id, done.created_at, done.record, x.hook_id
    FROM done CROSS JOIN LATERAL unnest(string_to_array(done.fanout, ',')::bigint[]) AS x(hook_id)
), hooks AS (
    SELECT id, enabled, ordering, condition IS NOT NULL AS conditioned FROM webhook_hooks
    WHERE id IN (SELECT hook_id FROM pairs) FOR SHARE
), inserted AS (
    INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
    SELECT p.event_id, h.id, 'pending', 0, CASE WHEN h.enabled THEN p.created_at END, p.created_at,
           CASE WHEN h.ordering = 'record' THEN p.record END
    FROM pairs p JOIN hooks h ON h.id = p.hook_id
    WHERE NOT h.conditioned
    ORDER BY p.event_id, h.id
    RETURNING 1
), waiting AS (  -- one row per event that conditions decide, with the hooks they decide it for
    SELECT p.event_id, min(p.created_at) AS created_at, min(p.record) AS record,
           string_agg(p.hook_id::text, ',' ORDER BY p.hook_id) AS hook_ids
    FROM pairs p JOIN hooks h ON h.id = p.hook_id WHERE h.conditioned GROUP BY p.event_id
)
SELECT l.got, (SELECT count(*) FROM done) AS n, w.event_id, w.created_at, w.record, e.body, w.hook_ids
FROM lock l LEFT JOIN waiting w ON true LEFT JOIN webhook_events e ON e.id = w.event_id
ORDER BY w.event_id
""")

# PostgreSQL: the deliveries conditions let through, one statement for a batch; the hooks are
# locked (FOR SHARE) since _FAN_OUT_PG, so their state is the one the verdicts were made on.
_INSERT_PASSED_PG = text("""
INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
SELECT e.id, h.id, 'pending', 0, CASE WHEN h.enabled THEN e.created_at END, e.created_at,
       CASE WHEN h.ordering = 'record' THEN e.record END
FROM unnest(CAST(:event_ids AS text[]), CAST(:hook_ids AS text[])) AS v(event_id, hook_ids)
JOIN webhook_events e ON e.id = v.event_id
CROSS JOIN LATERAL unnest(string_to_array(v.hook_ids, ',')::bigint[]) AS x(hook_id)
JOIN webhook_hooks h ON h.id = x.hook_id
ORDER BY e.id, h.id
""")

SKIPPED = -1  # another transaction is fanning out (PostgreSQL): what it writes, it writes
# How long a reader waits for another transaction's fan-out to commit, and how often it looks.
SKIPPED_WAIT_S, SKIPPED_POLL_S = 5.0, 0.005


def fan_out(conn: Connection | Session, *, limit: int | None = None, budget: float = CONDITIONS_BUDGET_S) -> int:
    """Write the delivery rows of up to ``limit`` events (default ``BATCH``); returns how many
    events, or ``SKIPPED`` while another transaction fans out.

    On SQLite, once conditions have taken ``budget`` seconds, the events after the one being
    decided are left for the next fan-out, and it returns ``BATCH`` (more to come).
    """
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        return _fan_out_pg(conn, limit or BATCH)
    # SQLite: BEGIN IMMEDIATE has serialised fan-outs already, so no row locks here.
    events = all_events = conn.execute(
        select(E.id, E.fanout, E.created_at, E.record).where(E.fanout.is_not(None)).order_by(E.id).limit(limit or BATCH)
    ).all()
    if not events:
        return 0
    hook_ids = {hook_id for e in events for hook_id in parse_ids(e.fanout)}
    hooks = conn.execute(select(H.id, H.enabled, H.ordering, H.condition).where(H.id.in_(hook_ids))).all()
    conditions = {h.id: h.condition for h in hooks if h.condition is not None}
    decided = None
    if conditions:
        decided, taken = _decide_within(conn, events, conditions, budget)
        events = events[:taken]
    enabled = {h.id: h.enabled for h in hooks}
    ordered = {h.id for h in hooks if h.ordering == "record"}
    rows = plan([(e.id, e.fanout, e.created_at, e.record) for e in events], enabled, ordered, decided)
    if rows:
        # Core, not the ORM: ORM bulk inserts treat an explicit None as "use the default".
        conn.execute(insert(DeliveryRow.__table__), rows)
    if decided:
        _write_verdicts(conn, decided)
    conn.execute(update(EventRow).where(E.id.in_([e[0] for e in events])).values(fanout=None))
    # Stopped early: as a full batch does, it says there is more to fan out, soon.
    return BATCH if len(events) < len(all_events) else len(events)


def _fan_out_pg(conn: Connection | Session, limit: int) -> int:
    rows = conn.execute(_FAN_OUT_PG, {"limit": limit}).all()
    head = rows[0]
    waiting = [Waiting(r.event_id, r.created_at, r.record, r.body, parse_ids(r.hook_ids)) for r in rows if r.event_id]
    if waiting:
        ids = {hook_id for event in waiting for hook_id in event.hook_ids}
        decided = Decisions(dict(conn.execute(select(H.id, H.condition).where(H.id.in_(ids))).all()))
        for event in waiting:
            decided.decide(event)
        if decided.passed:
            passed = {"event_ids": [e.id for e, _ in decided.passed]}
            passed["hook_ids"] = [",".join(map(str, hook_ids)) for _, hook_ids in decided.passed]
            conn.execute(_INSERT_PASSED_PG, passed)
        _write_verdicts(conn, decided)
    return int(head.n) if head.got else SKIPPED


def _decide_within(
    conn: Connection | Session, events: list[Any], conditions: dict[int, str], budget: float
) -> tuple[Decisions, int]:
    """Decide the conditioned hooks of ``events`` in order, stopping after the event during which
    ``budget`` ran out; returns the decisions and how many events they cover."""
    wanted = [(e, [h for h in parse_ids(e.fanout) if h in conditions]) for e in events]
    ids = {e.id for e, hook_ids in wanted if hook_ids}
    bodies = dict(conn.execute(select(E.id, E.body).where(E.id.in_(ids))).all()) if ids else {}
    decided = Decisions(conditions)
    started = time.monotonic()
    taken = 0
    for e, hook_ids in wanted:
        taken += 1
        if hook_ids:
            decided.decide(Waiting(e.id, e.created_at, e.record, bodies[e.id], hook_ids))
            if time.monotonic() - started >= budget:
                break
    return decided, taken


def _write_verdicts(conn: Connection | Session, decided: Decisions) -> None:
    """What is written for conditions that did not let an event through: counts and failures."""
    for hook_id, count in decided.skipped.items():
        conn.execute(update(HookRow).where(H.id == hook_id).values(skipped_by_condition=H.skipped_by_condition + count))
    _fail_broken(conn, decided.broken)


def fan_out_in_passes(transaction: Callable[[], AbstractContextManager[Connection | Session]]) -> None:
    """Fan out every event, each batch in a transaction of its own from ``transaction()``.

    On SQLite a fan-out holds the database's one write lock; between passes the CRM's
    writes get it, instead of waiting for a backlog with slow conditions to be decided whole.
    """
    waited = 0.0
    while True:
        with transaction() as conn:
            done = fan_out(conn)
        if done == SKIPPED and waited < SKIPPED_WAIT_S:
            # Another transaction is fanning out (PostgreSQL): its rows are seen once it commits,
            # and a read right after a change must see them, so wait for it rather than go on.
            time.sleep(SKIPPED_POLL_S)
            waited += SKIPPED_POLL_S
        elif done != BATCH:
            return


def fan_out_all(conn: Connection | Session, *, budget: float = CONDITIONS_BUDGET_S) -> None:
    """Fan out every event this transaction can take (those other workers hold are theirs).

    Each pass decides at least one event, so it ends whatever ``budget`` says.
    """
    while fan_out(conn, budget=budget) == BATCH:
        pass
