"""The CRM's signal bus: one blinker signal per event of the catalog.

Each signal is sent inside the transaction of the change with ``sender=crm``
and the keyword arguments ``session``, ``obj``, ``changes`` and ``actor_id``.
Whatever a receiver adds to ``session`` commits or rolls back with the change.
"""

from blinker import Namespace

bus = Namespace()

# Catalog order (EVENTS.md numbering); the codes are also the signal names.
EVENT_CODES: tuple[str, ...] = (
    "client.stage_changed",
    "opportunity.stage_changed",
    "lead.stage_changed",
    "client.archived",
    "client.shared",
    "client.discarded",
    "client.updated",
    "client.tagged",
    "client.unshared",
    "client.created",
    "client.reactivated",
    "client.reassigned",
    "quote.created",
    "opportunity.updated",
    "opportunity.created",
    "opportunity.reactivated",
    "opportunity.reassigned",
    "lead.archived",
    "lead.shared",
    "lead.discarded",
    "lead.updated",
    "lead.tagged",
    "lead.unshared",
    "lead.created",
    "lead.reactivated",
    "lead.reassigned",
    "client.follow_up_added",
    "opportunity.follow_up_added",
    "lead.follow_up_added",
    "sale.created",
)

for _code in EVENT_CODES:
    bus.signal(_code)
