"""Calls shared by leads, clients and opportunities: edit, stage, owner, follow-ups, tags, shares."""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy.orm import Session

from ..errors import CRMError, InvalidTransition
from ..models import FollowUp, Share, Tag
from ..snapshot import Snapshot
from .base import Events, M, Service, email, json_value, text

FOLLOW_UP_KINDS = ("call", "meeting", "email", "note")


class LifecycleService(Service[M]):
    # Fields update() may set, and how each is cleaned; anything else the
    # model has is changed through its own call (change_stage, reassign...).
    editable: ClassVar[dict[str, Any]] = {}
    # Statuses in which the record's pipeline may move.
    open_status: ClassVar[str] = "active"

    def _clean_update(self, fields: dict[str, Any]) -> dict[str, Any]:
        cleaned = {}
        for name, value in fields.items():
            if name in self.editable:
                cleaned[name] = self.editable[name](name, value)
            else:
                cleaned[name] = self._clean_other(name, value)
        return cleaned

    def _clean_other(self, name: str, value: Any) -> Any:
        hint = {"stage": "change_stage()", "owner_id": "reassign()", "status": "archive()/reactivate()"}.get(name)
        raise CRMError(f"{name}: cannot be set by update()" + (f"; use {hint}" if hint else ""))

    def update(self, record_id: int, **fields: Any) -> Snapshot:
        """Change plain fields; raises ``<entity>.updated`` with the old values of those that changed."""
        if not fields:
            raise CRMError("fields: give at least one field to update")
        cleaned = self._clean_update(fields)

        def mutate(session: Session, obj: Any) -> Events:
            changes = self._apply(obj, cleaned)
            return [(f"{self.entity}.updated", obj, changes)] if changes else []

        return self._change(record_id, mutate)

    def _apply(self, obj: Any, cleaned: dict[str, Any]) -> dict[str, Any]:
        changes = {}
        for name, value in cleaned.items():
            old = getattr(obj, name)
            if old != value:
                changes[name] = old
                setattr(obj, name, value)
        return changes

    def _require_open(self, obj: Any, action: str) -> None:
        if obj.status != self.open_status:
            raise InvalidTransition(f"{self.entity} {obj.id} is {obj.status}; cannot {action}")

    def change_stage(self, record_id: int, stage: str) -> Snapshot:
        stage = self._crm.stages.check(self.entity, stage)

        def mutate(session: Session, obj: Any) -> Events:
            self._require_open(obj, "change its stage")
            if obj.stage == stage:
                return []
            old, obj.stage = obj.stage, stage
            return [(f"{self.entity}.stage_changed", obj, {"stage": old})]

        return self._change(record_id, mutate)

    def reassign(self, record_id: int, owner_id: int) -> Snapshot:
        def mutate(session: Session, obj: Any) -> Events:
            if owner_id is None:
                raise CRMError("owner_id: required")
            self._user(session, owner_id)
            if obj.owner_id == owner_id:
                return []
            old, obj.owner_id = obj.owner_id, owner_id
            return [(f"{self.entity}.reassigned", obj, {"owner_id": old})]

        return self._change(record_id, mutate)

    def follow_up(self, record_id: int, note: str, *, kind: str = "note") -> Snapshot:
        """Log a call, meeting, e-mail or note; returns the follow-up."""
        note = text("note", note, required=True, max_length=10_000)  # type: ignore[assignment]
        if kind not in FOLLOW_UP_KINDS:
            raise CRMError(f"kind: {kind!r} is not one of {', '.join(FOLLOW_UP_KINDS)}")
        with self._crm.transaction() as session:
            self._load(session, record_id)
            entry = FollowUp(
                entity=self.entity, record_id=record_id, kind=kind, note=note, author_id=self._crm.actor_id
            )
            session.add(entry)
            session.flush()
            return self._commit(session, entry, [(f"{self.entity}.follow_up_added", entry, {})])

    def follow_ups(self, record_id: int) -> list[Snapshot]:
        with self._crm._read() as session:
            self._load(session, record_id)
            rows = session.query(FollowUp).filter_by(entity=self.entity, record_id=record_id).order_by(FollowUp.id)
            return [Snapshot.of(row) for row in rows]


