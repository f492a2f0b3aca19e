"""Hooks disabled for their failures can be probed (crm_webhooks 0.6.0, ``probe_disabled_every``).

``probed_at``: when a worker last sent the disabled hook a test event; the one conditional
update that sets it is how workers sharing the database agree on who probes, once an interval.
``ix_webhook_hooks_disabled`` holds only disabled hooks, so looking for probes due costs the
same however many enabled hooks there are.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_DISABLED = "NOT enabled"


def upgrade() -> None:
    op.add_column("webhook_hooks", sa.Column("probed_at", sa.DateTime(), nullable=True))
    op.create_index(
        "ix_webhook_hooks_disabled",
        "webhook_hooks",
        ["disabled_reason"],
        postgresql_where=sa.text(_DISABLED),
        sqlite_where=sa.text(_DISABLED),
    )


def downgrade() -> None:
    # Disabled hooks are enabled by a person again: nothing probes them.
    op.drop_index("ix_webhook_hooks_disabled", table_name="webhook_hooks")
    with rebuilt("webhook_hooks") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("probed_at")
