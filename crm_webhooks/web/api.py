"""The REST API under /api/v1: hooks, deliveries and the catalog, for scripts and integrators.

Errors are JSON ``{"error": {"code", "message", "field"?}}``: 400 for a body
that is not a JSON object (``field`` is ``body``), 401/403 for tokens, 404 for
unknown ids, 409 for a move the state forbids, 422 for a field that fails
validation (nothing is stored).  Lists page with ``limit`` and ``before``
(deliveries) or ``after`` (hooks) and give the next page's absolute URL in
``next`` (null on the last).

What a delivery carries (the event's payload, and the receiver's answers,
which may echo it) is data of the CRM: it is answered only to a token with
``webhooks:read``, also when a ``webhooks:write`` call (a test send, a
redelivery) returns the delivery it made.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from crm_stub import CRMError, InvalidTransition, NotFound
from crm_stub.models import utcnow
from crm_stub.services.base import MAX_ID
from crm_stub.web.auth import token_required

from ..domain.catalog import BY_CODE, CATALOG
from ..domain.deliveries import Delivery, delivery_dict
from ..domain.durations import parse_since
from ..domain.messages import N_, Message
from ..domain.replay import selection
from ..exceptions import Problems, ValidationError
from .openapi import document
from .words import missing, translate

bp = Blueprint("webhooks_api", __name__, url_prefix="/api/v1")

READ, WRITE = "webhooks:read", "webhooks:write"


def webhooks() -> Any:
    return current_app.extensions["crm_webhooks"]


def error(status: int, code: str, message: str, **extra: Any) -> Any:
    return jsonify(error={"code": code, "message": message, **extra}), status


class BadBody(Exception):
    """The request body is not something to read fields from."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.message = Message(text)


@bp.errorhandler(BadBody)
def bad_body(exc: BadBody) -> Any:
    return error(400, "bad_request", translate(exc.message), field="body")


@bp.errorhandler(ValidationError)
def invalid(exc: ValidationError) -> Any:
    # Every field's error at once, in the language asked for (English unless Accept-Language says otherwise).
    errors = [{"field": e.field, "message": translate(e.message)} for e in exc.errors]
    message = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return error(422, "validation", message, field=exc.field, errors=errors)


@bp.errorhandler(NotFound)
def not_found(exc: NotFound) -> Any:
    return error(404, "not_found", missing(exc))


@bp.errorhandler(InvalidTransition)
def conflict(exc: InvalidTransition) -> Any:
    return error(409, "conflict", str(exc))


@bp.errorhandler(CRMError)
def refused(exc: CRMError) -> Any:
    return error(422, "validation", str(exc))


@bp.app_errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Any:
    # App-wide so that an unknown URL under /api/ (no route, so no blueprint) still answers in JSON.
    if not request.path.startswith(bp.url_prefix or "/api/"):
        return exc
    response, status = error(exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or "")
    for name, value in exc.get_headers():
        if name.lower() != "content-type":  # Allow on a 405, for one
            response.headers[name] = value
    return response, status


# Query parameters each route understands; anything else is a typo worth saying so.
QUERY = {
    "list_hooks": {"limit", "after", "search", "event", "status"},
    "list_deliveries": {"limit", "before", "hook_id", "status", "since"},
}


@bp.before_request
def known_query_only() -> None:
    endpoint = (request.endpoint or "").rpartition(".")[2]
    problems = Problems()
    for name in sorted(set(request.args) - QUERY.get(endpoint, set())):
        problems.add(name, N_("not a query parameter of this operation"))
    for name in sorted(set(request.args)):
        if len(request.args.getlist(name)) > 1:  # which one would count? say so rather than pick
            problems.add(name, N_("given more than once"))
    problems.raise_any()


def body() -> dict[str, Any]:
    """The request's JSON object, whose text fields are all valid Unicode."""
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # the parser's own limit, e.g. 100,000 nested brackets
        raise BadBody(N_("nested too deeply to read")) from None
    if not isinstance(data, dict):
        raise BadBody(N_("expected a JSON object (Content-Type: application/json)"))
    problems = Problems()
    check_text(problems, data)
    problems.raise_any()
    return data


def check_text(problems: Problems, data: dict[str, Any]) -> None:
    """Note each text field of ``data`` that is not valid Unicode."""
    for name, value in data.items():
        # JSON may escape half of a surrogate pair ("\ud800"): no database stores that, nor does UTF-8.
        if isinstance(value, str) and not _encodable(value):
            problems.add(name if _encodable(name) else "body", N_("not valid Unicode text (a lone surrogate)"))


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_WHOLE = re.compile(r"-?[0-9]+")


