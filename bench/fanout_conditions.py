"""What conditions cost the fan-out: 10,000 events against 50 hooks with a condition each,
divided by the same against 50 hooks without, measured side by side in one run.

    python bench/fanout_conditions.py [--events 10000] [--hooks 50] [--rounds 3] [--database-url-template URL]

Target: <= 1.5.  Each round writes the events (not timed), then times the fan-out that turns
them into delivery rows: ``fan_out_all`` in one transaction, as a worker's claim would, in
batches.  Half the conditioned hooks let every event through and half turn every event away,
so the figure covers both verdicts; the plain hooks get every event.

``--database-url-template`` takes a ``{name}`` placeholder (``plain``, ``conditioned``), e.g.
``postgresql://postgres@127.0.0.1:5432/{name}`` for two existing databases; by default they
are SQLite files in a temporary folder.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from sqlalchemy import text

from crm_stub import CRM
from crm_webhooks.engine.fanout import fan_out_all


def condition_of(n: int) -> str:
    """The kind admins write (a field compared, a filter, a membership test), each hook its own:
    hooks sharing a condition share its verdict, which would flatter the figure."""
    if n % 2 == 0:
        return f'object.status == "active" and object.name | length > {n % 4} and "vip{n}" not in object.tags'
    return f'object.stage == "won" and object.amount | float > {1000 + n}'


def prepared(url: str, hooks: int, conditioned: bool) -> CRM:
    crm = CRM(url)
    wh = crm.install_addon("crm_webhooks", dispatcher="none", allow_private_networks=True)
    for n in range(hooks):
        condition = condition_of(n) if conditioned else None
        wh.create_hook(name=f"hook {n}", event="lead.created", url=f"http://127.0.0.1:9/{n}", condition=condition)
    return crm


def one_round(crm: CRM, events: int) -> float:
    """Seconds to fan out ``events`` fresh lead.created events; the deliveries are removed after."""
    for i in range(events):
        crm.leads.create(f"Lead {i}", email=f"l{i}@bench.test")
    started = time.perf_counter()
    with crm.engine.begin() as conn:
        fan_out_all(conn)
    elapsed = time.perf_counter() - started
    with crm.engine.begin() as conn:
        conn.execute(text("DELETE FROM webhook_deliveries"))
        conn.execute(text("DELETE FROM webhook_attempts"))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--hooks", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url-template", help="a URL with {name}; default: SQLite files")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        template = args.database_url_template or f"sqlite:///{tmp}/{{name}}.db"
        crms = {
            "plain": prepared(template.format(name="plain"), args.hooks, conditioned=False),
            "conditioned": prepared(template.format(name="conditioned"), args.hooks, conditioned=True),
        }
        try:
            times: dict[str, list[float]] = {name: [] for name in crms}
            for n in range(args.rounds):
                for name, crm in crms.items():  # alternating, so that a slow moment hits both
                    times[name].append(one_round(crm, args.events))
                    print(f"round {n + 1} {name:12s} {times[name][-1]:7.2f} s", flush=True)
        finally:
            for crm in crms.values():
                crm.close()
    plain, conditioned = (statistics.median(times[name]) for name in ("plain", "conditioned"))
    pairs = args.events * args.hooks
    print(f"plain       {plain:7.2f} s  ({pairs / plain:,.0f} event-hook pairs/s)")
    print(f"conditioned {conditioned:7.2f} s  ({pairs / conditioned:,.0f} event-hook pairs/s)")
    print(f"conditioned / plain: {conditioned / plain:.2f} (target <= 1.5)")


if __name__ == "__main__":
    main()
