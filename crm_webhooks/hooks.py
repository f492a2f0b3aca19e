"""Hooks: create, read, change, disable, delete, rotate secrets. Every surface calls these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import delete, func, or_, select

from crm_stub import CRM, NotFound
from crm_stub.models import utcnow
from crm_stub.services.base import check_id

from . import state
from .domain.event_patterns import codes_of_all
from .domain.hooks import BY_ADMIN, CREATED_DISABLED, FIELDS, Hook, validate_event, validate_fields
from .domain.messages import N_
from .domain.options import Options
from .domain.secrets import grace_ends, retire
from .domain.templating import DEFAULT_CONTENT_TYPE
from .engine import health
from .engine.fanout import fan_out_all, fan_out_in_passes
from .engine.signing import new_secret
from .exceptions import ValidationError
from .models import AttemptRow, DeliveryRow, HookEventRow, HookRow


def to_hook(row: HookRow) -> Hook:
    return Hook(
        id=row.id,
        name=row.name,
        event=row.event,
        url=row.url,
        method=row.method,
        key=row.key,
        value=row.value,
        enabled=row.enabled,
        secret=row.secret,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_run_at=row.last_run_at,
        last_result=row.last_result,
        consecutive_failures=row.consecutive_failures,
        disabled_code=row.disabled_reason,
        disabled_at=row.disabled_at,
        previous_secret_expires_at=grace_ends(row.retired_secrets, utcnow()),
        ordering=row.ordering,
        events=patterns_of(row),
        condition=row.condition,
        skipped_by_condition=row.skipped_by_condition,
        body_template=row.body_template,
        content_type=row.content_type or DEFAULT_CONTENT_TYPE,
        max_per_second=row.max_per_second,
    )


def patterns_of(row: HookRow) -> tuple[str, ...]:
    """A hook's events as written; one a process older than 0.5.0 made has only its ``event``."""
    return tuple(row.events or (row.event,))


def current_fields(row: HookRow) -> dict[str, Any]:
    """A stored hook's fields, as ``validate_fields`` takes them for a change (``current``)."""
    return {**{name: getattr(row, name) for name in FIELDS}, "events": patterns_of(row)}


# Hook.status, as SQL: what the list can be filtered by.
STATUSES = ("never_run", "succeeded", "failing", "disabled")
MAX_SEARCH = 200


def _with_status(status: str) -> Any:
    ran = HookRow.enabled.is_(True) & HookRow.last_run_at.is_not(None)
    conditions = {
        "disabled": HookRow.enabled.is_(False),
        "never_run": HookRow.enabled.is_(True) & HookRow.last_run_at.is_(None),
        "succeeded": ran & (HookRow.last_result == "succeeded"),
        "failing": ran & ((HookRow.last_result != "succeeded") | HookRow.last_result.is_(None)),
    }
    if status not in conditions:
        raise ValidationError(
            "status", N_("%(value)s is not one of %(choices)s"), value=repr(status), choices=", ".join(STATUSES)
        )
    return conditions[status]


def _matching(search: str) -> Any:
    if not isinstance(search, str) or len(search) > MAX_SEARCH:
        raise ValidationError("search", N_("text of at most %(high)s characters"), high=MAX_SEARCH)
    text = search.strip().lower()
    # autoescape: a % or _ typed in the box is that character, not a wildcard.
    return or_(
        func.lower(HookRow.name).contains(text, autoescape=True),
        func.lower(HookRow.url).contains(text, autoescape=True),
    )


