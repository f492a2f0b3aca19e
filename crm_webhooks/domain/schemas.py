"""JSON Schemas (2020-12) of the envelope of each event of the catalog: pure data, no I/O.

They are derived from what builds the payloads rather than written out by hand,
so the document cannot drift from the wire without a test noticing:

- which fields a record has: the sample of its event (``samples.py``), which
  mirrors the host's ``to_dict()`` (deliveries in the tests prove it, since every
  field is required and no other is allowed);
- each field's type and whether it may be null: the host's SQLAlchemy column
  behind it (money is a string with two decimals, times are RFC 3339 in UTC);
- whether ``previous_attributes`` is there, and which old values it must hold:
  the sample's changes for that event;
- the operational events' object (the hook concerned) is no host record: its
  fields' types are written here, its fields come from its sample all the same.

``components()`` gives every schema by name, referring to each other under a
prefix (OpenAPI's ``#/components/schemas/`` by default).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, Column, Numeric
from sqlalchemy.orm import DeclarativeBase

from crm_stub.models import Client, FollowUp, Lead, Opportunity, Quote, QuoteItem, Sale
from crm_stub.services.lifecycle import FOLLOW_UP_KINDS

from .catalog import CATALOG, OPERATIONAL_ENTITY
from .hooks import STATUS_WORDS
from .samples import sample

Schema = dict[str, Any]

# The host's record behind each kind of event ("follow_up_added" objects are follow-ups).
MODELS: dict[str, type[DeclarativeBase]] = {
    "lead": Lead,
    "client": Client,
    "opportunity": Opportunity,
    "quote": Quote,
    "sale": Sale,
}

# Fields added by the envelope's other half of the work: optional, with these types.
ENVELOPE_EXTRAS: dict[str, Schema] = {
    "test": {"type": "boolean", "description": "true on a test send (a sample record, ids 0): ignore it"},
    "actor_id": {"type": ["integer", "null"], "description": "The user who made the change (null: the system)"},
    "api_version": {"type": "string", "description": "The version of the payload's shape"},
}

EVENT_ID: Schema = {"type": "string", "pattern": r"^evt_[0-9a-hjkmnp-tv-z]{26}$", "description": "Sorts by time"}
TIMESTAMP: Schema = {
    "type": "string",
    "format": "date-time",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$",
    "description": "RFC 3339, UTC",
}
# The hook an operational event is about (domain/operational.py hook_object), by field.
_HOOK_FIELDS: dict[str, Schema] = {
    "id": {"type": "integer"},
    "name": {"type": "string"},
    "url": {"type": "string"},
    "status": {"type": "string", "enum": ["disabled", *STATUS_WORDS]},
    "consecutive_failures": {"type": "integer", "description": "Failed deliveries in a row, retries spent"},
    "last_error": {"type": ["string", "null"], "description": "The error of its latest delivery that had one"},
    "reason": {
        "type": ["string", "null"],
        "description": "Why it is disabled: admin, gone or failures:<count>; null while enabled",
    },
}
_MONEY = r"^-?\d+\.\d{2}$"
_DECIMAL = r"^-?\d+(\.\d+)?$"


def _nullable(schema: Schema, nullable: bool) -> Schema:
    if not nullable:
        return schema
    return {**schema, "type": [schema["type"], "null"]}


def _column(column: Column[Any]) -> Schema:
    """A column's value as ``to_dict()`` writes it: exact decimals and times as strings."""
    if isinstance(column.type, JSON):  # custom fields: to_dict() gives {} for none
        return {"type": "object"}
    kind = column.type.python_type
    if kind is Decimal:
        money = isinstance(column.type, Numeric) and column.type.scale == 2
        schema: Schema = {"type": "string", "pattern": _MONEY if money else _DECIMAL}
    elif kind is dt.datetime:
        schema = dict(TIMESTAMP)
    elif kind is bool:
        schema = {"type": "boolean"}
    elif kind is int:
        schema = {"type": "integer"}
    elif kind is str:
        schema = {"type": "string"}
    else:  # a new column type must be described before it can be sent
        raise TypeError(f"{column.key}: no JSON Schema for {kind.__name__}")
    return _nullable(schema, bool(column.nullable))


def _record(model: type[DeclarativeBase], fields: dict[str, Any], special: dict[str, Schema]) -> Schema:
    """An object with exactly ``fields`` (a sample record), typed by ``model``'s columns."""
    columns = model.__table__.columns  # type: ignore[attr-defined]
    return _record_of(fields, {name: special.get(name) or _column(columns[name]) for name in fields})


