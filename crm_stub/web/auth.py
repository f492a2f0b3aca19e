"""Who may do what: admins log in with a password; scripts bring a bearer token with scopes.

A login is a row of ``login_sessions`` (its token in the signed cookie), looked
up on every request: logging out deletes it, and a new password deletes all of
the user's, so a cookie copied earlier opens nothing afterwards.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..crm import CRM
from .throttle import LoginThrottle, account_key, address_key

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)


def crm() -> CRM:
    return current_app.extensions["crm"]


def current_user() -> Any:
    """The user of this request's login session, or None (never logged in, logged out, expired)."""
    if "user" not in g:
        g.user = None
        token = session.get("sid")
        if token is not None:
            g.user = crm().users.session_user(token)
            if g.user is None:
                _forget_login()
    return g.user


def _forget_login() -> None:
    """A fresh cookie with nothing but the chosen language."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang


# A path on this site: printable ASCII without spaces (no tab or line break for a
# browser or Werkzeug to drop), not "//host" nor "/\host" (which browsers read as
# "//host").
_SAME_SITE_PATH = re.compile(r"/(?![/\\])[!-~]*")


def safe_next(target: object) -> str | None:
    """``target`` when it is a path on this site, else None: the login goes nowhere else."""
    if isinstance(target, str) and _SAME_SITE_PATH.fullmatch(target):
        return target
    return None


def admin_required(view: F) -> F:
    """Logged in and an admin: the System pages are for admins only."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        if not user.is_admin:
            return render_template("error.html", message=_("Only administrators can open the System pages.")), 403
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def token_required(scope: str) -> Callable[[F], F]:
    """``Authorization: Bearer <token>`` with ``scope``: 401 without a live token, 403 without the scope."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            header = request.headers.get("Authorization", "")
            kind, _sep, plain = header.partition(" ")
            token = crm().tokens.authenticate(plain.strip()) if kind.lower() == "bearer" and plain.strip() else None
            if token is None:
                response = jsonify(error={"code": "unauthorized", "message": "a valid bearer token is required"})
                response.headers["WWW-Authenticate"] = 'Bearer realm="crm"'
                return response, 401
            if scope not in token.scopes.split():
                message = f"this token lacks the scope {scope}"
                return jsonify(error={"code": "forbidden", "message": message, "scope": scope}), 403
            g.token = token
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def throttle() -> LoginThrottle:
    return current_app.extensions["crm_login_throttle"]


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("login.html", error=None)
    email, password = request.form.get("email", ""), request.form.get("password", "")
    account, address = account_key(email), address_key(request.remote_addr)
    # Refused before any password is checked: a throttled guess costs no hashing, and a right
    # password is refused too, or throttling would only slow guessing down.
    refused = throttle().refusal(account, address)
    if refused is not None:
        if refused.reason == "account":
            error = _("Too many wrong passwords for this e-mail. Try again in %(minutes)s min.")
        else:
            error = _("Too many wrong passwords from your network address. Try again in %(minutes)s min.")
        return _login_refused(error % {"minutes": math.ceil(refused.retry_after / 60)}, 429, refused.retry_after)
    with throttle().hashing_slot() as free:
        if not free:
            return _login_refused(_("The server is busy checking other log-ins. Try again in a moment."), 503, 5)
        user = crm().users.authenticate(email, password)
    if user is None:
        throttle().failed(account, address)
        return render_template("login.html", error=_("Wrong e-mail or password.")), 401
    throttle().succeeded(account, address)
    _forget_login()  # a fresh session at login: no fixation
    session["sid"] = crm().users.start_session(user.id, current_app.config["CRM_SESSION_LIFETIME"])
    # Only paths on this site: an open redirect would hand the session to a phishing page.
    return redirect(safe_next(request.args.get("next")) or url_for("auth.home"))


def _login_refused(error: str, status: int, retry_after: int) -> Any:
    response = current_app.make_response((render_template("login.html", error=error), status))
    response.headers["Retry-After"] = str(retry_after)
    return response


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    crm().users.end_session(session.get("sid"))  # the session ends on the server, not just in this cookie
    _forget_login()
    return redirect(url_for("auth.login"))


@bp.route("/")
@admin_required
def home() -> Any:
    return redirect(url_for("auth.system"))


@bp.route("/system/")
@admin_required
def system() -> Any:
    nav = current_app.extensions["crm_nav"]
    return render_template("system.html", integrations=nav.under("System > Integrations"))


def init(app: Flask) -> None:
    app.extensions["crm_login_throttle"] = LoginThrottle(app.extensions["crm"], app.config["CRM_LOGIN_LIMITS"])
    app.register_blueprint(bp)

    @app.context_processor
    def who() -> dict[str, Any]:
        return {"current_user": current_user(), "nav": app.extensions["crm_nav"]}
