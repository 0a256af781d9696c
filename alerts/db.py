"""Database engine, sessions and the column types shared by every table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine

from alerts.settings import REPO_ROOT, Settings

POOL_SIZE = 20  # connections kept per process (per engine)


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Normalise to UTC before storing; naive values are refused."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        """Attach UTC to values coming back from drivers that lose it."""
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_pragmas(dbapi_conn: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=10000")
    cur.close()


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured URL (SQLite file parent is created)."""
    url = sa.make_url(settings.database_url)
    kwargs: dict[str, Any] = {"pool_pre_ping": True}
    # Keep as many connections as requests run at once: one checked out above pool_size is
    # opened and closed per use (a PostgreSQL backend start; SQLite's pragmas) and that churn
    # cost more than ingest itself under load.
    pooled = {"pool_size": POOL_SIZE, "max_overflow": 20}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            path = url.database
            (REPO_ROOT / path).parent.mkdir(parents=True, exist_ok=True)
            kwargs.update(pooled)
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 10}
    else:
        kwargs.update(pooled, pool_recycle=1800)
    engine = create_engine(settings.database_url, **kwargs)
    if url.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def ping(engine: Engine) -> None:
    """Run a trivial query; raises when the database is unreachable."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))


def bulk_insert(
    conn: sa.Connection, table: str, cols: Sequence[str], rows: Sequence[Sequence[object]]
) -> None:
    """Insert many rows fast: COPY on PostgreSQL, executemany on SQLite (in the caller's transaction)."""
    if not rows:
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None
    names = ", ".join(cols)
    if conn.dialect.name == "postgresql":
        with raw.cursor() as cur, cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in cols)
    cur = raw.cursor()
    try:
        cur.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608
    finally:
        cur.close()


def sqlite_time(value: datetime) -> str:
    """The text form SQLAlchemy's SQLite DateTime stores (UTC, no zone suffix), for raw inserts."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def db_time(conn: sa.Connection, value: datetime) -> object:
    """A timestamp as the raw driver of this connection wants it for bulk inserts."""
    return sqlite_time(value) if conn.dialect.name == "sqlite" else value


def reserve_ids(conn: sa.Connection, table: str, n: int) -> int:
    """Reserve ``n`` consecutive primary keys (sequence on PostgreSQL, max+1 under SQLite's lock)."""
    if conn.dialect.name == "postgresql":
        seq = f"{table}_id_seq"
        start = int(conn.exec_driver_sql(f"SELECT nextval('{seq}')").scalar_one())
        if n > 1:
            conn.exec_driver_sql(f"SELECT setval('{seq}', {start + n - 1})")
        return start
    top = conn.exec_driver_sql(f"SELECT COALESCE(MAX(id), 0) FROM {table}").scalar_one()  # noqa: S608
    return int(top) + 1
