"""A webhook receiver to start from: Flask, one secret per hook, each event processed once.

    python examples/receiver.py --config hooks.json --store processed.db --port 8000

``hooks.json`` names each hook this receiver serves by the last segment of its URL:

    {"leads": {"secret": "whsec_...", "key": "X-Api-Key", "value": "s3cret"},
     "sales": {"secret": "whsec_..."}}

and a hook pointing at http://127.0.0.1:8000/leads is checked with its own key/value
header and secret (``crm-webhooks hooks show ID --reveal``).  For a single hook,
WEBHOOK_SECRET (and WEBHOOK_KEY, WEBHOOK_VALUE) in the environment serve it at /crm.
(allow_private_networks=True lets the addon post to loopback.)

What it checks, in order: the hook's key/value header, then the Standard Webhooks
signature (over the body, or for GET and DELETE over the raw query string), then
whether this (hook, webhook-id) was processed already: retries and redeliveries
repeat the id.  Anything that fails a check is a 401 and does nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hmac
import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask, abort, request

from crm_webhooks import WebhookVerificationError, verify


@dataclass(frozen=True)
class HookConfig:
    """What a receiver knows of one hook: its signing secret and its key/value header."""

    secret: str
    key: str | None = None
    value: str | None = None


class ProcessedStore:
    """The (hook, webhook-id) pairs already processed, in a SQLite file: it survives a restart.

    The primary key decides who is first, atomically: two copies of one event
    arriving at once cannot both pass, as a look-then-insert would let them.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # readers do not wait for the writer
            db.execute(
                "CREATE TABLE IF NOT EXISTS processed ("
                " hook TEXT NOT NULL, webhook_id TEXT NOT NULL, processed_at TEXT NOT NULL,"
                " PRIMARY KEY (hook, webhook_id))"
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        # Autocommit mode: the transaction below is spelled out, not left to the module.
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            yield db
        finally:
            db.close()

    @contextmanager
    def first_time(self, hook: str, webhook_id: str) -> Iterator[bool]:
        """Whether this is the first (hook, webhook-id); the mark stays only if the block succeeds.

        The work is done inside the transaction that claims the id: if it
        raises, the claim is rolled back and the sender's retry does the work,
        so an event is never marked done without having been done.  (It holds
        the file's write lock meanwhile: keep the work short, or queue it.)
        """
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                inserted = db.execute(
                    "INSERT INTO processed (hook, webhook_id, processed_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (hook, webhook_id) DO NOTHING",
                    (hook, webhook_id, dt.datetime.now(dt.UTC).isoformat()),
                ).rowcount
                yield inserted == 1
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")


def handle(hook: str, envelope: dict[str, Any]) -> None:
    """Where an integration does its work: here it prints one line per event."""
    data = envelope.get("data", {})
    object_id = data.get("object", {}).get("id", envelope.get("object_id"))
    changed = sorted(data.get("previous_attributes", {}))
    print(f"{hook:<10} {envelope['type']:<28} {envelope['id']}  object {object_id}  changed {changed}")


def create_app(
    hooks: Mapping[str, HookConfig],
    store: str | os.PathLike[str],
    *,
    work: Callable[[str, dict[str, Any]], None] = handle,
) -> Flask:
    """The receiver for ``hooks`` (path segment -> HookConfig), remembering what it processed in ``store``."""
    app = Flask(__name__)
    processed = ProcessedStore(store)
    app.config["EVENTS"] = events = []  # what was processed, for whoever embeds this app

    @app.route("/<hook>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    def receive(hook: str) -> tuple[str, int]:
        config = hooks.get(hook)
        if config is None:
            abort(404, f"no hook named {hook!r} here")
        # 1. The hook's key/value pair, compared in constant time.
        if config.key and not hmac.compare_digest(
            request.headers.get(config.key, "").encode(), (config.value or "").encode()
        ):
            abort(401, f"missing or wrong {config.key}")
        # 2. The signature with this hook's secret, over the exact body bytes; GET and DELETE
        #    have no body, and their raw query string (the envelope's fields) is what was signed.
        signed = request.query_string if request.method in ("GET", "DELETE") else request.get_data()
        try:
            envelope = verify(signed, request.headers, config.secret)
        except WebhookVerificationError as exc:  # the only error verify raises, whatever arrived
            abort(401, f"bad signature: {exc}")
        # 3. A test send ("Send test" in the CRM) carries sample data: acknowledge, do nothing.
        if envelope.get("test") in (True, "true"):
            return "test event received", 200
        # 4. At-least-once delivery: the same webhook-id may arrive again; do the work once.
        event_id = request.headers["webhook-id"]
        try:
            with processed.first_time(hook, event_id) as first:
                if not first:
                    return "already processed", 200
                work(hook, envelope)
        except Exception:
            # Not marked done: any non-2xx makes the sender retry later, and the retry does the work.
            app.logger.exception("hook %s: processing %s failed; the sender will retry", hook, event_id)
            return "processing failed, retry later", 503
        events.append(envelope)
        return "", 204

    return app


def load_hooks(config: str | os.PathLike[str] | None, environ: Mapping[str, str]) -> dict[str, HookConfig]:
    """The hooks from a JSON file, or one hook named "crm" from WEBHOOK_SECRET/KEY/VALUE."""
    if config is None:
        secret = environ.get("WEBHOOK_SECRET")
        if not secret:
            raise ValueError("--config: give a hooks file, or set WEBHOOK_SECRET for a single hook at /crm")
        return {"crm": HookConfig(secret, environ.get("WEBHOOK_KEY"), environ.get("WEBHOOK_VALUE"))}
    try:
        entries = json.loads(Path(config).read_text())
        return {name: HookConfig(e["secret"], e.get("key"), e.get("value")) for name, e in entries.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(
            f"--config: {config} is not a JSON object of {{name: {{secret, key, value}}}} ({exc})"
        ) from None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--config", help="JSON file: {hook name: {secret, key, value}}")
    parser.add_argument("--store", default="processed.db", help="SQLite file of processed webhook ids")
    args = parser.parse_args()
    try:
        hooks = load_hooks(args.config, os.environ)
    except ValueError as exc:
        parser.error(str(exc))
    create_app(hooks, args.store).run(host=args.host, port=args.port)


if __name__ == "__main__":
    main()
