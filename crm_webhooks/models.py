"""The addon's tables: hooks, the outbox of events, deliveries and their attempts.

An event is written once, in the CRM's transaction, with its body already
serialised; each matching hook gets a delivery row pointing at it.  A delivery
is due when ``next_attempt_at`` has passed and nobody holds its lease
(``locked_until``); a hook that is disabled keeps its pending deliveries with
``next_attempt_at`` NULL, so they wait without clogging the claim index.

Ids are never given twice, so "hook 8" in a log or an API client's hands
always means the same hook: SQLite tables with integer ids use AUTOINCREMENT
(without it SQLite hands a deleted highest id out again); PostgreSQL's
sequences never go back.  A hook's header value and signing secrets are
stored encrypted (``encryption.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, false, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from crm_stub.models import utcnow

from .domain.secrets import Retired
from .encryption import EncryptedSecrets, EncryptedText

# SQLite: never reuse an id (its sqlite_sequence table remembers the highest ever given).
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class WebhooksBase(DeclarativeBase):
    pass


# Hooks disabled (a few, of many): what the prober looks through for probes due (engine/probe.py).
DISABLED = "NOT enabled"


class HookRow(WebhooksBase):
    __tablename__ = "webhook_hooks"
    __table_args__ = (
        Index(
            "ix_webhook_hooks_disabled",
            "disabled_reason",
            postgresql_where=text(DISABLED),
            sqlite_where=text(DISABLED),
        ),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The first code of ``events``: what a hook of one event is about, and what a version
    # before 0.5.0 still running beside this one reads.
    event: Mapped[str] = mapped_column(String(60))
    # Codes and patterns (``lead.*``) as written; HookEventRow holds the codes they stand for.
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    # A sandboxed Jinja2 expression (domain/templating.py); NULL: every event it takes goes.
    condition: Mapped[str | None] = mapped_column(Text, default=None)
    # Events its condition turned away since the condition was last set.
    skipped_by_condition: Mapped[int] = mapped_column(default=0, server_default="0")
    # A sandboxed Jinja2 template for the body and its media type; NULL: the envelope, as JSON.
    body_template: Mapped[str | None] = mapped_column(Text, default=None)
    content_type: Mapped[str | None] = mapped_column(String(200), default=None)
    url: Mapped[str] = mapped_column(String(2048))
    method: Mapped[str] = mapped_column(String(10))
    # "record" or "none" (domain/hooks.py ORDERINGS).
    ordering: Mapped[str] = mapped_column(String(10), default="record", server_default="record")
    key: Mapped[str | None] = mapped_column(String(256))
    value: Mapped[str | None] = mapped_column(EncryptedText)
    enabled: Mapped[bool] = mapped_column(default=True)
    secret: Mapped[str] = mapped_column(EncryptedText)
    # Secrets replaced by a rotation, each still signing until its own grace ends (domain/secrets.py).
    retired_secrets: Mapped[Retired] = mapped_column(EncryptedSecrets, nullable=True, default=())
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Last changed by a person (hooks.py sets it): deliveries and automatic disabling leave it.
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_run_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_result: Mapped[str | None] = mapped_column(String(20), default=None)
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    disabled_reason: Mapped[str | None] = mapped_column(Text, default=None)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    # webhook.failing was raised for its failing streak, or it was disabled automatically: its next
    # success raises webhook.recovered (domain/operational.py).
    recovery_owed: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Attempts a second at most, shared by every worker (RateSlotRow); NULL: no limit.
    max_per_second: Mapped[float | None] = mapped_column(Float, default=None)
    # When a worker last sent it a test event to see whether its receiver is back (domain/probing.py);
    # NULL since it was last disabled or enabled.
    probed_at: Mapped[dt.datetime | None] = mapped_column(default=None)


class RateSlotRow(WebhooksBase):
    """A rate-limited hook's theoretical arrival time (GCRA): its next attempt may be leased
    once ``tat`` is at most a burst away.  A row of its own, not a column of the hook: claims
    lock it many times a second, and a person editing the hook must not wait for them."""

    __tablename__ = "webhook_rate_slots"

    hook_id: Mapped[int] = mapped_column(ForeignKey("webhook_hooks.id", ondelete="CASCADE"), primary_key=True)
    tat: Mapped[dt.datetime] = mapped_column(default=utcnow)


class HookEventRow(WebhooksBase):
    """A code a hook takes, its patterns expanded: what the outbox looks up inside each CRM write."""

    __tablename__ = "webhook_hook_events"
    __table_args__ = (Index("ix_webhook_hook_events_hook", "hook_id"),)

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    hook_id: Mapped[int] = mapped_column(ForeignKey("webhook_hooks.id", ondelete="CASCADE"), primary_key=True)


class MetaRow(WebhooksBase):
    """One row whose ``hooks_version`` moves whenever any hook changes, in any process."""

    __tablename__ = "webhook_meta"

    id: Mapped[int] = mapped_column(primary_key=True)
    hooks_version: Mapped[int] = mapped_column(default=0)
    # A constant encrypted with the key: a process whose keys cannot open it stops at start.
    key_canary: Mapped[str | None] = mapped_column(Text, default=None)


class EventRow(WebhooksBase):
    __tablename__ = "webhook_events"
    __table_args__ = (
        # Only events still to fan out are in it: tiny, whatever the history kept.
        Index(
            "ix_webhook_events_fanout",
            "id",
            postgresql_where=text("fanout IS NOT NULL"),
            sqlite_where=text("fanout IS NOT NULL"),
        ),
        # The id is the primary key and time-ordered: keeping rows in its B-tree
        # saves SQLite a second one, which is a page written per CRM commit.
        {"sqlite_with_rowid": False},
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(60))
    object_id: Mapped[str | None] = mapped_column(String(60))
    timestamp: Mapped[str] = mapped_column(String(40))
    body: Mapped[str] = mapped_column(Text)
    test: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # The record the event is about ("lead:7"; a follow-up's is its lead, client or
    # opportunity): the unit of per-record order.  NULL for test sends.
    record: Mapped[str | None] = mapped_column(String(80), default=None)
    # Ids of the hooks ("3,7") that still get a delivery row; NULL once fanned out
    # (engine/fanout.py).
    fanout: Mapped[str | None] = mapped_column(Text, default=None)


class DeliveryRow(WebhooksBase):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # The claim query walks this index: only pending rows are in it, so its
        # cost follows what is due, not how much history there is.
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
        # First attempts only: a claim takes its share of them without walking past every
        # due retry of a backlog first.
        Index(
            "ix_webhook_deliveries_first_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending' AND attempt_count = 0"),
            sqlite_where=text("status = 'pending' AND attempt_count = 0"),
        ),
        Index("ix_webhook_deliveries_hook", "hook_id", "id"),
        # A hook's last day by hour and outcome (stats.py, the charts): a range of this index,
        # whatever the history kept; with the status in it, the counts never read the table.
        Index("ix_webhook_deliveries_hook_created", "hook_id", "created_at", "status"),
        # Per-record order: "is an earlier delivery of this record to this hook still
        # pending?" is one probe of this index, whatever the history kept.
        Index(
            "ix_webhook_deliveries_record",
            "hook_id",
            "record",
            "event_id",
            postgresql_where=text("status = 'pending' AND record IS NOT NULL"),
            sqlite_where=text("status = 'pending' AND record IS NOT NULL"),
        ),
        NEVER_REUSE_IDS,
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # No foreign keys here, on purpose: these rows are written inside every CRM
    # transaction, and a foreign key check locks the parent row (PostgreSQL's
    # FOR KEY SHARE), which made each write several times dearer and would make
    # concurrent writers contend on their hook.  Deleting a hook deletes its
    # deliveries explicitly, in the same transaction.
    event_id: Mapped[str] = mapped_column(String(40))
    hook_id: Mapped[int]
    status: Mapped[str] = mapped_column(String(20), default="pending")
    attempt_count: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(default=utcnow)
    locked_until: Mapped[dt.datetime | None] = mapped_column(default=None)
    locked_by: Mapped[str | None] = mapped_column(String(100), default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    # The event's record when the hook keeps per-record order (NULL: it goes when it can).
    record: Mapped[str | None] = mapped_column(String(80), default=None)

    event: Mapped[EventRow] = relationship(
        primaryjoin="foreign(DeliveryRow.event_id) == EventRow.id", lazy="joined", viewonly=True
    )
    attempts: Mapped[list[AttemptRow]] = relationship(
        order_by="AttemptRow.id", cascade="all, delete-orphan", passive_deletes=True
    )


class AttemptRow(WebhooksBase):
    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id"), NEVER_REUSE_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"))
    attempted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[float] = mapped_column(default=0.0)
    request_headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    response_body: Mapped[str | None] = mapped_column(Text, default=None)
    location: Mapped[str | None] = mapped_column(String(2048), default=None)
    # JSON text of [name, value] pairs, bounded (domain/response_headers.py); NULL: no HTTP answer,
    # or an attempt made before migration 0008.  Text rather than JSON: written as it is, by COPY too.
    response_headers: Mapped[str | None] = mapped_column(Text, default=None)
    # The body a hook's template rendered, as sent; NULL: the event's envelope went (or no body).
    request_body: Mapped[str | None] = mapped_column(Text, default=None)
