"""Delivering in the caller's thread: ``run_pending``, test sends and redeliveries.

``Deliverer`` ties one database, the options and a pooled transport to the
three steps every path shares (``claim``, ``send``, ``record``); the worker
(``worker.py``) runs the same steps as a pipeline.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from crm_stub.db import read_only
from crm_stub.models import utcnow

from ..domain.options import Options
from . import claim as claims
from . import probe
from .claim import Claim, Claimed, lease_length, load_claimed, renewal_margin
from .observe import CLAIM, NOBODY, PROBE, RECORD, RENEW, Observer
from .record import Batch, Recorded, record
from .schedule import claim_mix
from .send import Sent, send
from .throttle import Limits
from .transport import Transport

log = logging.getLogger("crm_webhooks.delivery")


class Deliverer:
    """Sends due deliveries of one database over one pooled transport."""

    def __init__(
        self,
        engine: Engine,
        options: Options,
        transport: Transport,
        on_disabled: Callable[[list[int], str], None] = lambda ids, reason: None,
        *,
        batch_size: int = 500,
        observer: Observer = NOBODY,
    ) -> None:
        self.engine = engine
        self.options = options
        self.transport = transport
        self.on_disabled = on_disabled
        self.batch_size = batch_size
        self.observer = observer
        # The driver's own errors too: PostgreSQL's COPY runs on the driver's cursor, unwrapped.
        self._database_errors = (SQLAlchemyError, engine.dialect.loaded_dbapi.Error)
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = lease_length(options.timeout)
        self.limits = Limits()

    def run_pending(self, timeout: float = 10.0) -> int:
        """Deliver everything due now, until nothing is due or ``timeout`` passes; returns attempts made."""
        deadline = time.monotonic() + timeout
        made = 0
        mix = claim_mix(self.batch_size)  # a batch's share of first attempts goes first
        while time.monotonic() < deadline:
            sent = self.send_claimed(self.claim(mix.rest, first=mix.first).claimed)
            if sent == 0:
                break
            made += sent
        return made

    def claim(
        self,
        limit: int | None = None,
        skip_hooks: Collection[int] = (),
        *,
        fan_out_first: bool = True,
        first: int = 0,
    ) -> Claim:
        """Lease up to ``first`` due first attempts, then up to ``limit`` due deliveries, to this
        deliverer (none of ``skip_hooks``)."""
        with self.counting_errors(CLAIM):
            return claims.claim(
                self.engine,
                limit=self.batch_size if limit is None else limit,
                lease=self.lease,
                worker=self.worker,
                skip_hooks=skip_hooks,
                fan_out_first=fan_out_first,
                first=first,
                limits=self.limits,
            )

    def claim_probes(self) -> probe.Probes:
        """The disabled hooks this deliverer is to probe now (none when probing is off)."""
        minutes = self.options.probe_disabled_every
        if minutes is None:
            return probe.Probes(None, None)
        with self.counting_errors(PROBE):
            return probe.claim(self.engine, dt.timedelta(minutes=minutes))

    def renew(self, ids: list[int]) -> None:
        with self.counting_errors(RENEW):
            claims.renew(self.engine, ids, lease=self.lease, worker=self.worker)

    def record(self, batch: Batch) -> Recorded:
        """Record ``batch``, log its attempts and announce the hooks it disabled."""
        options = self.options
        with self.counting_errors(RECORD):
            recorded = record(
                self.engine,
                batch,
                worker=self.worker,
                disable_after=options.disable_after_failures,
                warn_after=options.warn_after_failures,
            )
        recorded.log()
        self.observer.recorded(batch.sent)
        if recorded.raised:  # operational events (webhook.failing...), committed with the batch
            self.observer.events_written(recorded.raised)
        for reason, ids in recorded.disabled.items():
            try:
                self.on_disabled(ids, reason)
            except Exception:  # a listener's failure (its mail server is down) must not record the batch again
                log.exception("announcing disabled hooks failed", extra={"hooks": ids})
        return recorded

    def send_leased(self, delivery_ids: list[int]) -> int:
        """Send deliveries this deliverer leased itself (a redelivery, a test send)."""
        # A plain read: no need for SQLite's write lock to load what we already hold.
        with read_only(), self.engine.connect() as conn:
            claimed = load_claimed(conn, delivery_ids, utcnow())
        return self.send_claimed(claimed)

    def send_claimed(self, claimed: list[Claimed]) -> int:
        """Send each of ``claimed`` in turn and record them all, even if the loop is cut short."""
        batch = Batch()
        lease_ends = time.monotonic() + self.lease.total_seconds()
        margin = renewal_margin(self.options.timeout)
        try:
            for n, c in enumerate(claimed):
                if c.held:
                    batch.held.append(c.delivery_id)
                    continue
                if lease_ends - time.monotonic() < margin:
                    self.renew([x.delivery_id for x in claimed[n:]])
                    lease_ends = time.monotonic() + self.lease.total_seconds()
                batch.sent.append(self.send(c))
        finally:
            self.record(batch)
        return len(batch.sent)

    @contextmanager
    def counting_errors(self, operation: str) -> Iterator[None]:
        """Tell the observer of a database error inside the block, and let it go on."""
        try:
            yield
        except self._database_errors:
            self.observer.database_error(operation)
            raise

    def send(self, c: Claimed) -> Sent:
        """One attempt through the synchronous transport; records nothing."""
        return send(c, self.transport, self.options)
