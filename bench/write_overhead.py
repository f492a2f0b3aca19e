"""What the outbox costs a CRM write: leads.create per second with the addon and 3 matching hooks,
divided by the same without the addon, measured side by side in one run.

    python bench/write_overhead.py [--creates 2000] [--rounds 5] [--database-url-template URL]

Target: >= 0.9.  A third CRM shows the floor of any outbox that writes the
event in the change's transaction: its receiver inserts one precomputed row of
the size of a lead's event (no serialisation, no id, no hook lookup) through
the driver.  The addon can only come close to that floor, not beat it.

Rounds alternate between the CRMs so that disk and CPU noise hit all alike;
the median round of each is compared.  ``--database-url-template`` takes a
``{name}`` placeholder for the three databases (``bare``, ``floor``,
``addon``), e.g. ``postgresql://postgres@127.0.0.1:5432/{name}``; by default
they are SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import tempfile
import time
from typing import Any

from crm_stub import CRM
from crm_stub.signals import bus

BODY = "x" * 400  # a lead.created envelope is about 400 bytes


def rate(crm: CRM, n: int, tag: str) -> float:
    started = time.perf_counter()
    for i in range(n):
        crm.leads.create(f"{tag} {i}", email=f"l{i}@bench.test")
    return n / (time.perf_counter() - started)


def floor_receiver(crm: CRM) -> None:
    """Connect a receiver that makes one INSERT of a ready-made row on the change's driver connection."""
    mark = "?" if crm.engine.dialect.name == "sqlite" else "%s"
    sql = f"INSERT INTO floor_events (id, type, body) VALUES ({mark}, {mark}, {mark})"
    ids = itertools.count()

    def receive(sender: CRM, *, session: Any, **_: Any) -> None:
        cursor = session.connection().connection.dbapi_connection.cursor()
        cursor.execute(sql, (f"evt_{time.time_ns():020d}{next(ids):08d}", "lead.created", BODY))
        cursor.close()

    with crm.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE floor_events (id VARCHAR(40) PRIMARY KEY, type TEXT, body TEXT)")
    bus.signal("lead.created").connect(receive, sender=crm, weak=False)  # strong: lives as long as the bus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url-template", help="a URL with {name}; default: SQLite files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = args.database_url_template or f"sqlite:///{tmp}/{{name}}.db"
        crms = {name: CRM(template.format(name=name)) for name in ("bare", "floor", "addon")}
        floor_receiver(crms["floor"])
        # "none": nobody delivers in this process, so only the write path is measured.
        wh = crms["addon"].install_addon("crm_webhooks", allow_private_networks=True, dispatcher="none")
        for n in range(3):
            url = f"http://127.0.0.1:9/h{n}"
            wh.create_hook(name=f"h{n}", event="lead.created", url=url, key="X-Api-Key", value="k")
        for crm in crms.values():
            rate(crm, 200, "warm")
        rates: dict[str, list[float]] = {name: [] for name in crms}
        for r in range(args.rounds):
            for name, crm in crms.items():
                rates[name].append(rate(crm, args.creates, f"r{r}"))
        for crm in crms.values():
            crm.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    bare = median["bare"]
    print(f"leads.create per second, median of {args.rounds} rounds of {args.creates}; ratio to the bare CRM")
    print(f"  without the addon                          {bare:8.0f}/s")
    print(f"  floor: one ready-made 400-byte row insert  {median['floor']:8.0f}/s   {median['floor'] / bare:5.2f}")
    print(f"  with the addon and 3 matching hooks        {median['addon']:8.0f}/s   {median['addon'] / bare:5.2f}")
    print(f"  target for the addon: >= 0.9; addon / floor = {median['addon'] / median['floor']:.2f}")


if __name__ == "__main__":
    main()
