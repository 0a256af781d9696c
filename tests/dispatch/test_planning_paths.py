"""Planning's hot paths at the SQL and index level: plans that do not depend on statistics,
the partial report index, and targeting that overlaps its version probe with the query."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from shapely.geometry import box
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.db import db_time, make_engine, session_scope, utcnow
from alerts.dispatch import materialize
from alerts.settings import Settings
from alerts.subscribers import service as subscribers
from alerts.subscribers.synth import synth_into
from alerts.zones.targeting import Targeting
from geo.zones import ZoneRegistry
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401

NYC = box(-74.3, 40.45, -73.65, 40.95)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:  # noqa: F811
    """A migrated database with 3,000 synthetic NYC subscribers."""
    eng = make_engine(Settings(env="test", database_url=database_url))
    synth_into(eng, ZoneRegistry.default(), n=3000, zone_set="nyc_evacuation_zones", seed=5)
    try:
        yield eng
    finally:
        eng.dispose()


def _plan(conn: sa.Connection, sql: str, params: dict[str, object]) -> str:
    rows = conn.execute(sa.text("EXPLAIN " + sql), params).all()
    return "\n".join(str(r[0]) for r in rows)


@pytest.mark.postgres
@pytest.mark.parametrize("analyzed", [False, True])
def test_chunk_insert_probes_subscriber_by_key_whatever_the_statistics(
    engine: Engine, analyzed: bool
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL plan")
    with engine.begin() as conn:
        if analyzed:
            conn.execute(sa.text("ANALYZE subscriber"))
        ids = [int(r[0]) for r in conn.execute(sa.text("SELECT id FROM subscriber ORDER BY id"))]
        params = {"a": 1, "c": 1, "k": "alert", "p": 100, "now": None, "ids": ids[::2]}
        for stmt in (materialize._INSERT_PG, materialize._INSERT_PG_RESUME):
            plan = _plan(conn, str(stmt), params)
            assert "Nested Loop" in plan, plan
            assert "subscriber_pkey" in plan, plan
            assert "Seq Scan on subscriber" not in plan and "Hash Join" not in plan, plan
        conn.rollback()


def test_the_report_index_is_partial_and_serves_report_lookups(engine: Engine) -> None:
    pg = engine.dialect.name == "postgresql"
    with engine.connect() as conn:
        if pg:
            definition = conn.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_delivery_report'")
            ).scalar_one()
            assert "WHERE (message_id IS NOT NULL)" in definition
            conn.execute(sa.text("SET enable_seqscan = off"))
            plan = _plan(
                conn,
                "SELECT x.id FROM unnest(CAST(:m AS text[]), CAST(:n AS text[])) AS v(m, n)"
                " JOIN delivery x ON x.message_id = v.m AND x.recipient = v.n",
                {"m": ["a"], "n": ["+12125550100"]},
            )
        else:
            sql = conn.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = 'ix_delivery_report'")
            ).scalar_one()
            assert "WHERE message_id IS NOT NULL" in sql
            rows = conn.execute(
                sa.text(
                    "EXPLAIN QUERY PLAN SELECT id FROM delivery"
                    " WHERE message_id = :m AND recipient = :n"
                ),
                {"m": "a", "n": "+12125550100"},
            ).all()
            plan = "\n".join(str(r[-1]) for r in rows)
        assert "ix_delivery_report" in plan, plan


def test_targeting_sees_subscribers_added_and_unsubscribed_after_the_index_was_built(
    engine: Engine,
) -> None:
    targeting = Targeting(ZoneRegistry.default())
    with Session(engine) as session:
        before = targeting.select(session, NYC)
        built = targeting.snapshot(session)
        assert targeting.select(session, NYC).subscriber_ids.tolist() == (
            before.subscriber_ids.tolist()
        )
        assert targeting.snapshot(session) is built  # nothing changed: the index is reused
    with engine.begin() as conn:
        new_id = conn.execute(
            sa.text(
                "INSERT INTO subscriber (phone_e164, language, status, test_audience,"
                " consent_source, opted_in_at, created_at, updated_at)"
                " VALUES ('+12125550199', 'fr', 'active', false, 'test', :t, :t, :t) RETURNING id"
            ),
            {"t": db_time(conn, utcnow())},
        ).scalar_one()
        conn.execute(
            sa.text(
                "INSERT INTO subscriber_location (subscriber_id, label, lon, lat)"
                " VALUES (:s, 'home', -73.95, 40.7)"
            ),
            {"s": new_id},
        )
    with Session(engine) as session:
        after = targeting.select(session, NYC)
    assert new_id in after.subscriber_ids.tolist()
    assert after.subscriber_ids.size == before.subscriber_ids.size + 1
    assert "fr" in after.by_language()

    gone = int(before.subscriber_ids[0])
    with session_scope(engine) as session:
        subscribers.unsubscribe(session=session, subscriber_id=gone)
    with Session(engine) as session:
        last = targeting.select(session, NYC)
    assert gone not in last.subscriber_ids.tolist()
    assert last.subscriber_ids.size == after.subscriber_ids.size - 1


def test_a_subscriber_with_several_locations_inside_is_selected_once(engine: Engine) -> None:
    now = utcnow()
    with engine.begin() as conn:
        ids = []
        for phone, language in (("+12125550101", "ru"), ("+12125550102", "ko")):
            ids.append(
                conn.execute(
                    sa.text(
                        "INSERT INTO subscriber (phone_e164, language, status, test_audience,"
                        " consent_source, opted_in_at, created_at, updated_at) VALUES"
                        " (:p, :l, 'active', false, 'test', :t, :t, :t) RETURNING id"
                    ),
                    {"p": phone, "l": language, "t": db_time(conn, now)},
                ).scalar_one()
            )
        for sid, lon in ((ids[1], -73.95), (ids[0], -73.96), (ids[1], -10.0), (ids[0], -73.9)):
            conn.execute(
                sa.text(
                    "INSERT INTO subscriber_location (subscriber_id, label, lon, lat)"
                    " VALUES (:s, 'x', :lon, 40.7)"
                ),
                {"s": sid, "lon": lon},
            )
    with Session(engine) as session:
        sel = Targeting(ZoneRegistry.default()).select(session, NYC)
    got = sel.subscriber_ids.tolist()
    assert got == sorted(set(got))  # unique and ascending
    assert ids[0] in got and ids[1] in got
    language = {int(i): sel.languages[int(c)] for i, c in zip(got, sel.language_codes, strict=True)}
    assert language[ids[0]] == "ru" and language[ids[1]] == "ko"
    assert sel.locations_matched == len(got) + 1  # ids[0] matched twice
