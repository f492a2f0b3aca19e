"""The events a hook can subscribe to, numbered and labelled as in EVENTS.md.

The CRM's 30 come first; then the addon's own operational events (31-33), about the
hooks themselves, which the addon raises and the CRM knows nothing of.

The CRM's Portuguese help page, machine-translated from Spanish, calls a lead
"Conduz", "Folheto" or "Brochura" in four places; the labels here say
"prospecto", as the UI must.
"""

from __future__ import annotations

from dataclasses import dataclass

from crm_stub.signals import EVENT_CODES


@dataclass(frozen=True)
class EventType:
    number: int
    code: str
    label_pt: str
    label_en: str

    @property
    def entity(self) -> str:
        return self.code.split(".", 1)[0]

    def label(self, language: str = "en") -> str:
        return self.label_pt if language.lower().startswith("pt") else self.label_en


_LABELS: dict[str, tuple[str, str]] = {
    "client.stage_changed": ("Mudança de fase do cliente", "Client stage changed"),
    "opportunity.stage_changed": ("Mudança de fase da oportunidade", "Opportunity stage changed"),
    "lead.stage_changed": ("Mudança de fase do prospecto", "Lead stage changed"),
    "client.archived": ("Cliente arquivado", "Client archived"),
    "client.shared": ("Cliente compartilhado", "Client shared"),
    "client.discarded": ("Cliente descartado", "Client discarded"),
    "client.updated": ("Cliente editado", "Client edited"),
    "client.tagged": ("Cliente etiquetado", "Client tagged"),
    "client.unshared": ("Cliente não compartilhado", "Client unshared"),
    "client.created": ("Novo cliente", "New client"),
    "client.reactivated": ("Cliente reativado", "Client reactivated"),
    "client.reassigned": ("Cliente reatribuído", "Client reassigned"),
    "quote.created": ("Cotação criada", "Quote created"),
    "opportunity.updated": ("Oportunidade de vendas editada", "Sales opportunity edited"),
    "opportunity.created": ("Nova oportunidade de vendas", "New sales opportunity"),
    "opportunity.reactivated": ("Oportunidade de vendas reativada", "Sales opportunity reactivated"),
    "opportunity.reassigned": ("Oportunidade de vendas reatribuída", "Sales opportunity reassigned"),
    "lead.archived": ("Prospecto arquivado", "Lead archived"),
    "lead.shared": ("Prospecto compartilhado", "Lead shared"),
    "lead.discarded": ("Prospecto descartado", "Lead discarded"),
    "lead.updated": ("Prospecto editado", "Lead edited"),
    "lead.tagged": ("Prospecto etiquetado", "Lead tagged"),
    "lead.unshared": ("Prospecto não compartilhado", "Lead unshared"),
    "lead.created": ("Novo prospecto", "New lead"),
    "lead.reactivated": ("Prospecto reativado", "Lead reactivated"),
    "lead.reassigned": ("Prospecto reatribuído", "Lead reassigned"),
    "client.follow_up_added": ("Seguimento do cliente", "Client follow-up"),
    "opportunity.follow_up_added": ("Seguimento da oportunidade", "Opportunity follow-up"),
    "lead.follow_up_added": ("Seguimento do prospecto", "Lead follow-up"),
    "sale.created": ("Nova venda", "New sale"),
}

# Raised by the addon about one of its hooks (domain/operational.py), never by the CRM.
OPERATIONAL_ENTITY = "webhook"
OPERATIONAL_LABELS: dict[str, tuple[str, str]] = {
    "webhook.failing": ("Webhook falhando", "Webhook failing"),
    "webhook.disabled": ("Webhook desativado", "Webhook disabled"),
    "webhook.recovered": ("Webhook recuperado", "Webhook recovered"),
}

CATALOG: tuple[EventType, ...] = tuple(
    EventType(number, code, *{**_LABELS, **OPERATIONAL_LABELS}[code])
    for number, code in enumerate((*EVENT_CODES, *OPERATIONAL_LABELS), start=1)
)
# The CRM's own events: what ``*`` and ``*.<action>`` patterns stand for.
CRM_EVENTS: tuple[EventType, ...] = tuple(e for e in CATALOG if e.entity != OPERATIONAL_ENTITY)
BY_CODE: dict[str, EventType] = {event.code: event for event in CATALOG}


def event_type(code: str) -> EventType:
    """The catalog entry of ``code``; KeyError when it is not one."""
    return BY_CODE[code]


# For menus: entities as a sale goes (lead, client, opportunity, quote, sale), and each
# entity's events in the order of a record's life: made, edited, moved along, handed over,
# noted, shared, ended, brought back; the hooks' own events last, as a hook's health goes.
# The numbers and codes stay those of EVENTS.md.
ENTITIES: tuple[str, ...] = ("lead", "client", "opportunity", "quote", "sale", OPERATIONAL_ENTITY)
_LIFE: tuple[str, ...] = (
    "created",
    "updated",
    "stage_changed",
    "reassigned",
    "follow_up_added",
    "tagged",
    "shared",
    "unshared",
    "archived",
    "discarded",
    "reactivated",
    "failing",
    "disabled",
    "recovered",
)
GROUPED: tuple[tuple[str, tuple[EventType, ...]], ...] = tuple(
    (
        entity,
        tuple(sorted((e for e in CATALOG if e.entity == entity), key=lambda e: _LIFE.index(e.code.split(".", 1)[1]))),
    )
    for entity in ENTITIES
)
