"""The claim query's plan and cost with 1k and 1M pending deliveries (PostgreSQL).

    python bench/claim_plan.py --database-url postgresql+psycopg://.../db [--sizes 1000,1000000]
                               [--per-record 1,3]

Fills a fresh schema with pending deliveries (plus as many finished ones), of
a hook that keeps per-record order, ``--per-record`` pending deliveries per
record (with 3, two of every three wait behind an earlier one of their
record), runs EXPLAIN ANALYZE on the worker's claim statement and times 200
claims of 100, releasing each.  The plan should be the same index scan of
ix_webhook_deliveries_due, with a probe of ix_webhook_deliveries_record per
row, at every size.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import time

import sqlalchemy as sa

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_webhooks.engine.claim import _lease_and_load, claim
from crm_webhooks.testing import isolated_database

# Every delivery has its event, as in a real history: the plan joins them.
# Events come in order: an older event is due earlier, as fresh deliveries are.
FILL = """
WITH events AS (
    INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at, record)
    SELECT 'evt_' || lpad(n::text, 12, '0'), 'lead.updated', n::text, '2026-01-01T00:00:00Z', '{}', false, now(),
           'lead:' || ((n / 2) % :records)
    FROM generate_series(1, :rows) AS n
    RETURNING id, record
)
INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at, record)
SELECT id, :hook, CASE WHEN right(id, 1)::int % 2 = 0 THEN 'pending' ELSE 'succeeded' END, 0,
       now() - interval '1 day' + (right(id, 9) || ' milliseconds')::interval, now(), record
FROM events
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("CRM_TEST_POSTGRES_URL"))
    parser.add_argument("--sizes", default="1000,1000000")
    parser.add_argument("--per-record", default="1,3")
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url (a PostgreSQL database) or set CRM_TEST_POSTGRES_URL")
    for per_record in (int(p) for p in args.per_record.split(",")):
        for size in (int(s) for s in args.sizes.split(",")):
            measure(args.database_url, size, per_record)


def measure(database_url: str, size: int, per_record: int) -> None:
    with isolated_database(database_url) as url, CRM(url) as crm:
        wh = crm.install_addon("crm_webhooks", dispatcher="none", allow_private_networks=True)
        hook = wh.create_hook(name="b", event="lead.updated", url="http://127.0.0.1:9/b")
        with crm.engine.begin() as conn:
            conn.execute(sa.text(FILL), {"hook": hook.id, "rows": size * 2, "records": max(1, size // per_record)})
            conn.exec_driver_sql("ANALYZE webhook_deliveries")
            conn.exec_driver_sql("ANALYZE webhook_events")
        now = utcnow()
        # The worker's own statement (lease and load in one), explained as it runs (then rolled back).
        params = {"now": now, "limit": 100, "first": 0, "lease_until": now, "worker": "bench"}
        statement = _lease_and_load(skip_hooks=False)
        compiled = statement.compile(crm.engine, compile_kwargs={"render_postcompile": True})
        with crm.engine.connect() as conn:
            sql = "EXPLAIN (ANALYZE, COSTS OFF, SUMMARY OFF) " + str(compiled)
            plan = [row[0] for row in conn.exec_driver_sql(sql, compiled.construct_params(params))]
            conn.rollback()
        started = time.perf_counter()
        release = sa.text("UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL WHERE id = ANY(:i)")
        lease = dt.timedelta(seconds=0)
        for _ in range(200):
            found = claim(crm.engine, limit=100, lease=lease, worker="bench", fan_out_first=False)
            assert len(found.claimed) == 100
            with crm.engine.begin() as conn:
                conn.execute(release, {"i": [c.delivery_id for c in found.claimed]})
        per_claim = (time.perf_counter() - started) / 200 * 1000
        print(f"{size:>9} pending (+{size} finished), {per_record} per record: claim of 100 in {per_claim:.2f} ms")
        for line in plan:
            print("    " + line)


if __name__ == "__main__":
    main()
