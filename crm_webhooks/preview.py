"""What a hook would send for an event: the condition's verdict and the exact request, sending and storing nothing.

The request is made by the same ``build_request`` a delivery uses, from a ``Claimed`` put
together here instead of by a claim, so the preview cannot drift from what is really sent.
Every read runs in a read-only session; nothing is inserted, not even an event.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from crm_stub import CRM
from crm_stub.models import utcnow

from .domain import envelope
from .domain.catalog import BY_CODE
from .domain.event_patterns import codes_of_all
from .domain.hooks import validate_event, validate_fields
from .domain.inputs import shown
from .domain.messages import N_
from .domain.options import Options
from .domain.secrets import signing_secrets
from .engine.claim import Claimed
from .engine.fanout import judge
from .engine.request import build_request
from .engine.signing import new_secret
from .exceptions import ValidationError
from .hooks import HookService, current_fields
from .models import EventRow

# The CRM's service of each entity that has events.
SERVICES = {"lead": "leads", "client": "clients", "opportunity": "opportunities", "quote": "quotes", "sale": "sales"}
_RECORD = re.compile(r"([a-z_]+):([0-9]{1,19})")
# A follow-up is a record of its own (its object is the note, not the lead): no current state to build it from.
_OWN_RECORD = ".follow_up_added"


@dataclass(frozen=True)
class Preview:
    """The event previewed and the request that would go for it (headers masked as history masks them)."""

    hook_id: int | None  # None: a hook not saved yet
    event: str
    event_id: str
    record: str | None  # "lead:42" when built from a record's current state; None: a stored event
    matches: bool | None  # the condition's verdict; None: no condition, or it could not be evaluated
    condition_error: str | None
    method: str
    url: str
    headers: dict[str, str]
    body: str | None  # None: GET and DELETE carry none, or the template failed
    error: str | None  # why no request could be made (the body template failed to render)

    @property
    def would_send(self) -> bool:
        return self.error is None and self.condition_error is None and self.matches is not False

    def to_dict(self) -> dict[str, Any]:
        return {
            "hook_id": self.hook_id,
            "event": self.event,
            "event_id": self.event_id,
            "record": self.record,
            "condition": {"matches": self.matches, "error": self.condition_error},
            "would_send": self.would_send,
            "request": {
                "method": self.method,
                "url": self.url,
                "headers": dict(self.headers),
                "body": self.body,
                "error": self.error,
            },
        }


@dataclass(frozen=True)
class _Event:
    id: str
    type: str
    timestamp: str
    object_id: str | None
    body: str
    test: bool = False


class PreviewService:
    def __init__(self, crm: CRM, hooks: HookService, options: Options) -> None:
        self._crm = crm
        self._hooks = hooks
        self._options = options

    def preview(
        self,
        hook_id: int | None,
        fields: dict[str, Any],
        *,
        record: str | None = None,
        event: str | None = None,
    ) -> Preview:
        """``hook_id``'s hook (with ``fields`` changed, as ``update_hook`` would take them) or a new one
        (``fields`` as ``create_hook`` takes them), for ``record``'s current state or the latest stored event
        (of ``event``, one of the hook's codes, when given).  A new hook given neither ``event`` nor
        ``events`` takes ``event`` as its one event."""
        if hook_id is None and event is not None and not {"event", "events"} & set(fields):
            fields = {**fields, "event": event}
        hook, secrets = self._hook(hook_id, fields)
        codes = codes_of_all(hook["events"])
        code = None if event is None else validate_event(event)
        if code is not None and code not in codes:
            raise ValidationError(
                "event",
                N_("%(value)s is not one of this hook's events (%(codes)s)"),
                value=code,
                codes=", ".join(codes),
            )
        if record is not None:
            found = self._from_record(record, code, codes)
        else:
            found = self._latest((code,) if code else codes)
        verdict = None if hook["condition"] is None else judge(hook["condition"], json.loads(found.body))
        claimed = Claimed(
            delivery_id=0,
            attempt_count=0,
            event_id=found.id,
            event_type=found.type,
            timestamp=found.timestamp,
            object_id=found.object_id,
            body=found.body,
            test=found.test,
            hook_id=hook_id or 0,  # 0: not saved yet (a template's hook.id)
            url=hook["url"],
            method=hook["method"],
            key=hook["key"],
            value=hook["value"],
            secrets=secrets,
            enabled=True,
            hook_name=hook["name"],
            body_template=hook["body_template"],
            content_type=hook["content_type"],
        )
        request = build_request(claimed, int(time.time()))
        return Preview(
            hook_id=hook_id,
            event=found.type,
            event_id=found.id,
            record=record,
            matches=verdict if isinstance(verdict, bool) else None,
            condition_error=None if verdict is None or isinstance(verdict, bool) else str(verdict),
            method=request.method,
            url=request.url,
            headers=request.masked_headers(hook["key"]),
            body=None if request.body is None else request.body.decode(),
            error=request.error,
        )

    def _hook(self, hook_id: int | None, fields: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """The hook's fields as they would be after ``fields``, and the secrets it signs with."""
        allow = self._options.allow_private_networks
        if hook_id is None:
            return validate_fields(fields, allow_private=allow), (new_secret(),)  # the signature is masked anyway
        with self._crm._read() as session:
            row = self._hooks._row(session, hook_id)
            current = current_fields(row)
            secrets = signing_secrets(row.secret, row.retired_secrets, utcnow())
        return {**current, **validate_fields(fields, allow_private=allow, current=current)}, secrets

    def _latest(self, codes: tuple[str, ...]) -> _Event:
        """The latest stored event of one of ``codes`` (test sends aside)."""
        stmt = (
            select(EventRow)
            .where(EventRow.type.in_(codes), EventRow.test.is_(False))
            .order_by(EventRow.id.desc())
            .limit(1)
        )
        with self._crm._read() as session:
            row = session.scalars(stmt).first()
            if row is None:
                raise ValidationError(
                    "record", N_("no event of this hook's events is stored yet: name a record, e.g. lead:42")
                )
            return _Event(row.id, row.type, row.timestamp, row.object_id, row.body, row.test)

    def _from_record(self, record: object, code: str | None, codes: tuple[str, ...]) -> _Event:
        """An event of ``record`` (``lead:42``) made of its current state, with no previous values."""
        parsed = _RECORD.fullmatch(record) if isinstance(record, str) else None
        if parsed is None:
            raise ValidationError("record", N_("%(value)s is not entity:id, e.g. lead:42"), value=shown(record))
        entity, record_id = parsed[1], int(parsed[2])
        if entity not in SERVICES:
            raise ValidationError(
                "record",
                N_("%(value)s is not one of %(choices)s"),
                value=shown(entity),
                choices=", ".join(SERVICES),
            )
        if code is None:
            taken = [c for c in codes if BY_CODE[c].entity == entity and not c.endswith(_OWN_RECORD)]
            if not taken:
                raise ValidationError("record", N_("this hook takes no event of %(entity)s records"), entity=entity)
            code = taken[0]
        elif BY_CODE[code].entity != entity:
            raise ValidationError(
                "event", N_("%(value)s is not an event of %(entity)s records"), value=code, entity=entity
            )
        elif code.endswith(_OWN_RECORD):
            raise ValidationError(
                "event", N_("a follow-up is a record of its own: leave out record to preview the latest one stored")
            )
        obj = getattr(self._crm, SERVICES[entity]).get(record_id).to_dict()
        new = envelope.new_event(code, obj, None, utcnow())
        return _Event(new.id, code, new.timestamp, new.object_id, new.body)
