"""Hooks get a condition and a body template (crm_webhooks 0.5.0).

``condition`` (an expression; NULL: every event goes), ``skipped_by_condition`` (how many
events it turned away since it was set), ``body_template`` and ``content_type`` (NULL: the
standard envelope as JSON).  Existing hooks have none, and send what they sent.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_hooks", sa.Column("condition", sa.Text(), nullable=True))
    op.add_column("webhook_hooks", sa.Column("skipped_by_condition", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("webhook_hooks", sa.Column("body_template", sa.Text(), nullable=True))
    op.add_column("webhook_hooks", sa.Column("content_type", sa.String(200), nullable=True))


def downgrade() -> None:
    # 0.5.0's first schema sends every event in full: what the conditions and templates said is gone.
    with rebuilt("webhook_hooks") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        for column in ("content_type", "body_template", "skipped_by_condition", "condition"):
            batch.drop_column(column)
