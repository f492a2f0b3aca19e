"""The OpenAPI 3.1 description of /api/v1, kept beside the routes it describes (tests hold them together)."""

from __future__ import annotations

from typing import Any

from crm_stub.services.base import MAX_ID

from ..domain import response_headers as answer
from ..domain.catalog import CATALOG, EventType
from ..domain.event_patterns import MAX_EVENTS
from ..domain.hooks import MAX_KEY, MAX_NAME, MAX_PER_SECOND, MAX_URL, MAX_VALUE, METHODS, ORDERINGS
from ..domain.replay import MAX_REPLAY
from ..domain.replay import STATUSES as REPLAYED_STATUSES
from ..domain.schemas import components, envelope_name
from ..domain.templating import MAX_CONDITION, MAX_CONTENT_TYPE, MAX_TEMPLATE
from ..hooks import STATUSES as HOOK_STATUSES


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


def _op(
    operation_id: str, tag: str, summary: str, scope: str, responses: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    # operationId is the Flask endpoint's name: one name per operation, in the code and in clients.
    return {
        "operationId": operation_id,
        "tags": [tag],
        "summary": summary,
        "security": [{"bearer": [scope]}],
        "responses": responses,
        **extra,
    }


def _param(name: str, where: str, low: int = 1, high: int = MAX_ID, **extra: Any) -> dict[str, Any]:
    schema = {"type": "integer", "minimum": low, "maximum": high, **extra}
    return {"name": name, "in": where, "schema": schema, **({"required": True} if where == "path" else {})}


def _text_param(name: str, description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", "maxLength": 200}}


HOOK_ID = _param("hook_id", "path", low=0)
DELIVERY_ID = _param("delivery_id", "path", low=0)
LIMIT = _param("limit", "query", high=500, default=50)

_HOOK_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S"},
    "event": {
        "type": "string",
        "enum": [e.code for e in CATALOG],
        "description": "One event; the same as events with that one code (give one of the two)",
    },
    "events": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_EVENTS,
        "items": {"type": "string", "pattern": r"^(\*|[a-z_]+\.(\*|[a-z_]+)|\*\.[a-z_]+)$"},
        "description": "Codes of the catalog and patterns: lead.* (every event of leads), *.stage_changed (that "
        "change on every entity), * (every event of the CRM). The hooks' own events (webhook.failing, "
        "webhook.disabled, webhook.recovered) are taken by name or webhook.*, never by * or *.<action>. "
        "Each event reaches the hook once, however many match it",
        "examples": [["lead.*", "sale.created"]],
    },
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
    "condition": {
        "type": ["string", "null"],
        "maxLength": MAX_CONDITION,
        "description": "A Jinja2 expression over object (the record), previous (the old values of what changed) "
        "and event (the code), evaluated in a sandbox: only the events it is true of are delivered; null or "
        "empty: every event",
        "examples": ['object.stage == "won" and previous.stage != "won" and object.amount|float > 1000'],
    },
    "body_template": {
        "type": ["string", "null"],
        "maxLength": MAX_TEMPLATE,
        "description": "A Jinja2 template for the body (object, previous, event, hook, id, timestamp), signed as "
        "rendered; null or empty: the standard envelope. Not for GET or DELETE, which carry no body",
    },
    "content_type": {
        "type": ["string", "null"],
        "maxLength": MAX_CONTENT_TYPE,
        "default": "application/json",
        "description": "The body's media type; a JSON one must render valid JSON",
    },
    "max_per_second": {
        "type": ["number", "null"],
        "exclusiveMinimum": 0,
        "maximum": MAX_PER_SECOND,
        "default": None,
        "description": "Attempts a second at most, shared by every worker on the database (retries included; a "
        "429 or 503 with Retry-After holds the hook until then); null: as fast as the workers go",
        "examples": [20],
    },
    "ordering": {
        "type": "string",
        "enum": list(ORDERINGS),
        "default": "record",
        "description": "record: a record's events reach the hook in commit order (a later one waits while an "
        "earlier one of the same record is pending or retried; when that one fails for good, the later ones go "
        "on); none: each delivery goes when it can",
    },
}

