"""A webhook receiver to start from: Flask, checking the key/value header and the signature.

    WEBHOOK_SECRET=whsec_... WEBHOOK_KEY=X-Api-Key WEBHOOK_VALUE=s3cret \\
        python examples/receiver.py --port 8000

Point a hook at http://127.0.0.1:8000/crm (allow_private_networks=True for
loopback).  Each event is processed once even if it arrives again: retries
and redeliveries carry the same ``webhook-id``.
"""

from __future__ import annotations

import argparse
import hmac
import os
from typing import Any

from flask import Flask, abort, request

from crm_webhooks import WebhookVerificationError, verify


def create_app(secret: str, key: str | None = None, value: str | None = None) -> Flask:
    app = Flask(__name__)
    seen: set[str] = set()
    app.config["EVENTS"] = events = []  # what was processed, for whoever embeds this app

    @app.route("/<path:_path>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def receive(_path: str) -> tuple[str, int]:
        # 1. The shared key/value pair, compared in constant time.
        if key and not hmac.compare_digest(request.headers.get(key, ""), value or ""):
            abort(401, f"missing or wrong {key}")
        # 2. The signature over id, timestamp and the exact body bytes; GET and DELETE have
        #    no body, and their raw query string (the envelope's fields) is what was signed.
        signed = request.query_string if request.method in ("GET", "DELETE") else request.get_data()
        try:
            envelope = verify(signed, request.headers, secret)
        except WebhookVerificationError as exc:
            abort(401, f"bad signature: {exc}")
        # 3. At-least-once delivery: the same webhook-id may arrive twice; do the work once.
        event_id = request.headers["webhook-id"]
        if event_id in seen:
            return "already processed", 200
        seen.add(event_id)
        handle(envelope)
        events.append(envelope)
        return "", 204

    return app


def handle(envelope: dict[str, Any]) -> None:
    """Where an integration does its work: here it prints one line per event."""
    obj = envelope.get("data", {}).get("object", {})
    changed = envelope.get("data", {}).get("previous_attributes", {})
    object_id = obj.get("id", envelope.get("object_id"))
    print(f"{envelope['type']:<28} {envelope['id']}  object {object_id}  changed {sorted(changed)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    secret = os.environ.get("WEBHOOK_SECRET")
    if not secret:
        parser.error("set WEBHOOK_SECRET to the hook's secret (crm-webhooks hooks show ID --reveal)")
    app = create_app(secret, os.environ.get("WEBHOOK_KEY"), os.environ.get("WEBHOOK_VALUE"))
    app.run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
