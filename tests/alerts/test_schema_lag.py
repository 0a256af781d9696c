"""A process of a newer release on a database not yet migrated says so and waits."""

from __future__ import annotations

import asyncio
from pathlib import Path

from fastapi.testclient import TestClient

from alerts import migrate
from alerts.app import create_app
from alerts.db import make_engine
from alerts.dispatch.standalone import await_schema
from alerts.settings import Settings


def _previous() -> str:
    """The revision just before head."""
    from alembic.script import ScriptDirectory

    engine = make_engine(Settings(env="test", database_url="sqlite://"))
    script = ScriptDirectory.from_config(migrate.alembic_config(engine))
    engine.dispose()
    head = script.get_revision(script.get_current_head())
    assert head is not None and isinstance(head.down_revision, str)
    return head.down_revision


PREVIOUS = _previous()


def _behind(tmp_path: Path) -> Settings:
    settings = Settings(
        env="test",
        database_url=f"sqlite:///{tmp_path / 'behind.db'}",
        in_process_worker=False,
        embedded_mmsc=False,
    )
    engine = make_engine(settings)
    migrate.upgrade(engine, PREVIOUS)
    engine.dispose()
    return settings


def test_schema_lag_names_both_revisions(tmp_path: Path) -> None:
    settings = _behind(tmp_path)
    engine = make_engine(settings)
    try:
        lag = migrate.schema_lag(engine)
        assert lag is not None and lag[0] == PREVIOUS and lag[1] != PREVIOUS
        migrate.upgrade(engine)
        assert migrate.schema_lag(engine) is None
    finally:
        engine.dispose()


def test_readyz_is_503_until_the_schema_is_upgraded(tmp_path: Path) -> None:
    settings = _behind(tmp_path)
    with TestClient(create_app(settings)) as client:
        r = client.get("/readyz")
        assert r.status_code == 503
        assert r.headers["content-type"].startswith("application/problem+json")
        assert PREVIOUS in r.json()["detail"] and "alertcast db upgrade" in r.json()["detail"]
        engine = make_engine(settings)
        migrate.upgrade(engine)
        engine.dispose()
        assert client.get("/readyz").status_code == 200


def test_a_worker_waits_for_the_schema_and_stops_when_told(tmp_path: Path) -> None:
    settings = _behind(tmp_path)
    engine = make_engine(settings)

    async def stopped_while_waiting() -> bool:
        stop = asyncio.Event()
        asyncio.get_running_loop().call_later(0.3, stop.set)
        return await await_schema(engine, stop, every_s=0.05)

    async def upgraded_while_waiting() -> bool:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.call_later(0.2, migrate.upgrade, engine)
        return await asyncio.wait_for(await_schema(engine, stop, every_s=0.05), timeout=10)

    try:
        assert asyncio.run(stopped_while_waiting()) is False
        assert asyncio.run(upgraded_while_waiting()) is True
    finally:
        engine.dispose()