def query_int(name: str, default: int | None = None, *, low: int = 1, high: int = MAX_ID) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return default
    # ASCII digits only: int() also reads other scripts' digits (Arabic-Indic...), " 5" and "1_0".
    if not _WHOLE.fullmatch(raw):
        raise ValidationError(name, N_("%(value)s is not a whole number"), value=repr(raw))
    value = int(raw)
    if not low <= value <= high:
        raise ValidationError(name, N_("must be from %(low)s to %(high)s"), low=low, high=high)
    return value


def hook_json(hook: Any, *, secret: bool = False) -> dict[str, Any]:
    shown = hook.to_dict()
    shown["status_detail"] = translate(hook.status_message)
    if hook.disabled_message is not None:
        shown["disabled_reason"] = translate(hook.disabled_message)
    shown["event_label"] = {"en": hook.event_label, "pt_BR": BY_CODE[hook.event].label_pt}
    if secret:
        shown["secret"] = hook.secret  # once, when it is created or rotated
    return shown


def delivery_json(delivery: Delivery, *, payload: bool = False) -> dict[str, Any]:
    """A delivery as the API shows it: without ``webhooks:read``, no payload and no response bodies."""
    if READ in g.token.scopes.split():
        return delivery_dict(delivery, payload=payload)
    shown = delivery_dict(delivery)
    for attempt in shown["attempts"]:
        attempt["response_body"] = None
    return shown


# -- the catalog and the document ---------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document(request.host_url.rstrip("/") + "/api/v1"))


@bp.get("/events")
@token_required(READ)
def events() -> Any:
    return jsonify(data=[dataclasses.asdict(e) for e in CATALOG])


# -- hooks ------------------------------------------------------------------------------


@bp.get("/hooks")
@token_required(READ)
def list_hooks() -> Any:
    limit = query_int("limit", 50, high=500)
    after = query_int("after", 0, low=0)
    # The page's filters, through the same service call: search (name or URL), event, status.
    filters = {name: request.args[name] for name in ("search", "event", "status") if name in request.args}
    rows = [h for h in webhooks().list_hooks(**filters) if h.id > after]
    page, more = rows[:limit], len(rows) > limit
    # Absolute, as the document says: a client follows it without knowing where the API is mounted.
    following = url_for(".list_hooks", limit=limit, after=page[-1].id, **filters, _external=True) if more else None
    return jsonify(data=[hook_json(h) for h in page], next=following)


@bp.post("/hooks")
@token_required(WRITE)
def create_hook() -> Any:
    data = body()
    for required in ("name", "url") if "events" in data else ("name", "event", "url"):
        data.setdefault(required, None)
    # The service takes any field, so that an unknown one is named among all the others' errors.
    hook = webhooks().hooks.create(**data)
    response = jsonify(hook_json(hook, secret=True))
    response.headers["Location"] = url_for(".get_hook", hook_id=hook.id)
    return response, 201


PREVIEW_FIELDS = ("hook_id", "hook", "record", "event")


@bp.post("/hooks/preview")
@token_required(READ)
def preview_hook() -> Any:
    """What a hook (saved, changed, or not saved yet) would send for an event: sends and stores nothing.

    webhooks:read is enough, and needed: nothing changes, and the answer shows the event's data
    (as a delivery's payload does) with the header value and signature masked.
    """
    data = body()
    problems = Problems()
    for name in sorted(set(data) - set(PREVIEW_FIELDS)):
        problems.add(name, N_("not a field of this operation"))
    hook_id, fields = data.get("hook_id"), data.get("hook") or {}
    if hook_id is not None and (isinstance(hook_id, bool) or not isinstance(hook_id, int)):
        problems.add("hook_id", N_("expected a whole number, got %(value)s"), value=repr(hook_id))
    if isinstance(fields, dict):
        check_text(problems, fields)  # the body is rendered and signed as UTF-8
    else:
        problems.add("hook", N_("expected an object of hook fields"))
    problems.raise_any()
    preview = webhooks().previews.preview(hook_id, fields, record=data.get("record"), event=data.get("event"))
    return jsonify(preview.to_dict())


@bp.get("/hooks/<int:hook_id>")
@token_required(READ)
def get_hook(hook_id: int) -> Any:
    return jsonify(hook_json(webhooks().get_hook(hook_id)))


@bp.patch("/hooks/<int:hook_id>")
@token_required(WRITE)
def update_hook(hook_id: int) -> Any:
    data = body()
    if not data:
        raise ValidationError("body", N_("give at least one field to change"))
    # The service takes any field, so that an unknown one ("hook_id", "self") is named among the others.
    return jsonify(hook_json(webhooks().hooks.update(hook_id, **data)))


