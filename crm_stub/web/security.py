"""What every response and route of the web app gets: security headers, cookies, proxies, ids.

- Headers: a Content-Security-Policy that allows only this site's own style
  sheet and script files (no inline script or style) and no framing,
  ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``, and
  ``Cache-Control: no-store`` on everything but static files (a page showing a
  secret must not come back from the cache after logout).
- The session cookie is ``Secure`` whenever the request came over HTTPS.
- Behind ``CRM_TRUSTED_PROXIES`` reverse proxies, the client's address and
  scheme are taken from their ``X-Forwarded-For``/``-Proto`` headers (the
  login throttle counts per address; the cookie is Secure under HTTPS).
- ``<int:...>`` in routes takes ASCII digits only: Werkzeug's takes any
  Unicode digit (``/hooks/\u0661``, an Arabic-Indic one, would be hook 1).
"""

from __future__ import annotations

from flask import Flask, Response, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "Referrer-Policy": "same-origin",
}


class AsciiIntegerConverter(IntegerConverter):
    """``<int:id>`` matching ``[0-9]+`` only (``\\d`` is any Unicode digit, and ``int()`` reads them all)."""

    regex = r"[0-9]+"
    signed_regex = r"-?[0-9]+"


class SessionCookies(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure when the request came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(super().get_cookie_secure(app)) or (has_request_context() and request.is_secure)


def ascii_int(raw: str | None) -> int | None:
    """An id from a query string: ASCII digits only, else None."""
    if raw is None or not raw.isascii() or not raw.isdigit():
        return None
    return int(raw)


def init(app: Flask) -> None:
    """Before any blueprint registers a route (the converter is looked up when a rule is added)."""
    app.url_map.converters["int"] = AsciiIntegerConverter
    app.session_interface = SessionCookies()
    proxies = int(app.config.get("CRM_TRUSTED_PROXIES") or 0)
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies)  # type: ignore[method-assign]

    @app.after_request
    def security_headers(response: Response) -> Response:
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.endpoint != "static":
            response.headers.setdefault("Cache-Control", "no-store")
        return response
