"""Sales opportunities: a client's potential deal moving through the pipeline to won or lost."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session

from ..errors import CRMError, InvalidTransition, NotFound
from ..models import Client, Opportunity
from ..snapshot import Snapshot
from ..stages import LOST, WON
from .base import Events, decimal, text
from .lifecycle import LifecycleService


class OpportunityService(LifecycleService[Opportunity]):
    model = Opportunity
    entity = "opportunity"
    open_status = "open"
    editable: ClassVar[dict[str, Any]] = {
        "title": lambda f, v: text(f, v, required=True),
        "amount": decimal,
    }

    def create(
        self,
        client_id: int,
        title: str,
        amount: Any,
        *,
        owner_id: int | None = None,
        stage: str | None = None,
    ) -> Snapshot:
        title = text("title", title, required=True)  # type: ignore[assignment]
        value = decimal("amount", amount)
        if stage is None:
            stage = self._crm.stages.initial(self.entity)
        elif self._crm.stages.check(self.entity, stage) in (WON, LOST):
            raise CRMError(f"stage: an opportunity cannot start {stage}")
        with self._crm.transaction() as session:
            client = session.get(Client, client_id)
            if client is None:
                raise NotFound("client", client_id)
            obj = Opportunity(
                client_id=client_id,
                title=title,
                amount=value,
                stage=stage,
                status=self.open_status,
                # An opportunity belongs to the client's owner unless told otherwise.
                owner_id=client.owner_id if owner_id is None else self._user(session, owner_id),
                tags=[],
                shares=[],
            )
            session.add(obj)
            session.flush()
            return self._commit(session, obj, [("opportunity.created", obj, {})])

    def change_stage(self, record_id: int, stage: str) -> Snapshot:
        stage = self._crm.stages.check(self.entity, stage)
        if stage == LOST:
            return self.lose(record_id)
        if stage == WON:
            return self._change(record_id, self.mark_won)
        return super().change_stage(record_id, stage)

    def _close(self, obj: Opportunity, stage: str) -> dict[str, Any]:
        """Move an open opportunity to won or lost; returns the changes."""
        changes = {"stage": obj.stage, "status": obj.status}
        obj.stage_before_close, obj.stage, obj.status = obj.stage, stage, stage
        return changes

    def lose(self, record_id: int, reason: str | None = None) -> Snapshot:
        reason = text("reason", reason, max_length=2000)

        def mutate(session: Session, obj: Opportunity) -> Events:
            self._require_open(obj, "be lost")
            changes = {**self._close(obj, LOST), "lost_reason": obj.lost_reason}
            obj.lost_reason = reason
            return [("opportunity.stage_changed", obj, changes)]

        return self._change(record_id, mutate)

    def mark_won(self, session: Session, obj: Opportunity) -> Events:
        """Close an open opportunity as won (a sale does this); nothing if it already is."""
        if obj.status == WON:
            return []
        self._require_open(obj, "be won")
        return [("opportunity.stage_changed", obj, self._close(obj, WON))]

    def reactivate(self, record_id: int) -> Snapshot:
        def mutate(session: Session, obj: Opportunity) -> Events:
            if obj.status != LOST:
                raise InvalidTransition(f"opportunity {obj.id} is {obj.status}; only lost ones reactivate")
            changes = {"stage": obj.stage, "status": obj.status, "lost_reason": obj.lost_reason}
            obj.stage = obj.stage_before_close or self._crm.stages.initial(self.entity)
            obj.status, obj.lost_reason, obj.stage_before_close = self.open_status, None, None
            return [("opportunity.reactivated", obj, changes)]

        return self._change(record_id, mutate)
