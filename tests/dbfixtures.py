"""Databases for tests: a migrated SQLite template copied per test, and a fresh PostgreSQL
database per run (truncated between tests)."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa

from alerts import migrate
from alerts.db import make_engine
from alerts.models import metadata
from alerts.settings import Settings

PG_ADMIN = os.environ.get("ALERTCAST_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def pg_url(dbname: str) -> str:
    """SQLAlchemy URL for a database on the test PostgreSQL server."""
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    return f"{base}/{dbname}"


def create_pg_database(prefix: str = "alertcast_test") -> str:
    """Create a uniquely named database and return its name."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return name


def drop_pg_database(name: str) -> None:
    """Drop a test database, closing its other connections."""
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file copied by each test."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(Settings(database_url=f"sqlite:///{path}"))
    migrate.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run."""
    name = create_pg_database()
    engine = make_engine(Settings(database_url=pg_url(name)))
    try:
        migrate.upgrade(engine)
        engine.dispose()
        yield pg_url(name)
    finally:
        engine.dispose()
        drop_pg_database(name)


def _truncate_pg(url: str) -> None:
    engine = sa.create_engine(url)
    tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A clean, migrated database URL: each test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "alertcast.db"
        shutil.copy(template, target)
        yield f"sqlite:///{target}"
    else:
        url: str = request.getfixturevalue("pg_database")
        _truncate_pg(url)
        yield url
