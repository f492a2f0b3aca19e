"""Sample records for test sends: the shape a real event of each type carries."""

from __future__ import annotations

from typing import Any

from .operational import hook_object

_STAMP = "2026-01-15T13:45:00.000Z"


def _party(entity: str) -> dict[str, Any]:
    record = {
        "id": 0,
        "owner_id": 1,
        "stage": "new" if entity == "lead" else "active",
        "status": "active",
        "tags": ["sample"],
        "shared_with": [],
        "created_at": _STAMP,
        "updated_at": _STAMP,
        "name": "Sample Company Ltd.",
        "email": "contact@sample.test",
        "phone": "+55 11 5555-0100",
        "discard_reason": None,
        "extra": {},
    }
    record["converted_client_id" if entity == "lead" else "lead_id"] = None
    return record


def _opportunity() -> dict[str, Any]:
    return {
        "id": 0,
        "owner_id": 1,
        "stage": "proposal",
        "status": "open",
        "tags": [],
        "shared_with": [],
        "created_at": _STAMP,
        "updated_at": _STAMP,
        "client_id": 0,
        "title": "Sample deal",
        "amount": "1500.00",
        "lost_reason": None,
    }


_OBJECTS = {
    "lead": lambda: _party("lead"),
    "client": lambda: _party("client"),
    "opportunity": _opportunity,
    "quote": lambda: {
        "id": 0,
        "opportunity_id": 0,
        "total": "1500.00",
        "items": [{"description": "Sample item", "quantity": "2", "unit_price": "750.00"}],
        "created_at": _STAMP,
    },
    "sale": lambda: {
        "id": 0,
        "opportunity_id": 0,
        "client_id": 0,
        "quote_id": None,
        "amount": "1500.00",
        "created_at": _STAMP,
    },
}

_CHANGES = {
    "stage_changed": lambda e: {
        "stage": "contacted" if e == "lead" else "onboarding" if e == "client" else "qualification"
    },
    "updated": lambda e: {"title": "Old title"} if e == "opportunity" else {"phone": None},
    "reassigned": lambda e: {"owner_id": 2},
    "archived": lambda e: {"status": "active"},
    "discarded": lambda e: {"status": "active", "discard_reason": None},
    "reactivated": lambda e: {"status": "archived", "discard_reason": None},
    "shared": lambda e: {"shared_with": []},
    "unshared": lambda e: {"shared_with": [2]},
    "tagged": lambda e: {"tags": []},
}


def _hook(action: str) -> dict[str, Any]:
    """The hook an operational event is about, as it is when that event is raised."""
    return hook_object(
        hook_id=0,
        name="Sample webhook",
        url="https://receiver.sample.test/hook",
        status={"failing": "failing", "disabled": "disabled"}.get(action, "succeeded"),
        consecutive_failures={"failing": 3, "disabled": 5}.get(action, 0),
        last_error="HTTP 503",
        reason="failures:5" if action == "disabled" else None,
    )


def sample(code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A record and its changes for a test event of type ``code`` (ids are 0: nothing real)."""
    entity, action = code.split(".", 1)
    if entity == "webhook":
        return _hook(action), {}
    if action == "follow_up_added":
        obj = {
            "id": 0,
            f"{entity}_id": 0,
            "record": {"type": entity, "id": 0},
            "kind": "call",
            "note": "Sample follow-up",
            "author_id": 1,
            "created_at": _STAMP,
        }
        return obj, {}
    obj = _OBJECTS[entity]()
    changes = _CHANGES.get(action, lambda e: {})(entity)
    if entity == "opportunity" and action == "reactivated":
        changes = {"stage": "lost", "status": "lost", "lost_reason": None}
    return obj, changes
