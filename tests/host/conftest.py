"""Host fixtures: a small world of records, and a recorder of the signals it raises."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from crm_stub import CRM, EVENT_CODES, bus
from crm_stub.db import read_only

# The recorder keeps a row per event in the change's own session, as an outbox
# would, so tests can see which events survive their transaction.
_log_metadata = sa.MetaData()
event_log = sa.Table(
    "test_event_log",
    _log_metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("code", sa.String(60)),
)


@dataclass
class Received:
    code: str
    obj: Any
    obj_dict: dict[str, Any]
    changes: dict[str, Any]
    actor_id: int | None
    session: Any


@dataclass
class Recorder:
    crm: CRM
    received: list[Received] = field(default_factory=list)

    @property
    def codes(self) -> list[str]:
        return [r.code for r in self.received]

    def committed_codes(self) -> list[str]:
        with read_only(), self.crm.engine.connect() as conn:
            return list(conn.scalars(sa.select(event_log.c.code).order_by(event_log.c.id)))

    def clear(self) -> None:
        self.received.clear()


@pytest.fixture
def recorder(host: CRM) -> Iterator[Recorder]:
    _log_metadata.create_all(host.engine)
    rec = Recorder(host)
    receivers = []
    for code in EVENT_CODES:

        def receive(sender: CRM, *, session, obj, changes, actor_id, _code: str = code) -> None:
            assert sender is host
            rec.received.append(Received(_code, obj, obj.to_dict(), changes, actor_id, session))
            session.execute(event_log.insert().values(code=_code))

        bus.signal(code).connect(receive, sender=host)
        receivers.append((code, receive))
    yield rec
    for code, receive in receivers:
        bus.signal(code).disconnect(receive, sender=host)


@dataclass
class World:
    crm: CRM
    alice: int
    bob: int
    lead: int
    client: int
    opp: int


@pytest.fixture
def world(host: CRM, recorder: Recorder) -> World:
    alice = host.users.create(name="Alice", email="alice@example.com").id
    bob = host.users.create(name="Bob", email="bob@example.com").id
    lead = host.leads.create(name="ACME", email="buyer@acme.test", owner_id=alice).id
    client = host.clients.create(name="Globex", email="ap@globex.test", owner_id=alice).id
    opp = host.opportunities.create(client, "Annual plan", 1500).id
    recorder.clear()
    return World(host, alice, bob, lead, client, opp)
