"""The last 24 hours of hooks, per clock hour: what the charts draw.

Three queries, each written once for SQLite and PostgreSQL:

- one hook's deliveries per hour and outcome;
- the same for many hooks at once (the list's sparklines: one query, not one per hook);
- one hook's attempt durations per hour, p50 and p95.

All three walk ``ix_webhook_deliveries_hook_created`` (hook, created_at, status)
over the window only, so their cost follows the last day's traffic, not the
history kept.  An hour is the hour of the delivery's ``created_at`` (its event's
commit), and the durations are those of that hour's deliveries' attempts.

The percentiles are computed in SQL, by nearest rank with window functions
(``row_number`` and ``count`` over the hour), which both databases have since
long (SQLite 3.25): only 24 rows come back however many attempts there were,
where a Python percentile would fetch every duration of a busy day.
``percentile_cont`` is PostgreSQL only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_stub.services.base import check_id

from .domain.charts import HourStat, by_hook, day_of, window
from .hooks import HookService
from .models import AttemptRow, DeliveryRow


class epoch_hour(FunctionElement[int]):  # lower case: it reads as the SQL function it stands for
    """Whole hours since 1970 of a naive UTC timestamp (``domain.charts.epoch_hour`` in SQL)."""

    type = Integer()
    inherit_cache = True


@compiles(epoch_hour, "sqlite")
def _epoch_hour_sqlite(element: epoch_hour, compiler: Any, **kw: Any) -> str:
    # Whole seconds only: SQLite rounds a time to the millisecond first, which moves
    # 13:59:59.9999 into the next hour (the models store "YYYY-MM-DD HH:MM:SS.ffffff").
    column = compiler.process(element.clauses, **kw)
    return f"(CAST(strftime('%s', substr({column}, 1, 19)) AS INTEGER) / 3600)"


@compiles(epoch_hour, "postgresql")
def _epoch_hour_postgresql(element: epoch_hour, compiler: Any, **kw: Any) -> str:
    # date_part is double precision; extract() is numeric since PostgreSQL 14, slower to divide.
    return f"CAST(floor(date_part('epoch', {compiler.process(element.clauses, **kw)}) / 3600) AS INTEGER)"


def _in_window(hook: ColumnElement[bool], start: dt.datetime, end: dt.datetime) -> list[ColumnElement[bool]]:
    d = DeliveryRow.__table__.c
    return [hook, d.created_at >= start, d.created_at < end]


def _nearest_rank(percent: int, n: Any) -> Any:
    """``ceil(percent% of n)`` in integer arithmetic (SQLite has no ``ceil`` unless built with it)."""
    return (n * percent + 99) // 100


class StatsService:
    def __init__(self, crm: CRM, hooks: HookService) -> None:
        self._crm = crm
        self._hooks = hooks

    def day(self, hook_id: int, *, now: dt.datetime | None = None) -> tuple[HourStat, ...]:
        """The hook's last 24 clock hours: deliveries by outcome, and p50/p95 attempt durations."""
        self._hooks.get(hook_id)  # an unknown hook is an error, not an empty day
        start, end = window(now or utcnow())
        with self._crm._read() as session:
            counts = session.execute(self._counts([hook_id], start, end))
            durations = session.execute(self._durations(hook_id, start, end))
            return day_of(start, ((hour, outcome, n) for _, hour, outcome, n in counts), durations)

    def days(self, hook_ids: Sequence[int], *, now: dt.datetime | None = None) -> Mapping[int, tuple[HourStat, ...]]:
        """Each hook's last 24 hours of deliveries by outcome, for many hooks in one query (no durations)."""
        start, end = window(now or utcnow())
        ids = sorted({check_id("hook", hook_id) for hook_id in hook_ids})  # an id no database holds is NotFound
        if not ids:
            return {}
        with self._crm._read() as session:
            return by_hook(start, session.execute(self._counts(ids, start, end)), ids)

    @staticmethod
    def _counts(hook_ids: Sequence[int], start: dt.datetime, end: dt.datetime) -> Any:
        d = DeliveryRow.__table__.c
        hour = epoch_hour(d.created_at)
        return (
            select(d.hook_id, hour, d.status, func.count())
            .where(*_in_window(d.hook_id.in_(hook_ids), start, end))
            .group_by(d.hook_id, hour, d.status)
        )

    @staticmethod
    def _durations(hook_id: int, start: dt.datetime, end: dt.datetime) -> Any:
        d = DeliveryRow.__table__.c
        a = AttemptRow.__table__.c
        # The hour worked out once per attempt, not again in each window's partition.
        timed = (
            select(epoch_hour(d.created_at).label("hour"), a.duration_ms.label("ms"))
            .select_from(DeliveryRow.__table__.join(AttemptRow.__table__, a.delivery_id == d.id))
            .where(*_in_window(d.hook_id == hook_id, start, end))
            .subquery()
        )
        t = timed.c
        ranked = select(
            t.hour,
            t.ms,
            func.row_number().over(partition_by=t.hour, order_by=t.ms).label("rank"),
            # The same window as the rank's, framed to the whole hour: one sort, not two.
            func.count().over(partition_by=t.hour, order_by=t.ms, rows=(None, None)).label("n"),
        ).subquery()
        r = ranked.c
        at = lambda percent: func.max(case((r.rank == _nearest_rank(percent, r.n), r.ms)))  # noqa: E731
        return select(r.hour, at(50), at(95)).group_by(r.hour)
