"""The charts' index (crm_webhooks 0.4.0): a hook's deliveries by creation time.

The hook page's chart and the list's sparklines count a hook's deliveries of
the last 24 hours by hour and outcome (stats.py); without this index that is
a walk through the hook's whole history.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
# 0006 is another change under way: this follows it once both are in (set "0006" then).
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_webhook_deliveries_hook_created", "webhook_deliveries", ["hook_id", "created_at", "status"])


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_hook_created", table_name="webhook_deliveries")
