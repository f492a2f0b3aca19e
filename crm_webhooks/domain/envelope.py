"""The JSON envelope a receiver gets, and how it travels: pure functions, no I/O."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

_CROCKFORD = "0123456789abcdefghjkmnpqrstvwxyz"
# Two digits per lookup: the id is made inside every CRM write that has hooks.
_PAIRS = [high + low for high in _CROCKFORD for low in _CROCKFORD]
_PAIR_SHIFTS = range(120, -1, -10)


_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1


class EventIds:
    """Event ids that sort in the order this process made them.

    ``evt_`` and 26 base32 characters: 48 bits of milliseconds, then 80 bits that
    are random for the first id of a millisecond and counted up from there for the
    next ones (as monotonic ULIDs do).  History, fan-out and "oldest first" sort by
    id, so two events written in one millisecond must not come out in a random
    order; a clock stepping back keeps the last millisecond instead.
    """

    def __init__(self) -> None:
        self._last = 0
        # Several CRM threads may write at once; the id is the only thing shared.
        self._lock = threading.Lock()

    def new(self, now: float | None = None) -> str:
        millis = int((time.time() if now is None else now) * 1000)
        with self._lock:
            if millis > self._last >> _RANDOM_BITS:
                value = (millis << _RANDOM_BITS) | int.from_bytes(os.urandom(10), "big")
            else:
                # Counting up from a random start leaves half the space free on average;
                # should it run out, the id moves on to the next millisecond.
                value = self._last + 1
            self._last = value
        return "evt_" + "".join([_PAIRS[(value >> shift) & 1023] for shift in _PAIR_SHIFTS])


_IDS = EventIds()


def new_event_id(now: float | None = None) -> str:
    """A new id from this process's sequence (see ``EventIds``)."""
    return _IDS.new(now)


def rfc3339(moment: datetime) -> str:
    """UTC with milliseconds and a Z, the form receivers parse most reliably."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="milliseconds") + "Z"


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:.2f}" if value == value.quantize(Decimal("0.01")) else str(value)
    if isinstance(value, datetime):
        return rfc3339(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (set, frozenset, tuple)):
        return sorted(value) if isinstance(value, (set, frozenset)) else list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


# The version of the envelope's shape: a new date whenever a key is removed, renamed or
# changes meaning (adding a key is not a change: receivers ignore keys they do not know).
API_VERSION = "2026-11-01"


def build(
    event_id: str,
    code: str,
    occurred_at: datetime,
    obj: dict[str, Any],
    changes: dict[str, Any] | None = None,
    *,
    actor_id: int | None = None,
    test: bool = False,
) -> dict[str, Any]:
    """``{"id", "type", "api_version", "timestamp", "actor_id", "test"?, "data": {"object", "previous_attributes"?}}``.

    ``actor_id`` is the user who made the change (null for none: a job, an
    import, a test send).  ``test`` is present, and true, only on test sends;
    a real event has no such key.  ``previous_attributes`` holds the old value
    of each changed field and is left out when nothing was changed (a
    creation, a follow-up).
    """
    data: dict[str, Any] = {"object": obj}
    if changes:
        data["previous_attributes"] = changes
    envelope = {
        "id": event_id,
        "type": code,
        "api_version": API_VERSION,
        "timestamp": rfc3339(occurred_at),
        "actor_id": actor_id,
    }
    if test:
        envelope["test"] = True
    envelope["data"] = data
    return envelope


# One encoder for every event: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=_json_default)


def encode(envelope: dict[str, Any]) -> str:
    """The body sent and signed, computed once when the event is written."""
    return _ENCODER.encode(envelope)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event as the outbox stores it: its body serialised once, for every attempt."""

    id: str
    object_id: str | None
    timestamp: str
    body: str
    record: str | None


def record_of(code: str, obj: dict[str, Any]) -> str | None:
    """The record an event is about, ``"lead:7"``: the unit of per-record order.

    A follow-up belongs to its lead, client or opportunity, so that it reaches a
    receiver after the changes made before it to that record.
    """
    entity, _, action = code.partition(".")
    record_id = obj.get(f"{entity}_id") if action == "follow_up_added" else obj.get("id")
    return None if record_id is None else f"{entity}:{record_id}"


def new_event(
    code: str,
    obj: dict[str, Any],
    changes: dict[str, Any] | None,
    occurred_at: datetime,
    actor_id: int | None = None,
    *,
    test: bool = False,
) -> NewEvent:
    """A fresh id and the envelope of ``obj`` (a record's ``to_dict()``), ready to insert."""
    event_id = new_event_id()
    env = build(event_id, code, occurred_at, obj, changes, actor_id=actor_id, test=test)
    object_id = None if obj.get("id") is None else str(obj["id"])
    return NewEvent(event_id, object_id, env["timestamp"], encode(env), record_of(code, obj))


def template_variables(body: str, hook_id: int, hook_name: str) -> dict[str, Any]:
    """What a hook's body template is rendered with (domain/templating.py), from the stored envelope."""
    envelope = json.loads(body)
    data = envelope["data"]
    return {
        "object": data["object"],
        "previous": data.get("previous_attributes") or {},
        "event": envelope["type"],
        "hook": {"id": hook_id, "name": hook_name},
        "id": envelope["id"],
        "timestamp": envelope["timestamp"],
    }


def query_params(event_id: str, code: str, timestamp: str, object_id: Any, *, test: bool = False) -> dict[str, str]:
    """What a GET or DELETE carries instead of a body (``test=true`` only on test sends)."""
    params = {
        "id": event_id,
        "type": code,
        "api_version": API_VERSION,
        "timestamp": timestamp,
        "object_id": "" if object_id is None else str(object_id),
    }
    if test:
        params["test"] = "true"
    return params
