"""Ids are never given twice: SQLite's tables with integer ids get AUTOINCREMENT.

Without it SQLite gives the highest id again once its row is deleted, so
"hook 8" in a log or in an API client's hands could come to mean another
hook (and the same for a delivery or an attempt).  The counter starts from the
highest id in each table: ids deleted before this upgrade left no trace.
PostgreSQL's sequences never go back: nothing changes there.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from crm_webhooks.migrations.rebuild import rebuilt

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

TABLES = ("webhook_hooks", "webhook_deliveries", "webhook_attempts")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with rebuilt(table, autoincrement=autoincrement):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
