"""Bringing a hook back: what enabling it would send, enabling it with a replay, and the list's notice.

Every surface (the page, the API, the CLI) asks here, so each says the same counts.
What failed is counted and sent again by ``ReplayService``: no second copy of its rule.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, and_, func, or_, select

from crm_stub import CRM

from .deliveries import DeliveryService
from .domain.hooks import Hook
from .domain.recovery import Failing, LastError, Recovery, Trouble
from .hooks import HookService
from .models import AttemptRow, DeliveryRow, EventRow
from .replay import ReplayService

A, D, E = AttemptRow.__table__.c, DeliveryRow.__table__.c, EventRow.__table__.c
OK = A.status_code.between(200, 299)
NOT_OK = or_(A.status_code.is_(None), A.status_code < 200, A.status_code > 299)


def _attempts(hook_id: int, *columns: Any) -> Select[Any]:
    """``columns`` over the hook's attempts, test sends aside."""
    return (
        select(*columns)
        .select_from(
            AttemptRow.__table__.join(DeliveryRow.__table__, D.id == A.delivery_id).join(
                EventRow.__table__, E.id == D.event_id
            )
        )
        .where(D.hook_id == hook_id, E.test.is_(False))
    )


def _state(hook_id: int) -> Select[Any]:
    """One query: since when the hook fails (see ``domain/recovery.py``), and its held and pending deliveries."""
    last_ok = _attempts(hook_id, func.max(A.attempted_at)).where(OK).scalar_subquery()
    after_last_ok = or_(last_ok.is_(None), A.attempted_at > last_ok)
    mine = and_(D.hook_id == hook_id, D.status == "pending")
    return select(
        *(
            _attempts(hook_id, func.min(c)).where(NOT_OK, after_last_ok).scalar_subquery()
            for c in (A.attempted_at, D.created_at)
        ),
        select(func.count()).where(mine, D.next_attempt_at.is_(None)).scalar_subquery(),
        select(func.count()).where(mine).scalar_subquery(),
    )


class RecoveryService:
    def __init__(self, crm: CRM, hooks: HookService, deliveries: DeliveryService, replays: ReplayService) -> None:
        self._crm = crm
        self._hooks = hooks
        self._deliveries = deliveries
        self._replays = replays

    def _read_state(self, hook_id: int) -> tuple[Failing | None, int, int]:
        self._deliveries.settle()  # events committed while it was off are held deliveries once fanned out
        with self._crm._read() as session:
            since, replay_from, held, pending = session.execute(_state(hook_id)).one()
        failing = None if since is None else Failing(since=since, replay_from=replay_from)
        return failing, int(held or 0), int(pending or 0)

    def _failed_since(self, hook_id: int, failing: Failing | None) -> int:
        if failing is None:
            return 0
        found = self._replays.replay(hook_id=hook_id, since=failing.replay_from, dry_run=True)
        return found.count + found.remaining

    def preview(self, hook_id: int) -> Recovery:
        """What enabling the hook would send: held deliveries, and those failed since it started failing."""
        hook = self._hooks.get(hook_id)
        failing, held, _ = self._read_state(hook.id)
        return Recovery(hook, held, failing, self._failed_since(hook.id, failing))

    def enable(self, hook_id: int, *, replay_failed: bool = False) -> Recovery:
        """Enable the hook (its held deliveries go) and, with ``replay_failed``, send again, in the same
        transaction, what failed since it started failing."""
        with self._crm.transaction():
            before = self.preview(hook_id)
            hook = self._hooks.set_enabled(hook_id, True)
            replay = None
            if replay_failed and before.failing is not None:
                replay = self._replays.replay(hook_id=hook_id, since=before.failing.replay_from)
        return Recovery(hook, before.held, before.failing, before.failed, replay)

    def troubles(self, limit: int) -> tuple[list[Trouble], int]:
        """The first ``limit`` failing or disabled hooks, by id, each with since when, its last error and
        how many deliveries wait; and how many such hooks there are."""
        found = [h for h in self._hooks.list() if h.status in ("failing", "disabled")]
        return [self._trouble(hook) for hook in found[:limit]], len(found)

    def _trouble(self, hook: Hook) -> Trouble:
        failing, _, pending = self._read_state(hook.id)
        latest = (
            _attempts(hook.id, A.attempted_at, A.status_code, A.error)
            .where(NOT_OK)
            .order_by(A.attempted_at.desc(), A.id.desc())
            .limit(1)
        )
        with self._crm._read() as session:
            row = session.execute(latest).first()
        last = None if row is None else LastError(row.attempted_at, row.status_code, row.error)
        return Trouble(hook, failing, last, pending)
