"""The delivery loop: claim what is due, send it, record what happened.

Database work is batched: one statement claims a batch, one transaction
records all its attempts, so the time per delivery is mostly the HTTP call.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, bindparam, insert, select, text, update

from crm_stub.db import read_only
from crm_stub.models import utcnow

from .. import state
from ..domain.options import Options
from ..models import AttemptRow, DeliveryRow, HookRow
from . import fanout
from .claim import Claimed, claim_due, load_claimed, renew
from .request import Outcome, Request, build_request, decide
from .transport import Response, Transport

if TYPE_CHECKING:  # aiohttp is imported by workers only
    from .transport_async import AsyncTransport


log = logging.getLogger("crm_webhooks.delivery")

D, H = DeliveryRow.__table__.c, HookRow.__table__.c


@dataclass(frozen=True)
class Sent:
    claimed: Claimed
    request: Request
    response: Response
    at: dt.datetime
    outcome: Outcome


class Deliverer:
    """Sends due deliveries of one database over one pooled transport."""

    def __init__(
        self,
        engine: Engine,
        options: Options,
        transport: Transport,
        on_disabled: Callable[[list[int], str], None] = lambda ids, reason: None,
        *,
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.options = options
        self.transport = transport
        self.on_disabled = on_disabled
        self.batch_size = batch_size
        # Set by a worker that is shutting down: finish the attempt in flight, send no more.
        self.stopping = threading.Event()
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        # Long enough for one attempt (at most the timeout) twice over and its
        # bookkeeping, short enough that a dead worker's deliveries go out again soon;
        # renewed before each attempt of a long batch.
        self.lease = dt.timedelta(seconds=options.timeout * 2 + 5)
        # The last fan-out stopped at its batch size: more events wait for theirs.
        self.fanout_behind = False

    def run_pending(self, timeout: float = 10.0) -> int:
        """Deliver everything due now, until nothing is due or ``timeout`` passes; returns attempts made."""
        deadline = time.monotonic() + timeout
        made = 0
        while time.monotonic() < deadline:
            sent = self.deliver_batch()
            if sent == 0:
                break
            made += sent
        return made

    def claim(
        self, limit: int | None = None, skip_hooks: Collection[int] = (), *, fan_out_first: bool = True
    ) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries to this worker (none of ``skip_hooks``).

        ``fan_out_first``: write the delivery rows of newly committed events first; a
        worker that knows nothing was committed since its last claim skips that query.
        """
        now = utcnow()
        with self.engine.begin() as conn:
            if fan_out_first:
                self.fanout_behind = fanout.fan_out(conn) == fanout.BATCH
            return claim_due(
                conn,
                now=now,
                limit=limit or self.batch_size,
                lease_until=now + self.lease,
                worker=self.worker,
                skip_hooks=skip_hooks,
            )

    def deliver_batch(self, limit: int | None = None) -> int:
        return self.send_claimed(self.claim(limit))

    def send_leased(self, delivery_ids: list[int]) -> int:
        """Send deliveries this worker leased itself (a redelivery, a test send)."""
        # A plain read: no need for SQLite's write lock to load what we already hold.
        with read_only(), self.engine.connect() as conn:
            claimed = load_claimed(conn, delivery_ids, utcnow())
        return self.send_claimed(claimed)

    def send_claimed(self, claimed: list[Claimed]) -> int:
        if not claimed:
            return 0
        sent: list[Sent] = []
        held: list[int] = []
        released: list[int] = []
        lease_ends = time.monotonic() + self.lease.total_seconds()
        try:
            for n, c in enumerate(claimed):
                if self.stopping.is_set():
                    released = [x.delivery_id for x in claimed[n:]]  # others may take them at once
                    break
                if c.held:
                    held.append(c.delivery_id)
                    continue
                if lease_ends - time.monotonic() < self.options.timeout * 2 + 1:
                    lease_ends = self.renew([x.delivery_id for x in claimed[n:]])
                sent.append(self.send(c))
        finally:
            # Whatever was sent is recorded, even if the loop was cut short.
            self.record(sent, held, released)
        return len(sent)

    def send(self, c: Claimed) -> Sent:
        """One attempt, and what its answer means; records nothing."""
        request = build_request(c, int(time.time()))
        return self._answered(
            c, request, self.transport.send(request.method, request.url, request.headers, request.body)
        )

    async def send_async(self, c: Claimed, transport: AsyncTransport) -> Sent:
        """``send`` on the worker's event loop, through its ``AsyncTransport``."""
        request = build_request(c, int(time.time()))
        return self._answered(
            c, request, await transport.send(request.method, request.url, request.headers, request.body)
        )

    def _answered(self, c: Claimed, request: Request, response: Response) -> Sent:
        at = utcnow()
        outcome = decide(
            response,
            c.attempt_count + 1,
            at,
            self.options.retry_delays,
            jitter=self.options.retry_jitter,
            retry=not c.test,
        )
        return Sent(c, request, response, at, outcome)

    def renew(self, ids: list[int]) -> float:
        """Extend this worker's lease on ``ids``; returns when the new lease ends (monotonic)."""
        now = utcnow()
        with self.engine.begin() as conn:
            renew(conn, ids, lease_until=now + self.lease, worker=self.worker)
        return time.monotonic() + self.lease.total_seconds()

    def record(
        self,
        sent: list[Sent],
        held: Sequence[int] = (),
        released: Sequence[int] = (),
    ) -> None:
        """Attempts, delivery states and hook statuses of a batch, in one transaction.

        ``held``: their hook was disabled (they wait for it); ``released``: claimed
        but not sent (due again at once, for anyone).
        """
        if not sent and not held and not released:
            return
        now = utcnow()
        disabled: dict[str, list[int]] = {}
        lost: list[Sent] = []
        with self.engine.begin() as conn:
            if released:
                conn.execute(
                    update(DeliveryRow)
                    .where(D.id.in_(released), D.locked_by == self.worker)
                    .values(locked_until=None, locked_by=None)
                )
            if held:  # only while still ours: after its lease another worker may have taken it
                conn.execute(
                    update(DeliveryRow)
                    .where(D.id.in_(held), D.locked_by == self.worker)
                    .values(next_attempt_at=None, locked_until=None, locked_by=None)
                )
            if sent:
                # A delivery the update does not find went with its hook, deleted while the
                # attempt was out: there is nothing left to record it against.
                found = _update_deliveries(conn, [_delivery_params(s) for s in sent])
                lost = [s for s in sent if s.claimed.identity not in found]
                sent = [s for s in sent if s.claimed.identity in found]
                if sent:
                    _insert_attempts(conn, sent)
                    disabled = self._update_hooks(conn, sent, now)
        _log_attempts(sent)
        for s in lost:
            log.info("attempt delivery=%s not recorded: its hook was deleted meanwhile", s.claimed.delivery_id)
        for reason, ids in disabled.items():
            self.on_disabled(ids, reason)

    def _update_hooks(self, conn, sent: list[Sent], now: dt.datetime) -> dict[str, list[int]]:  # type: ignore[no-untyped-def]
        """Last run, result and consecutive failed deliveries per hook; disable where due."""
        per_hook: dict[int, list[Sent]] = {}
        for s in sent:
            if not s.claimed.test:
                per_hook.setdefault(s.claimed.hook_id, []).append(s)
        gone: list[int] = []
        failing: list[int] = []  # only a failure can take a hook to the threshold
        for hook_id, items in per_hook.items():
            last = items[-1]
            values = {"last_run_at": last.at, "last_result": "succeeded" if last.response.ok else "failed"}
            successes = [i for i, s in enumerate(items) if s.outcome.status == "succeeded"]
            failed_after = sum(
                1 for s in items[(successes[-1] + 1 if successes else 0) :] if s.outcome.status == "failed"
            )
            if successes:
                values["consecutive_failures"] = failed_after
            elif failed_after:
                values["consecutive_failures"] = H.consecutive_failures + failed_after
            if failed_after:
                failing.append(hook_id)
            conn.execute(update(HookRow).where(H.id == hook_id).values(**values))
            if any(s.outcome.gone for s in items):
                gone.append(hook_id)
        result: dict[str, list[int]] = {}
        if gone:
            result[state.GONE_REASON] = state.disable(conn, gone, state.GONE_REASON, now)
        threshold = self.options.disable_after_failures
        if threshold and (failing := [h for h in failing if h not in gone]):
            ids = state.disable_failing(conn, failing, threshold, now)
            result[state.failing_reason(threshold)] = ids
        return {reason: ids for reason, ids in result.items() if ids}


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
            "attempt delivery=%s event=%s hook=%s status=%s outcome=%s duration_ms=%.1f error=%s",
            c.delivery_id,
            c.event_id,
            c.hook_id,
            response.status_code,
            s.outcome.status,
            response.duration_ms,
            response.error,
            extra={
                "delivery_id": c.delivery_id,
                "event_id": c.event_id,
                "hook_id": c.hook_id,
                "status_code": response.status_code,
                "duration_ms": response.duration_ms,
                "outcome": s.outcome.status,
                "error": response.error,
            },
        )


_UPDATE_DELIVERY = (
    update(DeliveryRow)
    .where(D.id == bindparam("b_id"), D.event_id == bindparam("b_event"), D.hook_id == bindparam("b_hook"))
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
    """Each delivery's state after its attempt; returns those found (and now locked) as
    ``(id, event id, hook id)``.

    A delivery is known by its event and hook as well as its id: SQLite gives the id of
    a deleted row (its hook deleted while the attempt was out) to the next one written.
    """
    if conn.dialect.name == "postgresql":  # the same parameters, an array of each
        arrays = {name: [p[name] for p in params] for name in params[0]}
        return {tuple(row) for row in conn.execute(_UPDATE_DELIVERIES_PG, arrays)}
    # SQLite runs in this process, its write lock already held: a look first costs no round trip.
    ids = {p["b_id"] for p in params}
    found = {tuple(row) for row in conn.execute(select(D.id, D.event_id, D.hook_id).where(D.id.in_(ids)))}
    conn.execute(_UPDATE_DELIVERY, params)
    return found


def _delivery_params(s: Sent) -> dict[str, object]:
    done = s.outcome.status != "pending"
    return {
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
    )
