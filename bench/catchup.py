"""Catching up after an outage: seconds from "the receiver is back" to the last event's arrival.

    python bench/catchup.py [--events 100] [--outage 10] [--records 100] [--give-up 600] [--database-url URL]

A local receiver answers 503 for ``--outage`` seconds while ``--events`` CRM
changes are committed, spread evenly over the outage and over ``--records``
leads (each lead's creation, then updates of it), then answers 200 again.  The
in-process thread dispatcher delivers them with the default retry schedule.
Printed: how long after the receiver came back the last event arrived, or
"> N s" when some had not arrived ``--give-up`` seconds after it.  Loopback only.

With fewer records than events, each record's first event fails twice before
the receiver is back, the later ones wait behind it, and nothing is attempted
until its second retry (about 300 s): nothing tells that the receiver is back.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any

from _receiver import QuietHandler

from crm_stub import CRM


class Receiver(ThreadingHTTPServer):
    """Answers 503 while down, else 200, noting each event's first 2xx and any record out of order."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.up = threading.Event()
        self.arrived: dict[str, float] = {}  # event id -> its first 2xx answer
        self.out_of_order: set[str] = set()  # records whose events arrived in another order than committed
        self._last_of_record: dict[str, int] = {}
        self._lock = threading.Lock()

    def answer(self, envelope: dict[str, Any]) -> int:
        if not self.up.is_set():
            return 503
        obj = envelope["data"]["object"]
        record, seq = obj["id"], int(obj["name"].rsplit("#", 1)[1])
        with self._lock:
            self.arrived.setdefault(envelope["id"], time.perf_counter())
            if seq < self._last_of_record.get(record, -1):
                self.out_of_order.add(record)
            self._last_of_record[record] = seq
        return 200


class Handler(QuietHandler):
    server: Receiver

    def do_POST(self) -> None:
        self.reply(self.server.answer(json.loads(self.body())))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100)
    parser.add_argument("--outage", type=float, default=10.0, help="seconds the receiver answers 503")
    parser.add_argument("--records", type=int, default=100, help="leads the events are about")
    parser.add_argument("--give-up", type=float, default=600.0, help="seconds after the receiver is back")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    receiver.up.set()
    with tempfile.TemporaryDirectory() as tmp, CRM(args.database_url or f"sqlite:///{tmp}/catchup.db") as crm:
        wh = crm.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="thread")
        wh.create_hook(name="catchup", event="lead.created", url=url)
        wh.create_hook(name="catchup updates", event="lead.updated", url=url)
        # Warm up while the receiver is up: the dispatcher's first attempt imports aiohttp.
        crm.leads.create("warm-up #0")
        while not receiver.arrived:
            time.sleep(0.01)
        receiver.arrived.clear()
        receiver.up.clear()
        down_at = time.monotonic()
        leads: list[int] = []
        for n in range(args.events):
            time.sleep(max(0.0, down_at + n * args.outage / args.events - time.monotonic()))
            if len(leads) < args.records:
                leads.append(crm.leads.create(f"lead {len(leads)} #{n}").id)
            else:
                lead = leads[n % args.records]
                crm.leads.update(lead, name=f"lead {n % args.records} #{n}")
        time.sleep(max(0.0, down_at + args.outage - time.monotonic()))
        receiver.up.set()
        back = time.perf_counter()
        while len(receiver.arrived) < args.events and time.perf_counter() - back < args.give_up:
            time.sleep(0.05)
    receiver.shutdown()
    got = len(receiver.arrived)
    shape = (
        f"{args.events} events over a {args.outage:g} s outage (503), {args.records} records, default retry schedule"
    )
    if got < args.events:
        print(f"> {args.give_up:g} s: {got}/{args.events} arrived by then; {shape}")
    else:
        last = max(receiver.arrived.values()) - back
        print(f"{last:.2f} s from the receiver back to the last arrival; {shape}")
    if receiver.out_of_order:
        print(f"OUT OF ORDER: records {sorted(receiver.out_of_order)}")


if __name__ == "__main__":
    main()
