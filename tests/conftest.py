"""Fixtures shared by every test: a database of each supported kind, and a CRM on it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from crm_stub import CRM

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL")


def _postgres_schema_url() -> Iterator[str]:
    """A fresh schema per test on the shared server: isolation without a new database."""
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("CRM_TEST_POSTGRES_URL is not set: CI must run the PostgreSQL tests (see .ci/run)")
        pytest.skip("CRM_TEST_POSTGRES_URL is not set; run under .ci/run for PostgreSQL")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield (
            sa.make_url(POSTGRES_URL)
            .update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False)
        )
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/crm.db"
    else:
        yield from _postgres_schema_url()


@pytest.fixture
def host(database_url: str) -> Iterator[CRM]:
    """A bare host CRM (no addon) on each kind of database."""
    crm = CRM(database_url)
    try:
        yield crm
    finally:
        crm.close()
