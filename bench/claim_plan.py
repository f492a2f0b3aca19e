"""The claim query's plan and cost with 1k and 1M pending deliveries (PostgreSQL).

    python bench/claim_plan.py --database-url postgresql+psycopg://.../db [--sizes 1000,1000000]

Fills a fresh schema with pending deliveries (plus as many finished ones),
runs EXPLAIN on the claim and times 200 claims of 100, releasing each.  The
plan should be the same index scan of ix_webhook_deliveries_due at every size.
"""

from __future__ import annotations

import argparse
import os
import time

import sqlalchemy as sa

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_webhooks.engine.claim import claim_due
from crm_webhooks.testing import isolated_database

FILL = """
INSERT INTO webhook_deliveries (event_id, hook_id, status, attempt_count, next_attempt_at, created_at)
SELECT 'evt_bench', :hook, CASE WHEN n % 2 = 0 THEN 'pending' ELSE 'succeeded' END, 0,
       now() - (n || ' milliseconds')::interval, now()
FROM generate_series(1, :rows) AS n
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
            now = utcnow()
            with crm.engine.begin() as conn:
                compiled = sa.text(
                    "EXPLAIN SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= :now "
                    "AND (locked_until IS NULL OR locked_until < :now) ORDER BY next_attempt_at LIMIT 100 "
                    "FOR UPDATE SKIP LOCKED"
                )
                plan = [row[0] for row in conn.execute(compiled, {"now": now})]
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
