"""The transactional outbox: events written in the CRM's own transaction.

A receiver on the host's signal bus serialises the event once and inserts it,
with the ids of the hooks it matches, into the session of the change.  It
commits with the change or vanishes with its rollback; nothing is sent from
inside the transaction.  After a commit that wrote events, ``on_commit`` wakes
whoever delivers, and the first claim writes their delivery rows
(engine/fanout.py).

The addon's operational events (``webhook.failing``...) go through the same
statement, in the transaction of the change to the hook that causes them, with
that hook left out of the hooks it matches.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any

from sqlalchemy import Connection, event, func, insert, or_, select
from sqlalchemy.orm import Session

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_stub.signals import EVENT_CODES, bus

from .domain import envelope
from .domain.hooks import HOLDS_EVENTS_LIKE
from .engine.observe import NOBODY, Observer
from .models import EventRow, HookEventRow, HookRow

_PENDING = "crm_webhooks.wrote_events"  # how many events the session's transaction wrote
CHANNEL = "crm_webhooks"  # PostgreSQL LISTEN/NOTIFY channel of committed events


def notify_workers(conn: Connection | Session) -> None:
    """Tell workers listening on PostgreSQL that deliveries became due, when this transaction
    commits (never for a rollback); SQLite has no one to tell: its workers poll."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(select(func.pg_notify(CHANNEL, "")))


NO_HOOK = 0  # what a CRM event is about instead of a hook: ids start at 1, so it leaves none out


# Which hooks an event is written for: the enabled ones, and those disabled for their failures,
# whose deliveries are held until they are enabled (domain/hooks.py, HOLDS_EVENTS_LIKE).
_TAKES_EVENTS = f"(h.enabled OR h.disabled_reason LIKE '{HOLDS_EVENTS_LIKE}')"


class _Driver:
    """The outbox's two statements, run on the DBAPI connection of the change.

    They run inside every CRM write, where SQLAlchemy's per-statement cost
    (about 70 us here, against 5 us for the driver) would be most of the
    addon's price; so they are written once per dialect, with the value
    conversion SQLAlchemy would otherwise do for us.
    """

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self.version_sql = "SELECT hooks_version FROM webhook_meta WHERE id = 1"
        # One statement per event, and only the event row: the database picks the
        # enabled hooks itself (a stale cache costs a wasted statement, never a wrong
        # delivery), and their delivery rows are written later, in batches
        # (engine/fanout.py), instead of a row and three index pages per hook here.
        columns = "id, type, object_id, timestamp, body, record, test, created_at, fanout"
        if self.sqlite:
            enabled = (
                "SELECT c.hook_id AS id FROM webhook_hook_events c JOIN webhook_hooks h ON h.id = c.hook_id"
                f" WHERE c.code = ? AND {_TAKES_EVENTS} AND c.hook_id <> ? ORDER BY c.hook_id"
            )
            self.event_sql = (
                f"INSERT INTO webhook_events ({columns}) SELECT ?, ?, ?, ?, ?, ?, 0, ?, h.ids "
                f"FROM (SELECT group_concat(id) AS ids FROM ({enabled})) h WHERE h.ids IS NOT NULL"
            )
        else:
            ids = "string_agg(c.hook_id::text, ',' ORDER BY c.hook_id) AS ids"
            takers = (
                "webhook_hook_events c JOIN webhook_hooks h ON h.id = c.hook_id"
                f" WHERE c.code = %s AND {_TAKES_EVENTS.replace('%', '%%')} AND c.hook_id <> %s"
            )
            insert = (
                f"INSERT INTO webhook_events ({columns}) SELECT %s, %s, %s, %s, %s, %s, false, %s, t.ids "
                f"FROM (SELECT {ids} FROM {takers}) t WHERE t.ids IS NOT NULL"
            )
            # Wake listening workers in the same round trip; PostgreSQL delivers a
            # NOTIFY only when the transaction commits, so never for a rollback.
            self.event_sql = f"WITH e AS ({insert} RETURNING 1) SELECT pg_notify('{CHANNEL}', '') FROM e"

    def stamp(self, moment: dt.datetime) -> object:
        # SQLAlchemy's SQLite DateTime format, so that string comparisons order correctly.
        return moment.isoformat(" ", "microseconds") if self.sqlite else moment

    def write(
        self,
        conn: Connection | Session,
        code: str,
        obj: dict[str, Any],
        changes: dict[str, Any] | None,
        actor_id: int | None,
        about: int = NO_HOOK,
    ) -> bool:
        """Insert an event for the enabled hooks that take ``code``, but hook ``about``; False when none does."""
        now = utcnow()
        new = envelope.new_event(code, obj, changes, now, actor_id)
        params = (new.id, code, new.object_id, new.timestamp, new.body, new.record, self.stamp(now), code, about)
        with _cursor(conn) as cursor:
            cursor.execute(self.event_sql, params)
            return bool(cursor.rowcount)


