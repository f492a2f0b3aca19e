"""Delivery throughput of run_pending against a local nginx, as ratios to bare HTTP loops.

    python bench/delivery.py [--events 3000] [--database-url URL]

Prints deliveries per second of ``run_pending`` (claim, sign, send, record),
and of a bare ``requests.Session`` loop and a bare ``urllib3`` loop posting
the same body to the same nginx, measured side by side in one run.
Targets: >= 1.5x the requests loop, >= 0.7x the urllib3 loop.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import requests
import urllib3
from _nginx import nginx

from crm_stub import CRM


def bare_requests(url: str, body: bytes, n: int) -> float:
    session = requests.Session()
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for _ in range(n):
        session.post(url, data=body, headers=headers).close()
    return n / (time.perf_counter() - started)


def bare_urllib3(url: str, body: bytes, n: int) -> float:
    pool = urllib3.PoolManager()
    headers = {"Content-Type": "application/json"}
    started = time.perf_counter()
    for _ in range(n):
        pool.request("POST", url, body=body, headers=headers)
    return n / (time.perf_counter() - started)


def addon(url: str, n: int, database_url: str | None, tmp: str) -> tuple[float, bytes]:
    with CRM(database_url or f"sqlite:///{tmp}/bench.db") as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="manual")
        hook = wh.create_hook(name="bench", event="lead.created", url=url, key="X-Api-Key", value="bench")
        with crm.transaction():
            for i in range(n):
                crm.leads.create(f"Lead {i}", email=f"lead{i}@bench.test")
        started = time.perf_counter()
        made = wh.run_pending(timeout=600)
        elapsed = time.perf_counter() - started
        assert made == n, f"made {made} attempts for {n} deliveries"
        last = wh.last_delivery(hook.id)
        assert last is not None and last.status == "succeeded"
        return n / elapsed, last.body.encode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with nginx() as base, tempfile.TemporaryDirectory() as tmp:
        url = f"{base}/hook"
        ours, body = addon(url, args.events, args.database_url, tmp)
        req = bare_requests(url, body, args.events)
        raw = bare_urllib3(url, body, args.events)
    print(f"body: {len(body)} bytes, {args.events} deliveries, one run side by side")
    print(f"run_pending        {ours:8.0f} deliveries/s")
    print(f"requests.Session   {req:8.0f} posts/s    ratio {ours / req:5.2f}x  (target >= 1.5)")
    print(f"urllib3 PoolManager{raw:8.0f} posts/s    ratio {ours / raw:5.2f}x  (target >= 0.7)")


if __name__ == "__main__":
    main()
