"""Rebuilding a table on SQLite without giving its ids out again.

SQLite cannot alter most of a table in place, so Alembic's batch mode builds
a new one, copies the rows and drops the old.  The new table's AUTOINCREMENT
counter then starts from the highest id copied, forgetting ids deleted above
it: this puts the old counter back.  Other databases alter in place.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from alembic import op

_SEQUENCE = sa.table("sqlite_sequence", sa.column("name", sa.Text), sa.column("seq", sa.Integer))


def _counter(conn: sa.Connection, table: str) -> int | None:
    if not sa.inspect(conn).has_table("sqlite_sequence"):  # made with the first AUTOINCREMENT table
        return None
    return conn.scalar(sa.select(_SEQUENCE.c.seq).where(_SEQUENCE.c.name == table))


@contextmanager
def rebuilt(table: str, *, autoincrement: bool = True) -> Iterator[Any]:
    """``op.batch_alter_table`` that always rebuilds on SQLite, with AUTOINCREMENT (or without) and the old counter."""
    conn = op.get_bind()
    sqlite = conn.dialect.name == "sqlite"
    before = _counter(conn, table) if sqlite else None
    with op.batch_alter_table(
        table, recreate="always" if sqlite else "auto", table_kwargs={"sqlite_autoincrement": autoincrement}
    ) as batch:
        yield batch
    if before is None or not autoincrement:
        return
    after = _counter(conn, table)
    if after is None:
        conn.execute(sa.insert(_SEQUENCE).values(name=table, seq=before))
    elif after < before:
        conn.execute(sa.update(_SEQUENCE).where(_SEQUENCE.c.name == table).values(seq=before))
