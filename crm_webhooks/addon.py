"""The addon object: what ``crm.install_addon("crm_webhooks")`` returns.

It wires the outbox to the CRM's signal bus and a dispatcher to the delivery
engine, and exposes the public calls of CONTRACT section 2.  The calls are
thin: hooks live in ``hooks.py``, history in ``deliveries.py``, sending in
``engine/``.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from crm_stub import CRM, InvalidTransition, Manifest

from . import encryption, schema
from .deliveries import DeliveryService, HistoryPage
from .domain.charts import HourStat
from .domain.deliveries import Delivery
from .domain.hooks import Hook, reason_message
from .domain.options import Options
from .domain.recovery import Recovery, Trouble
from .domain.replay import MAX_REPLAY, Batch, Progress, Replay
from .engine.deliver import Deliverer
from .engine.transport import Transport
from .engine.worker import Worker
from .hooks import HookService
from .metrics import Metrics
from .models import MetaRow
from .outbox import Outbox
from .preview import Preview, PreviewService
from .probing import ProbeService
from .recovery import RecoveryService
from .replay import ReplayService
from .signals import hook_disabled
from .stats import StatsService
from .version import __version__

log = logging.getLogger("crm_webhooks")


class WebhooksAddon:
    manifest = Manifest(
        name="crm_webhooks",
        version=__version__,
        summary="Signed, retried HTTP calls for every CRM event, written in the change's own transaction.",
    )

    def __init__(self, crm: CRM, **options: Any) -> None:
        self.crm = crm
        self.options = Options.parse(**options)
        self.transport = Transport(allow_private=self.options.allow_private_networks, timeout=self.options.timeout)
        # This process's Prometheus metrics; the queue's gauges are read when scraped.
        self.metrics = Metrics(queue=lambda: self.deliveries.queue(), hooks=lambda: self.hooks.ids())
        self.deliverer = Deliverer(
            crm.engine, self.options, self.transport, on_disabled=self._announce_disabled, observer=self.metrics
        )
        self.hooks = HookService(crm, self.options)
        self.deliveries = DeliveryService(crm, self.hooks, self.deliverer)
        self.replays = ReplayService(crm, self.hooks, self.deliverer)
        self.recovery = RecoveryService(crm, self.hooks, self.deliveries, self.replays)
        self.probes = ProbeService(crm, self.deliveries, self.recovery)
        self.stats = StatsService(crm, self.hooks)
        self.previews = PreviewService(crm, self.hooks, self.options)
        self._dispatcher: Worker | None = None
        self.outbox = Outbox(crm, on_commit=self._wake, observer=self.metrics)

    # -- lifecycle (called by the host) ---------------------------------------

    def install(self) -> None:
        """Create or upgrade the addon's tables (idempotent; the host runs it on each new version)."""
        schema.upgrade(self.crm.engine)
        with self.crm.transaction() as session:
            if session.get(MetaRow, 1) is None:
                session.add(MetaRow(id=1, hooks_version=0))

    def start(self) -> None:
        # Here, not at the first delivery: a wrong or missing key is one clear error when the process starts.
        encryption.open_database(self.crm.engine)
        if self.options.dispatcher == "thread" and self._dispatcher is None:
            self._dispatcher = self.worker(concurrency=self.options.dispatcher_concurrency, poll_interval=2.0)
            self._dispatcher.start()

    def worker(self, *, concurrency: int, poll_interval: float) -> Worker:
        """A delivery worker of this addon's database (started by the caller), probing disabled hooks too
        when ``probe_disabled_every`` is set."""
        return Worker(self.deliverer, concurrency=concurrency, poll_interval=poll_interval, probe=self.probes.probe)

    def close(self) -> None:
        self.outbox.close()
        if self._dispatcher is not None:
            self._dispatcher.stop(timeout=self.options.timeout + 5)
            self._dispatcher = None
        self.transport.close()

    def register_web(self, app: Any) -> None:
        """Called by the host's web app: add the webhooks page and the REST API."""
        from .web import register

        register(app, self)

    def _wake(self) -> None:
        if self._dispatcher is not None:
            self._dispatcher.wake()

    def _announce_disabled(self, hook_ids: list[int], code: str) -> None:
        reason = str(reason_message(code))
        for hook_id in hook_ids:
            log.warning("hook disabled", extra={"hook": hook_id, "reason": reason})
            hook_disabled.send(self.crm, hook=self.hooks.get(hook_id), reason=reason)

    # -- hooks ------------------------------------------------------------------

    def create_hook(
        self,
        *,
        name: str,
        url: str,
        event: str | None = None,
        events: Sequence[str] | None = None,
        method: str = "POST",
        key: str | None = None,
        value: str | None = None,
        enabled: bool = True,
        ordering: str = "record",
        condition: str | None = None,
        body_template: str | None = None,
        content_type: str | None = None,
        max_per_second: float | None = None,
    ) -> Hook:
        """``event``: one code; or ``events``: codes and patterns (``lead.*``, ``*.stage_changed``, ``*``).
        ``ordering``: "record" (a record's events arrive in commit order) or "none".
        ``condition``: a Jinja2 expression over ``object``, ``previous`` and ``event``; only the
        events it is true of are sent.  ``body_template``: a Jinja2 template for the body, sent as
        ``content_type`` (default ``application/json``) instead of the envelope.
        ``max_per_second``: attempts a second at most, across every worker (None: no limit)."""
        chosen = {name: v for name, v in (("event", event), ("events", events)) if v is not None}
        return self.hooks.create(
            name=name,
            url=url,
            method=method,
            key=key,
            value=value,
            enabled=enabled,
            ordering=ordering,
            condition=condition,
            body_template=body_template,
            content_type=content_type,
            max_per_second=max_per_second,
            **chosen,
        )

    def list_hooks(self, **filters: Any) -> list[Hook]:
        """Filters: ``event`` (a code), ``enabled``, ``search`` (text in the name or URL, any case) and
        ``status`` (never_run, succeeded, failing or disabled); see HookService.list."""
        return self.hooks.list(**filters)

    def get_hook(self, hook_id: int) -> Hook:
        return self.hooks.get(hook_id)

    def update_hook(self, hook_id: int, **fields: Any) -> Hook:
        return self.hooks.update(hook_id, **fields)

    def disable_hook(self, hook_id: int) -> Hook:
        return self.hooks.set_enabled(hook_id, False)

    def enable_hook(self, hook_id: int, *, replay_failed: bool = False) -> Hook:
        """Enable a hook: its held deliveries go; with ``replay_failed``, also what failed since it started
        failing (``recover_hook`` says how many of each)."""
        return self.recover_hook(hook_id, replay_failed=replay_failed).hook

    def preview_enable_hook(self, hook_id: int) -> Recovery:
        """What enabling the hook would send: ``held`` deliveries, and ``failed`` ones since ``failing_since``
        (its first failed attempt after its last success, test sends aside). Changes nothing."""
        return self.recovery.preview(hook_id)

    def recover_hook(self, hook_id: int, *, replay_failed: bool = False) -> Recovery:
        """``enable_hook``, saying what went: the held deliveries released and, with ``replay_failed``, the
        failed ones queued again (``replay``), in one transaction."""
        recovery = self.recovery.enable(hook_id, replay_failed=replay_failed)
        self._wake()  # its held deliveries, and those sent again, are due now
        return recovery

    def troubled_hooks(self, limit: int = 5) -> tuple[list[Trouble], int]:
        """The first ``limit`` failing or disabled hooks (since when, last error, pending deliveries), and how
        many there are in all."""
        return self.recovery.troubles(limit)

    def delete_hook(self, hook_id: int) -> None:
        self.hooks.delete(hook_id)

    def rotate_secret(self, hook_id: int) -> Hook:
        return self.hooks.rotate_secret(hook_id)

    def preview(
        self, hook_id: int | None = None, *, record: str | None = None, event: str | None = None, **fields: Any
    ) -> Preview:
        """What the hook would send, sending and storing nothing: the condition's verdict and the request.

        ``hook_id``: a saved hook, ``fields`` changing it as ``update_hook`` would (not saved); without
        it, a new hook of ``fields`` as ``create_hook`` takes them.  The event: ``record`` (``"lead:42"``)
        as it is now, as ``event`` (default: the hook's first event of that entity), or else the latest
        stored event of the hook's events (of ``event`` when given).  A new hook given no ``events``
        takes ``event`` as its one event too.
        """
        return self.previews.preview(hook_id, fields, record=record, event=event)

    # -- deliveries -------------------------------------------------------------

    def last_delivery(self, hook_id: int) -> Delivery | None:
        return self.deliveries.last(hook_id)

    def history(self, hook_id: int, *, limit: int = 50, before: int | None = None) -> list[Delivery]:
        return self.deliveries.list(hook_id=hook_id, limit=limit, before=before)

    def history_page(self, hook_id: int, **options: Any) -> HistoryPage:
        """A page of history, newest first; options ``status``, ``size`` and ``before`` (the oldest id shown:
        older ones) or ``after`` (the newest shown: newer ones). See DeliveryService.page."""
        return self.deliveries.page(hook_id, **options)

    def list_deliveries(self, **filters: Any) -> list[Delivery]:
        return self.deliveries.list(**filters)

    def delivery_stats(self) -> dict[str, Any]:
        """pending, held, due, in_flight, failed, succeeded and the age of the oldest due delivery."""
        return self.deliveries.stats()

    def last_day(self, hook_id: int, *, now: dt.datetime | None = None) -> tuple[HourStat, ...]:
        """The hook's last 24 clock hours (UTC): deliveries by outcome and p50/p95 attempt durations."""
        return self.stats.day(hook_id, now=now)

    def last_day_by_hook(
        self, hook_ids: Sequence[int], *, now: dt.datetime | None = None
    ) -> Mapping[int, tuple[HourStat, ...]]:
        """Each hook's last 24 clock hours of deliveries by outcome, in one query."""
        return self.stats.days(hook_ids, now=now)

    def get_delivery(self, delivery_id: int) -> Delivery:
        return self.deliveries.get(delivery_id)

    def redeliver(self, delivery_id: int) -> Delivery:
        self._refuse_inside_transaction("redeliver")
        return self.deliveries.redeliver(delivery_id)

    def redeliver_failed(
        self,
        hook_id: int | None = None,
        *,
        since: str | dt.datetime | None = None,
        status: str = "failed",
        limit: int = MAX_REPLAY,
        send: bool = False,
    ) -> Replay:
        """After a receiver's outage: send again, oldest first, the deliveries of ``hook_id`` (or of every hook)
        with ``status`` created since ``since`` (``"2h"``, ISO 8601 or a datetime), test sends aside.

        Each gets a new delivery of the same event (same ``webhook-id``), queued for whoever delivers, or with
        ``send`` sent before this returns.  One already sent again is not sent while that one is pending or
        once it succeeded, so calling twice sends nothing twice.  At most ``limit`` per call:
        ``Replay.remaining`` says how many more there are.
        """
        if send:
            self._refuse_inside_transaction("redeliver_failed(send=True)")
        replay = self.replays.replay(hook_id=hook_id, since=since, status=status, limit=limit, send=send)
        if replay.ids:
            self._wake()
        return replay

    def preview_redeliver_failed(
        self,
        hook_id: int | None = None,
        *,
        since: str | dt.datetime | None = None,
        status: str = "failed",
        limit: int = MAX_REPLAY,
    ) -> Replay:
        """What ``redeliver_failed`` would send (``originals``, ``remaining``), changing nothing."""
        return self.replays.replay(hook_id=hook_id, since=since, status=status, limit=limit, dry_run=True)

    def replay_progress(self, replay: Replay | Batch | None) -> Progress:
        """How the deliveries a ``redeliver_failed`` call queued (or its ``batch``) are doing."""
        return self.replays.progress(replay.batch if isinstance(replay, Replay) else replay)

    def send_test(self, hook_id: int) -> Delivery:
        self._refuse_inside_transaction("send_test")
        return self.deliveries.send_test(hook_id)

    def prune(self, older_than: dt.timedelta | dt.datetime | float, *, dry_run: bool = False) -> int:
        return self.deliveries.prune(older_than, dry_run=dry_run)

    def run_pending(self, timeout: float = 10.0) -> int:
        self._refuse_inside_transaction("run_pending")
        return self.deliverer.run_pending(timeout)

    def _refuse_inside_transaction(self, call: str) -> None:
        # Sending is what happens after a commit; inside the block nothing is
        # committed yet (and on SQLite this thread holds the write lock).
        if self.crm.in_transaction:
            raise InvalidTransition(
                f"{call}() sends over HTTP and cannot run inside crm.transaction(); call it after the block"
            )
