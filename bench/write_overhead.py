"""What the outbox costs a CRM write: leads.create per second with the addon and 3 matching hooks,
divided by the same without the addon, measured side by side in one run.

    python bench/write_overhead.py [--creates 2000] [--rounds 5] [--database-url-a URL --database-url-b URL]

Target: >= 0.9.  Rounds alternate between the two CRMs so that disk and CPU
noise hit both alike; the median round of each is compared.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from crm_stub import CRM


def rate(crm: CRM, n: int, tag: str) -> float:
    started = time.perf_counter()
    for i in range(n):
        crm.leads.create(f"{tag} {i}", email=f"l{i}@bench.test")
    return n / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--creates", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url-a", help="database of the CRM without the addon")
    parser.add_argument("--database-url-b", help="database of the CRM with the addon")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bare = CRM(args.database_url_a or f"sqlite:///{tmp}/bare.db")
        hooked = CRM(args.database_url_b or f"sqlite:///{tmp}/hooked.db")
        # "none": nobody delivers in this process, so only the write path is measured.
        wh = hooked.install_addon("crm_webhooks", allow_private_networks=True, dispatcher="none")
        for n in range(3):
            url = f"http://127.0.0.1:9/h{n}"
            wh.create_hook(name=f"h{n}", event="lead.created", url=url, key="X-Api-Key", value="k")
        rate(bare, 200, "warm")
        rate(hooked, 200, "warm")
        without, with_ = [], []
        for r in range(args.rounds):
            without.append(rate(bare, args.creates, f"r{r}"))
            with_.append(rate(hooked, args.creates, f"r{r}"))
        bare.close()
        hooked.close()
    a, b = statistics.median(without), statistics.median(with_)
    print(f"leads.create without the addon        {a:8.0f}/s (median of {args.rounds} rounds of {args.creates})")
    print(f"leads.create with 3 matching hooks    {b:8.0f}/s")
    print(f"ratio                                 {b / a:8.2f}  (target >= 0.9)")


if __name__ == "__main__":
    main()
