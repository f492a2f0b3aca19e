"""Recording attempts: history rows, delivery states and hook statuses, a batch per transaction.

Written once for every path (the worker's recorder, ``run_pending``, test sends
and redeliveries).  A delivery is matched by id, event and hook together, and
an attempt whose delivery is gone (its hook deleted while it was out) is let go.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, text, update

from crm_stub.models import utcnow

from .. import state
from ..domain.hooks import GONE, failures_reason
from ..domain.response_headers import to_json
from ..models import AttemptRow, DeliveryRow, HookRow
from ..outbox import notify_workers
from . import health, throttle
from .claim import PENDING
from .retry import RECEIVER_DOWN, releases_retries
from .send import Sent

log = logging.getLogger("crm_webhooks.delivery")

D, H = DeliveryRow.__table__.c, HookRow.__table__.c


@dataclass
class Batch:
    """What a worker hands to be recorded.

    ``held``: their hook was disabled after the claim (they wait for it);
    ``released``: claimed but never sent (due again at once, for anyone).
    """

    sent: list[Sent] = field(default_factory=list)
    held: list[int] = field(default_factory=list)
    released: list[int] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sent or self.held or self.released)

    def __len__(self) -> int:
        return len(self.sent) + len(self.held) + len(self.released)

    def add(self, other: Batch) -> None:
        """Take in ``other``'s items after this batch's own."""
        self.sent += other.sent
        self.held += other.held
        self.released += other.released

    def split(self) -> list[Batch]:
        """One batch per item: after a batch failed, what can be recorded is, one by one."""
        return (
            [Batch(sent=[s]) for s in self.sent]
            + [Batch(held=[h]) for h in self.held]
            + [Batch(released=[r]) for r in self.released]
        )


@dataclass
class Recorded:
    """What a batch left in the database, for the log and for the ``hook_disabled`` signal."""

    sent: list[Sent] = field(default_factory=list)
    lost: list[Sent] = field(default_factory=list)  # their hook was deleted while they were out
    # Their lease ran out and another worker took them: in history, but their state is the other's.
    stale: list[Sent] = field(default_factory=list)
    disabled: dict[str, list[int]] = field(default_factory=dict)  # reason -> hook ids
    # Hook id -> its deliveries waiting for a retry that were made due now: its receiver answers again.
    released: dict[int, int] = field(default_factory=dict)
    raised: int = 0  # operational events written (webhook.failing...): new deliveries to fan out

    def log(self) -> None:
        _log_attempts(self.sent)
        for hook_id, count in self.released.items():
            log.info(
                "receiver answers again: its deliveries waiting for a retry are due now",
                extra={"hook": hook_id, "deliveries": count},
            )
        for s in self.lost:
            log.info("attempt not recorded: its hook was deleted meanwhile", extra={"delivery": s.claimed.delivery_id})
        for s in self.stale:
            log.warning(
                "attempt recorded in history only: its lease ran out and another worker took it",
                extra={"delivery": s.claimed.delivery_id},
            )


def record(
    engine: Engine, batch: Batch, *, worker: str, disable_after: int | None, warn_after: int | None = None
) -> Recorded:
    """Attempts, delivery states and hook statuses of ``batch``, in one transaction."""
    result = Recorded()
    if not batch:
        return result
    now = utcnow()
    with engine.begin() as conn:
        released = list(batch.released)
        if batch.held:
            # Only while still ours (after its lease another worker may have taken it) and
            # while its hook is still disabled (enabled again meanwhile, it would wait for ever).
            conn.execute(
                update(DeliveryRow)
                .where(D.id.in_(batch.held), D.locked_by == worker, D.hook_id.in_(select(H.id).where(~H.enabled)))
                .values(next_attempt_at=None, locked_until=None, locked_by=None)
            )
            released = [*released, *batch.held]  # those of a hook enabled again go now
        if released:
            conn.execute(
                update(DeliveryRow)
                .where(D.id.in_(released), D.locked_by == worker)
                .values(locked_until=None, locked_by=None)
            )
        if batch.sent:
            # Only a delivery still pending and leased to this worker takes the attempt's
            # outcome: a late recording must not undo what another worker recorded since.
            found = _update_deliveries(conn, [_delivery_params(s, worker) for s in batch.sent])
            result.sent = [s for s in batch.sent if s.claimed.identity in found]
            others = [s for s in batch.sent if s.claimed.identity not in found]
            if others:
                # Gone with its hook (nothing to record it against), or another worker's now.
                still = _existing(conn, others)
                result.stale = [s for s in others if s.claimed.identity in still]
                result.lost = [s for s in others if s.claimed.identity not in still]
            if result.sent or result.stale:
                _insert_attempts(conn, result.sent + result.stale)
            if result.sent:
                _defer_later_of_retried(conn, result.sent)
                throttle.slow_down(
                    conn,
                    ((s.claimed.hook_id, s.response.status_code, s.response.retry_after, s.at) for s in result.sent),
                )
                result.disabled, recovered = _update_hooks(conn, result.sent, now, disable_after)
                disabled = {h for ids in result.disabled.values() for h in ids}
                result.released = _release_retries(conn, [h for h in recovered if h not in disabled], now)
                result.raised = _raise_operational(conn, result.sent, result.disabled, warn_after)
    return result


def _existing(conn: Connection, sent: list[Sent]) -> set[tuple[object, ...]]:
    ids = [s.claimed.delivery_id for s in sent]
    return {tuple(row) for row in conn.execute(select(D.id, D.event_id, D.hook_id).where(D.id.in_(ids)))}


_DEFER_LATER = (
    update(DeliveryRow)
    .where(
        D.hook_id == bindparam("b_hook"),
        D.record == bindparam("b_record"),
        D.status == PENDING,
        D.event_id > bindparam("b_event"),
        D.next_attempt_at < bindparam("b_next"),
    )
    .values(next_attempt_at=bindparam("b_next"))
)


def _defer_later_of_retried(conn: Connection, sent: list[Sent]) -> None:
    """A delivery that will be retried keeps the later ones of its record waiting until its retry.

    The claim would skip them anyway (``claim.waits_behind_earlier``); moving them out of
    the due range spares every claim until then from looking at them again, so a receiver
    that is down for hours does not make claims dearer.
    """
    params = [
        {
            "b_hook": s.claimed.hook_id,
            "b_record": s.claimed.record,
            "b_event": s.claimed.event_id,
            "b_next": s.outcome.next_attempt_at,
        }
        for s in sent
        if s.claimed.record is not None and s.outcome.next_attempt_at is not None
    ]
    if params:
        conn.execute(_DEFER_LATER, params)


def _update_hooks(
    conn: Connection, sent: list[Sent], now: dt.datetime, threshold: int | None
) -> tuple[dict[str, list[int]], list[int]]:
    """Last run, result and consecutive failed deliveries per hook; disable where due.

    Returns the hooks disabled (reason -> ids) and those whose receiver answers again after failing.
    """
    per_hook: dict[int, list[Sent]] = {}
    for s in sent:
        if not s.claimed.test:
            per_hook.setdefault(s.claimed.hook_id, []).append(s)
    gone: list[int] = []
    failing: list[int] = []  # only a failure can take a hook to the threshold
    recovered: list[int] = []
    # In id order: two workers recording batches that share hooks take their row locks in the
    # same order, where in the batches' order each could wait for the other (a deadlock on
    # PostgreSQL, which fails one batch's recording and sends it again after its lease).
    for hook_id, items in sorted(per_hook.items()):
        last = items[-1]
        values = {"last_run_at": last.at, "last_result": "succeeded" if last.response.ok else "failed"}
        successes = [i for i, s in enumerate(items) if s.outcome.status == "succeeded"]
        failed_after = sum(1 for s in items[(successes[-1] + 1 if successes else 0) :] if s.outcome.status == "failed")
        if successes:
            values["consecutive_failures"] = failed_after
        elif failed_after:
            values["consecutive_failures"] = H.consecutive_failures + failed_after
        if failed_after:
            failing.append(hook_id)
        if _write_hook(conn, hook_id, values, [s.response.ok for s in items]):
            recovered.append(hook_id)
        if any(s.outcome.gone for s in items):
            gone.append(hook_id)
    result: dict[str, list[int]] = {}
    if gone:
        result[GONE] = state.disable(conn, gone, GONE, now)
    if threshold and (failing := [h for h in failing if h not in gone]):
        ids = state.disable_failing(conn, failing, threshold, now)
        result[failures_reason(threshold)] = ids
    return {reason: ids for reason, ids in result.items() if ids}, recovered


def _write_hook(conn: Connection, hook_id: int, values: dict[str, object], answers: list[bool]) -> bool:
    """Write a hook's state after its attempts; True when they say its receiver is back after failing.

    Whether it was failing before is asked only when the answer depends on it, and by the
    write itself: a healthy hook's success costs the one statement it always did.  On
    PostgreSQL the condition is checked under the row's lock, against the latest committed
    state, so two workers recording the same recovery release its retries once.
    """
    write = update(HookRow).where(H.id == hook_id).values(**values)
    back = releases_retries(False, answers)  # a failure, then a 2xx, among these answers
    if back or not releases_retries(True, answers):
        conn.execute(write)
        return back
    if conn.execute(write.where(H.last_result.is_distinct_from("failed"))).rowcount:
        return False
    return bool(conn.execute(write).rowcount)  # none: the hook was deleted meanwhile


_NOW = bindparam("now")
# Only what failed because the receiver was down (see RECEIVER_DOWN) goes at once.
_RELEASE = (
    update(DeliveryRow)
    .where(
        D.id.in_(
            select(D.id)
            .where(
                D.hook_id.in_(bindparam("hooks", expanding=True)),
                D.status == PENDING,
                D.next_attempt_at > _NOW,  # not NULL: a disabled hook's deliveries stay held
                or_(D.locked_until.is_(None), D.locked_until <= _NOW),
                or_(D.last_status_code.is_(None), D.last_status_code.in_(RECEIVER_DOWN)),
            )
            # PostgreSQL: a row another transaction is recording or claiming is left to it, not waited for.
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
    )
    .values(next_attempt_at=_NOW)
    .returning(D.hook_id)
)


def _release_retries(conn: Connection, hook_ids: list[int], now: dt.datetime) -> dict[int, int]:
    """Make due now the deliveries of ``hook_ids`` waiting for a retry (or deferred behind one).

    Per-record order still holds: the claim takes a record's deliveries one after another.
    Returns how many per hook.
    """
    if not hook_ids:
        return {}
    released: dict[int, int] = {}
    for hook_id in conn.scalars(_RELEASE, {"hooks": hook_ids, "now": now}):
        released[hook_id] = released.get(hook_id, 0) + 1
    if released:
        notify_workers(conn)  # workers elsewhere: look now, not at their next poll
    return released


def _raise_operational(
    conn: Connection, sent: list[Sent], disabled: dict[str, list[int]], warn_after: int | None
) -> int:
    """webhook.failing, .disabled and .recovered for what the batch did to its hooks (test sends aside,
    as for the hooks' counts); in the batch's transaction, so they are written if and only if it is."""
    succeeded: dict[int, bool] = {}
    for s in sent:
        if not s.claimed.test:
            succeeded[s.claimed.hook_id] = succeeded.get(s.claimed.hook_id, False) or s.outcome.status == "succeeded"
    by_hook = {hook_id: reason for reason, ids in disabled.items() for hook_id in ids}
    return health.after_outcomes(conn, succeeded, by_hook, warn_after) if succeeded else 0


def _log_attempts(sent: list[Sent]) -> None:
    """One structured line per attempt, once it is recorded: a line means it is in history.

    Logged by whoever records, not by each sender: a batch is formatted by one
    thread instead of sixteen queueing for the handler's lock.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    for s in sent:
        c, response = s.claimed, s.response
        log.info(
            "attempt",
            extra={
                "delivery": c.delivery_id,
                "event": c.event_id,
                "hook": c.hook_id,
                "status": response.status_code,
                "outcome": s.outcome.status,
                "duration_ms": round(response.duration_ms, 1),
                "error": response.error,
            },
        )


_UPDATE_DELIVERY = (
    update(DeliveryRow)
    .where(
        D.id == bindparam("b_id"),
        D.event_id == bindparam("b_event"),
        D.hook_id == bindparam("b_hook"),
        D.status == PENDING,
        D.locked_by == bindparam("b_worker"),
    )
    .values(
        status=bindparam("b_status"),
        attempt_count=D.attempt_count + 1,
        next_attempt_at=bindparam("b_next"),
        finished_at=bindparam("b_finished"),
        last_status_code=bindparam("b_code"),
        last_error=bindparam("b_error"),
        locked_until=None,
        locked_by=None,
    )
)


# One statement for a whole batch: executemany would have PostgreSQL parse, plan and run
# an UPDATE per attempt (pipelined, but each its own statement); unnest() of one array
# per column joins them all in one.
_UPDATE_DELIVERIES_PG = text(
    """
    UPDATE webhook_deliveries AS d
    SET status = v.status, attempt_count = d.attempt_count + 1, next_attempt_at = v.next,
        finished_at = v.finished, last_status_code = v.code, last_error = v.error,
        locked_until = NULL, locked_by = NULL
    FROM unnest(CAST(:b_id AS integer[]), CAST(:b_event AS varchar[]), CAST(:b_hook AS integer[]),
                CAST(:b_status AS varchar[]), CAST(:b_next AS timestamp[]), CAST(:b_finished AS timestamp[]),
                CAST(:b_code AS integer[]), CAST(:b_error AS text[]))
         AS v(id, event, hook, status, next, finished, code, error)
    WHERE d.id = v.id AND d.event_id = v.event AND d.hook_id = v.hook
      AND d.status = 'pending' AND d.locked_by = :worker
    RETURNING d.id, d.event_id, d.hook_id
    """
)


def _insert_attempts(conn: Connection, sent: list[Sent]) -> None:
    if conn.dialect.name == "postgresql":
        # COPY: a batch of rows for less CPU, here and in PostgreSQL, than an INSERT per row.
        copy_sql = f"COPY webhook_attempts ({', '.join(_ATTEMPT_COLUMNS)}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for s in sent:
                copy.write_row(_attempt_values(s, json_headers=True))
    else:
        conn.execute(insert(AttemptRow), [dict(zip(_ATTEMPT_COLUMNS, _attempt_values(s), strict=True)) for s in sent])


def _update_deliveries(conn: Connection, params: list[dict[str, object]]) -> set[tuple[object, ...]]:
    """Each delivery's state after its attempt, where it is still pending and this worker's;
    returns those updated as ``(id, event id, hook id)``.

    A delivery is known by its event and hook as well as its id, a safety net from when
    SQLite gave a deleted row's id to the next one written.
    """
    worker = params[0]["b_worker"]
    if conn.dialect.name == "postgresql":  # the same parameters, an array of each
        arrays = {name: [p[name] for p in params] for name in params[0] if name != "b_worker"}
        return {tuple(row) for row in conn.execute(_UPDATE_DELIVERIES_PG, {**arrays, "worker": worker})}
    # SQLite runs in this process, its write lock already held: a look first costs no round trip.
    ids = {p["b_id"] for p in params}
    mine = select(D.id, D.event_id, D.hook_id).where(D.id.in_(ids), D.status == PENDING, D.locked_by == worker)
    found = {tuple(row) for row in conn.execute(mine)}
    conn.execute(_UPDATE_DELIVERY, params)
    return found


def _delivery_params(s: Sent, worker: str) -> dict[str, object]:
    done = s.outcome.status != "pending"
    return {
        "b_worker": worker,
        "b_id": s.claimed.delivery_id,
        "b_event": s.claimed.event_id,
        "b_hook": s.claimed.hook_id,
        "b_status": s.outcome.status,
        "b_next": s.outcome.next_attempt_at if not done else None,
        "b_finished": s.at if done else None,
        "b_code": s.response.status_code,
        "b_error": s.response.error,
    }


_ATTEMPT_COLUMNS = (
    "delivery_id",
    "attempted_at",
    "status_code",
    "error",
    "duration_ms",
    "request_headers",
    "response_body",
    "location",
    "response_headers",
    "request_body",
)


# PostgreSQL refuses a longer Location, and an attempt it cannot record would go out again
# and again: history keeps what the column holds (the error sentence keeps all of it).
_LOCATION_MAX: int = AttemptRow.__table__.c.location.type.length  # type: ignore[attr-defined]


def _attempt_values(s: Sent, *, json_headers: bool = False) -> tuple[object, ...]:
    """An attempt's row in history, in the order of ``_ATTEMPT_COLUMNS``; COPY wants the JSON as text."""
    headers = s.request.masked_headers(s.claimed.key)
    location = s.response.location
    return (
        s.claimed.delivery_id,
        s.at,
        s.response.status_code,
        s.response.error,
        s.response.duration_ms,
        json.dumps(headers) if json_headers else headers,
        s.response.body,
        location[:_LOCATION_MAX] if location else location,
        to_json(s.response.headers),
        _rendered(s),
    )


# Characters of a rendered body an attempt keeps: every attempt keeps its own, and a template
# may render far more, so a long body and many retries would weigh on history and its pages.
REQUEST_BODY_KEPT = 16 * 1024


def _rendered(s: Sent) -> str | None:
    """What a body template made, kept because the event's envelope is not what went.

    A NUL a template can write is kept as U+FFFD, as in a receiver's answer: PostgreSQL's
    text refuses it, and an attempt that cannot be recorded goes out again at every lease.
    A long body keeps its start, and a last line saying how much more went.
    """
    if s.claimed.body_template is None or s.request.body is None:
        return None
    body = s.request.body.decode("utf-8").replace("\x00", "\ufffd")
    if len(body) <= REQUEST_BODY_KEPT:
        return body
    return f"{body[:REQUEST_BODY_KEPT]}\n… ({len(body) - REQUEST_BODY_KEPT} more characters sent)"
