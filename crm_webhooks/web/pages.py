"""The admin pages: the list, the form, last run, history, and the row's actions."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from markupsafe import Markup

from crm_stub import InvalidTransition, NotFound
from crm_stub.web.auth import admin_required
from crm_stub.web.security import ascii_int

from ..deliveries import STATUSES as DELIVERY_STATUSES
from ..domain.attempt_errors import read
from ..domain.catalog import BY_CODE, GROUPED
from ..domain.event_patterns import EVERY, describe
from ..domain.hooks import FIELDS, METHODS
from ..domain.messages import Message
from ..domain.templating import CHAT_MESSAGE, DEFAULT_CONTENT_TYPE, FLAT_SALE
from ..exceptions import ValidationError
from ..hooks import STATUSES as HOOK_STATUSES
from ..preview import Preview
from . import once, reveal
from .words import missing, translate

bp = Blueprint(
    "webhooks",
    __name__,
    url_prefix="/system/integrations/webhooks",
    template_folder="templates",
    static_folder="static",  # the row menus' and the copy button's script; the pages work without it
)

PAGE = 20
# Hooks in trouble named one by one above the list; past that, "and N more".
NOTICE = 3


def webhooks() -> Any:
    return current_app.extensions["crm_webhooks"]


def portuguese() -> bool:
    return str(get_locale() or "en").startswith("pt")


@bp.app_template_filter("event_label")
def event_label(code: str) -> str:
    event = BY_CODE.get(code)
    if event is None:
        return code
    return event.label_pt if portuguese() else event.label_en


@bp.app_template_filter("status_label")
def status_label(status: str) -> str:
    """Hook and delivery statuses in the page's language."""
    words = {
        "never_run": _("never run"),
        "succeeded": _("succeeded"),
        "failing": _("failing"),
        "disabled": _("disabled"),
        "pending": _("pending"),
        "failed": _("failed"),
    }
    return words.get(status, status)


@bp.app_template_filter("words")
def words(message: Message | None) -> str:
    """A domain message (a status, a reason) in the page's language."""
    return "" if message is None else translate(message)


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


@bp.app_template_filter("when")
def when(value: Any) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S UTC")


@bp.app_template_filter("minute")
def minute(value: Any) -> str:
    # The time and its zone kept on one line (a no-break space): "10:04" alone at a line's end reads as local.
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M\u00a0UTC")


@bp.app_template_filter("middle")
def middle(text: str, keep: int = 40) -> Markup:
    """Long text cut in the middle (``https://erp.example/int…/hooks/sales``): a URL's host and end say the most.

    Two unbreakable halves: a narrow column shows them on two lines, never a few characters a line.
    """
    if len(text) <= keep:
        return Markup('<span class="nowrap">%s</span>') % text
    tail = keep // 3
    return Markup('<span class="nowrap">%s…</span><span class="nowrap">%s</span>') % (
        text[: keep - tail - 1],
        text[-tail:],
    )


@bp.app_template_filter("attempt_error")
def attempt_error(attempt: Any) -> str:
    """The error beyond what the status badge says ("HTTP 500" is said once), in the page's language."""
    error = attempt.error or ""
    shown = f"HTTP {attempt.status_code}"
    if attempt.status_code is not None and error.startswith(shown):
        error = error[len(shown) :].lstrip(": ")
    return translate(read(error)) if error else ""


@bp.app_template_filter("error_words")
def error_words(attempt: Any) -> str:
    """A failed attempt in a line: its HTTP status, then what ``attempt_error`` adds."""
    said = [f"HTTP {attempt.status_code}"] if attempt.status_code is not None else []
    detail = attempt_error(attempt)
    return ": ".join([*said, detail] if detail else said)


def _entity_names() -> dict[str, str]:
    return {
        "lead": _("Leads"),
        "client": _("Clients"),
        "opportunity": _("Sales opportunities"),
        "quote": _("Quotes"),
        "sale": _("Sales"),
        "webhook": _("Webhooks"),
    }


def event_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The catalog grouped by entity, labelled in the page's language, for the list's event filter."""
    return [(choice.name, choice.events) for choice in event_choices()]


@dataclass(frozen=True)
class EventChoice:
    """An entity's boxes in the form: "all" (its pattern) and each of its events."""

    name: str
    pattern: str
    events: list[tuple[str, str]]


