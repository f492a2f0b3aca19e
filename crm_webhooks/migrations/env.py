"""Alembic's entry point: migrate the connection ``crm_webhooks.schema`` hands over.

The addon owns only its ``webhook_*`` tables and keeps its own version table,
so that a host migrating its own schema with Alembic never sees ours.
"""

from __future__ import annotations

from alembic import context

from crm_webhooks.models import WebhooksBase
from crm_webhooks.schema import VERSION_TABLE, ours

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=WebhooksBase.metadata,
    version_table=VERSION_TABLE,
    include_name=ours,
)
with context.begin_transaction():
    context.run_migrations()
