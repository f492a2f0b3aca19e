"""Worker processes sharing PostgreSQL: throughput against a receiver that answers after 20 ms,
as a ratio to the ideal (workers x concurrency / 0.020 s), and commit-to-receiver latency.

    python bench/workers.py --database-url postgresql+psycopg://.../db [--events 3000] [--workers 1,2,4]
                            [--receiver python|nginx] [--ordering record,none]

The receiver is an asyncio server in this process (it sleeps, it does not
burn CPU, but it shares the machine's two cores with the workers), or with
``--receiver nginx`` a local nginx whose echo module answers after 20 ms (a
receiver that costs this machine almost nothing, as a remote one would;
arrivals are then counted from the recorded deliveries).  The workers are real
`crm-webhooks worker` processes woken by NOTIFY.  A fresh schema is used and
dropped.

``--ordering record,none`` measures the hook both ways, side by side, for each
worker count: what keeping per-record order costs (each lead is its own record
here, so nothing waits: the price is the claim's extra probe).

A bare aiohttp loop (no database, no signing, no recording) with the same
requests in flight against the same receiver, in a process of its own, shows
the ceiling one process's loop reaches on this machine.

Each run also prints where the machine's CPU went while it was timed (from
/proc): the whole machine's busy cores, the worker processes, this process
(the receiver) and the rest (PostgreSQL, mostly).  A run with every core busy
is CPU-bound: more workers can only share the same cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa
from _nginx import nginx

from crm_stub import CRM
from crm_webhooks.testing import isolated_database


class Receiver:
    """HTTP/1.1 keep-alive, answers 200 after ``delay`` seconds, records arrival times by lead name."""

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.count = 0
        self.arrived: dict[str, float] = {}
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()
        threading.Thread(target=self._run, args=(ready,), daemon=True).start()
        ready.wait()

    def _run(self, ready: threading.Event) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=1024))
        self.port = server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                body = await reader.readexactly(length) if length else b""
                if self.delay:
                    await asyncio.sleep(self.delay)
                self.count += 1
                if body:
                    self.arrived[json.loads(body)["data"]["object"]["name"]] = time.perf_counter()
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


TICK = os.sysconf("SC_CLK_TCK")


def process_cpu(pid: int | str = "self") -> float:
    """CPU seconds (user + system, every thread) a process has used so far."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def machine_cpu() -> tuple[float, float]:
    """(busy, all) CPU seconds of the whole machine so far, every core summed."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in f.readline().split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy / TICK, (busy + idle + iowait) / TICK


def process_waiting(pid: int) -> float:
    """Seconds the threads of a process have spent runnable but waiting for a core, so far."""
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{task}/schedstat") as f:
            total += int(f.read().split()[1])
    return total / 1e9


@dataclass(frozen=True)
class Snapshot:
    busy: float  # the machine's busy CPU seconds
    all: float  # the machine's CPU seconds, busy or idle
    mine: float  # this process (the Python receiver)
    workers: float
    waiting: float  # the workers' threads, waiting for a core

    @classmethod
    def take(cls, pids: list[int]) -> Snapshot:
        busy, all_ = machine_cpu()
        workers = sum(process_cpu(p) for p in pids)
        return cls(busy, all_, process_cpu(), workers, sum(process_waiting(p) for p in pids))


@dataclass
class CpuUse:
    """Cores busy on average over a timed run, by whom, and how long the workers waited for one."""

    machine: float
    cores: int
    workers: float
    receiver: float
    waiting: float

    @classmethod
    def measure(cls, before: Snapshot, after: Snapshot) -> CpuUse:
        cores = os.cpu_count() or 1
        wall = (after.all - before.all) / cores
        return cls(
            (after.busy - before.busy) / wall,
            cores,
            (after.workers - before.workers) / wall,
            (after.mine - before.mine) / wall,
            (after.waiting - before.waiting) / wall,
        )

    def __str__(self) -> str:
        rest = self.machine - self.workers - self.receiver
        bound = "  CPU-bound" if self.machine >= 0.9 * self.cores else ""
        return (
            f"cores busy {self.machine:.2f} of {self.cores}: workers {self.workers:.2f}, "
            f"this process {self.receiver:.2f}, PostgreSQL and the rest {rest:.2f}{bound}\n"
            f"             workers' threads waiting for a core: {self.waiting:.2f} s per second"
        )


def start_workers(url: str, n: int, concurrency: int) -> list[subprocess.Popen[str]]:
    env = {**os.environ, "CRM_DATABASE_URL": url}
    procs = []
    for _ in range(n):
        proc = subprocess.Popen(
            [sys.executable, "-m", "crm_webhooks.cli", "worker", "--concurrency", str(concurrency)],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        while "in flight at most" not in (proc.stderr.readline() or "in flight at most"):  # type: ignore[union-attr]
            pass
        threading.Thread(target=proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]
        procs.append(proc)
    return procs


def stop(procs: list[subprocess.Popen[str]]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        proc.wait(60)


def throughput(
    base_url: str, workers: int, concurrency: int, events: int, receiver: str, ordering: str
) -> tuple[float, CpuUse]:
    with contextlib.ExitStack() as stack, isolated_database(base_url) as url, CRM(url) as crm:
        arrived: Callable[[], int]
        if receiver == "nginx":
            target = stack.enter_context(nginx(slow=0.020)) + "/slow/h"
            succeeded = sa.text("select count(*) from webhook_deliveries where status = 'succeeded'")

            def arrived() -> int:
                with crm.engine.connect() as conn:
                    return conn.scalar(succeeded) or 0
        else:
            python = Receiver(0.020)
            target = f"http://127.0.0.1:{python.port}/h"

            def arrived() -> int:
                return python.count

        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="none")
        # Only a non-default ordering is passed: versions before 0.3.0 have no such field.
        wh.create_hook(
            name="bench", event="lead.created", url=target, **({} if ordering == "record" else {"ordering": ordering})
        )
        procs = start_workers(url, workers, concurrency)
        try:
            with crm.transaction():  # one commit: the workers are woken together
                for i in range(events):
                    crm.leads.create(f"t{i}")
            pids = [p.pid for p in procs]
            started, before = time.perf_counter(), Snapshot.take(pids)
            while arrived() < events:
                time.sleep(0.02)
            elapsed, after = time.perf_counter() - started, Snapshot.take(pids)
            return events / elapsed, CpuUse.measure(before, after)
        finally:
            stop(procs)


def latency(base_url: str, events: int = 200) -> list[float]:
    receiver = Receiver(0.0)
    with isolated_database(base_url) as url, CRM(url) as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="none")
        wh.create_hook(name="bench", event="lead.created", url=f"http://127.0.0.1:{receiver.port}/h")
        procs = start_workers(url, 1, 4)
        try:
            time.sleep(1.0)
            committed = {}
            for i in range(events):
                crm.leads.create(f"l{i}")
                committed[f"l{i}"] = time.perf_counter()
                time.sleep(0.02)
            while len(receiver.arrived) < events:
                time.sleep(0.01)
            return sorted((receiver.arrived[k] - t) * 1000 for k, t in committed.items())
        finally:
            stop(procs)


def bare_client_ratio(concurrency: int, requests: int, receiver: str) -> float:
    """The same number of requests in flight from a bare aiohttp loop in a process of its own.

    No database, no signing, no recording: what one process's loop gets from the same
    receiver on this machine, the ceiling a single worker is measured against.
    """
    with contextlib.ExitStack() as stack:
        if receiver == "nginx":
            target = stack.enter_context(nginx(slow=0.020)) + "/slow/h"
        else:
            target = f"http://127.0.0.1:{Receiver(0.020).port}/h"
        command = [sys.executable, __file__, "--bare-client", target, "--concurrency", str(concurrency)]
        out = subprocess.run([*command, "--events", str(requests)], capture_output=True, text=True, check=True)
        return float(out.stdout) / (concurrency / 0.020)


async def bare_client(url: str, concurrency: int, requests: int) -> float:
    import aiohttp

    left = requests

    async def slot(session: aiohttp.ClientSession) -> None:
        nonlocal left
        while left > 0:
            left -= 1
            async with session.post(url, data=b"") as response:
                await response.read()

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(slot(session) for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=os.environ.get("CRM_TEST_POSTGRES_URL"), required=False)
    parser.add_argument("--events", type=int, default=3000)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--receiver", choices=["python", "nginx"], default="python")
    parser.add_argument("--rounds", type=int, default=3, help="runs per worker count; the median is shown")
    parser.add_argument("--ordering", default="record", help="the hook's ordering, or several: record,none")
    parser.add_argument("--bare-client", metavar="URL", help=argparse.SUPPRESS)  # the child bare_client_ratio runs
    args = parser.parse_args()
    if args.bare_client:
        print(asyncio.run(bare_client(args.bare_client, args.concurrency, args.events)))
        return
    if not args.database_url:
        raise SystemExit("give --database-url (a PostgreSQL database) or set CRM_TEST_POSTGRES_URL")
    print(
        f"{args.events} deliveries, {args.receiver} receiver answers after 20 ms, "
        f"concurrency {args.concurrency} per worker"
    )
    orderings = args.ordering.split(",")
    for n in (int(x) for x in args.workers.split(",")):
        ideal = n * args.concurrency / 0.020
        # Two cores shared by workers, PostgreSQL and the receiver: runs vary by a few
        # hundredths, so each count runs several times (the orderings interleaved, so a
        # slower moment of the machine falls on both) and the median run is shown.
        runs: dict[str, list[tuple[float, CpuUse]]] = {o: [] for o in orderings}
        for _ in range(args.rounds):
            for ordering in orderings:
                runs[ordering].append(
                    throughput(args.database_url, n, args.concurrency, args.events, args.receiver, ordering)
                )
        for ordering in orderings:
            ranked = sorted(runs[ordering], key=lambda r: r[0])
            rate, cpu = ranked[len(ranked) // 2]
            spread = f"   (runs {ranked[0][0] / ideal:.2f}-{ranked[-1][0] / ideal:.2f})" if len(ranked) > 1 else ""
            label = f", ordering {ordering}" if len(orderings) > 1 else ""
            print(
                f"{n} worker(s){label}: {rate:7.0f} deliveries/s   ideal {ideal:6.0f}/s   "
                f"ratio {rate / ideal:4.2f}{spread}"
            )
            print(f"             {cpu}")
    bare = statistics.median(
        bare_client_ratio(args.concurrency, args.events, args.receiver) for _ in range(args.rounds)
    )
    print(
        f"bare aiohttp loop, same receiver, {args.concurrency} in flight, no database: "
        f"ratio {bare:4.2f} (one process's ceiling here)"
    )
    waits = latency(args.database_url)
    q = statistics.quantiles(waits, n=100)
    print(f"commit-to-receiver with a waiting worker: p50 {q[49]:.2f} ms   p99 {q[98]:.2f} ms (target p50 < 10 ms)")


if __name__ == "__main__":
    main()