def event_choices() -> list[EventChoice]:
    names = _entity_names()
    return [
        EventChoice(names[entity], f"{entity}.*", [(e.code, event_label(e.code)) for e in events])
        for entity, events in GROUPED
    ]


# What the form's boxes say; any other pattern goes in its text box.
BOXED = frozenset({EVERY, *(f"{entity}.*" for entity, _ in GROUPED), *(e.code for _, g in GROUPED for e in g)})


@bp.app_template_filter("pattern_label")
def pattern_label(pattern: str) -> str:
    """A code's label, or a pattern in words, in the page's language."""
    return event_label(pattern) if pattern in BY_CODE else translate(describe(pattern))


# The advanced part of the form: folded unless one of them is set or wrong.
ADVANCED = ("condition", "body_template", "content_type", "max_per_second")


@dataclass(frozen=True)
class Example:
    """A ready-made body the form offers, with what it is for in the page's language."""

    slug: str
    name: str
    purpose: str
    template: str


def examples() -> list[Example]:
    return [
        Example(
            "chat",
            _("Chat message"),
            _(
                'One line in a chat channel (Slack and others whose incoming webhooks take {"text": …}):'
                " the event, the record's name and its stage."
            ),
            CHAT_MESSAGE,
        ),
        Example(
            "flat-sale",
            _("Flat sale for a point of sale"),
            _("For sale events: the customer, the value and the items' names, as a point-of-sale system takes them."),
            FLAT_SALE,
        ),
    ]


def _advanced_open(values: dict[str, Any], errors: dict[str, str]) -> bool:
    typed = values.get("condition") or values.get("body_template") or values.get("max_per_second")
    other_type = (values.get("content_type") or DEFAULT_CONTENT_TYPE).strip() != DEFAULT_CONTENT_TYPE
    return bool(typed or other_type or any(name in errors for name in ADVANCED))


@bp.errorhandler(NotFound)
def not_found(exc: NotFound) -> Any:
    return render_template("error.html", message=missing(exc)), 404


@bp.errorhandler(ValidationError)
def bad_filter(exc: ValidationError) -> Any:
    """A query string no form of the page makes (the forms catch their own errors)."""
    message = "; ".join(f"{found.field}: {translate(found.message)}" for found in exc.errors)
    return render_template("error.html", message=message), 400


def _filters(*names: str) -> dict[str, str]:
    """The query's filters that are set: an empty box or "all" is no filter."""
    return {name: value for name in names if (value := request.args.get(name, "").strip())}


@bp.route("/")
@admin_required
def index() -> Any:
    filters = _filters("search", "event", "status")
    troubles, troubled = webhooks().troubled_hooks(NOTICE)
    return render_template(
        "webhooks/index.html",
        hooks=webhooks().list_hooks(**filters),
        troubles=troubles,
        troubled=troubled,
        filters=filters,
        groups=event_groups(),
        statuses=HOOK_STATUSES,
    )


def _form_fields(*, editing: bool = False) -> dict[str, Any]:
    names = ("name", "method", "url", "key", "value", "ordering")
    fields: dict[str, Any] = {name: request.form.get(name, "").strip() for name in names}
    if "events" in request.form or "more_events" in request.form:
        typed = [p for p in re.split(r"[,\s]+", request.form.get("more_events", "")) if p]
        fields["events"] = [*(e for e in request.form.getlist("events") if e.strip()), *typed]
    else:  # one code, as the form of 0.4.0 and the scripts written against it post it
        fields["event"] = request.form.get("event", "").strip()
    if not fields["ordering"]:
        del fields["ordering"]  # a form without the choice keeps the default, or what the hook has
    if not fields["key"] and not fields["value"]:
        # An empty key and value mean "no authentication header".
        fields["key"] = fields["value"] = None
    elif editing and not fields["value"]:
        # The stored value is never sent to the page, so an empty field means "keep it"
        # (a new URL still asks for it: see domain.hooks.validate_fields).
        del fields["value"]
    for name in ADVANCED:
        if name in request.form:  # a form without them (scripts written for 0.4.0) keeps what the hook has
            # A textarea sends its lines ended by CRLF: the template is stored as it was typed.
            fields[name] = request.form[name].replace("\r\n", "\n")
    return fields


