"""The transactional outbox: events written in the CRM's own transaction.

A receiver on the host's signal bus serialises the event once and inserts it,
with one delivery row per matching hook, into the session of the change.  It
commits with the change or vanishes with its rollback; nothing is sent from
inside the transaction.  After a commit that wrote deliveries, ``on_commit``
wakes whoever delivers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from crm_stub import CRM
from crm_stub.models import utcnow
from crm_stub.signals import EVENT_CODES, bus

from .domain import envelope
from .models import DeliveryRow, EventRow, HookRow, MetaRow

_PENDING = "crm_webhooks.wrote_deliveries"


class HookIndex:
    """Enabled hook ids by event code, reloaded only when ``hooks_version`` moves.

    Reading the version costs one primary-key lookup inside the change's own
    transaction, which also sees hooks that another process just committed.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._by_event: dict[str, tuple[int, ...]] = {}
        self._lock = threading.Lock()

    def matching(self, session: Session, code: str) -> tuple[int, ...]:
        version = session.scalar(select(MetaRow.hooks_version).where(MetaRow.id == 1))
        if version != self._version:
            rows = session.execute(select(HookRow.event, HookRow.id).where(HookRow.enabled).order_by(HookRow.id)).all()
            by_event: dict[str, list[int]] = {}
            for code_, hook_id in rows:
                by_event.setdefault(code_, []).append(hook_id)
            with self._lock:
                self._by_event = {k: tuple(v) for k, v in by_event.items()}
                self._version = version
        return self._by_event.get(code, ())


def write_event(
    session: Session,
    code: str,
    obj: dict[str, Any],
    changes: dict[str, Any] | None,
    hook_ids: tuple[int, ...] | list[int],
    *,
    test: bool = False,
    event_id: str | None = None,
) -> str:
    """Insert the event and a pending delivery per hook into ``session``; returns the event id."""
    now = utcnow()
    event_id = event_id or envelope.new_event_id()
    env = envelope.build(event_id, code, now, obj, changes)
    session.execute(
        insert(EventRow),
        [
            {
                "id": event_id,
                "type": code,
                "object_id": None if obj.get("id") is None else str(obj["id"]),
                "timestamp": env["timestamp"],
                "body": envelope.encode(env),
                "test": test,
                "created_at": now,
            }
        ],
    )
    if hook_ids:
        session.execute(insert(DeliveryRow), [_delivery(event_id, hook_id, now) for hook_id in hook_ids])
        session.info[_PENDING] = True
    return event_id


def _delivery(event_id: str, hook_id: int, now: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "hook_id": hook_id,
        "status": "pending",
        "attempt_count": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


class Outbox:
    """Connects the bus of one CRM to the outbox tables."""

    def __init__(self, crm: CRM, on_commit: Callable[[], None]) -> None:
        self._crm = crm
        self._on_commit = on_commit
        self.index = HookIndex()
        self._receivers = []
        for code in EVENT_CODES:
            receiver = self._receiver(code)
            bus.signal(code).connect(receiver, sender=crm, weak=False)
            self._receivers.append((code, receiver))
        event.listen(crm.session_factory, "after_commit", self._after_commit)
        event.listen(crm.session_factory, "after_rollback", self._after_rollback)

    def _receiver(self, code: str) -> Callable[..., None]:
        def receive(sender: CRM, *, session: Session, obj: Any, changes: dict[str, Any], actor_id: int | None) -> None:
            hook_ids = self.index.matching(session, code)
            if hook_ids:
                write_event(session, code, obj.to_dict(), changes, hook_ids)

        return receive

    def _after_commit(self, session: Session) -> None:
        if session.info.pop(_PENDING, False):
            self._on_commit()

    def _after_rollback(self, session: Session) -> None:
        session.info.pop(_PENDING, None)

    def close(self) -> None:
        for code, receiver in self._receivers:
            bus.signal(code).disconnect(receiver, sender=self._crm)
        self._receivers.clear()
        event.remove(self._crm.session_factory, "after_commit", self._after_commit)
        event.remove(self._crm.session_factory, "after_rollback", self._after_rollback)
