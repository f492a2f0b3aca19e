"""``/metrics``: the addon's Prometheus metrics, for a token with the scope ``metrics:read``.

A scope of its own: a Prometheus server's token then reads figures and nothing
of the CRM's data, which ``webhooks:read`` would open.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app

from crm_stub.web.auth import token_required

bp = Blueprint("webhooks_metrics", __name__)

SCOPE = "metrics:read"


@bp.get("/metrics")
@token_required(SCOPE)
def metrics() -> Any:
    body, content_type = current_app.extensions["crm_webhooks"].metrics.exposition()
    return Response(body, content_type=content_type)
