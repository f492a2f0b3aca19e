"""The webhooks page (System > Integrations > Webhooks) and the REST API (/api/v1).

Both are thin: every action is a call of the addon object, so the web, the
API and the CLI behave alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from crm_stub.web.i18n import add_translations

from ..domain.messages import N_
from . import api, charts, metrics, pages, replay_pages

if TYPE_CHECKING:
    from ..addon import WebhooksAddon


def register(app: Flask, addon: WebhooksAddon) -> None:
    app.extensions["crm_webhooks"] = addon
    add_translations(app, Path(__file__).resolve().parent.parent / "translations")
    app.register_blueprint(pages.bp)
    app.register_blueprint(replay_pages.bp)
    charts.register(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(metrics.bp)
    app.extensions["crm_csrf"].exempt(api.bp)  # bearer tokens, no cookies: nothing to forge
    app.extensions["crm_nav"].add(
        "System > Integrations",
        "Webhooks",
        "webhooks.index",
        N_("Send CRM events to other systems as signed HTTP calls."),  # the System page translates it
    )
