"""Delivery throughput against a local nginx: run_pending as ratios to bare HTTP loops, and the
in-process thread dispatcher against one worker process, in deliveries/s and CPU per delivery.

    python bench/delivery.py [--events 3000] [--database-url URL] [--concurrency 8]

Prints deliveries per second of ``run_pending`` (claim, sign, send, record),
and of a bare ``requests.Session`` loop and a bare ``urllib3`` loop posting
the same body to the same nginx, measured side by side in one run.
Targets: >= 1.5x the requests loop, >= 0.7x the urllib3 loop.

Then the same pipeline two ways, on the same database kind: the default
``thread`` dispatcher inside the CRM's process, and a ``crm-webhooks worker``
process, each with ``--concurrency`` attempts in flight.  CPU per delivery is
read from /proc: the dispatcher's own threads, and the whole worker process.
Target: the dispatcher within 1.5x the worker's CPU per delivery.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time

import requests
import urllib3
from _nginx import nginx

from crm_stub import CRM
from crm_webhooks.domain.options import Options


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


def _cpu_seconds(path: str) -> float:
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _dispatcher_cpu() -> float:
    """CPU of this process's dispatcher threads (its loop and its database threads)."""
    names = {t.native_id: t.name for t in threading.enumerate()}
    return sum(
        _cpu_seconds(f"/proc/self/task/{tid}/stat")
        for tid, name in names.items()
        if name and name.startswith("crm-webhooks-")
    )


def pipeline(kind: str, url: str, n: int, database_url: str, concurrency: int) -> tuple[float, float]:
    """Deliveries/s and ms of CPU per delivery of the thread dispatcher or of one worker process."""
    dispatcher = "thread" if kind == "thread" else "none"
    with CRM(database_url) as crm:
        options = {"allow_private_networks": True, "dispatcher": dispatcher}
        if "dispatcher_concurrency" in Options.__dataclass_fields__:  # before 0.3.0: its own default (1)
            options["dispatcher_concurrency"] = concurrency
        wh = crm.install_addon("crm_webhooks", **options)
        hook = wh.create_hook(name=kind, event="lead.created", url=url, key="X-Api-Key", value="bench")
        worker = None
        if kind == "worker":
            env = {**os.environ, "CRM_DATABASE_URL": database_url}
            command = [sys.executable, "-m", "crm_webhooks.cli", "worker", "--concurrency", str(concurrency)]
            worker = subprocess.Popen(command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
            while "in flight at most" not in (worker.stderr.readline() or "in flight at most"):  # type: ignore[union-attr]
                pass
            threading.Thread(target=worker.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        cpu = (lambda: _cpu_seconds(f"/proc/{worker.pid}/stat")) if worker else _dispatcher_cpu
        try:
            crm.leads.create("warm-up")  # imports, connections: start-up, not throughput
            while wh.delivery_stats()["succeeded"] < 1:
                time.sleep(0.01)
            with crm.transaction():
                for i in range(n):
                    crm.leads.create(f"Lead {i}", email=f"lead{i}@bench.test")
            started, cpu_before = time.perf_counter(), cpu()
            while wh.delivery_stats()["succeeded"] < n + 1:
                time.sleep(0.02)
            elapsed, used = time.perf_counter() - started, cpu() - cpu_before
            assert wh.last_delivery(hook.id).status == "succeeded"
            return n / elapsed, used / n * 1000
        finally:
            if worker is not None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    with nginx() as base, tempfile.TemporaryDirectory() as tmp:
        url = f"{base}/hook"
        ours, body = addon(url, args.events, args.database_url, tmp)
        req = bare_requests(url, body, args.events)
        raw = bare_urllib3(url, body, args.events)
        both = {}
        for kind in ("thread", "worker"):
            database_url = args.database_url or f"sqlite:///{tmp}/{kind}.db"
            if args.database_url:
                from crm_webhooks.testing import isolated_database

                with isolated_database(args.database_url) as fresh:
                    both[kind] = pipeline(kind, url, args.events, fresh, args.concurrency)
            else:
                both[kind] = pipeline(kind, url, args.events, database_url, args.concurrency)
    print(f"body: {len(body)} bytes, {args.events} deliveries, one run side by side")
    print(f"run_pending        {ours:8.0f} deliveries/s")
    print(f"requests.Session   {req:8.0f} posts/s    ratio {ours / req:5.2f}x  (target >= 1.5)")
    print(f"urllib3 PoolManager{raw:8.0f} posts/s    ratio {ours / raw:5.2f}x  (target >= 0.7)")
    (t_rate, t_cpu), (w_rate, w_cpu) = both["thread"], both["worker"]
    print(f"concurrency {args.concurrency}, {'the given database' if args.database_url else 'SQLite'}:")
    print(f"thread dispatcher  {t_rate:8.0f} deliveries/s   {t_cpu:5.2f} ms CPU per delivery")
    print(f"worker process     {w_rate:8.0f} deliveries/s   {w_cpu:5.2f} ms CPU per delivery")
    print(f"dispatcher / worker CPU per delivery: {t_cpu / w_cpu:4.2f}x (target <= 1.5)")


if __name__ == "__main__":
    main()