@bp.delete("/hooks/<int:hook_id>")
@token_required(WRITE)
def delete_hook(hook_id: int) -> Any:
    webhooks().delete_hook(hook_id)
    return "", 204


@bp.get("/hooks/<int:hook_id>/enable")
@token_required(READ)
def preview_enable_hook(hook_id: int) -> Any:
    """What enabling would send: held deliveries, and those failed since the hook started failing."""
    return jsonify(webhooks().preview_enable_hook(hook_id).to_dict())


@bp.post("/hooks/<int:hook_id>/enable")
@token_required(WRITE)
def enable_hook(hook_id: int) -> Any:
    # No body enables, as before; {"replay_failed": true} also sends again what failed since it started failing.
    data = body() if request.get_data() else {}
    problems = Problems()
    for name in sorted(set(data) - {"replay_failed"}):
        problems.add(name, N_("not a field of this operation"))
    replay_failed = data.get("replay_failed", False)
    if not isinstance(replay_failed, bool):
        problems.add("replay_failed", N_("expected true or false, got %(value)s"), value=repr(replay_failed))
    problems.raise_any()
    recovery = webhooks().recover_hook(hook_id, replay_failed=replay_failed)
    return jsonify({**hook_json(recovery.hook), "queued": recovery.to_dict()})


@bp.post("/hooks/<int:hook_id>/disable")
@token_required(WRITE)
def disable_hook(hook_id: int) -> Any:
    return jsonify(hook_json(webhooks().disable_hook(hook_id)))


@bp.post("/hooks/<int:hook_id>/test")
@token_required(WRITE)
def test_hook(hook_id: int) -> Any:
    return jsonify(delivery_json(webhooks().send_test(hook_id), payload=True))


@bp.post("/hooks/<int:hook_id>/rotate-secret")
@token_required(WRITE)
def rotate_secret(hook_id: int) -> Any:
    return jsonify(hook_json(webhooks().rotate_secret(hook_id), secret=True))


# -- deliveries -----------------------------------------------------------------------------


@bp.get("/deliveries")
@token_required(READ)
def list_deliveries() -> Any:
    limit = query_int("limit", 50, high=500)
    since = request.args.get("since")
    moment = None if since is None else parse_since(since, now=utcnow())  # 2h, as the CLI reads it, or ISO 8601
    rows = webhooks().list_deliveries(
        hook_id=query_int("hook_id"),
        status=request.args.get("status"),
        since=moment,
        limit=limit + 1,  # one more than shown: is there a next page?
        before=query_int("before"),
    )
    page = rows[:limit]
    args = {k: v for k, v in request.args.items() if k != "before"}
    following = url_for(".list_deliveries", **args, before=page[-1].id, _external=True) if len(rows) > limit else None
    return jsonify(data=[delivery_dict(d) for d in page], next=following)


@bp.get("/deliveries/<int:delivery_id>")
@token_required(READ)
def get_delivery(delivery_id: int) -> Any:
    return jsonify(delivery_dict(webhooks().get_delivery(delivery_id), payload=True))


@bp.post("/deliveries/<int:delivery_id>/redeliver")
@token_required(WRITE)
def redeliver(delivery_id: int) -> Any:
    return jsonify(delivery_json(webhooks().redeliver(delivery_id), payload=True)), 201


REPLAY_FIELDS = ("hook_id", "since", "status", "limit")


@bp.post("/deliveries/redeliver")
@token_required(WRITE)
def redeliver_failed() -> Any:
    """After an outage: the failed deliveries sent again, oldest first (see ``domain/replay.py``).

    Only ids come back: what the deliveries carry is for ``webhooks:read``.
    """
    data = body()
    problems = Problems()
    for name in sorted(set(data) - {*REPLAY_FIELDS, "dry_run"}):
        problems.add(name, N_("not a field of this operation"))
    dry_run = data.get("dry_run", False)
    if not isinstance(dry_run, bool):
        problems.add("dry_run", N_("expected true or false, got %(value)s"), value=repr(dry_run))
    chosen = {name: data[name] for name in REPLAY_FIELDS if name in data}
    problems.check(selection, **chosen, now=utcnow())  # so that one answer names every wrong field
    problems.raise_any()
    call = webhooks().preview_redeliver_failed if dry_run else webhooks().redeliver_failed
    replay = call(**chosen)
    return jsonify(replay.to_dict()), 201 if replay.ids else 200
