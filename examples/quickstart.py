"""A whole sales cycle on the host CRM, printing every event it raises.

python examples/quickstart.py            # a temporary SQLite database
python examples/quickstart.py URL        # any SQLAlchemy URL
"""

from __future__ import annotations

import sys
import tempfile
from typing import Any

from crm_stub import CRM, EVENT_CODES, bus
from crm_stub.scenario import sales_cycle


def main(url: str | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp, CRM(url or f"sqlite:///{tmp}/crm.db") as crm:
        raised: list[str] = []

        def printer(code: str) -> Any:
            def show(sender: CRM, *, session: Any, obj: Any, changes: dict, actor_id: int | None) -> None:
                raised.append(code)
                print(f"{len(raised):>2}  {code:<28} id={obj.id:<3} actor={actor_id} changes={changes}")

            return show

        receivers = [printer(code) for code in EVENT_CODES]
        for code, receiver in zip(EVENT_CODES, receivers, strict=True):
            bus.signal(code).connect(receiver, sender=crm)
        cycle = sales_cycle(crm)
        kinds = len(set(raised))
        print(f"\n{len(raised)} events, {kinds} of the {len(EVENT_CODES)} in the catalog; sale {cycle.sale} closed.")
    return 0 if set(raised) == set(EVENT_CODES) else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
