"""Hooks remember that a webhook.recovered is owed (crm_webhooks 0.6.0, operational events).

``recovery_owed``: webhook.failing was raised for the hook's current failing streak, or
it was disabled automatically; its next successful delivery raises webhook.recovered.
A hook already disabled automatically when this runs owes one too, as it would had it
been disabled after the upgrade.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_hooks", sa.Column("recovery_owed", sa.Boolean(), nullable=False, server_default=sa.false()))
    hooks = sa.table(
        "webhook_hooks",
        sa.column("enabled", sa.Boolean()),
        sa.column("disabled_reason", sa.Text()),
        sa.column("recovery_owed", sa.Boolean()),
    )
    automatic = sa.or_(hooks.c.disabled_reason.like("failures:%"), hooks.c.disabled_reason == "gone")
    op.execute(hooks.update().where(sa.not_(hooks.c.enabled), automatic).values(recovery_owed=True))


def downgrade() -> None:
    # The version before forgets who owed a webhook.recovered: it raises no operational events.
    with rebuilt("webhook_hooks") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("recovery_owed")
