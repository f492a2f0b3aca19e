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
from collections.abc import Collection, Iterable, Iterator
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
) -> list[dict[str, object]]:
    """The delivery rows for ``(event id, fanout, created_at, record)``, given which hooks exist now.

    ``enabled`` maps each existing hook to whether it is enabled.  A hook deleted
    since the event was written gets nothing (deleting a hook fans out first, so
    no later hook can inherit its id's events); a hook disabled since gets its
    delivery held (``next_attempt_at`` NULL), as the deliveries it already had are.
    The deliveries of ``ordered`` hooks (``ordering`` = 'record') name the event's
    record, which the claim keeps in order.
    """
    return [
        delivery_row(event_id, hook_id, created_at, record, enabled=enabled[hook_id], ordered=hook_id in ordered)
        for event_id, fanout, created_at, record in events
        for hook_id in parse_ids(fanout)
        if hook_id in enabled
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


class Conditioned(NamedTuple):
    """An event for a hook with a condition: written only if the condition holds for it."""

    event_id: str
    hook_id: int
    created_at: dt.datetime
    record: str | None
    enabled: bool
    ordered: bool
    condition: str
    body: str

    def delivery(self) -> dict[str, object]:
        return delivery_row(
            self.event_id, self.hook_id, self.created_at, self.record, enabled=self.enabled, ordered=self.ordered
        )


def judge(text: str, envelope: dict[str, Any]) -> bool | Message:
    """Whether the condition ``text`` holds for the event, or why it could not be evaluated."""
    data = envelope.get("data") or {}
    try:
        return condition(text).matches(
            data.get("object") or {}, data.get("previous_attributes") or {}, str(envelope.get("type", ""))
        )
    except TemplateError as exc:
        return exc.message


class Decisions:
    """What conditions decide, one pair at a time, then written at once.

    A true condition gets its delivery; a false one counts in the hook's ``skipped_by_condition``;
    one that cannot be evaluated becomes a failed delivery saying why (a silent skip would hide a
    broken condition, and a crash would stop every hook's fan-out).
    """

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []
        self.skipped: Counter[int] = Counter()
        self.broken: list[tuple[Conditioned, Message]] = []
        self._envelopes: dict[str, dict[str, Any]] = {}
        # Hooks that share a condition share its verdict on an event: evaluated once.
        self._verdicts: dict[tuple[str, str], bool | Message] = {}

    def add(self, pair: Conditioned) -> None:
        if pair.event_id not in self._envelopes:
            self._envelopes[pair.event_id] = json.loads(pair.body)
        key = (pair.event_id, pair.condition)
        if key not in self._verdicts:
            self._verdicts[key] = judge(pair.condition, self._envelopes[pair.event_id])
        verdict = self._verdicts[key]
        if verdict is True:
            self.rows.append(pair.delivery())
        elif verdict is False:
            self.skipped[pair.hook_id] += 1
        else:
            self.broken.append((pair, verdict))

    def write(self, conn: Connection | Session) -> None:
        if self.rows:
            _insert(conn, self.rows)
        for hook_id, count in self.skipped.items():
            conn.execute(
                update(HookRow).where(H.id == hook_id).values(skipped_by_condition=H.skipped_by_condition + count)
            )
        if self.broken:
            _fail_broken(conn, self.broken)


def decide_conditioned(conn: Connection | Session, pairs: Iterable[Conditioned]) -> None:
    """Decide every pair (see ``Decisions``) and write what they decided."""
    decisions = Decisions()
    for pair in pairs:
        decisions.add(pair)
    decisions.write(conn)


# PostgreSQL: the rows as columns of arrays, one statement, instead of a round of the pipeline each.
_INSERT_PG = text("""
INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
SELECT v.event_id, v.hook_id, 'pending', 0, v.next_attempt_at, v.created_at, v.record
FROM unnest(CAST(:event_ids AS text[]), CAST(:hook_ids AS bigint[]), CAST(:due AS timestamp[]),
            CAST(:created AS timestamp[]), CAST(:records AS text[]))
     AS v(event_id, hook_id, next_attempt_at, created_at, record)
ORDER BY v.event_id, v.hook_id
""")


def _insert(conn: Connection | Session, rows: list[dict[str, object]]) -> None:
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name != "postgresql":
        # Core, not the ORM: ORM bulk inserts treat an explicit None as "use the default".
        conn.execute(insert(DeliveryRow.__table__), rows)
        return
    columns = {"event_ids": "event_id", "hook_ids": "hook_id", "due": "next_attempt_at", "created": "created_at"}
    params = {name: [r[column] for r in rows] for name, column in columns.items()}
    conn.execute(_INSERT_PG, {**params, "records": [r["record"] for r in rows]})


def _fail_broken(conn: Connection | Session, broken: list[tuple[Conditioned, Message]]) -> None:
    now = utcnow()
    for pair, why in broken:
        error = written(CONDITION, why=str(why))
        delivery_id = conn.execute(
            insert(DeliveryRow.__table__)
            .values(
                event_id=pair.event_id,
                hook_id=pair.hook_id,
                status="failed",
                attempt_count=1,
                next_attempt_at=None,
                created_at=pair.created_at,
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
    failed_hooks = {pair.hook_id for pair, _ in broken}
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
    SELECT id, enabled, ordering, condition FROM webhook_hooks WHERE id IN (SELECT hook_id FROM pairs) FOR SHARE
), inserted AS (
    INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
    SELECT p.event_id, h.id, 'pending', 0, CASE WHEN h.enabled THEN p.created_at END, p.created_at,
           CASE WHEN h.ordering = 'record' THEN p.record END
    FROM pairs p JOIN hooks h ON h.id = p.hook_id
    WHERE h.condition IS NULL
    ORDER BY p.event_id, h.id
    RETURNING 1
)
SELECT 0 AS kind, (SELECT count(*) FROM done) AS n, (SELECT got FROM lock) AS got,
       NULL AS id, NULL::bigint AS hook_id, NULL::timestamp AS created_at, NULL AS text
UNION ALL  -- each event-hook pair a condition decides, small: its event's body and its hook's condition come once
SELECT 1, NULL, NULL, p.event_id, p.hook_id, p.created_at, p.record
FROM pairs p JOIN hooks h ON h.id = p.hook_id WHERE h.condition IS NOT NULL
UNION ALL
SELECT 2, CASE WHEN h.ordering = 'record' THEN 1 ELSE 0 END, h.enabled, NULL, h.id, NULL, h.condition
FROM hooks h WHERE h.condition IS NOT NULL
UNION ALL
SELECT 3, NULL, NULL, e.id, NULL, NULL, e.body FROM webhook_events e
WHERE e.id IN (SELECT p.event_id FROM pairs p JOIN hooks h ON h.id = p.hook_id WHERE h.condition IS NOT NULL)
ORDER BY kind, id, hook_id
""")

SKIPPED = -1  # another transaction is fanning out (PostgreSQL): what it writes, it writes


def fan_out(conn: Connection | Session, *, limit: int | None = None, budget: float = CONDITIONS_BUDGET_S) -> int:
    """Write the delivery rows of up to ``limit`` events (default ``BATCH``); returns how many
    events, or ``SKIPPED`` while another transaction fans out.

    On SQLite, once conditions have taken ``budget`` seconds, the events after the one being
    decided are left for the next fan-out, and it returns ``BATCH`` (more to come).
    """
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        head, *rows = conn.execute(_FAN_OUT_PG, {"limit": limit or BATCH}).all()
        if rows:
            decide_conditioned(conn, _conditioned(rows))
        return int(head.n) if head.got else SKIPPED
    # SQLite: BEGIN IMMEDIATE has serialised fan-outs already, so no row locks here.
    events = all_events = conn.execute(
        select(E.id, E.fanout, E.created_at, E.record).where(E.fanout.is_not(None)).order_by(E.id).limit(limit or BATCH)
    ).all()
    if not events:
        return 0
    hook_ids = {hook_id for e in events for hook_id in parse_ids(e.fanout)}
    hooks = conn.execute(select(H.id, H.enabled, H.ordering, H.condition).where(H.id.in_(hook_ids))).all()
    ordered = {h.id for h in hooks if h.ordering == "record"}
    conditions = {h.id: h for h in hooks if h.condition is not None}
    taken = len(events)
    if conditions:
        taken = _decide_within(conn, events, conditions, ordered, budget)
        events = events[:taken]
    enabled: dict[int, bool] = {h.id: h.enabled for h in hooks if h.condition is None}
    rows = plan([(e.id, e.fanout, e.created_at, e.record) for e in events], enabled, ordered)
    if rows:
        _insert(conn, rows)
    conn.execute(update(EventRow).where(E.id.in_([e[0] for e in events])).values(fanout=None))
    # Stopped early: as a full batch does, it says there is more to fan out, soon.
    return BATCH if taken < len(all_events) else len(events)


def _decide_within(
    conn: Connection | Session, events: list[Any], conditions: dict[int, Any], ordered: set[int], budget: float
) -> int:
    """Decide the conditioned pairs of ``events`` in order, stopping after the event during which
    ``budget`` ran out; write what was decided and return how many events it covers."""
    wanted = [(e, [h for h in parse_ids(e.fanout) if h in conditions]) for e in events]
    ids = {e.id for e, hook_ids in wanted if hook_ids}
    bodies = dict(conn.execute(select(E.id, E.body).where(E.id.in_(ids))).all()) if ids else {}
    decisions = Decisions()
    started = time.monotonic()
    taken = 0
    for e, hook_ids in wanted:
        taken += 1
        for hook_id in hook_ids:
            hook = conditions[hook_id]
            pair = Conditioned(
                e.id, hook_id, e.created_at, e.record, hook.enabled, hook_id in ordered, hook.condition, bodies[e.id]
            )
            decisions.add(pair)
        if time.monotonic() - started >= budget:
            break
    decisions.write(conn)
    return taken


def _conditioned(rows: list[Any]) -> Iterator[Conditioned]:
    """The pairs of ``_FAN_OUT_PG``'s rows, each with its hook's condition and its event's body."""
    hooks = {r.hook_id: r for r in rows if r.kind == 2}
    bodies = {r.id: r.text for r in rows if r.kind == 3}
    for kind, _, _, event_id, hook_id, created_at, record in rows:
        if kind == 1:
            hook = hooks[hook_id]
            body = bodies[event_id]
            yield Conditioned(event_id, hook_id, created_at, record, hook.got, bool(hook.n), hook.text, body)


def fan_out_all(conn: Connection | Session, *, budget: float = CONDITIONS_BUDGET_S) -> None:
    """Fan out every event this transaction can take (those other workers hold are theirs).

    Each pass decides at least one event, so it ends whatever ``budget`` says.
    """
    while fan_out(conn, budget=budget) == BATCH:
        pass
