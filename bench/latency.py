"""Commit-to-receiver latency with the in-process thread dispatcher: p50 and p99.

    python bench/latency.py [--events 300] [--gap 0.01] [--database-url URL]

Each lead is created (one commit) and the clock runs from the moment the
call returns to the moment a local receiver has the request.  Events are
spaced by ``--gap`` seconds so each one measures a wake-up, not a backlog.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer

from _receiver import QuietHandler

from crm_stub import CRM

arrived: dict[str, float] = {}


class Receiver(QuietHandler):
    def do_POST(self) -> None:
        arrived[json.loads(self.body())["data"]["object"]["name"]] = time.perf_counter()
        self.reply()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--gap", type=float, default=0.01)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    with tempfile.TemporaryDirectory() as tmp, CRM(args.database_url or f"sqlite:///{tmp}/lat.db") as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="thread")
        wh.create_hook(name="latency", event="lead.created", url=url)
        # Warm up: the dispatcher's first moments import aiohttp and open the connection
        # (a quarter of a second here), which is start-up, not a wake-up.
        crm.leads.create("warm-up")
        while "warm-up" not in arrived:
            time.sleep(0.01)
        committed: dict[str, float] = {}
        for i in range(args.events):
            name = f"lead-{i}"
            crm.leads.create(name)
            committed[name] = time.perf_counter()
            time.sleep(args.gap)
        deadline = time.monotonic() + 30
        while len(arrived) < args.events and time.monotonic() < deadline:
            time.sleep(0.01)
    server.shutdown()
    waits = sorted((arrived[n] - committed[n]) * 1000 for n in committed if n in arrived)
    p = statistics.quantiles(waits, n=100)
    print(f"{len(waits)}/{args.events} delivered; commit-to-receiver latency (thread dispatcher)")
    print(f"p50 {p[49]:6.2f} ms   p90 {p[89]:6.2f} ms   p99 {p[98]:6.2f} ms   max {waits[-1]:6.2f} ms")


if __name__ == "__main__":
    main()
