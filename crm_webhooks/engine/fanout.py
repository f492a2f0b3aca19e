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
from collections.abc import Collection

from sqlalchemy import Connection, exists, insert, select, text, update
from sqlalchemy.orm import Session

from ..models import DeliveryRow, EventRow, HookRow

D, E, H = DeliveryRow.__table__.c, EventRow.__table__.c, HookRow.__table__.c

# Enough to drain a burst in a few claims without holding the write lock for long.
BATCH = 1000


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
    rows: list[dict[str, object]] = []
    for event_id, fanout, created_at, record in events:
        for hook_id in parse_ids(fanout):
            if hook_id in enabled:
                rows.append(
                    {
                        "event_id": event_id,
                        "hook_id": hook_id,
                        "status": "pending",
                        "attempt_count": 0,
                        "next_attempt_at": created_at if enabled[hook_id] else None,
                        "created_at": created_at,
                        "record": record if hook_id in ordered else None,
                    }
                )
    return rows


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
    SELECT id, enabled, ordering FROM webhook_hooks WHERE id IN (SELECT hook_id FROM pairs) FOR SHARE
), inserted AS (
    INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
    SELECT p.event_id, h.id, 'pending', 0, CASE WHEN h.enabled THEN p.created_at END, p.created_at,
           CASE WHEN h.ordering = 'record' THEN p.record END
    FROM pairs p JOIN hooks h ON h.id = p.hook_id
    ORDER BY p.event_id, h.id
    RETURNING 1
)
SELECT (SELECT count(*) FROM done), (SELECT got FROM lock)
""")

SKIPPED = -1  # another transaction is fanning out (PostgreSQL): what it writes, it writes


def fan_out(conn: Connection | Session, *, limit: int | None = None) -> int:
    """Write the delivery rows of up to ``limit`` events (default ``BATCH``); returns how many
    events, or ``SKIPPED`` while another transaction fans out."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        written, got = conn.execute(_FAN_OUT_PG, {"limit": limit or BATCH}).one()
        return int(written) if got else SKIPPED
    # SQLite: BEGIN IMMEDIATE has serialised fan-outs already, so no row locks here.
    events = conn.execute(
        select(E.id, E.fanout, E.created_at, E.record).where(E.fanout.is_not(None)).order_by(E.id).limit(limit or BATCH)
    ).all()
    if not events:
        return 0
    hook_ids = {hook_id for e in events for hook_id in parse_ids(e.fanout)}
    hooks = conn.execute(select(H.id, H.enabled, H.ordering).where(H.id.in_(hook_ids))).all()
    enabled: dict[int, bool] = {h.id: h.enabled for h in hooks}
    ordered = {h.id for h in hooks if h.ordering == "record"}
    rows = plan([(e.id, e.fanout, e.created_at, e.record) for e in events], enabled, ordered)
    if rows:
        # Core, not the ORM: ORM bulk inserts treat an explicit None as "use the default".
        conn.execute(insert(DeliveryRow.__table__), rows)
    conn.execute(update(EventRow).where(E.id.in_([e[0] for e in events])).values(fanout=None))
    return len(events)


def fan_out_all(conn: Connection | Session) -> None:
    """Fan out every event this transaction can take (those other workers hold are theirs)."""
    while fan_out(conn) == BATCH:
        pass