_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
# Wider than a date-time: what the CLI's --since takes too.
_SINCE = {
    "type": "string",
    "description": "Created since: a duration ago (90s, 30m, 2h, 7d, 1w) or an ISO 8601 date/time (UTC when it "
    "gives no zone)",
    "examples": ["2h", "2026-01-15T08:00:00Z"],
}
_IDS = {"type": "array", "items": {"type": "integer"}}

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
                    "field": {"type": "string", "description": "The first field at fault (validation errors)"},
                    "errors": {
                        "type": "array",
                        "description": "Every field at fault, each with what is wrong with it (validation errors)",
                        "items": {
                            "type": "object",
                            "required": ["field", "message"],
                            "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                        },
                    },
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
        "required": ["name", "url"],
        "description": "Give event or events (not both)",
        "additionalProperties": False,
        "properties": _HOOK_FIELDS,
    },
    "HookUpdate": {"type": "object", "minProperties": 1, "additionalProperties": False, "properties": _HOOK_FIELDS},
    "Hook": {
        "type": "object",
        "required": ["id", "name", "event", "events", "url", "method", "enabled", "status", "secret", "updated_at"],
        "properties": {
            "id": {"type": "integer"},
            **{k: v for k, v in _HOOK_FIELDS.items() if k != "event"},
            "event": {"type": "string", "description": "The first code events stands for"},
            "events": {"type": "array", "items": {"type": "string"}},
            "event_label": {"type": "object", "properties": {"en": {"type": "string"}, "pt_BR": {"type": "string"}}},
            "status": {"type": "string", "enum": ["never_run", "succeeded", "failing", "disabled"]},
            "status_detail": {"type": "string"},
            "skipped_by_condition": {
                "type": "integer",
                "description": "Events its condition turned away since the condition was last set",
            },
            "last_run_at": _NULLABLE_TIME,
            "consecutive_failures": {"type": "integer"},
            "disabled_reason": {"type": ["string", "null"]},
            "disabled_at": _NULLABLE_TIME,
            "created_at": {"type": "string", "format": "date-time"},
            "updated_at": {
                "type": "string",
                "format": "date-time",
                "description": "When a person last changed it (created, edited, enabled, disabled, secret "
                "rotated); deliveries and automatic disabling leave it",
            },
            "secret": {"type": "string", "description": "whsec_...: in full only when created or rotated"},
        },
    },
    "Attempt": {
        "type": "object",
        "required": ["id", "attempted_at", "status_code", "error", "duration_ms", "response_headers"],
        "properties": {
            "id": {"type": "integer"},
            "attempted_at": {"type": "string", "format": "date-time"},
            "status_code": {"type": ["integer", "null"]},
            "error": {"type": ["string", "null"]},
            "duration_ms": {"type": "number"},
            "request_headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "response_body": {"type": ["string", "null"]},
            "request_body": {
                "type": ["string", "null"],
                "description": "The body the hook's template rendered, as sent (NUL as U+FFFD; past 16384 characters,"
                " the start and a line saying how many more went); null: the envelope went.",
            },
            "location": {"type": ["string", "null"]},
            "response_headers": {
                "type": ["array", "null"],
                "maxItems": answer.MAX_HEADERS,
                "items": {
                    "type": "array",
                    "prefixItems": [
                        {"type": "string", "maxLength": answer.MAX_NAME},
                        {"type": "string", "maxLength": answer.MAX_VALUE},
                    ],
                    "minItems": 2,
                    "maxItems": 2,
                },
                "description": "The receiver's response headers as [name, value] pairs, in the order received: "
                f"the first {answer.MAX_HEADERS} at most, {answer.MAX_TOTAL} characters in all, a longer name or "
                "value cut to end in …, control characters and bytes that are not UTF-8 as U+FFFD. Null when "
                "there was no HTTP answer (or for attempts recorded before they were kept)",
            },
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
            "waiting_for": {
                "type": ["integer", "null"],
                "description": "The earlier delivery of the same record to the same hook this one waits behind",
            },
            "test": {"type": "boolean"},
            "attempts": {"type": "array", "items": _ref("Attempt")},
            "created_at": {"type": "string", "format": "date-time"},
            "next_attempt_at": _NULLABLE_TIME,
            "finished_at": _NULLABLE_TIME,
            "payload": {
                "type": "object",
                "description": "The envelope (single delivery views), as described under `webhooks`",
            },
        },
    },
    "RedeliverFailed": {
        "type": "object",
        "additionalProperties": False,
        "description": "Which deliveries to send again: the latest delivery of each event to each hook that has "
        "`status`, created since `since`, of `hook_id` (or of every hook), test sends aside",
        "properties": {
            "hook_id": {
                "type": ["integer", "null"],
                "minimum": 1,
                "maximum": MAX_ID,
                "description": "null: every hook",
            },
            "since": {**_SINCE, "type": ["string", "null"], "description": _SINCE["description"] + "; null: any time"},
            "status": {"type": "string", "enum": list(REPLAYED_STATUSES), "default": "failed"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_REPLAY, "default": MAX_REPLAY},
            "dry_run": {"type": "boolean", "default": False, "description": "Say what would go; send nothing"},
        },
    },
    "Redelivery": {
        "type": "object",
        "required": ["dry_run", "hook_id", "status", "since", "count", "remaining", "originals", "ids", "queued_at"],
        "properties": {
            "dry_run": {"type": "boolean"},
            "hook_id": {"type": ["integer", "null"]},
            "status": {"type": "string", "enum": list(REPLAYED_STATUSES)},
            "since": {**_NULLABLE_TIME, "description": "The moment `since` was read as"},
            "count": {"type": "integer", "description": "How many go again (on a dry run: would go)"},
            "remaining": {"type": "integer", "description": "How many more qualify beyond `limit`: call again"},
            "originals": {**_IDS, "description": "The deliveries sent again, oldest event first"},
            "ids": {**_IDS, "description": "The new deliveries, queued in the same order (empty on a dry run)"},
            "queued_at": {**_NULLABLE_TIME, "description": "When they were queued; null on a dry run"},
        },
    },
    "EnableHook": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "replay_failed": {
                "type": "boolean",
                "default": False,
                "description": "Also send again, in the same transaction, the deliveries failed since the hook "
                "started failing (as POST /deliveries/redeliver would from that moment)",
            }
        },
    },
    "Recovery": {
        "type": "object",
        "required": ["hook_id", "enabled", "held", "failed", "failing_since", "replayed", "replay_ids", "left"],
        "properties": {
            "hook_id": {"type": "integer"},
            "enabled": {"type": "boolean"},
            "held": {
                "type": "integer",
                "description": "Deliveries held while it was disabled: they go when it is enabled (released, "
                "in a POST's answer)",
            },
            "failed": {"type": "integer", "description": "Failed deliveries since failing_since, test sends aside"},
            "failing_since": {
                **_NULLABLE_TIME,
                "description": "When it started failing: its first failed attempt after its last successful one; "
                "null: it has not failed since",
            },
            "replayed": {"type": "integer", "description": "How many failed deliveries were queued again"},
            "replay_ids": {**_IDS, "description": "The new deliveries, oldest event first"},
            "left": {"type": "integer", "description": "Failed deliveries beyond one replay's bound: replay again"},
        },
    },
    "EnabledHook": {
        "allOf": [
            _ref("Hook"),
            {"type": "object", "required": ["queued"], "properties": {"queued": _ref("Recovery")}},
        ]
    },
    "PreviewRequest": {
        "type": "object",
        "additionalProperties": False,
        "description": "A saved hook (`hook_id`), with `hook` fields changed as PATCH would take them (not saved), "
        "or a hook not saved yet (`hook` alone, as POST /hooks takes it); for `record` as it is now, or else "
        "for the latest stored event of the hook's events",
        "properties": {
            "hook_id": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID},
            "hook": {"type": ["object", "null"], "additionalProperties": False, "properties": _HOOK_FIELDS},
            "record": {
                "type": ["string", "null"],
                "pattern": "^[a-z_]+:[0-9]{1,19}$",
                "description": "entity:id, the record as it is now (no previous values); null: the latest event stored",
                "examples": ["lead:42"],
            },
            "event": {
                "type": ["string", "null"],
                "enum": [*(e.code for e in CATALOG), None],
                "description": "Which of the hook's events (default: its first of the record's entity, or any of "
                "them); a hook not saved yet that gives no events takes it as its event",
            },
        },
    },
    "Preview": {
        "type": "object",
        "required": ["hook_id", "event", "event_id", "record", "condition", "would_send", "request"],
        "properties": {
            "hook_id": {"type": ["integer", "null"], "description": "null: a hook not saved yet"},
            "event": {"type": "string"},
            "event_id": {"type": "string", "description": "The stored event's id, or a new one for a record"},
            "record": {"type": ["string", "null"]},
            "condition": {
                "type": "object",
                "required": ["matches", "error"],
                "properties": {
                    "matches": {"type": ["boolean", "null"], "description": "null: no condition, or an error"},
                    "error": {"type": ["string", "null"], "description": "Why it cannot be evaluated"},
                },
            },
            "would_send": {
                "type": "boolean",
                "description": "The condition holds (or there is none) and the body renders",
            },
            "request": {
                "type": "object",
                "required": ["method", "url", "headers", "body", "error"],
                "properties": {
                    "method": {"type": "string", "enum": list(METHODS)},
                    "url": {"type": "string", "description": "With the query string GET and DELETE carry"},
                    "headers": {
                        "type": "object",
                        "additionalProperties": {"type": "string"},
                        "description": "As history records them: the key/value header's value and the signature masked",
                    },
                    "body": {"type": ["string", "null"], "description": "null for GET and DELETE, or on an error"},
                    "error": {"type": ["string", "null"], "description": "Why the body template cannot render"},
                },
            },
        },
    },
    **components(),
}