@cache
def driver(dialect: str) -> _Driver:
    return _Driver(dialect)


def _connection(conn: Connection | Session) -> Connection:
    return conn.connection() if isinstance(conn, Session) else conn


@contextmanager
def _cursor(conn: Connection | Session) -> Iterator[Any]:
    """A driver cursor inside the transaction of ``conn``."""
    cursor = _connection(conn).connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        yield cursor
    finally:
        cursor.close()


def raise_operational(conn: Connection | Session, code: str, hook_object: dict[str, Any]) -> bool:
    """An operational event about the hook ``hook_object`` describes, for every other hook that takes it.

    Written in ``conn``'s transaction, the one changing that hook: it commits or rolls
    back with the change.  False when no hook takes it (nothing is written).
    """
    dialect = _connection(conn).dialect.name
    wrote = driver(dialect).write(conn, code, hook_object, None, None, about=hook_object["id"])
    if wrote and isinstance(conn, Session):
        _count_written(conn)  # whoever delivers is woken once it commits, as for the CRM's events
    return wrote


def _count_written(session: Session) -> None:
    session.info[_PENDING] = session.info.get(_PENDING, 0) + 1


class HookIndex:
    """The event codes that have enabled hooks, reloaded only when ``hooks_version`` moves.

    It only spares events nobody listens to their serialisation and insert: the
    insert itself picks the hooks.  While it says a code has hooks there is no
    query at all; otherwise one primary-key lookup inside the change's own
    transaction, which also sees hooks another process just committed, tells
    whether it is still right.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._codes: frozenset[str] = frozenset()
        self._lock = threading.Lock()

    def may_match(self, session: Session, code: str, driver: _Driver) -> bool:
        if code in self._codes:
            return True
        with _cursor(session) as cursor:
            cursor.execute(driver.version_sql)
            row = cursor.fetchone()
        version = None if row is None else row[0]
        if version != self._version:
            takes = or_(HookRow.enabled, HookRow.disabled_reason.like(HOLDS_EVENTS_LIKE))
            taken = select(HookEventRow.code).join(HookRow, HookRow.id == HookEventRow.hook_id).where(takes)
            codes = frozenset(session.scalars(taken.distinct()))
            with self._lock:
                self._codes, self._version = codes, version
        return code in self._codes

    def forget(self) -> None:
        """The insert found no enabled hook where this index expected one: check again next time."""
        with self._lock:
            self._codes, self._version = frozenset(), None


def write_event(
    session: Session, code: str, obj: dict[str, Any], changes: dict[str, Any] | None, *, test: bool = False
) -> str:
    """Insert an event for no hook in particular (a test send adds its own delivery); returns its id."""
    now = utcnow()
    new = envelope.new_event(code, obj, changes, now, test=test)
    session.execute(
        insert(EventRow).values(
            id=new.id,
            type=code,
            object_id=new.object_id,
            timestamp=new.timestamp,
            body=new.body,
            test=test,
            created_at=now,
        )
    )
    return new.id


class Outbox:
    """Connects the bus of one CRM to the outbox tables."""

    def __init__(self, crm: CRM, on_commit: Callable[[], None], observer: Observer = NOBODY) -> None:
        self._crm = crm
        self._on_commit = on_commit
        self._observer = observer
        self.index = HookIndex()
        self._driver = driver(crm.engine.dialect.name)
        self._receivers = []
        for code in EVENT_CODES:
            receiver = self._receiver(code)
            bus.signal(code).connect(receiver, sender=crm, weak=False)
            self._receivers.append((code, receiver))
        event.listen(crm.session_factory, "after_commit", self._after_commit)
        event.listen(crm.session_factory, "after_rollback", self._after_rollback)

    def _receiver(self, code: str) -> Callable[..., None]:
        driver = self._driver
        index = self.index

        def receive(sender: CRM, *, session: Session, obj: Any, changes: dict[str, Any], actor_id: int | None) -> None:
            if not index.may_match(session, code, driver):
                return
            if driver.write(session, code, obj.to_dict(), changes, actor_id):
                _count_written(session)
            else:
                index.forget()

        return receive

    def _after_commit(self, session: Session) -> None:
        wrote = session.info.pop(_PENDING, 0)
        if wrote:
            self._on_commit()
            self._observer.events_written(wrote)

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def close(self) -> None:
        for code, receiver in self._receivers:
            bus.signal(code).disconnect(receiver, sender=self._crm)
        self._receivers.clear()
        event.remove(self._crm.session_factory, "after_commit", self._after_commit)
        event.remove(self._crm.session_factory, "after_rollback", self._after_rollback)
