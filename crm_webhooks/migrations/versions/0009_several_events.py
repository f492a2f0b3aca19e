"""A hook takes several events, and patterns of them (crm_webhooks 0.5.0).

``webhook_hooks.events`` keeps the codes and patterns as written; the new table
``webhook_hook_events`` holds the codes they stand for, which the outbox looks up
by code inside each CRM write (the index on ``webhook_hooks.event`` did that before
and goes).  Each existing hook takes the one event it had.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_HOOKS = sa.table(
    "webhook_hooks", sa.column("id", sa.Integer), sa.column("event", sa.String), sa.column("events", sa.JSON)
)


def upgrade() -> None:
    op.add_column("webhook_hooks", sa.Column("events", sa.JSON(), nullable=False, server_default="[]"))
    codes = op.create_table(
        "webhook_hook_events",
        sa.Column("code", sa.String(60), primary_key=True),
        sa.Column("hook_id", sa.Integer, sa.ForeignKey("webhook_hooks.id", ondelete="CASCADE"), primary_key=True),
    )
    op.create_index("ix_webhook_hook_events_hook", "webhook_hook_events", ["hook_id"])
    bind = op.get_bind()
    hooks = bind.execute(sa.select(_HOOKS.c.id, _HOOKS.c.event)).all()
    for hook_id, event in hooks:
        bind.execute(sa.update(_HOOKS).where(_HOOKS.c.id == hook_id).values(events=[event]))
    if hooks:
        op.bulk_insert(codes, [{"code": event, "hook_id": hook_id} for hook_id, event in hooks])
    op.drop_index("ix_webhook_hooks_event", table_name="webhook_hooks")


def downgrade() -> None:
    # A hook of several events keeps its first one (``event``), as 0.4.0 can read.
    op.create_index("ix_webhook_hooks_event", "webhook_hooks", ["event", "enabled"])
    op.drop_index("ix_webhook_hook_events_hook", table_name="webhook_hook_events")
    op.drop_table("webhook_hook_events")
    with rebuilt("webhook_hooks") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("events")
