"""Leads and clients."""

from __future__ import annotations

from typing import Any

from ..errors import InvalidTransition
from ..models import Client, Lead, Share, Tag
from ..snapshot import Snapshot
from .base import email, text
from .lifecycle import PartyService, _json_field


class _PartyCreate(PartyService[Any]):
    def create(
        self,
        name: str,
        *,
        email: str | None = None,
        phone: str | None = None,
        owner_id: int | None = None,
        stage: str | None = None,
        **extra: Any,
    ) -> Snapshot:
        fields = self._fields(name, email, phone, stage, extra)
        with self._crm.transaction() as session:
            # Empty collections up front: a new record has no tags to load back.
            obj = self.model(owner_id=self._user(session, owner_id), tags=[], shares=[], **fields)
            session.add(obj)
            session.flush()
            return self._commit(session, obj, [(f"{self.entity}.created", obj, {})])

    def _fields(self, name: Any, mail: Any, phone: Any, stage: Any, extra: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": text("name", name, required=True),
            "email": email("email", mail),
            "phone": text("phone", phone, max_length=50),
            "stage": self._crm.stages.initial(self.entity)
            if stage is None
            else self._crm.stages.check(self.entity, stage),
            "extra": {k: _json_field(k, v) for k, v in extra.items()},
        }


class ClientService(_PartyCreate):
    model = Client
    entity = "client"


class LeadService(_PartyCreate):
    model = Lead
    entity = "lead"

    def convert(self, record_id: int) -> Snapshot:
        """Turn an active lead into a client; returns the client (``client.created``)."""
        with self._crm.transaction() as session:
            lead = self._load(session, record_id, lock=True)
            self._require_open(lead, "be converted")
            client = Client(
                name=lead.name,
                email=lead.email,
                phone=lead.phone,
                owner_id=lead.owner_id,
                stage=self._crm.stages.initial("client"),
                extra=dict(lead.extra or {}),
                lead_id=lead.id,
                tags=[],
                shares=[],
            )
            session.add(client)
            session.flush()
            # The party is the same: what the team knew and who saw it carries over.
            client.tags = [Tag(entity="client", name=t) for t in lead.tag_names]
            client.shares = [Share(entity="client", user_id=u) for u in lead.shared_with]
            lead.status, lead.converted_client_id = "converted", client.id
            return self._commit(session, client, [("client.created", client, {})])

    def _require_open(self, obj: Any, action: str) -> None:
        if obj.status == "converted":
            raise InvalidTransition(
                f"lead {obj.id} was converted into client {obj.converted_client_id}; cannot {action}"
            )
        super()._require_open(obj, action)
