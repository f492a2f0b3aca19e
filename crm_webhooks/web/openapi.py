"""The OpenAPI 3.1 description of /api/v1, kept beside the routes it describes (tests hold them together)."""

from __future__ import annotations

from typing import Any

from crm_stub.services.base import MAX_ID

from ..domain.catalog import CATALOG
from ..domain.hooks import MAX_KEY, MAX_NAME, MAX_URL, MAX_VALUE, METHODS


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {
    "400": _json(_ref("Error"), "The body is not a JSON object"),
    "401": _json(_ref("Error"), "No valid bearer token"),
    "403": _json(_ref("Error"), "The token lacks the scope"),
    "404": _json(_ref("Error"), "Unknown id"),
    "409": _json(_ref("Error"), "The state does not allow it"),
    "422": _json(_ref("Error"), "A field failed validation; nothing was stored"),
}


def _errors(*codes: str) -> dict[str, Any]:
    return {code: ERRORS[code] for code in codes}


def _op(summary: str, scope: str, responses: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "security": [{"bearer": [scope]}], "responses": responses, **extra}


def _param(name: str, where: str, low: int = 1, high: int = MAX_ID, **extra: Any) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": low, "maximum": high, **extra}
    return {"name": name, "in": where, "schema": schema, **({"required": True} if where == "path" else {})}


HOOK_ID = _param("hook_id", "path", low=0)
DELIVERY_ID = _param("delivery_id", "path", low=0)
LIMIT = _param("limit", "query", high=500, default=50)

_HOOK_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S"},
    "event": {"type": "string", "enum": [e.code for e in CATALOG]},
    "url": {
        "type": "string",
        "maxLength": MAX_URL,
        "pattern": r"^[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#@]+",
        "description": "http(s) URL with a host; private and link-local literals are refused",
    },
    "method": {"type": "string", "enum": list(METHODS), "default": "POST"},
    "key": {
        "type": ["string", "null"],
        "maxLength": MAX_KEY,
        "pattern": r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$",
        "description": "Header name sent with every call (not Content-Type, Host, webhook-*...); empty or null: none",
    },
    "value": {
        "type": ["string", "null"],
        "maxLength": MAX_VALUE,
        "description": "Its value, given with the key (masked when read); required again when the URL changes",
    },
    "enabled": {"type": "boolean", "default": True},
}

_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "message": {"type": "string"},
                    "field": {"type": "string", "description": "The field at fault (validation errors)"},
                    "scope": {"type": "string"},
                },
            }
        },
    },
    "Event": {
        "type": "object",
        "required": ["number", "code", "label_pt", "label_en"],
        "properties": {
            "number": {"type": "integer"},
            "code": {"type": "string"},
            "label_pt": {"type": "string"},
            "label_en": {"type": "string"},
        },
    },
    "HookCreate": {
        "type": "object",
        "required": ["name", "event", "url"],
        "additionalProperties": False,
        "properties": _HOOK_FIELDS,
    },
    "HookUpdate": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": _HOOK_FIELDS},
    "Hook": {
        "type": "object",
        "required": ["id", "name", "event", "url", "method", "enabled", "status", "secret"],
        "properties": {
            "id": {"type": "integer"},
            **{k: v for k, v in _HOOK_FIELDS.items() if k != "event"},
            "event": {"type": "string"},
            "event_label": {"type": "object", "properties": {"en": {"type": "string"}, "pt_BR": {"type": "string"}}},
            "status": {"type": "string", "enum": ["never_run", "succeeded", "failing", "disabled"]},
            "status_detail": {"type": "string"},
            "last_run_at": _NULLABLE_TIME,
            "consecutive_failures": {"type": "integer"},
            "disabled_reason": {"type": ["string", "null"]},
            "disabled_at": _NULLABLE_TIME,
            "created_at": {"type": "string", "format": "date-time"},
            "secret": {"type": "string", "description": "whsec_...: in full only when created or rotated"},
        },
    },
    "Attempt": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "attempted_at": {"type": "string", "format": "date-time"},
            "status_code": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": "number"},
            "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "response_body": {"type": ["string", "null"]},
            "location": {"type": ["string", "null"]},
        },
    },
    "Delivery": {
        "type": "object",
        "required": ["id", "event_id", "event", "hook_id", "status", "attempts"],
        "properties": {
            "id": {"type": "integer"},
            "event_id": {"type": "string"},
            "event": {"type": "string"},
            "hook_id": {"type": "integer"},
            "status": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
            "held": {"type": "boolean"},
            "test": {"type": "boolean"},
            "attempts": {"type": "array", "items": _ref("Attempt")},
            "created_at": {"type": "string", "format": "date-time"},
            "next_attempt_at": _NULLABLE_TIME,
            "finished_at": _NULLABLE_TIME,
            "payload": {"type": "object", "description": "The envelope (single delivery views)"},
        },
    },
}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data"],
        "properties": {"data": {"type": "array", "items": _ref(item)}, "next": {"type": ["string", "null"]}},
    }