def _page(item: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["data"],
        "properties": {
            "data": {"type": "array", "items": _ref(item)},
            "next": {
                "type": ["string", "null"],
                "format": "uri",
                "description": "The next page as an absolute URL (same filters, same limit); null on the last page",
            },
        },
    }


TAGS = [
    {"name": "catalog", "description": "The events a hook can subscribe to: the CRM's 30, then the hooks' own"},
    {"name": "hooks", "description": "Hooks: where each event is sent, and how"},
    {"name": "deliveries", "description": "What was sent, each attempt, and sending again"},
    *(
        {"name": f"{entity} events", "description": f"What a receiver gets for {entity} events"}
        for entity in dict.fromkeys(e.entity for e in CATALOG)
    ),
]

# The Standard Webhooks headers every delivery carries (the signature is the security scheme).
HEADERS = {
    "WebhookId": {
        "name": "webhook-id",
        "in": "header",
        "required": True,
        "schema": {"type": "string"},
        "description": "The envelope's `id`: the same on every retry and redelivery (deduplicate on it)",
    },
    "WebhookTimestamp": {
        "name": "webhook-timestamp",
        "in": "header",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
        "description": "Unix seconds when this attempt was signed (refuse old ones)",
    },
}

WEBHOOKS_INTRO = (
    "Each hook sends its event with its method and URL, with its key/value header and signed as Standard "
    "Webhooks do. POST, PUT and PATCH carry the envelope described here as a JSON body; GET and DELETE carry "
    "no body and put `id`, `type`, `timestamp` and `object_id` in the query string, and the raw query string "
    "is what is signed. Any 2xx ends the delivery; a 410 disables the hook; anything else is retried."
)


