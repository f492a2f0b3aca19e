"""The CRM's web shell: login, a menu with System > Integrations, and the REST API's front door.

``create_app(crm)`` builds the Flask app.  Addons add their pages and API
routes through the host's addon mechanism: every loaded addon object with a
``register_web(app)`` method is called, so the host never imports one by name.
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from typing import Any

from flask import Flask, current_app, g, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import OperationalError

from ..crm import CRM
from . import auth, i18n, security
from .nav import Nav
from .throttle import Limits


def create_app(crm: CRM | None = None, *, secret_key: str | None = None, **config: Any) -> Flask:
    """The web app on ``crm``; without one, on ``CRM()`` (``$CRM_DATABASE_URL``, else ``sqlite:///crm.db``).

    Called with no argument it is the factory a WSGI server calls, as in
    ``waitress-serve --call crm_stub.web:create_app`` or ``gunicorn 'crm_stub.web:create_app()'``.

    Besides Flask's own settings, ``config`` may set ``CRM_SESSION_LIFETIME``
    (a timedelta; default 12 hours from login), ``CRM_LOGIN_LIMITS`` (a
    ``throttle.Limits``) and ``CRM_TRUSTED_PROXIES`` (how many reverse proxies
    stand in front; default ``$CRM_TRUSTED_PROXIES``, else 0).
    """
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or os.environ.get("CRM_SECRET_KEY") or secrets.token_hex(32),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        CRM_SESSION_LIFETIME=dt.timedelta(hours=12),
        CRM_LOGIN_LIMITS=Limits(),
        CRM_TRUSTED_PROXIES=int(os.environ.get("CRM_TRUSTED_PROXIES") or 0),
    )
    app.config.update(config)
    # A signed cookie older than a login session is not worth opening.
    app.config.setdefault("PERMANENT_SESSION_LIFETIME", app.config["CRM_SESSION_LIFETIME"])
    security.init(app)
    app.extensions["crm"] = crm if crm is not None else CRM()  # the process's, for its lifetime
    app.extensions["crm_nav"] = Nav()
    csrf = CSRFProtect(app)
    app.extensions["crm_csrf"] = csrf
    app.register_error_handler(CSRFError, _refused_form)
    app.register_error_handler(OperationalError, _database_away)
    i18n.init(app)
    auth.init(app)
    for addon in app.extensions["crm"].addons.values():
        register = getattr(addon, "register_web", None)
        if register is not None:
            register(app)
    return app


__all__ = ["create_app"]


def _refused_form(exc: CSRFError) -> Any:
    """A form posted without this session's token: in the page's language, inside the page, changing nothing."""
    message = _(
        "This form has expired or did not come from this site: nothing was changed. Reload the page and try again."
    )
    return render_template("error.html", message=message), 400


# Long enough for a restart or a failover to finish, short enough to be back soon after.
RETRY_AFTER_S = 5


def _database_away(exc: OperationalError) -> Any:
    """The database cannot be reached (stopped, restarting, the network): 503, said, nothing changed.

    An API client gets the API's JSON error; a person gets the site's page, as one not
    logged in (who is logged in is itself in the database).
    """
    current_app.logger.error("database unreachable on %s %s: %s", request.method, request.path, exc.orig or exc)
    if request.path.startswith("/api/") or request.path == "/metrics":
        message = "the database cannot be reached right now: nothing was changed; try again shortly"
        response = jsonify(error={"code": "database_unavailable", "message": message})
    else:
        g.user = None
        message = _("The database cannot be reached right now: nothing was changed. Try again in a moment.")
        response = current_app.make_response(render_template("error.html", message=message))
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response
