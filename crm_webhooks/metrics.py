"""Prometheus metrics: what this process did, and what waits in the database at the scrape.

One ``Metrics`` per addon object, with a registry of its own (never the
library's global one): two CRMs in one process, or two tests, count apart.
It is the engine's observer (``engine/observe.py``), so attempts, events,
slots and database errors are counted where they happen.  The queue's gauges
are read from the database when scraped (``DeliveryService.queue``, one
read), so every worker and the web app report the same queue.

Labels are bounded: a hook's id (never its URL or name; gone at the scrape after the hook is) and a fixed outcome or
operation.  Served by the web app (``web/metrics.py``) and by ``crm-webhooks
worker --metrics-port`` (``serve``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    start_http_server,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from .domain.deliveries import Queue
from .engine.observe import QUEUE, Observer

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from .engine.send import Sent

log = logging.getLogger("crm_webhooks.metrics")

# What an attempt left its delivery: the engine's "pending" is a retry to come.
OUTCOMES = {"succeeded": "succeeded", "failed": "failed", "pending": "retrying"}
# From a quick answer on the same network to the longest timeouts; the default timeout is a boundary.
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

# name, help, and the Queue field it reads: the gauges of a scrape.
QUEUE_GAUGES = (
    ("crm_webhooks_queue_pending", "Deliveries not finished: held, due, in flight or waiting for a retry.", "pending"),
    ("crm_webhooks_queue_due", "Pending deliveries due now and leased by no worker.", "due"),
    ("crm_webhooks_queue_held", "Pending deliveries held while their hook is disabled.", "held"),
    ("crm_webhooks_queue_in_flight", "Pending deliveries leased by a worker (being sent).", "in_flight"),
    (
        "crm_webhooks_queue_oldest_due_age_seconds",
        "How long the oldest due delivery has been due (0: none is).",
        "oldest_due_age_s",
    ),
    ("crm_webhooks_fanout_waiting_events", "Committed events whose deliveries are not written yet.", "fanout_waiting"),
    (
        "crm_webhooks_fanout_oldest_age_seconds",
        "Age of the oldest event not fanned out yet (0: none waits).",
        "oldest_fanout_age_s",
    ),
)


class _QueueCollector(Collector):
    """The queue's gauges, read from the database at each scrape, and the hooks there still are."""

    def __init__(
        self,
        read: Callable[[], Queue],
        hooks: Callable[[], Collection[int]],
        on_read: Callable[[Collection[int] | None], None],
    ) -> None:
        self._read = read
        self._hooks = hooks
        self._on_read = on_read

    def describe(self) -> Iterator[Metric]:
        # Names for the registry's duplicate check, without a query at registration.
        for name, text, _field in QUEUE_GAUGES:
            yield GaugeMetricFamily(name, text)

    def collect(self) -> Iterator[Metric]:
        try:
            queue = self._read()
            hooks = self._hooks()
        except Exception:  # the database is away: the scrape still answers, with the process's figures
            log.exception("reading the queue for metrics failed")
            self._on_read(None)
            return
        self._on_read(hooks)
        for name, text, field in QUEUE_GAUGES:
            yield GaugeMetricFamily(name, text, value=getattr(queue, field))


class Metrics(Observer):
    """This process's counters and the queue's gauges, in a registry of their own."""

    def __init__(self, queue: Callable[[], Queue], hooks: Callable[[], Collection[int]] = frozenset) -> None:
        self.registry = CollectorRegistry()
        # Hook ids with series, so that those of deleted hooks can leave (labels stay bounded).
        self._labelled: set[int] = set()
        self._lock = threading.Lock()
        # First: a failed read counts in the errors collected after it, and the series of deleted
        # hooks are gone before the counters are collected, in the same scrape.
        self.registry.register(_QueueCollector(queue, hooks, self._after_read))
        r = self.registry
        self.deliveries = Counter(
            "crm_webhooks_deliveries",
            "Attempts recorded, by hook and what they left the delivery: succeeded, failed (for good) or retrying.",
            ["hook", "outcome"],
            registry=r,
        )
        self.durations = Histogram(
            "crm_webhooks_attempt_duration_seconds",
            "Time from sending a request to its answer (or error), by hook.",
            ["hook"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.events = Counter(
            "crm_webhooks_events_written", "Events the CRM's committed changes wrote to the outbox.", registry=r
        )
        self.slots_total = Gauge(
            "crm_webhooks_worker_slots", "Attempts the workers of this process may send at once.", registry=r
        )
        self.slots_busy = Gauge("crm_webhooks_worker_slots_busy", "Worker slots sending an attempt now.", registry=r)
        self.database_errors = Counter(
            "crm_webhooks_database_errors",
            "Failed database work, by operation: claim, renew, record, next_due, queue (a scrape's read) or probe.",
            ["operation"],
            registry=r,
        )

    # -- the engine's observer -------------------------------------------------------------

    def recorded(self, sent: Sequence[Sent]) -> None:
        with self._lock:
            self._labelled.update(s.claimed.hook_id for s in sent)
        for s in sent:
            hook = str(s.claimed.hook_id)
            self.deliveries.labels(hook, OUTCOMES[s.outcome.status]).inc()
            self.durations.labels(hook).observe(s.response.duration_ms / 1000)

    def events_written(self, count: int) -> None:
        self.events.inc(count)

    def slots(self, change: int) -> None:
        self.slots_total.inc(change)

    def slot_busy(self, change: int) -> None:
        self.slots_busy.inc(change)

    def database_error(self, operation: str) -> None:
        self.database_errors.labels(operation).inc()

    def _after_read(self, hooks: Collection[int] | None) -> None:
        """A scrape read the database: ``hooks`` are those there are (None: the read failed)."""
        if hooks is None:
            self.database_error(QUEUE)
            return
        with self._lock:
            gone = self._labelled.difference(hooks)
            self._labelled -= gone
        for hook_id in gone:
            hook = str(hook_id)
            for outcome in OUTCOMES.values():
                _forget(self.deliveries, hook, outcome)
            _forget(self.durations, hook)

    # -- serving -------------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def serve(self, host: str, port: int) -> MetricsServer:
        """prometheus_client's own HTTP server on ``host:port`` (0: any free port), in a thread."""
        server, thread = start_http_server(port, addr=host, registry=self.registry)
        return MetricsServer(server, thread)


def _forget(metric: Counter | Histogram, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # a series never made (a hook never retried has no "retrying")
        metric.remove(*labels)


@dataclass
class MetricsServer:
    server: WSGIServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{f'[{host}]' if ':' in str(host) else host}:{port}/metrics"

    def close(self) -> None:
        """Stop answering, wait for the thread, and free the port."""
        self.server.shutdown()
        self.thread.join()
        self.server.server_close()
