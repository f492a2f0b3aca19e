"""First attempts get an index of their own, and hooks a rate limit shared by every worker (crm_webhooks 0.6.0).

Without the index, the claim for first attempts walks ``ix_webhook_deliveries_due``
past every due retry before the first new event: a backlog of retries would make
every claim as dear as the backlog is long.  ``max_per_second`` (NULL: no limit) and
``webhook_rate_slots`` (one row per limited hook, its next allowed time) let the
claim lease no more of a hook's deliveries than its rate allows.

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_FIRST_DUE = "status = 'pending' AND attempt_count = 0"


def upgrade() -> None:
    op.create_index(
        "ix_webhook_deliveries_first_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text(_FIRST_DUE),
        sqlite_where=sa.text(_FIRST_DUE),
    )
    op.add_column("webhook_hooks", sa.Column("max_per_second", sa.Float(), nullable=True))
    op.create_table(
        "webhook_rate_slots",
        sa.Column("hook_id", sa.Integer(), sa.ForeignKey("webhook_hooks.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("tat", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    # Hooks send as fast as they can again: their limits are gone.
    op.drop_table("webhook_rate_slots")
    with rebuilt("webhook_hooks") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("max_per_second")
    op.drop_index("ix_webhook_deliveries_first_due", table_name="webhook_deliveries")
