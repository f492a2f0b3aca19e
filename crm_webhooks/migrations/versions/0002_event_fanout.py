"""Events name their hooks and get delivery rows later, in batches (crm_webhooks 0.2.0).

A CRM write used to insert a delivery row per matching hook, with three index
pages each; now it inserts the event alone, with the hook ids in ``fanout``,
and the next claim writes the deliveries (engine/fanout.py).  Existing events
are all fanned out already, so the new column starts NULL everywhere.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_events", sa.Column("fanout", sa.Text(), nullable=True))
    op.create_index(
        "ix_webhook_events_fanout",
        "webhook_events",
        ["id"],
        postgresql_where=sa.text("fanout IS NOT NULL"),
        sqlite_where=sa.text("fanout IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_events_fanout", table_name="webhook_events")
    op.drop_column("webhook_events", "fanout")
