"""Chunked plan materialisation: resume after a crash, cancel mid-way, sweep, planning loop.

Each test runs on SQLite and on PostgreSQL with tiny chunks, so a 1,500-subscriber alert is
written in many transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from alerts.access.models import Agency
from alerts.db import db_time, make_engine, session_scope
from alerts.dispatch import materialize, planloop, queue
from alerts.dispatch import service as dispatch_service
from alerts.dispatch.content import RenderedMessage
from alerts.dispatch.models import MessageKind, PlanState
from alerts.dispatch.planner import Planner
from alerts.intake import service as intake
from alerts.settings import Settings
from alerts.subscribers.synth import synth_into
from alerts.zones.targeting import Targeting
from geo.zones import ZoneRegistry
from tests.alerts.conftest import make_agency
from tests.capdocs import evacuation
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401

SUBSCRIBERS = 1500


class Crash(Exception):
    """Stands for the planning process dying between two chunk transactions."""


@dataclass
class World:
    """A database with subscribers, an agency and a targeting service."""

    engine: Engine
    agency_id: int
    registry: ZoneRegistry

    def planner(self) -> Planner:
        """A planner as a fresh process would build it (its own, cold index)."""
        return Planner(self.engine, Targeting(self.registry), "http://test")

    def ingest(self, **kw: object) -> int:
        """Store an alert as the API does (area resolved, ``via='api'``); returns its id."""
        with session_scope(self.engine) as session:
            agency = session.get(Agency, self.agency_id)
            assert agency is not None
            outcome = intake.ingest(
                session=session,
                data=evacuation(zones=("1", "2", "3"), **kw),  # type: ignore[arg-type]
                agency=agency,
                max_bytes=1_000_000,
                actor="test",
                area_resolver=Targeting(self.registry).area_outcome,
            )
            assert outcome.alert.id is not None
            return outcome.alert.id

    def scalar(self, sql: str, **params: object) -> object:
        """One value from the database."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def rows(self, alert_id: int) -> tuple[int, int]:
        """(delivery rows, distinct (subscriber, kind) pairs) of an alert."""
        total = int(
            str(self.scalar("SELECT count(*) FROM delivery WHERE alert_id = :a", a=alert_id))
        )
        distinct = int(
            str(
                self.scalar(
                    "SELECT count(*) FROM (SELECT DISTINCT subscriber_id, kind FROM delivery"
                    " WHERE alert_id = :a) d",
                    a=alert_id,
                )
            )
        )
        return total, distinct


