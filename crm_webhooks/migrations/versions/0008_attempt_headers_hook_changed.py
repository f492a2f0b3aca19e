"""Attempts keep the receiver's response headers; a hook's ``updated_at`` is when a person last changed it.

``response_headers`` is new and NULL for the attempts made before.  ``updated_at``
was moved by every delivery that recorded a hook's last run, so what it holds
says nothing of a person's last change: existing hooks start again from their
``created_at`` (the one time a person is known to have set them).

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_HOOKS = sa.table("webhook_hooks", sa.column("created_at", sa.DateTime), sa.column("updated_at", sa.DateTime))


def upgrade() -> None:
    op.add_column("webhook_attempts", sa.Column("response_headers", sa.Text(), nullable=True))
    op.execute(sa.update(_HOOKS).values(updated_at=_HOOKS.c.created_at))


def downgrade() -> None:
    # What updated_at held before is gone: it stays as it is now.
    with rebuilt("webhook_attempts") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("response_headers")
