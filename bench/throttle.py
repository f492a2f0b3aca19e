"""A hook's rate limit across worker processes: three `crm-webhooks worker` processes on one
PostgreSQL database, one hook at max_per_second=20, 600 events; a loopback receiver counts
arrivals per second.  Prints the achieved rate and its ratio to the limit (target: within 10 %).

    python bench/throttle.py --database-url postgresql+psycopg://.../db [--events 600] [--rate 20] [--workers 3]

Run by hand, not in the tests.  A fresh schema is used and dropped.  The achieved rate is
(arrivals - 1) / (last arrival - first arrival): the steady pace, the first burst aside.
"""

from __future__ import annotations

import argparse
import collections
import time

from workers import Receiver, start_workers, stop

from crm_stub import CRM
from crm_webhooks.testing import isolated_database


def run(base_url: str, workers: int, rate: float, events: int) -> list[float]:
    """Arrival times (perf_counter seconds) of the events, oldest first."""
    with isolated_database(base_url) as url, CRM(url) as crm:
        receiver = Receiver(0.0)
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="none")
        wh.create_hook(
            name="bench", event="lead.created", url=f"http://127.0.0.1:{receiver.port}/h", max_per_second=rate
        )
        procs = start_workers(url, workers, 8)
        try:
            with crm.transaction():  # one commit: the workers are woken together
                for i in range(events):
                    crm.leads.create(f"t{i}")
            deadline = time.monotonic() + 3 * events / rate + 60
            while len(receiver.arrived) < events and time.monotonic() < deadline:
                time.sleep(0.05)
            return sorted(receiver.arrived.values())
        finally:
            stop(procs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--rate", type=float, default=20.0)
    parser.add_argument("--events", type=int, default=600)
    args = parser.parse_args()
    times = run(args.database_url, args.workers, args.rate, args.events)
    if len(times) < 2:
        raise SystemExit(f"only {len(times)} of {args.events} arrived")
    first = times[0]
    per_second = collections.Counter(int(t - first) for t in times)
    print("arrivals per second:", " ".join(str(per_second[s]) for s in range(max(per_second) + 1)))
    achieved = (len(times) - 1) / (times[-1] - first)
    print(
        f"{len(times)}/{args.events} arrived in {times[-1] - first:.1f} s, {args.workers} workers: "
        f"{achieved:.2f}/s for a limit of {args.rate:g}/s, ratio {achieved / args.rate:.3f}"
    )


if __name__ == "__main__":
    main()
