"""Storage rules that live in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.exc import DBAPIError

from alerts.audit import service as audit
from alerts.db import make_engine, session_scope
from tests.dbfixtures import metadata


def test_audit_log_is_append_only(settings):
    engine = make_engine(settings)
    with session_scope(engine) as s:
        audit.record(session=s, actor="tester", action="probe", detail={"x": 1})
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("UPDATE audit_event SET actor = 'mallory'"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_event"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT actor FROM audit_event")).scalar_one() == "tester"
    engine.dispose()


def test_openapi_documents_every_route(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/alerts",
        "/api/v1/alerts/validate",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/alerts/{alert_id}.xml",
        "/feeds/alerts.atom",
        "/healthz",
        "/readyz",
    ):
        assert path in paths, path
    for path, ops in paths.items():
        for method, op in ops.items():
            assert op.get("summary") or op.get("description"), f"{method} {path} undocumented"


@pytest.mark.postgres
def test_migrations_build_exactly_the_tables_the_models_declare(pg_database):
    engine = sa.create_engine(pg_database)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_migrations_build_the_indexes_the_models_declare(database_url):
    """Both dialects (SQLite keeps the delivery foreign keys PostgreSQL dropped, 9c4d2e1f0a7b)."""
    engine = sa.create_engine(database_url)
    try:
        inspector = sa.inspect(engine)
        for table in metadata.sorted_tables:
            indexes = inspector.get_indexes(table.name)
            # PostgreSQL lists a unique constraint's own index too.
            built = {i["name"] for i in indexes if "duplicates_constraint" not in i}
            declared = {i.name for i in table.indexes}
            assert built == declared, table.name
    finally:
        engine.dispose()
