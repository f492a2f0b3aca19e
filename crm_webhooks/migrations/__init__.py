"""The addon's schema history, as Alembic revisions (run by ``crm_webhooks.schema``)."""
