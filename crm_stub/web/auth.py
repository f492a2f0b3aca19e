"""Who may do what: admins log in with a password; scripts bring a bearer token with scopes."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, current_app, g, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..crm import CRM
from ..errors import NotFound

F = TypeVar("F", bound=Callable[..., Any])

bp = Blueprint("auth", __name__)


def crm() -> CRM:
    return current_app.extensions["crm"]


def current_user() -> Any:
    if "user" not in g:
        g.user = None
        user_id = session.get("user_id")
        if user_id is not None:
            try:
                g.user = crm().users.get(user_id)
            except NotFound:
                session.clear()
    return g.user


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


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        user = crm().users.authenticate(request.form.get("email", ""), request.form.get("password", ""))
        if user is not None:
            lang = session.get("lang")
            session.clear()  # a fresh session at login: no fixation
            session["user_id"] = user.id
            if lang:
                session["lang"] = lang
            target = request.args.get("next") or ""
            # Only paths on this site: an open redirect would hand the session to a phishing page.
            if not target.startswith("/") or target.startswith("//"):
                target = url_for("auth.home")
            return redirect(target)
        error = _("Wrong e-mail or password.")
    return render_template("login.html", error=error), (401 if error else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    session.pop("user_id", None)
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
    app.register_blueprint(bp)

    @app.context_processor
    def who() -> dict[str, Any]:
        return {"current_user": current_user(), "nav": app.extensions["crm_nav"]}