def document(server: str) -> dict[str, Any]:
    read, write = "webhooks:read", "webhooks:write"
    hook = _json(_ref("Hook"), "The hook")
    delivery = _json(_ref("Delivery"), "The delivery")
    return {
        "openapi": "3.1.0",
        "info": {"title": "CRM webhooks API", "version": "1"},
        "servers": [{"url": server}],
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "crm-stub tokens create --scopes webhooks:read,webhooks:write",
                }
            },
            "schemas": SCHEMAS,
        },
        "paths": {
            "/events": {
                "get": _op(
                    "The event catalog", read, {"200": _json(_page("Event"), "The 30 events"), **_errors("401", "403")}
                )
            },
            "/hooks": {
                "get": _op(
                    "List hooks, oldest first",
                    read,
                    {"200": _json(_page("Hook"), "A page of hooks"), **_errors("401", "403", "422")},
                    parameters=[LIMIT, _param("after", "query", low=0)],
                ),
                "post": _op(
                    "Create a hook (the response carries its secret, once)",
                    write,
                    {"201": _json(_ref("Hook"), "Created"), **_errors("400", "401", "403", "422")},
                    requestBody={"required": True, "content": {"application/json": {"schema": _ref("HookCreate")}}},
                ),
            },
            "/hooks/{hook_id}": {
                "parameters": [HOOK_ID],
                "get": _op("A hook", read, {"200": hook, **_errors("401", "403", "404")}),
                "patch": _op(
                    "Change some fields",
                    write,
                    {"200": hook, **_errors("400", "401", "403", "404", "422")},
                    requestBody={"required": True, "content": {"application/json": {"schema": _ref("HookUpdate")}}},
                ),
                "delete": _op(
                    "Delete a hook and its history",
                    write,
                    {"204": {"description": "Deleted"}, **_errors("401", "403", "404")},
                ),
            },
            "/hooks/{hook_id}/enable": {
                "parameters": [HOOK_ID],
                "post": _op("Enable", write, {"200": hook, **_errors("401", "403", "404")}),
            },
            "/hooks/{hook_id}/disable": {
                "parameters": [HOOK_ID],
                "post": _op("Disable", write, {"200": hook, **_errors("401", "403", "404")}),
            },
            "/hooks/{hook_id}/test": {
                "parameters": [HOOK_ID],
                "post": _op("Send a sample event now", write, {"200": delivery, **_errors("401", "403", "404")}),
            },
            "/hooks/{hook_id}/rotate-secret": {
                "parameters": [HOOK_ID],
                "post": _op("Issue a new secret", write, {"200": hook, **_errors("401", "403", "404")}),
            },
            "/deliveries": {
                "get": _op(
                    "List deliveries, newest first",
                    read,
                    {"200": _json(_page("Delivery"), "A page of deliveries"), **_errors("401", "403", "404", "422")},
                    parameters=[
                        LIMIT,
                        _param("before", "query"),
                        _param("hook_id", "query"),
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["pending", "succeeded", "failed"]},
                        },
                        {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                    ],
                ),
            },
            "/deliveries/{delivery_id}": {
                "parameters": [DELIVERY_ID],
                "get": _op(
                    "A delivery with its attempts and envelope", read, {"200": delivery, **_errors("401", "403", "404")}
                ),
            },
            "/deliveries/{delivery_id}/redeliver": {
                "parameters": [DELIVERY_ID],
                "post": _op(
                    "Send the event again now (same webhook-id)",
                    write,
                    {"201": _json(_ref("Delivery"), "The new delivery"), **_errors("401", "403", "404", "409")},
                ),
            },
        },
    }