def _record_of(fields: dict[str, Any], types: dict[str, Schema]) -> Schema:
    """An object with exactly ``fields`` (a sample record), each of its type in ``types``."""
    properties = {name: types[name] for name in fields}
    return {"type": "object", "required": list(fields), "additionalProperties": False, "properties": properties}


def pascal(code: str) -> str:
    """``lead.follow_up_added`` -> ``LeadFollowUpAdded``: a name for generated code."""
    return "".join(part.title() for part in re.split(r"[._]", code))


def envelope_name(code: str) -> str:
    return pascal(code) + "Envelope"


def _record_name(code: str) -> str:
    entity, action = code.split(".", 1)
    return pascal(entity) + ("FollowUp" if action == "follow_up_added" else "")


def _records(ref: Any) -> dict[str, Schema]:
    """The record schemas, one per shape an event's ``data.object`` can take."""
    out: dict[str, Schema] = {}
    item = sample("quote.created")[0]["items"][0]
    out["QuoteItem"] = _record(QuoteItem, item, {})
    for event in CATALOG:
        name = _record_name(event.code)
        if name in out:
            continue
        obj = sample(event.code)[0]
        if event.entity == OPERATIONAL_ENTITY:
            out[name] = {**_record_of(obj, _HOOK_FIELDS), "description": "The hook the event is about"}
            continue
        if name.endswith("FollowUp"):
            entity = event.entity
            record_id = _column(FollowUp.__table__.columns["record_id"])
            special = {
                f"{entity}_id": record_id,
                "record": {
                    "type": "object",
                    "required": ["type", "id"],
                    "additionalProperties": False,
                    "properties": {"type": {"const": entity}, "id": record_id},
                },
                "kind": {"type": "string", "enum": list(FOLLOW_UP_KINDS)},
            }
            out[name] = _record(FollowUp, obj, special)
            continue
        special = {
            # Relations flattened by to_dict(): tag names and the ids of the users shared with.
            "tags": {"type": "array", "items": {"type": "string"}},
            "shared_with": {"type": "array", "items": {"type": "integer"}},
            "items": {"type": "array", "items": ref("QuoteItem")},
        }
        out[name] = _record(MODELS[event.entity], obj, special)
    return out


def _changes(record: Schema) -> Schema:
    """Old values of a record's own fields, typed as the record's (shared by its change events)."""
    return {
        "type": "object",
        "minProperties": 1,
        "properties": record["properties"],
        "description": "The old value of each field that changed",
    }


def _previous_attributes(ref: Schema, code: str, changed: dict[str, Any]) -> Schema:
    """``previous_attributes`` of one event: which old values it must hold, and whether others may come."""
    entity, action = code.split(".", 1)
    if action != "updated":
        return {**ref, "required": list(changed), "unevaluatedProperties": False}
    if entity in ("lead", "client"):
        # Custom fields (kept in ``extra``) are edited by name too, and reported with their old value.
        return ref
    return {**ref, "unevaluatedProperties": False}


def components(prefix: str = "#/components/schemas/") -> dict[str, Schema]:
    """Every record and envelope schema by name, ``$ref``-ing each other under ``prefix``."""

    def ref(name: str) -> Schema:
        return {"$ref": prefix + name}

    shared = {"EventId": EVENT_ID, "Timestamp": TIMESTAMP}
    records = _records(ref)
    out = {**shared, **records}
    for event in CATALOG:
        record_name = _record_name(event.code)
        changed = sample(event.code)[1]
        data_properties: dict[str, Schema] = {"object": ref(record_name)}
        if changed:
            changes_name = record_name + "Changes"
            out.setdefault(changes_name, _changes(records[record_name]))
            data_properties["previous_attributes"] = _previous_attributes(ref(changes_name), event.code, changed)
        out[envelope_name(event.code)] = {
            "type": "object",
            "title": f"{event.code}: {event.label_en}",
            "required": ["id", "type", "timestamp", "data"],
            "additionalProperties": False,
            "properties": {
                "id": ref("EventId"),
                "type": {"const": event.code},
                "timestamp": ref("Timestamp"),
                "data": {
                    "type": "object",
                    "required": list(data_properties),
                    "additionalProperties": False,
                    "properties": data_properties,
                },
                **ENVELOPE_EXTRAS,
            },
        }
    return out