def _render_form(
    hook: Any, values: dict[str, Any], error: ValidationError | None = None, preview: Preview | None = None
) -> Any:
    errors: dict[str, str] = {}
    for found in error.errors if error else ():
        errors.setdefault(found.field, translate(found.message))
    status = 422 if error else 200
    return render_template(
        "webhooks/form.html",
        hook=hook,
        values={**values, "preview_record": request.form.get("preview_record", "")},
        errors=errors,
        preview=preview,
        event_choices=event_choices(),
        boxed=BOXED,
        methods=METHODS,
        examples=examples(),
        advanced_open=_advanced_open(values, errors),
        default_content_type=DEFAULT_CONTENT_TYPE,
    ), status


@bp.route("/new", methods=["GET", "POST"])
@admin_required
def new() -> Any:
    if request.method == "GET":
        return _render_form(None, {"method": "POST", "once": once.token()})
    form_token = request.form.get("once")
    done = once.created(form_token)
    if done is not None:  # this very form was sent before: show what it made
        return redirect(url_for(".secret", hook_id=done), 303)
    fields = _form_fields()
    if "preview" in request.form:
        return _preview(None, fields, {**fields, "once": form_token or once.token()})
    try:
        hook = webhooks().create_hook(**fields)
    except ValidationError as exc:
        return _render_form(None, {**fields, "once": form_token or once.token()}, exc)
    once.remember(form_token, hook.id)
    reveal.allow(hook, created=True)
    return redirect(url_for(".secret", hook_id=hook.id), 303)


