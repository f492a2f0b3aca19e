"""Engines for the two databases the CRM supports first-class: SQLite and PostgreSQL.

SQLite is shared by a web server, a CLI and a worker, so it runs in WAL mode
(readers never wait for the writer) with a busy timeout, and a writing
transaction starts with ``BEGIN IMMEDIATE``: it takes the write lock up front,
waiting politely, instead of failing with "database is locked" when a read
turns into a write halfway through.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import StaticPool

BUSY_TIMEOUT_MS = 30_000

_sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


@contextmanager
def read_only() -> Iterator[None]:
    """Start SQLite transactions opened inside this block as plain (deferred) reads."""
    token = _sqlite_begin.set("BEGIN")
    try:
        yield
    finally:
        _sqlite_begin.reset(token)


def normalize_url(url: str) -> str:
    """Pick psycopg 3 for a bare ``postgresql://`` URL (SQLAlchemy would pick psycopg2)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, **kwargs: object) -> Engine:
    url = normalize_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)

    memory = parsed.database in (None, "", ":memory:")
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_MS / 1000},
        # An in-memory database lives as long as its one connection.
        **({"poolclass": StaticPool} if memory else {}),
        **kwargs,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record) -> None:  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the sqlite3 module, decide when transactions begin,
        # so that BEGIN IMMEDIATE and SAVEPOINT work.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:  # type: ignore[no-untyped-def]
        conn.exec_driver_sql(_sqlite_begin.get())

    return engine
