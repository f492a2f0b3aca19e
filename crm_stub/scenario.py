"""A whole sales cycle that raises every event of the catalog: for demos, examples and tests."""

from __future__ import annotations

from dataclasses import dataclass

from .crm import CRM


@dataclass(frozen=True)
class Cycle:
    alice: int
    bob: int
    lead: int
    spam_lead: int
    client: int
    opportunity: int
    quote: int
    sale: int


def sales_cycle(crm: CRM, *, tag: str = "") -> Cycle:
    """From a lead at a fair to a sale, touching every event at least once (in one call each).

    ``tag`` goes into the users' e-mail addresses, so the cycle can run again on one database.
    """
    alice = crm.users.create("Alice Admin", f"alice{tag}@example.com", is_admin=True).id
    bob = crm.users.create("Bob Sales", f"bob{tag}@example.com").id
    with crm.acting_as(alice):
        lead = crm.leads.create("ACME Corp", email="buyer@acme.test", owner_id=alice, source="fair").id
        crm.leads.update(lead, phone="+55 11 5555-0100")
        crm.leads.tag(lead, "fair-2026")
        crm.leads.share(lead, bob)
        crm.leads.unshare(lead, bob)
        crm.leads.follow_up(lead, "Met at the fair, wants a demo", kind="meeting")
        crm.leads.change_stage(lead, "qualified")
        crm.leads.reassign(lead, bob)
        crm.leads.archive(lead)
        crm.leads.reactivate(lead)
        spam = crm.leads.create("Spam Inc", email="noreply@spam.test").id
        crm.leads.discard(spam, reason="not a real company")

    with crm.acting_as(bob):
        client = crm.leads.convert(lead).id
        crm.clients.update(client, phone="+55 11 5555-0199")
        crm.clients.tag(client, "enterprise")
        crm.clients.share(client, alice)
        crm.clients.unshare(client, alice)
        crm.clients.follow_up(client, "Kick-off call booked", kind="call")
        crm.clients.change_stage(client, "active")
        crm.clients.discard(client, reason="clicked by mistake")
        crm.clients.reactivate(client)

        opp = crm.opportunities.create(client, "Annual plan", 1500).id
        crm.opportunities.update(opp, amount=1800)
        crm.opportunities.follow_up(opp, "Sent the proposal", kind="email")
        crm.opportunities.change_stage(opp, "proposal")
        crm.opportunities.lose(opp, reason="budget frozen")
        crm.opportunities.reactivate(opp)
        quote = crm.quotes.create(opp, [{"description": "Licence", "quantity": 12, "unit_price": 150}]).id

    with crm.acting_as(alice):
        crm.opportunities.reassign(opp, alice)
        crm.clients.reassign(client, alice)
        sale = crm.sales.create(opp, quote_id=quote).id
        crm.clients.archive(client)
    return Cycle(alice, bob, lead, spam, client, opp, quote, sale)
