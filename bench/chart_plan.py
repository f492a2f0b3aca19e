"""The chart queries' plans and cost with a million deliveries (SQLite and PostgreSQL).

    python bench/chart_plan.py [--database-url postgresql+psycopg://.../db] [--rows 1000000]
                               [--without-index]

Fills a fresh database with ``--rows`` deliveries spread over 30 days, each with
one attempt, across 10 hooks (half of them to hook 1, the busy one; one in 20
failed), by SQL, then prints the plan of each query of ``crm_webhooks/stats.py``
and its time (median of 20 runs): hook 1's day, hook 1's durations, and the
list's sparklines for all 10 hooks.  ``--without-index`` drops
ix_webhook_deliveries_hook_created first, to see what it saves.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_webhooks.domain.charts import window
from crm_webhooks.testing import isolated_database

# One row a number, newest first, one every 30 days / rows; hook 1 every other row.
NUMBERS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :rows)"
HOOK = "CASE WHEN i % 2 = 0 THEN 1 ELSE 2 + i % 9 END"
STATUS = "CASE WHEN i % 20 = 0 THEN 'failed' WHEN i < 50 THEN 'pending' ELSE 'succeeded' END"
FILL = {
    "sqlite": f"""{NUMBERS}
        INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, created_at)
        SELECT 'evt_' || i, {HOOK}, {STATUS}, 1,
               strftime('%Y-%m-%d %H:%M:%f', :now, '-' || (i * 2592.0 / (:rows / 1000)) || ' seconds')
        FROM n""",
    "postgresql": f"""{NUMBERS}
        INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, created_at)
        SELECT 'evt_' || i, {HOOK}, {STATUS}, 1,
               CAST(:now AS timestamp) - make_interval(secs => i * 2592.0 / (:rows / 1000))
        FROM n""",
}
ATTEMPTS = """
    INSERT INTO webhook_attempts (delivery_id, attempted_at, status_code, duration_ms, request_headers)
    SELECT id, created_at, CASE WHEN status = 'failed' THEN 500 ELSE 200 END, ((id % 997) * 7) % 900 + 20, '{}'
    FROM webhook_deliveries
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--without-index", action="store_true")
    args = parser.parse_args()
    if args.database_url:
        with isolated_database(args.database_url) as url:
            measure(url, args.rows, args.without_index)
    else:
        with tempfile.TemporaryDirectory() as folder:
            measure(f"sqlite:///{os.path.join(folder, 'crm.db')}", args.rows, args.without_index)


def measure(url: str, rows: int, without_index: bool) -> None:
    with CRM(url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="none", allow_private_networks=True)
        hooks = [
            wh.create_hook(name=f"h{i}", event="lead.updated", url=f"http://127.0.0.1:9/{i}").id for i in range(10)
        ]
        assert hooks[0] == 1
        dialect = crm.engine.dialect.name
        now = utcnow()
        started = time.perf_counter()
        with crm.engine.begin() as conn:
            conn.execute(sa.text(FILL[dialect]), {"rows": rows, "now": now})
            conn.execute(sa.text(ATTEMPTS))
            if without_index:
                conn.exec_driver_sql("DROP INDEX ix_webhook_deliveries_hook_created")
            conn.exec_driver_sql("ANALYZE")
        print(f"{dialect}: {rows} deliveries and attempts written in {time.perf_counter() - started:.1f} s")
        start, end = window(now)
        stats = wh.stats
        queries: dict[str, tuple[Any, Callable[[], Any]]] = {
            "hook 1's day (counts)": (stats._counts([1], start, end), lambda: wh.last_day(1, now=now)),
            "hook 1's durations (p50/p95)": (stats._durations(1, start, end), None),
            "the list, 10 hooks (counts)": (
                stats._counts(hooks, start, end),
                lambda: wh.last_day_by_hook(hooks, now=now),
            ),
        }
        for name, (statement, call) in queries.items():
            compiled = statement.compile(crm.engine, compile_kwargs={"render_postcompile": True})
            explain = "EXPLAIN QUERY PLAN " if dialect == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) "
            with crm.engine.connect() as conn:
                timings = []
                for _ in range(20):
                    t0 = time.perf_counter()
                    found = conn.execute(statement).all()
                    timings.append((time.perf_counter() - t0) * 1000)
                params = compiled.construct_params()
                if compiled.positional:
                    params = tuple(params[name] for name in compiled.positiontup)
                plan = conn.exec_driver_sql(explain + str(compiled), params).all()
            print(f"  {name}: {len(found)} rows in {statistics.median(timings):.1f} ms (median of 20)")
            for row in plan:
                print("      " + (row[-1] if dialect == "sqlite" else row[0]))
            if call is not None:
                t0 = time.perf_counter()
                call()
                print(f"    through the addon (all its queries): {(time.perf_counter() - t0) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
