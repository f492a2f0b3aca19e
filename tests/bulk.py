"""Thousands of CRM events for tests whose subject is what happens to them, not how they were written."""

from __future__ import annotations

from crm_stub import CRM
from crm_stub.models import Lead


def create_leads(crm: CRM, count: int, prefix: str = "Lead ") -> list[int]:
    """``count`` leads named ``prefix`` and their number, each raising ``lead.created`` as
    ``crm.leads.create`` does, in one transaction.

    The same rows as ``count`` calls of ``crm.leads.create``, the addon's included (its outbox
    hears the same signal), without a savepoint and a flush for each lead: on PostgreSQL those
    round trips made setting up a backlog the longest part of the tests that need one.
    """
    stage = crm.stages.initial("lead")
    with crm.transaction() as session:
        # Empty collections up front, as the service does: to_dict() would load them one by one.
        leads = [Lead(name=f"{prefix}{n}", stage=stage, tags=[], shares=[], extra={}) for n in range(count)]
        session.add_all(leads)
        session.flush()
        for lead in leads:
            crm.emit(session, "lead.created", lead)
        return [lead.id for lead in leads]