class PartyService(LifecycleService[M]):
    """Leads and clients: archived, discarded, shared, tagged; custom fields in ``extra``."""

    editable: ClassVar[dict[str, Any]] = {
        "name": lambda f, v: text(f, v, required=True),
        "email": email,
        "phone": lambda f, v: text(f, v, max_length=50),
    }

    def _clean_other(self, name: str, value: Any) -> Any:
        if name in self.model.__table__.columns or name in ("tags", "shared_with"):
            return super()._clean_other(name, value)
        return _json_field(name, value)

    def _apply(self, obj: Any, cleaned: dict[str, Any]) -> dict[str, Any]:
        plain = {k: v for k, v in cleaned.items() if k in self.editable}
        changes = super()._apply(obj, plain)
        extra = dict(obj.extra or {})
        for name, value in cleaned.items():
            if name not in self.editable and extra.get(name) != value:
                changes[name] = extra.get(name)
                extra[name] = value
        obj.extra = extra
        return changes

    def _close(self, record_id: int, status: str, reason: str | None = None) -> Snapshot:
        def mutate(session: Session, obj: Any) -> Events:
            self._require_open(obj, "be " + status)
            changes = {"status": obj.status}
            obj.status = status
            if status == "discarded":
                changes["discard_reason"] = obj.discard_reason
                obj.discard_reason = reason
            return [(f"{self.entity}.{status}", obj, changes)]

        return self._change(record_id, mutate)

    def archive(self, record_id: int) -> Snapshot:
        return self._close(record_id, "archived")

    def discard(self, record_id: int, reason: str | None = None) -> Snapshot:
        return self._close(record_id, "discarded", text("reason", reason, max_length=2000))

    def reactivate(self, record_id: int) -> Snapshot:
        def mutate(session: Session, obj: Any) -> Events:
            if obj.status not in ("archived", "discarded"):
                raise InvalidTransition(
                    f"{self.entity} {obj.id} is {obj.status}; only archived or discarded ones reactivate"
                )
            changes = {"status": obj.status, "discard_reason": obj.discard_reason}
            obj.status, obj.discard_reason = "active", None
            return [(f"{self.entity}.reactivated", obj, changes)]

        return self._change(record_id, mutate)

    def share(self, record_id: int, user_id: int) -> Snapshot:
        def mutate(session: Session, obj: Any) -> Events:
            self._user(session, user_id)
            if user_id == obj.owner_id:
                raise InvalidTransition(
                    f"user {user_id} owns {self.entity} {obj.id}; sharing with the owner means nothing"
                )
            old = obj.shared_with
            if user_id in old:
                return []
            obj.shares.append(Share(entity=self.entity, user_id=user_id))
            return [(f"{self.entity}.shared", obj, {"shared_with": old})]

        return self._change(record_id, mutate)

    def unshare(self, record_id: int, user_id: int) -> Snapshot:
        def mutate(session: Session, obj: Any) -> Events:
            self._user(session, user_id)
            old = obj.shared_with
            if user_id not in old:
                return []
            obj.shares = [s for s in obj.shares if s.user_id != user_id]
            return [(f"{self.entity}.unshared", obj, {"shared_with": old})]

        return self._change(record_id, mutate)

    def tag(self, record_id: int, *tags: str) -> Snapshot:
        """Add tags; raises ``<entity>.tagged`` only when at least one is new."""
        if not tags:
            raise CRMError("tags: give at least one tag")
        names = [text("tags", t, required=True, max_length=100) for t in tags]

        def mutate(session: Session, obj: Any) -> Events:
            old = obj.tag_names
            new = [n for n in dict.fromkeys(names) if n not in old]
            if not new:
                return []
            obj.tags.extend(Tag(entity=self.entity, name=n) for n in new)
            return [(f"{self.entity}.tagged", obj, {"tags": old})]

        return self._change(record_id, mutate)


def _json_field(name: str, value: Any) -> Any:
    if not name.isidentifier():
        raise CRMError(f"{name}: custom field names must be identifiers")
    return json_value(name, value)
