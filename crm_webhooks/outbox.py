"""The transactional outbox: events written in the CRM's own transaction.

A receiver on the host's signal bus serialises the event once and inserts it,
with one delivery row per matching hook, into the session of the change.  It
commits with the change or vanishes with its rollback; nothing is sent from
inside the transaction.  After a commit that wrote deliveries, ``on_commit``
wakes whoever delivers.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event, select
from sqlalchemy.orm import Session

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_stub.signals import EVENT_CODES, bus

from .domain import envelope
from .models import HookRow

_PENDING = "crm_webhooks.wrote_deliveries"
CHANNEL = "crm_webhooks"  # PostgreSQL LISTEN/NOTIFY channel of committed deliveries


class _Driver:
    """The outbox's three statements, run on the DBAPI connection of the change.

    They run inside every CRM write, where SQLAlchemy's per-statement cost
    (about 70 us here, against 5 us for the driver) would be most of the
    addon's price; so they are written once per dialect, with the two value
    conversions SQLAlchemy would otherwise do for us.
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        mark = "?" if self.sqlite else "%s"
        self.version_sql = "SELECT hooks_version FROM webhook_meta WHERE id = 1"
        self.event_sql = (
            "INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at) "
            f"VALUES ({', '.join([mark] * 7)})"
        )
        self._mark = mark
        self._delivery_sql: dict[int, str] = {}

    def delivery_sql(self, rows: int) -> str:
        """One multi-row INSERT: a single round trip (psycopg's executemany costs a pipeline sync)."""
        sql = self._delivery_sql.get(rows)
        if sql is None:
            m = self._mark
            values = ", ".join([f"({m}, {m}, 'pending', 0, {m}, {m})"] * rows)
            columns = "event_id, hook_id, status, attempt_count, next_attempt_at, created_at"
            sql = f"INSERT INTO webhook_deliveries ({columns}) VALUES {values}"
            if not self.sqlite:
                # Wake listening workers in the same round trip; PostgreSQL delivers a
                # NOTIFY only when the transaction commits, so never for a rollback.
                sql = f"WITH inserted AS ({sql} RETURNING 1) SELECT pg_notify('{CHANNEL}', '')"
            self._delivery_sql[rows] = sql
        return sql

    def stamp(self, moment: dt.datetime) -> object:
        # SQLAlchemy's SQLite DateTime format, so that string comparisons order correctly.
        return moment.strftime("%Y-%m-%d %H:%M:%S.%f") if self.sqlite else moment

    def flag(self, value: bool) -> object:
        return int(value) if self.sqlite else value


@contextmanager
def _cursor(session: Session) -> Iterator[Any]:
    """A driver cursor inside the session's own transaction."""
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


class HookIndex:
    """Enabled hook ids by event code, reloaded only when ``hooks_version`` moves.

    Reading the version costs one primary-key lookup inside the change's own
    transaction, which also sees hooks that another process just committed.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._by_event: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def matching(self, session: Session, code: str, driver: _Driver) -> tuple[int, ...]:
        with _cursor(session) as cursor:
            cursor.execute(driver.version_sql)
            row = cursor.fetchone()
        version = None if row is None else row[0]
        if version != self._version:
            rows = session.execute(select(HookRow.event, HookRow.id).where(HookRow.enabled).order_by(HookRow.id)).all()
            by_event: dict[str, list[int]] = {}
            for code_, hook_id in rows:
                by_event.setdefault(code_, []).append(hook_id)
            with self._lock:
                self._by_event = {k: tuple(v) for k, v in by_event.items()}
                self._version = version
        return self._by_event.get(code, ())


def write_event(
    session: Session,
    code: str,
    obj: dict[str, Any],
    changes: dict[str, Any] | None,
    hook_ids: tuple[int, ...] | list[int],
    *,
    test: bool = False,
    driver: _Driver | None = None,
) -> str:
    """Insert the event and a pending delivery per hook into ``session``; returns the event id."""
    driver = driver or _Driver(session.get_bind().dialect.name)
    now = utcnow()
    event_id = envelope.new_event_id()
    env = envelope.build(event_id, code, now, obj, changes)
    object_id = None if obj.get("id") is None else str(obj["id"])
    stamp = driver.stamp(now)
    with _cursor(session) as cursor:
        cursor.execute(
            driver.event_sql,
            (event_id, code, object_id, env["timestamp"], envelope.encode(env), driver.flag(test), stamp),
        )
        if hook_ids:
            params = [value for hook_id in hook_ids for value in (event_id, hook_id, stamp, stamp)]
            cursor.execute(driver.delivery_sql(len(hook_ids)), params)
    if hook_ids:
        session.info[_PENDING] = True
    return event_id


class Outbox:
    """Connects the bus of one CRM to the outbox tables."""

    def __init__(self, crm: CRM, on_commit: Callable[[], None]) -> None:
        self._crm = crm
        self._on_commit = on_commit
        self.index = HookIndex()
        self._driver = _Driver(crm.engine.dialect.name)
        self._receivers = []
        for code in EVENT_CODES:
            receiver = self._receiver(code)
            bus.signal(code).connect(receiver, sender=crm, weak=False)
            self._receivers.append((code, receiver))
        event.listen(crm.session_factory, "after_commit", self._after_commit)
        event.listen(crm.session_factory, "after_rollback", self._after_rollback)

    def _receiver(self, code: str) -> Callable[..., None]:
        def receive(sender: CRM, *, session: Session, obj: Any, changes: dict[str, Any], actor_id: int | None) -> None:
            hook_ids = self.index.matching(session, code, self._driver)
            if hook_ids:
                write_event(session, code, obj.to_dict(), changes, hook_ids, driver=self._driver)

        return receive

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING, False):
            self._on_commit()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def close(self) -> None:
        for code, receiver in self._receivers:
            bus.signal(code).disconnect(receiver, sender=self._crm)
        self._receivers.clear()
        event.remove(self._crm.session_factory, "after_commit", self._after_commit)
        event.remove(self._crm.session_factory, "after_rollback", self._after_rollback)
