"""Schema migrations through Alembic, on SQLite and PostgreSQL."""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    """An Alembic config bound to an engine's database."""
    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema up to ``revision``."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Take the schema back to ``revision``."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def revision(engine: Engine, message: str) -> None:
    """Autogenerate a new migration by comparing the models with the database (developers)."""
    cfg = alembic_config(engine)
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)


def schema_lag(engine: Engine) -> tuple[str | None, str] | None:
    """``(database revision, code head)`` when the database is behind this code, else None.

    A database at a revision this code does not know (a newer release migrated it) is not
    "behind": migrations are additive across one release, so an older process may go on.
    """
    head, known = _code_revisions()
    current = _database_revision(engine)
    if current == head or (current is not None and current not in known):
        return None
    return current, head


def _database_revision(engine: Engine) -> str | None:
    """The revision stamped in the database (None before the first migration).

    Read directly: alembic's MigrationContext logs two INFO lines per call, and readiness
    probes call this every few seconds.
    """
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("alembic_version"):
            return None
        return conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


@functools.cache
def _code_revisions() -> tuple[str, frozenset[str]]:
    """This code's head revision and every revision it knows (read once per process)."""
    from alembic.script import ScriptDirectory

    cfg = Config(str(MIGRATIONS / "alembic.ini"))
    cfg.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    assert head is not None
    return head, frozenset(rev.revision for rev in script.walk_revisions())