class HookService:
    def __init__(self, crm: CRM, options: Options) -> None:
        self._crm = crm
        self._options = options

    def _row(self, session: Any, hook_id: int, *, lock: bool = False) -> HookRow:
        row = session.get(HookRow, check_id("hook", hook_id), with_for_update=lock or None)
        if row is None:
            raise NotFound("hook", hook_id)
        return row

    def create(self, /, **fields: Any) -> Hook:
        cleaned = validate_fields(fields, allow_private=self._options.allow_private_networks)
        now = utcnow()
        with self._crm.transaction() as session:
            events = cleaned.pop("events")
            row = HookRow(**cleaned, events=list(events), secret=new_secret(), created_at=now, updated_at=now)
            if not row.enabled:
                row.disabled_reason, row.disabled_at = CREATED_DISABLED, now
            session.add(row)
            session.flush()
            state.set_codes(session, row.id, codes_of_all(events))
            state.set_rate_slot(session, row.id, limited=row.max_per_second is not None)
            state.bump_version(session)
            return to_hook(row)

    def list(
        self,
        *,
        event: str | None = None,
        enabled: bool | None = None,
        search: str | None = None,
        status: str | None = None,
    ) -> list[Hook]:
        """By id; ``search`` finds text in the name or URL (any case), ``status`` is one of STATUSES."""
        stmt = select(HookRow).order_by(HookRow.id)
        if event is not None:  # the hooks this event reaches
            takes = select(HookEventRow.hook_id).where(HookEventRow.code == validate_event(event))
            stmt = stmt.where(HookRow.id.in_(takes))
        if enabled is not None:
            stmt = stmt.where(HookRow.enabled.is_(enabled))
        if status is not None:
            stmt = stmt.where(_with_status(status))
        if search is not None:
            stmt = stmt.where(_matching(search))
        with self._crm._read() as session:
            return [to_hook(row) for row in session.scalars(stmt)]

    def ids(self) -> set[int]:
        """The ids of the hooks there are: one light read, for a metrics scrape."""
        with self._crm._read() as session:
            return set(session.scalars(select(HookRow.id)))

    def get(self, hook_id: int) -> Hook:
        with self._crm._read() as session:
            return to_hook(self._row(session, hook_id))

    def update(self, hook_id: int, /, **fields: Any) -> Hook:
        with self._crm.transaction() as session:
            row = self._row(session, hook_id, lock=True)
            current = current_fields(row)
            cleaned = validate_fields(fields, allow_private=self._options.allow_private_networks, current=current)
            if "events" in cleaned:
                cleaned["events"] = list(cleaned["events"])
            enabled = cleaned.pop("enabled", row.enabled)
            reordered = cleaned.get("ordering", row.ordering) != row.ordering
            if cleaned.get("condition", row.condition) != row.condition:
                row.skipped_by_condition = 0  # what it counts is the new condition's doing
            if enabled != row.enabled or any(getattr(row, name) != value for name, value in cleaned.items()):
                row.updated_at = utcnow()  # saved unchanged, it was not changed
            for name, value in cleaned.items():
                setattr(row, name, value)
            session.flush()
            if "events" in cleaned:
                state.set_codes(session, row.id, codes_of_all(cleaned["events"]))
            if "max_per_second" in cleaned:
                state.set_rate_slot(session, row.id, limited=row.max_per_second is not None)
            if reordered:  # what waits follows the new choice too, not only what comes next
                state.set_ordering(session, row.id, ordered=row.ordering == "record")
            if enabled != row.enabled:
                self._set_enabled(session, row, enabled)
            state.bump_version(session)
            session.refresh(row)
            return to_hook(row)

    def _set_enabled(self, session: Any, row: HookRow, enabled: bool) -> None:
        if enabled:
            state.enable(session, row.id, utcnow())
        else:
            health.after_admin_disable(session, state.disable(session, [row.id], BY_ADMIN, utcnow()))
        session.expire(row)

    def set_enabled(self, hook_id: int, enabled: bool) -> Hook:
        with self._crm.transaction() as session:
            row = self._row(session, hook_id, lock=True)
            if row.enabled != enabled:
                row.updated_at = utcnow()
                session.flush()  # before _set_enabled expires the row
                self._set_enabled(session, row, enabled)
            return to_hook(row)

    def delete(self, hook_id: int) -> None:
        """Delete a hook with its deliveries and their history."""
        # Events written for it but not fanned out yet get their rows first, so that no delivery
        # is left for a hook that is gone: a backlog in passes, what came since in the deletion's.
        fan_out_in_passes(self._crm.transaction)
        with self._crm.transaction() as session:
            row = self._row(session, hook_id, lock=True)
            fan_out_all(session)
            deliveries = select(DeliveryRow.id).where(DeliveryRow.hook_id == row.id)
            session.execute(delete(AttemptRow).where(AttemptRow.delivery_id.in_(deliveries)))
            session.execute(delete(DeliveryRow).where(DeliveryRow.hook_id == row.id))
            state.set_rate_slot(session, row.id, limited=False)
            session.execute(delete(HookRow).where(HookRow.id == row.id))
            state.bump_version(session)

    def rotate_secret(self, hook_id: int) -> Hook:
        """A new secret; the old one keeps signing too for the grace period, as do those retired before it."""
        with self._crm.transaction() as session:
            row = self._row(session, hook_id, lock=True)
            grace = dt.timedelta(hours=self._options.secret_grace_hours)
            row.retired_secrets = retire(row.secret, row.retired_secrets, now=utcnow(), grace=grace)
            row.secret = new_secret()
            row.updated_at = utcnow()
            session.flush()
            return to_hook(row)
