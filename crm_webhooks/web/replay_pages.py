"""The history page's "Replay failed…": choose since when, see how many will go, confirm, watch them go.

The same call as ``crm-webhooks deliveries redeliver --failed`` and ``POST
/api/v1/deliveries/redeliver``; these pages only choose, preview and follow.
The preview names the exact moment it counted from, and the confirmation sends
that moment, so "24 hours" does not move between the two.  The progress page
is named by the replay's ``Batch`` in its URL, so a reload or a bookmark shows
it again; while deliveries are pending it asks the browser to reload it
(a ``Refresh`` header: the pages run no script).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from crm_stub import NotFound
from crm_stub.models import utcnow
from crm_stub.web.auth import admin_required
from crm_stub.web.security import ascii_int

from ..domain.durations import parse_since
from ..domain.replay import Batch
from ..exceptions import ValidationError
from .pages import not_found, when

bp = Blueprint("webhooks_replay", __name__, url_prefix="/system/integrations/webhooks", template_folder="templates")
bp.register_error_handler(NotFound, not_found)

DEFAULT_PERIOD = "24h"
REFRESH_SECONDS = 3


def webhooks() -> Any:
    return current_app.extensions["crm_webhooks"]


def periods() -> dict[str, str]:
    """The choices, in the page's language."""
    return {"1h": _("1 hour"), "6h": _("6 hours"), "24h": _("24 hours"), "7d": _("7 days")}


def _chosen(args: Any) -> tuple[str, str, dt.datetime | None]:
    """The period chosen, the date typed (which wins when given) and the moment they mean (None: no date)."""
    choice = args.get("period", DEFAULT_PERIOD)
    if choice not in periods():
        choice = DEFAULT_PERIOD  # a URL edited by hand: the default, as for any other unknown choice
    typed = args.get("from", "").strip()
    try:
        # A datetime-local field sends "2026-03-01T08:00": no zone, so UTC, as the page says.
        return choice, typed, parse_since(typed or choice, now=utcnow())
    except ValidationError:
        return choice, typed, None


@bp.get("/<int:hook_id>/replay")
@admin_required
def choose(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    choice, typed, moment = _chosen(request.args)
    preview = None if moment is None else webhooks().preview_redeliver_failed(hook_id, since=moment)
    page = render_template(
        "webhooks/replay.html", hook=hook, periods=periods(), choice=choice, typed=typed, preview=preview
    )
    return page, 200 if preview else 422


@bp.post("/<int:hook_id>/replay")
@admin_required
def confirm(hook_id: int) -> Any:
    webhooks().get_hook(hook_id)
    try:
        replay = webhooks().redeliver_failed(hook_id, since=request.form.get("since", ""))
    except ValidationError:  # the preview's own moment, unless the form was tampered with
        flash(_("Choose since when again."), "error")
        return redirect(url_for(".choose", hook_id=hook_id))
    batch = replay.batch
    if batch is None:  # nothing left: already sent again (a second click), or nothing failed meanwhile
        flash(_("No failed delivery since %(since)s is left to send again.", since=when(replay.selection.since)))
        return redirect(url_for("webhooks.history", hook_id=hook_id))
    return redirect(
        url_for(".progress", hook_id=hook_id, first=batch.first, last=batch.last, at=batch.queued_at.isoformat())
    )


@bp.get("/<int:hook_id>/replay/progress")
@admin_required
def progress(hook_id: int) -> Any:
    hook = webhooks().get_hook(hook_id)
    first, last = ascii_int(request.args.get("first")), ascii_int(request.args.get("last"))
    try:
        queued_at = dt.datetime.fromisoformat(request.args.get("at", ""))
    except ValueError:
        queued_at = None
    named = first is not None and last is not None and queued_at is not None and queued_at.tzinfo is None
    done = webhooks().replay_progress(Batch(first, last, queued_at, hook_id)) if named else None
    if done is None or done.total == 0:  # a URL no replay made
        raise NotFound("replay", f"{first}-{last}")
    response = current_app.make_response(
        render_template("webhooks/replay_progress.html", hook=hook, progress=done, queued_at=queued_at)
    )
    if not done.done:
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response
