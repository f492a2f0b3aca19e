"""The demo: a local receiver, a hook per event, the whole sales cycle, and proof it all arrived.

It checks each request the way an integrator would: the Standard Webhooks
signature against the hook's secret, and the key/value header.
"""

from __future__ import annotations

import secrets
import tempfile
import threading
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from crm_stub import CRM
from crm_stub.clikit import plain
from crm_stub.scenario import sales_cycle

from .domain.catalog import CRM_EVENTS
from .engine.signing import WebhookVerificationError, verify

KEY = "X-Demo-Key"


@dataclass(frozen=True)
class DemoResult:
    code: str
    label_pt: str
    status: str
    deliveries: int
    attempts: int
    http_status: int | None
    signature_verified: bool
    key_verified: bool
    duration_ms: float | None

    @property
    def ok(self) -> bool:
        return self.status == "succeeded" and self.signature_verified and self.key_verified

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


class _Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes; without this, Nagle and delayed ACKs add 40 ms to each.
    disable_nagle_algorithm = True
    received: list[tuple[str, dict[str, str], bytes]]
    lock: threading.Lock

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.lock:
            self.received.append((self.path.split("?", 1)[0], dict(self.headers), body))
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_POST = do_PUT = do_PATCH = do_GET = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


def _start_receiver() -> tuple[ThreadingHTTPServer, list[tuple[str, dict[str, str], bytes]]]:
    received: list[tuple[str, dict[str, str], bytes]] = []
    handler = type("DemoReceiver", (_Receiver,), {"received": received, "lock": threading.Lock()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, name="demo-receiver", daemon=True).start()
    return server, received


def run_demo(database_url: str | None = None, *, console: Console | None = None) -> list[DemoResult]:
    """Run the demo on ``database_url`` (a temporary SQLite file when None); one result per event."""
    with tempfile.TemporaryDirectory(prefix="crm-webhooks-demo-") as tmp:
        return _run(database_url or f"sqlite:///{tmp}/demo.db", console)


def _run(url: str, console: Console | None) -> list[DemoResult]:
    server, received = _start_receiver()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    # This process delivers by itself, to a receiver on loopback; what the database stores is left alone.
    crm = CRM(url, addon_options={"crm_webhooks": {"dispatcher": "manual", "allow_private_networks": True}})
    try:
        if "crm_webhooks" not in crm.addons:
            crm.install_addon("crm_webhooks")
        wh = crm.addons["crm_webhooks"]
        token = secrets.token_urlsafe(16)
        with Progress(console=console, transient=True, disable=console is None) as progress:
            step = progress.add_task("creating a hook per event", total=len(CRM_EVENTS))
            hooks = {}
            for event in CRM_EVENTS:  # what a sales cycle raises; the hooks' own events are no part of it
                hooks[event.code] = wh.create_hook(
                    name=f"demo {event.code}", event=event.code, url=f"{base}/events/{event.code}", key=KEY, value=token
                )
                progress.advance(step)
            progress.update(step, description="running the sales cycle, lead to sale")
            sales_cycle(crm, tag=f"+demo-{secrets.token_hex(3)}")
            pending = sum(1 for h in hooks.values() for d in wh.history(h.id) if d.status == "pending")
            send = progress.add_task("delivering", total=pending)
            while wh.run_pending(timeout=2.0):
                done = sum(1 for h in hooks.values() for d in wh.history(h.id) if d.status != "pending")
                progress.update(send, completed=done)
        results = [_result(wh, event, hooks[event.code], received, token) for event in CRM_EVENTS]
        for hook in hooks.values():  # on a real database, leave no hook pointing at a receiver that is gone
            wh.delete_hook(hook.id)
        return results
    finally:
        crm.close()
        server.shutdown()
        server.server_close()


Received = list[tuple[str, dict[str, str], bytes]]


def _result(wh: Any, event: Any, hook: Any, received: Received, token: str) -> DemoResult:
    history = wh.history(hook.id)
    requests = [(h, b) for path, h, b in received if path == f"/events/{event.code}"]
    signed = bool(requests)
    for headers, body in requests:
        try:
            verify(body, headers, hook.secret)
        except WebhookVerificationError:
            signed = False
    keyed = bool(requests) and all(headers.get(KEY) == token for headers, _ in requests)
    attempts = [a for d in history for a in d.attempts]
    last = attempts[-1] if attempts else None
    statuses = {d.status for d in history}
    status = "failed" if "failed" in statuses else "pending" if "pending" in statuses or not history else "succeeded"
    return DemoResult(
        code=event.code,
        label_pt=event.label_pt,
        status=status,
        deliveries=len(history),
        attempts=len(attempts),
        http_status=None if last is None else last.status_code,
        signature_verified=signed,
        key_verified=keyed,
        duration_ms=None if last is None else last.duration_ms,
    )


def render(results: list[DemoResult], console: Console) -> None:
    columns = ("event", "pt-BR", "status", "deliveries", "attempts", "HTTP", "signature", "key/value", "ms")
    table = Table(*columns, title="Demo: the sales cycle, every event delivered to a local receiver")
    for r in results:
        style = "green" if r.ok else "red"
        table.add_row(
            plain(r.code),
            plain(r.label_pt),
            f"[{style}]{r.status}[/]",
            str(r.deliveries),
            str(r.attempts),
            "" if r.http_status is None else str(r.http_status),
            "verified" if r.signature_verified else "[red]NOT verified[/]",
            "verified" if r.key_verified else "[red]NOT verified[/]",
            "" if r.duration_ms is None else f"{r.duration_ms:.1f}",
        )
    console.print(table)
    good = sum(r.ok for r in results)
    verdict = "[green]all delivered and verified[/]" if good == len(results) else "[red]some were not delivered[/]"
    console.print(f"{good}/{len(results)} events: {verdict}")
