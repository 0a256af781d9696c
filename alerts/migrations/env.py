"""Alembic environment: runs migrations against the configured database (SQLite or PostgreSQL)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from alerts.models import metadata

config = context.config


def run_migrations_online() -> None:
    """Run with the connection handed over by ``alerts.migrate`` (or a fresh engine)."""
    connection: Connection | None = config.attributes.get("connection")
    assert connection is not None, "use `alertcast db upgrade` (alerts.migrate.upgrade)"
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
