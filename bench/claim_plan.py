"""The claim query's plan and cost with 1k and 1M pending deliveries (PostgreSQL).

    python bench/claim_plan.py --database-url postgresql+psycopg://.../db [--sizes 1000,1000000]

Fills a fresh schema with pending deliveries (plus as many finished ones),
runs EXPLAIN on the worker's claim statement and times 200 claims of 100, releasing each.  The
plan should be the same index scan of ix_webhook_deliveries_due at every size.
"""

from __future__ import annotations

import argparse
import os
import time

import sqlalchemy as sa

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_webhooks.engine.claim import _lease_and_load, claim_due
from crm_webhooks.testing import isolated_database

# Every delivery has its event, as in a real history: the plan joins them.
FILL = """
WITH events AS (
    INSERT INTO webhook_events (id, type, object_id, timestamp, body, test, created_at)
    SELECT 'evt_' || lpad(n::text, 12, '0'), 'lead.created', n::text, '2026-01-01T00:00:00Z', '{}', false, now()
    FROM generate_series(1, :rows) AS n
    RETURNING id
)
INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at)
SELECT id, :hook, CASE WHEN right(id, 1)::int % 2 = 0 THEN 'pending' ELSE 'succeeded' END, 0,
       now() - (right(id, 9) || ' milliseconds')::interval, now()
FROM events
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("CRM_TEST_POSTGRES_URL"))
    parser.add_argument("--sizes", default="1000,1000000")
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit("give --database-url (a PostgreSQL database) or set CRM_TEST_POSTGRES_URL")
    for size in (int(s) for s in args.sizes.split(",")):
        with isolated_database(args.database_url) as url, CRM(url) as crm:
            wh = crm.install_addon("crm_webhooks", dispatcher="none", allow_private_networks=True)
            hook = wh.create_hook(name="b", event="lead.created", url="http://127.0.0.1:9/b")
            with crm.engine.begin() as conn:
                conn.execute(sa.text(FILL), {"hook": hook.id, "rows": size * 2})
                conn.exec_driver_sql("ANALYZE webhook_deliveries")
                conn.exec_driver_sql("ANALYZE webhook_events")
            now = utcnow()
            # The worker's own statement (lease and load in one), explained without running it.
            params = {"now": now, "limit": 100, "lease_until": now, "worker": "bench"}
            statement = _lease_and_load(skip_hooks=False)
            compiled = statement.compile(crm.engine, compile_kwargs={"render_postcompile": True})
            with crm.engine.begin() as conn:
                sql = "EXPLAIN " + str(compiled)
                plan = [row[0] for row in conn.exec_driver_sql(sql, compiled.construct_params(params))]
            started = time.perf_counter()
            release = sa.text("UPDATE webhook_deliveries SET locked_by = NULL, locked_until = NULL WHERE id = ANY(:i)")
            for _ in range(200):
                with crm.engine.begin() as conn:
                    claimed = claim_due(conn, now=utcnow(), limit=100, lease_until=utcnow(), worker="bench")
                    conn.execute(release, {"i": [c.delivery_id for c in claimed]})
            per_claim = (time.perf_counter() - started) / 200 * 1000
            print(f"{size:>9} pending (+{size} finished): claim of 100 in {per_claim:.2f} ms")
            for line in plan:
                print("    " + line)


if __name__ == "__main__":
    main()