@pytest.fixture
def world(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:  # noqa: F811
    """Subscribers in NYC evacuation zones, one agency; chunks of 100 rows (first 40)."""
    monkeypatch.setattr(materialize, "FIRST_CHUNK_ROWS", 40)
    monkeypatch.setattr(materialize, "CHUNK_ROWS", 100)
    settings = Settings(env="test", database_url=database_url)
    engine = make_engine(settings)
    registry = ZoneRegistry.default()
    synth_into(engine, registry, n=SUBSCRIBERS, zone_set="nyc_evacuation_zones", seed=3)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    try:
        yield World(engine, agency.agency_id, registry)
    finally:
        engine.dispose()


def _crash_after(monkeypatch: pytest.MonkeyPatch, chunks: int) -> None:
    real = materialize.Materialiser._chunk

    def chunk(self: materialize.Materialiser, *args: object, **kw: object) -> object:
        if self.timings.chunks >= chunks:
            raise Crash
        return real(self, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(materialize.Materialiser, "_chunk", chunk)


def test_resume_after_a_crash_between_chunks_writes_exactly_the_missing_rows(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = world.ingest()
    with monkeypatch.context() as m:
        _crash_after(m, 3)
        with pytest.raises(Crash):
            world.planner().plan(alert_id)
    targeted = int(
        str(world.scalar("SELECT targeted FROM dispatch_plan WHERE alert_id = :a", a=alert_id))
    )
    assert targeted > 500  # several segments, many chunks
    written, distinct = world.rows(alert_id)
    assert 40 + 100 <= written < targeted and written == distinct  # three chunks, a prefix
    assert (
        world.scalar("SELECT materialized_at FROM dispatch_plan WHERE alert_id = :a", a=alert_id)
        is None
    )
    assert alert_id in planloop.pending(world.engine)  # any planner will finish it

    outcome = world.planner().plan(alert_id)  # another process resumes from the key

    assert outcome.state is PlanState.DISPATCHING
    assert world.rows(alert_id) == (targeted, targeted)
    assert (
        world.scalar(
            "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'queued'", a=alert_id
        )
        == targeted
    )
    assert (
        world.scalar("SELECT materialized_at FROM dispatch_plan WHERE alert_id = :a", a=alert_id)
        is not None
    )
    assert alert_id not in planloop.pending(world.engine)
    again = world.planner().plan(alert_id)  # idempotent: nothing more is written
    assert again.targeted == targeted
    assert world.rows(alert_id) == (targeted, targeted)


def test_the_largest_language_is_written_first(world: World) -> None:
    alert_id = world.ingest()
    world.planner().plan(alert_id)
    with world.engine.connect() as conn:
        by_lang: dict[str, int] = dict(
            conn.execute(
                sa.text(
                    "SELECT c.language, min(d.id) FROM delivery d JOIN content c ON c.id = d.content_id"
                    " WHERE d.alert_id = :a GROUP BY c.language"
                ),
                {"a": alert_id},
            ).all()
        )
        counts: dict[str, int] = dict(
            conn.execute(
                sa.text(
                    "SELECT c.language, count(*) FROM delivery d JOIN content c ON c.id = d.content_id"
                    " WHERE d.alert_id = :a GROUP BY c.language"
                ),
                {"a": alert_id},
            ).all()
        )
    assert len(counts) >= 2
    assert min(by_lang, key=by_lang.__getitem__) == max(counts, key=counts.__getitem__)


def test_a_cancel_during_materialisation_stops_it(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = world.ingest()
    planner = world.planner()
    real_run = materialize.Materialiser.run

    def run_with_cancel(self: materialize.Materialiser, **kw: object) -> object:
        def cancel() -> None:
            dispatch_service.cancel(world.engine, alert_id, reason="operator")

        self.on_first_commit = cancel
        return real_run(self, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(materialize.Materialiser, "run", run_with_cancel)
    outcome = planner.plan(alert_id)

    assert outcome.state is PlanState.CANCELLED
    assert world.rows(alert_id) == (40, 40)  # only the first chunk was written ...
    assert (
        world.scalar(
            "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'queued'", a=alert_id
        )
        == 0
    )  # ... and cancelled
    monkeypatch.undo()
    world.planner().plan(alert_id)  # a later planner does not resume a cancelled plan
    assert world.rows(alert_id) == (40, 40)
    assert alert_id not in planloop.pending(world.engine)


def test_sweep_never_closes_a_half_materialised_plan(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = world.ingest()
    with monkeypatch.context() as m:
        _crash_after(m, 1)
        with pytest.raises(Crash):
            world.planner().plan(alert_id)
    with world.engine.begin() as conn:  # everything written so far was sent
        conn.execute(
            sa.text("UPDATE delivery SET state = 'delivered' WHERE alert_id = :a"), {"a": alert_id}
        )
    queue.sweep(world.engine)
    assert (
        world.scalar("SELECT state FROM dispatch_plan WHERE alert_id = :a", a=alert_id)
        == "dispatching"
    )

    world.planner().plan(alert_id)
    queue.sweep(world.engine)
    assert (
        world.scalar("SELECT state FROM dispatch_plan WHERE alert_id = :a", a=alert_id)
        == "dispatching"
    )
    assert (
        int(
            str(
                world.scalar(
                    "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'queued'",
                    a=alert_id,
                )
            )
        )
        > 0
    )


def test_an_expired_alert_stops_materialisation(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = world.ingest()
    with monkeypatch.context() as m:
        _crash_after(m, 1)
        with pytest.raises(Crash):
            world.planner().plan(alert_id)
    with world.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE alert SET expires_utc = :t WHERE id = :a"),
            {"t": db_time(conn, datetime(2000, 1, 1, tzinfo=UTC)), "a": alert_id},
        )
    outcome = world.planner().plan(alert_id)
    assert outcome.state is PlanState.EXPIRED
    assert world.rows(alert_id) == (40, 40)


def test_a_cancel_before_planning_means_never_planned(world: World) -> None:
    alert_id = world.ingest()
    dispatch_service.cancel(world.engine, alert_id, reason="operator")
    assert alert_id not in planloop.pending(world.engine)
    outcome = world.planner().plan(alert_id)
    assert outcome.state is PlanState.CANCELLED
    assert world.rows(alert_id) == (0, 0)


def test_the_planning_loop_plans_what_the_api_stored_with_its_preview_guard(world: World) -> None:
    planned = world.ingest()
    guarded = world.ingest()
    with session_scope(world.engine) as session:  # as the API stores X-Expected-Recipients
        dispatch_service.expect_recipients(session=session, alert_id=guarded, expected_max=5)
    loop = planloop.PlanLoop(world.engine, Targeting(world.registry), "http://test")
    assert set(planloop.pending(world.engine)) >= {planned, guarded}

    assert loop.poll_once() == 2

    assert planloop.pending(world.engine) == []
    with Session(world.engine) as session:
        rows = dict(
            session.execute(
                sa.text("SELECT alert_id, COALESCE(blocked_rule, state) FROM dispatch_plan")
            ).all()
        )
    assert rows == {planned: "dispatching", guarded: "TARGET-COUNT-ABOVE-PREVIEW"}
    assert world.rows(guarded) == (0, 0)


def test_a_claimed_alert_is_skipped_by_other_planners(world: World) -> None:
    alert_id = world.ingest()
    loop = planloop.PlanLoop(world.engine, Targeting(world.registry), "http://test")
    with planloop.claim(world.engine, alert_id) as got:
        assert got
        assert loop.plan_one(alert_id) is None
    assert loop.plan_one(alert_id) is not None


def test_resume_order_keeps_stored_positions() -> None:
    def seg(kind: MessageKind, language: str, n: int) -> materialize.Segment:
        def never() -> RenderedMessage:
            raise AssertionError

        return materialize.Segment(kind, language, 10, np.arange(n, dtype=np.int64), never)

    fresh = materialize.order_segments(
        [seg(MessageKind.ALERT, "es", 5), seg(MessageKind.ALERT, "en", 9)], []
    )
    assert [s.language for s in fresh] == ["en", "es"]  # largest language first
    stored = [["alert", "en"], ["alert", "ht"], ["alert", "es"]]
    resumed = materialize.order_segments(
        [seg(MessageKind.ALERT, "es", 5), seg(MessageKind.ALERT, "ko", 1)], stored
    )
    assert [(s.language, int(s.subscriber_ids.size)) for s in resumed] == [
        ("en", 0),  # nobody left: a placeholder keeps the resume key's positions
        ("ht", 0),
        ("es", 5),
        ("ko", 1),  # new since the crash: written last
    ]


def test_reports_that_can_no_longer_come_are_closed_once(world: World) -> None:
    """``submitted`` rows become ``expired`` (with the reason) once the message is undeliverable."""
    past, soon = world.ingest(), world.ingest(identifier="soon")
    for alert_id in (past, soon):
        world.planner().plan(alert_id)
    now = datetime.now(UTC)
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE delivery SET state = 'submitted'"))
        conn.execute(sa.text("UPDATE delivery SET state = 'delivered' WHERE id % 7 = 0"))
        for alert_id, expires in (
            (past, now - timedelta(hours=2)),
            (soon, now + timedelta(hours=1)),
        ):
            conn.execute(
                sa.text(
                    "UPDATE dispatch_plan SET expires_at = :t, state = 'done' WHERE alert_id = :a"
                ),
                {"t": db_time(conn, expires), "a": alert_id},
            )
    submitted = world.scalar(
        "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'submitted'", a=past
    )
    delivered = world.scalar(
        "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'delivered'", a=past
    )
    assert submitted and delivered
    queue.sweep(world.engine)
    with world.engine.connect() as conn:
        by_state = dict(
            conn.execute(
                sa.text("SELECT state, count(*) FROM delivery WHERE alert_id = :a GROUP BY state"),
                {"a": past},
            ).all()
        )
        reasons = (
            conn.execute(
                sa.text(
                    "SELECT DISTINCT reason FROM delivery WHERE alert_id = :a AND state = 'expired'"
                ),
                {"a": past},
            )
            .scalars()
            .all()
        )
    assert by_state == {"expired": submitted, "delivered": delivered}
    assert reasons == ["no delivery report 1 h after the message expired"]
    assert world.scalar(
        "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'submitted'", a=soon
    )
    assert world.scalar("SELECT reports_closed_at FROM dispatch_plan WHERE alert_id = :a", a=past)
    with world.engine.begin() as conn:  # closed once: a row written back later is left alone
        conn.execute(
            sa.text("UPDATE delivery SET state = 'submitted' WHERE alert_id = :a"), {"a": past}
        )
    queue.sweep(world.engine)
    assert (
        world.scalar(
            "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'expired'", a=past
        )
        == 0
    )


def test_reports_without_an_expiry_are_awaited_for_the_maximum_wait(world: World) -> None:
    alert_id = world.ingest()
    world.planner().plan(alert_id)
    with world.engine.begin() as conn:
        conn.execute(sa.text("UPDATE delivery SET state = 'submitted'"))
        conn.execute(
            sa.text(
                "UPDATE dispatch_plan SET expires_at = NULL, materialized_at = :t WHERE alert_id = :a"
            ),
            {
                "t": db_time(
                    conn, datetime.now(UTC) - queue.REPORT_MAX_WAIT + timedelta(minutes=5)
                ),
                "a": alert_id,
            },
        )
    queue.sweep(world.engine)
    assert not world.scalar("SELECT count(*) FROM delivery WHERE state = 'expired'")
    with world.engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE dispatch_plan SET materialized_at = :t WHERE alert_id = :a"),
            {"t": db_time(conn, datetime.now(UTC) - queue.REPORT_MAX_WAIT), "a": alert_id},
        )
    queue.sweep(world.engine)
    assert not world.scalar("SELECT count(*) FROM delivery WHERE state = 'submitted'")
    assert (
        world.scalar("SELECT DISTINCT reason FROM delivery WHERE state = 'expired'")
        == "no delivery report 72 h after it was sent"
    )


def test_a_failing_alert_is_retried_after_a_backoff_not_at_every_poll(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    alert_id = world.ingest()
    loop = planloop.PlanLoop(world.engine, Targeting(world.registry), "http://test")
    calls: list[int] = []
    real_plan_one = loop.plan_one

    def failing(alert: int, expected_max: int | None = None) -> object:
        calls.append(alert)
        raise RuntimeError("database schema behind")

    monkeypatch.setattr(loop, "plan_one", failing)
    assert loop.poll_once() == 0
    assert loop.poll_once() == 0  # at once again: skipped, its retry is not due yet
    assert calls == [alert_id]
    monkeypatch.setattr(planloop.time, "monotonic", lambda: 1e12)  # long after the backoff
    assert loop.poll_once() == 0
    assert calls == [alert_id, alert_id]
    monkeypatch.setattr(loop, "plan_one", real_plan_one)
    monkeypatch.setattr(planloop.time, "monotonic", lambda: 2e12)
    assert loop.poll_once() == 1  # the error went away: planned, and forgotten
    assert alert_id not in loop._failed


def test_alerts_in_backoff_never_keep_a_newer_alert_waiting(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pending query takes 16 alerts at a time: failing ones must not fill it."""
    failing = [world.ingest(identifier=f"bad-{i}") for i in range(16)]
    newer = world.ingest(identifier="newer")
    loop = planloop.PlanLoop(world.engine, Targeting(world.registry), "http://test")
    real_plan_one = loop.plan_one
    tried: list[int] = []

    def plan_one(alert: int, expected_max: int | None = None) -> object:
        tried.append(alert)
        if alert in failing:
            raise RuntimeError("cannot plan this one")
        return real_plan_one(alert, expected_max)

    monkeypatch.setattr(loop, "plan_one", plan_one)
    loop.poll_once()
    assert tried == failing  # the first batch: all 16 fail
    assert loop.poll_once() == 1  # the next poll skips them and reaches the newer alert
    assert tried[16:] == [newer]


def test_an_old_alert_without_expiry_is_blocked_not_broadcast(world: World) -> None:
    """A feed replaying its archive must not send last year's alert as news."""
    old, fresh = world.ingest(identifier="old"), world.ingest(identifier="fresh")
    with world.engine.begin() as conn:
        for alert_id, age in ((old, timedelta(hours=25)), (fresh, timedelta(hours=23))):
            conn.execute(
                sa.text("UPDATE alert SET expires_utc = NULL, sent_utc = :t WHERE id = :a"),
                {"t": db_time(conn, datetime.now(UTC) - age), "a": alert_id},
            )
    assert world.planner().plan(old).state is PlanState.BLOCKED
    assert world.scalar("SELECT blocked_rule FROM dispatch_plan WHERE alert_id = :a", a=old) == (
        "SENT-STALE"
    )
    assert world.rows(old) == (0, 0)
    assert world.planner().plan(fresh).state is PlanState.DISPATCHING
    assert world.rows(fresh)[0] > 0