@bp.route("/<int:hook_id>/edit", methods=["GET", "POST"])
@admin_required
def edit(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    if request.method == "GET":
        values = {name: getattr(hook, name) for name in FIELDS if name != "value"}
        if hook.content_type == DEFAULT_CONTENT_TYPE:
            values["content_type"] = ""  # the placeholder says it: a value would read as a choice made
        values["max_per_second"] = "" if hook.max_per_second is None else f"{hook.max_per_second:g}"
        return _render_form(hook, {**values, "events": list(hook.events)})
    fields = _form_fields(editing=True)
    if "preview" in request.form:
        return _preview(hook, fields, fields)
    try:
        webhooks().update_hook(hook_id, **fields)
    except ValidationError as exc:
        return _render_form(hook, fields, exc)
    flash(_("Webhook “%(name)s” saved.", name=fields["name"]))
    return redirect(url_for(".index"))


def _preview(hook: Any, fields: dict[str, Any], values: dict[str, Any]) -> Any:
    """The form again, as typed, with what it would send (nothing is sent or saved)."""
    record = request.form.get("preview_record", "").strip() or None
    try:
        found = webhooks().previews.preview(hook and hook.id, fields, record=record)
    except ValidationError as exc:
        return _render_form(hook, values, exc)
    except NotFound as exc:  # the record named: said beside its box, not as a page of its own
        return _render_form(hook, values, ValidationError("record", Message.verbatim(missing(exc))))
    return _render_form(hook, values, preview=found)


def _confirm(hook: Any, action: str, question: str, explanation: str) -> Any:
    return render_template(
        "webhooks/confirm.html", hook=hook, action=action, question=question, explanation=explanation
    )


@bp.route("/<int:hook_id>/rotate", methods=["GET", "POST"])
@admin_required
def rotate(hook_id: int) -> Any:
    if request.method == "GET":
        hook = webhooks().get_hook(hook_id)
        return _confirm(
            hook,
            _("Rotate secret"),
            _("Rotate the secret of “%(name)s”?", name=hook.name),
            _(
                "A new secret signs every call from now on. The current one keeps signing too"
                " for a grace period, so the receiver has time to change it."
            ),
        )
    reveal.allow(webhooks().rotate_secret(hook_id), created=False)
    return redirect(url_for(".secret", hook_id=hook_id), 303)


@bp.route("/<int:hook_id>/secret")
@admin_required
def secret(hook_id: int) -> Any:
    """The secret just made, again on a reload; nothing for anyone else, or later."""
    hook = webhooks().get_hook(hook_id)
    created = reveal.allowed(hook)
    if created is None:
        flash(_("A secret is shown only right after it is made. Rotate the secret to see a new one."), "error")
        return redirect(url_for(".index"))
    return render_template("webhooks/secret.html", hook=hook, created=created)


@bp.get("/<int:hook_id>/enable")
@admin_required
def enable(hook_id: int) -> Any:
    """Before enabling: what was held goes, and what failed since it started failing may go again."""
    recovery = webhooks().preview_enable_hook(hook_id)
    if recovery.hook.enabled:
        flash(_("Webhook “%(name)s” is enabled already.", name=recovery.hook.name))
        return redirect(url_for(".index"))
    return render_template("webhooks/enable.html", hook=recovery.hook, recovery=recovery)


@bp.route("/<int:hook_id>/<any(enable, disable):action>", methods=["POST"])
@admin_required
def toggle(hook_id: int, action: str) -> Any:
    if action == "disable":
        hook = webhooks().disable_hook(hook_id)
        flash(_("Webhook “%(name)s” disabled.", name=hook.name))
        return redirect(url_for(".index"))
    recovery = webhooks().recover_hook(hook_id, replay_failed=request.form.get("replay_failed") == "1")
    flash(" ".join(_queued(recovery)))
    return redirect(url_for(".index"), 303)


def _queued(recovery: Any) -> list[str]:
    """What enabling sent on its way, in sentences."""
    said = [_("Webhook “%(name)s” enabled.", name=recovery.hook.name)]
    if recovery.held:
        said.append(ngettext("%(num)d held delivery goes now.", "%(num)d held deliveries go now.", recovery.held))
    if recovery.replayed:
        said.append(
            ngettext(
                "%(num)d failed delivery was queued again.",
                "%(num)d failed deliveries were queued again.",
                recovery.replayed,
            )
        )
    if recovery.left:
        said.append(
            ngettext(
                "%(num)d more is left for a replay from its history.",
                "%(num)d more are left for a replay from its history.",
                recovery.left,
            )
        )
    return said


@bp.route("/<int:hook_id>/delete", methods=["GET", "POST"])
@admin_required
def delete(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    if request.method == "GET":
        return _confirm(
            hook,
            _("Delete"),
            _("Delete webhook “%(name)s”?", name=hook.name),
            _("Its history goes with it. Events it did not deliver yet will not be sent."),
        )
    webhooks().delete_hook(hook_id)
    flash(_("Webhook “%(name)s” deleted.", name=hook.name))
    return redirect(url_for(".index"))


@bp.route("/<int:hook_id>/test", methods=["POST"])
@admin_required
def test(hook_id: int) -> Any:
    delivery = webhooks().send_test(hook_id)
    flash(
        _("Test sent: %(status)s.", status=status_label(delivery.status)),
        "message" if delivery.status == "succeeded" else "error",
    )
    return redirect(url_for(".delivery", delivery_id=delivery.id))


@bp.route("/<int:hook_id>/last")
@admin_required
def last(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    delivery = webhooks().last_delivery(hook_id)
    return render_template("webhooks/delivery.html", hook=hook, delivery=delivery, last=True)


@bp.route("/<int:hook_id>/history")
@admin_required
def history(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    filters = _filters("status")
    before, after = ascii_int(request.args.get("before")), ascii_int(request.args.get("after"))
    if before is not None:
        after = None  # a hand-made link with both: older wins
    page = webhooks().history_page(hook_id, before=before, after=after, size=PAGE, **filters)
    return render_template("webhooks/history.html", hook=hook, page=page, filters=filters, statuses=DELIVERY_STATUSES)


@bp.route("/deliveries/<int:delivery_id>")
@admin_required
def delivery(delivery_id: int) -> Any:
    found = webhooks().get_delivery(delivery_id)
    return render_template("webhooks/delivery.html", hook=webhooks().get_hook(found.hook_id), delivery=found)


@bp.route("/deliveries/<int:delivery_id>/redeliver", methods=["POST"])
@admin_required
def redeliver(delivery_id: int) -> Any:
    try:
        again = webhooks().redeliver(delivery_id)
    except InvalidTransition:
        abort(409)
    flash(
        _("Sent again: %(status)s.", status=status_label(again.status)),
        "message" if again.status == "succeeded" else "error",
    )
    return redirect(url_for(".delivery", delivery_id=again.id))
