"""Storage rules that live in the database itself, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

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


def test_a_write_is_committed_before_its_response_is_sent(settings):
    """Read-your-writes: a 201 means the row is durable, even when the commit is slow.

    Over a real server: TestClient returns only once the whole ASGI call ends, which hides
    work done after the response was sent.
    """
    import httpx
    from sqlmodel import Session

    from tests.alerts.conftest import make_agency
    from tests.e2e.server import free_port, running

    agency = make_agency(settings, "Slow commit", ["x@example.gov"])

    def slow_commit(session: object) -> None:
        time.sleep(0.5)

    port = free_port()
    with running(settings, port) as base, httpx.Client(base_url=base, timeout=10) as http:
        sa.event.listen(Session, "before_commit", slow_commit)
        try:
            r = http.post(
                "/api/v1/feeds", json={"url": "http://127.0.0.1:9/f.atom"}, headers=agency.headers
            )
            engine = make_engine(settings)
            with engine.connect() as conn:
                stored = conn.execute(sa.text("SELECT count(*) FROM feed")).scalar_one()
            engine.dispose()
        finally:
            sa.event.remove(Session, "before_commit", slow_commit)
    assert r.status_code == 201, r.text
    assert stored == 1
