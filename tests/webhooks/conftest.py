"""Addon tests use the QA plugin's own fixtures, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture
def crm_database_url(database_url: str) -> str:
    # The plugin's crm fixture reads this; tests/conftest.py parametrises it over both databases.
    return database_url
