"""Per-record order (crm_webhooks 0.3.0): hooks choose it, events and deliveries name their record.

Existing hooks keep their record's order from now on (``ordering`` = 'record',
the default for new hooks too).  Events and deliveries written before the
upgrade name no record: they go when they can, as they would have.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PENDING_WITH_RECORD = "status = 'pending' AND record IS NOT NULL"


def upgrade() -> None:
    op.add_column("webhook_hooks", sa.Column("ordering", sa.String(10), nullable=False, server_default="record"))
    op.add_column("webhook_events", sa.Column("record", sa.String(80), nullable=True))
    op.add_column("webhook_deliveries", sa.Column("record", sa.String(80), nullable=True))
    op.create_index(
        "ix_webhook_deliveries_record",
        "webhook_deliveries",
        ["hook_id", "record", "event_id"],
        postgresql_where=sa.text(_PENDING_WITH_RECORD),
        sqlite_where=sa.text(_PENDING_WITH_RECORD),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_record", table_name="webhook_deliveries")
    # Hooks and deliveries keep their AUTOINCREMENT counters through SQLite's rebuild.
    with rebuilt("webhook_deliveries") as batch:
        batch.drop_column("record")
    with op.batch_alter_table("webhook_events") as batch:
        batch.drop_column("record")
    with rebuilt("webhook_hooks") as batch:
        batch.drop_column("ordering")