RECEIVER_ANSWERS = {
    "2XX": {"description": "Received: any 2xx ends the delivery"},
    "410": {"description": "Gone: the hook is disabled at once"},
    "default": {"description": "Anything else, a timeout or no answer: retried after each retry delay"},
}


def _webhook(event: EventType) -> dict[str, Any]:
    """What a receiver of ``event`` gets, as the request a hook sends (POST; PUT and PATCH alike)."""
    return {
        "post": {
            "operationId": "on_" + event.code.replace(".", "_"),
            "tags": [f"{event.entity} events"],
            "summary": f"#{event.number} {event.label_en} ({event.label_pt})",
            "security": [{"signature": []}],
            "parameters": [{"$ref": f"#/components/parameters/{name}"} for name in HEADERS],
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": _ref(envelope_name(event.code))}},
            },
            "responses": RECEIVER_ANSWERS,
        }
    }


def document(server: str) -> dict[str, Any]:
    read, write = "webhooks:read", "webhooks:write"
    hook = _json(_ref("Hook"), "The hook")
    delivery = _json(_ref("Delivery"), "The delivery")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "CRM webhooks API",
            "version": "1",
            "description": "Hooks, deliveries and the event catalog under `paths`; what each hook sends to its "
            "receiver, one envelope schema per event, under `webhooks`. " + WEBHOOKS_INTRO,
            "license": {"name": "MIT", "identifier": "MIT"},
        },
        "servers": [{"url": server}],
        "tags": TAGS,
        "components": {
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "crm-stub tokens create --scopes webhooks:read,webhooks:write",
                },
                "signature": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "webhook-signature",
                    "description": "For receivers (`webhooks`): space-separated `v1,<base64 HMAC-SHA256>` of "
                    "`{webhook-id}.{webhook-timestamp}.{body}` keyed with the hook's `whsec_` secret; verify "
                    "with any Standard Webhooks library or `crm_webhooks.verify`",
                },
            },
            "parameters": HEADERS,
            "schemas": SCHEMAS,
        },
        "paths": {
            "/events": {
                "get": _op(
                    "events",
                    "catalog",
                    "The event catalog",
                    read,
                    {
                        "200": _json(_page("Event"), "The catalog: the CRM's events, then webhook.*"),
                        **_errors("401", "403"),
                    },
                )
            },
            "/hooks": {
                "get": _op(
                    "list_hooks",
                    "hooks",
                    "List hooks, oldest first",
                    read,
                    {"200": _json(_page("Hook"), "A page of hooks"), **_errors("401", "403", "422")},
                    parameters=[
                        LIMIT,
                        _param("after", "query", low=0),
                        _text_param("search", "Text in the name or URL, in any case (% and _ are themselves)"),
                        {
                            **_text_param("event", "Only the hooks this event reaches (by its code or their patterns)"),
                            "schema": _HOOK_FIELDS["event"],
                        },
                        {
                            **_text_param("status", "Only hooks in this status"),
                            "schema": {"type": "string", "enum": list(HOOK_STATUSES)},
                        },
                    ],
                ),
                "post": _op(
                    "create_hook",
                    "hooks",
                    "Create a hook (the response carries its secret, once)",
                    write,
                    {"201": _json(_ref("Hook"), "Created"), **_errors("400", "401", "403", "422")},
                    requestBody={"required": True, "content": {"application/json": {"schema": _ref("HookCreate")}}},
                ),
            },
            "/hooks/preview": {
                "post": _op(
                    "preview_hook",
                    "hooks",
                    "What a hook would send for an event (sends and stores nothing)",
                    read,
                    {
                        "200": _json(_ref("Preview"), "The condition's verdict and the request that would go"),
                        **_errors("400", "401", "403", "404", "422"),
                    },
                    description="The request is made as a delivery makes it, so its body is what the receiver "
                    "would get byte for byte; only the timestamp and the signature of a real attempt differ.",
                    requestBody={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("PreviewRequest")}},
                    },
                ),
            },
            "/hooks/{hook_id}": {
                "parameters": [HOOK_ID],
                "get": _op("get_hook", "hooks", "A hook", read, {"200": hook, **_errors("401", "403", "404")}),
                "patch": _op(
                    "update_hook",
                    "hooks",
                    "Change some fields",
                    write,
                    {"200": hook, **_errors("400", "401", "403", "404", "422")},
                    requestBody={"required": True, "content": {"application/json": {"schema": _ref("HookUpdate")}}},
                ),
                "delete": _op(
                    "delete_hook",
                    "hooks",
                    "Delete a hook and its history",
                    write,
                    {"204": {"description": "Deleted"}, **_errors("401", "403", "404")},
                ),
            },
            "/hooks/{hook_id}/enable": {
                "parameters": [HOOK_ID],
                "get": _op(
                    "preview_enable_hook",
                    "hooks",
                    "What enabling would send (changes nothing)",
                    read,
                    {"200": _json(_ref("Recovery"), "The counts"), **_errors("401", "403", "404")},
                ),
                "post": _op(
                    "enable_hook",
                    "hooks",
                    "Enable: its held deliveries go, and optionally what failed since it started failing",
                    write,
                    {
                        "200": _json(_ref("EnabledHook"), "The hook, with what was queued"),
                        **_errors("400", "401", "403", "404", "422"),
                    },
                    requestBody={
                        "required": False,
                        "content": {"application/json": {"schema": _ref("EnableHook")}},
                    },
                ),
            },
            "/hooks/{hook_id}/disable": {
                "parameters": [HOOK_ID],
                "post": _op("disable_hook", "hooks", "Disable", write, {"200": hook, **_errors("401", "403", "404")}),
            },
            "/hooks/{hook_id}/test": {
                "parameters": [HOOK_ID],
                "post": _op(
                    "test_hook",
                    "hooks",
                    "Send a sample event now",
                    write,
                    {"200": delivery, **_errors("401", "403", "404")},
                ),
            },
            "/hooks/{hook_id}/rotate-secret": {
                "parameters": [HOOK_ID],
                "post": _op(
                    "rotate_secret", "hooks", "Issue a new secret", write, {"200": hook, **_errors("401", "403", "404")}
                ),
            },
            "/deliveries": {
                "get": _op(
                    "list_deliveries",
                    "deliveries",
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
                        {"name": "since", "in": "query", "schema": _SINCE},
                    ],
                ),
            },
            "/deliveries/redeliver": {
                "post": _op(
                    "redeliver_failed",
                    "deliveries",
                    "Send again, oldest first, what failed (after a receiver's outage)",
                    write,
                    {
                        "201": _json(_ref("Redelivery"), "Queued: the new deliveries' ids, oldest first"),
                        "200": _json(_ref("Redelivery"), "Nothing queued: a dry run, or nothing qualified"),
                        **_errors("400", "401", "403", "404", "422"),
                    },
                    description="A delivery already sent again does not go again while that one is pending or "
                    "once it succeeded, so a repeated call sends nothing twice. Each goes as a new delivery of "
                    "the same event (same `webhook-id`); follow them with `GET /deliveries/{delivery_id}`.",
                    requestBody={
                        "required": True,
                        "content": {"application/json": {"schema": _ref("RedeliverFailed")}},
                    },
                ),
            },
            "/deliveries/{delivery_id}": {
                "parameters": [DELIVERY_ID],
                "get": _op(
                    "get_delivery",
                    "deliveries",
                    "A delivery with its attempts and envelope",
                    read,
                    {"200": delivery, **_errors("401", "403", "404")},
                ),
            },
            "/deliveries/{delivery_id}/redeliver": {
                "parameters": [DELIVERY_ID],
                "post": _op(
                    "redeliver",
                    "deliveries",
                    "Send the event again now (same webhook-id)",
                    write,
                    {"201": _json(_ref("Delivery"), "The new delivery"), **_errors("401", "403", "404", "409")},
                ),
            },
        },
        "webhooks": {event.code: _webhook(event) for event in CATALOG},
    }
