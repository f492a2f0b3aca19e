"""The tests' bulk setup (tests/bulk.py) writes the events ``crm.leads.create`` writes: a backlog built with it is the product's."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from ..bulk import create_leads

# What differs from one lead, or one moment, to the next.
PER_RECORD = ("id", "timestamp", "created_at", "updated_at")


def outbox(crm) -> list[dict[str, Any]]:
    with crm.engine.connect() as conn:
        rows = conn.execute(sa.text("select type, test, fanout, body from webhook_events order by id")).mappings()
        events = [dict(row) for row in rows]
    for event in events:
        body = json.loads(event.pop("body"))
        body["data"]["object"] = {k: v for k, v in body["data"]["object"].items() if k not in PER_RECORD}
        event["body"] = {k: v for k, v in body.items() if k not in PER_RECORD}
    return events


def test_leads_created_in_bulk_raise_the_events_of_leads_created_one_by_one(crm, webhooks) -> None:
    for name in ("one", "another"):
        webhooks.create_hook(name=name, event="lead.created", url="http://127.0.0.1:9/unused")
    for n in range(2):
        crm.leads.create(f"Lead {n}")
    ids = create_leads(crm, 2)
    one_by_one, bulk = outbox(crm)[:2], outbox(crm)[2:]
    assert bulk == one_by_one
    assert [lead.name for lead in map(crm.leads.get, ids)] == ["Lead 0", "Lead 1"]
