"""Attempts keep the body a hook's template rendered (crm_webhooks 0.6.0).

``request_body``: the text sent when a body template made it; NULL when the event's envelope
went as it is (the delivery's event holds it) or nothing did.  Attempts made before have none.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_attempts", sa.Column("request_body", sa.Text(), nullable=True))


def downgrade() -> None:
    # History then shows the event's envelope for every attempt, the templated ones included.
    with rebuilt("webhook_attempts") as batch:  # keeps the AUTOINCREMENT counter on SQLite
        batch.drop_column("request_body")
