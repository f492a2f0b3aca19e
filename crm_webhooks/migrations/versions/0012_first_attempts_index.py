"""First attempts get an index of their own: a claim leases its share of them first.

Without it, the claim for first attempts walks ``ix_webhook_deliveries_due`` past
every due retry before the first new event: a backlog of retries would make every
claim as dear as the backlog is long.

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
# 0011 is another change under way: this follows it once both are in (set "0011" then).
down_revision = "0010"
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


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_first_due", table_name="webhook_deliveries")
