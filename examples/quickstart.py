"""A whole sales cycle on the host CRM, printing every event it raises.

    python examples/quickstart.py            # a temporary SQLite database
    python examples/quickstart.py URL        # any SQLAlchemy URL
"""

from __future__ import annotations

import sys
import tempfile

from crm_stub import CRM, EVENT_CODES, bus


def main(url: str | None = None) -> int:
    with tempfile.TemporaryDirectory() as tmp, CRM(url or f"sqlite:///{tmp}/crm.db") as crm:
        raised: list[str] = []

        def show(sender: CRM, *, session, obj, changes, actor_id, code: str) -> None:
            raised.append(code)
            print(f"{len(raised):>2}  {code:<28} id={obj.id:<3} changes={changes}")

        receivers = [lambda sender, _c=code, **kw: show(sender, code=_c, **kw) for code in EVENT_CODES]
        for code, receiver in zip(EVENT_CODES, receivers, strict=True):
            bus.signal(code).connect(receiver, sender=crm)

        alice = crm.users.create("Alice", "alice@example.com")
        bob = crm.users.create("Bob", "bob@example.com")
        with crm.acting_as(alice.id):
            lead = crm.leads.create("ACME", email="buyer@acme.test", owner_id=alice.id)
            crm.leads.update(lead.id, phone="+55 11 5555-0100")
            crm.leads.tag(lead.id, "fair-2026")
            crm.leads.change_stage(lead.id, "qualified")
            client = crm.leads.convert(lead.id)
            opp = crm.opportunities.create(client.id, "Annual plan", 1500)
            crm.opportunities.follow_up(opp.id, "Demo went well", kind="meeting")
            quote = crm.quotes.create(opp.id, [{"description": "Licence", "quantity": 2, "unit_price": 750}])
            crm.clients.share(client.id, bob.id)
            sale = crm.sales.create(opp.id, quote_id=quote.id)
        print(f"\n{len(raised)} events; sale {sale.id} of {sale.amount} closed opportunity {opp.id}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
