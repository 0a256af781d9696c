"""The delivery queue's SQL at batch size: claim per (alert, content), reclaim after the lease,
one-statement record, batched delivery reports. Each test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from alerts.access.models import Agency
from alerts.db import db_time, make_engine, session_scope, utcnow
from alerts.dispatch import planloop, queue
from alerts.dispatch import service as dispatch_service
from alerts.dispatch.connectors.base import Address
from alerts.dispatch.connectors.mm7_inbound import DeliveryReport
from alerts.dispatch.connectors.mm7_status import delivery_state
from alerts.dispatch.planner import Planner
from alerts.dispatch.tracking import DeliveryReportWriter, e164_of
from alerts.intake import service as intake
from alerts.settings import Settings
from alerts.subscribers.synth import synth_into
from alerts.zones.targeting import Targeting
from geo.zones import ZoneRegistry
from tests.alerts.conftest import make_agency
from tests.capdocs import evacuation
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401


@dataclass
class World:
    """A database with subscribers and one planned alert in two languages."""

    engine: Engine
    alert_id: int

    def scalar(self, sql: str, **params: object) -> object:
        """One value from the database."""
        with self.engine.connect() as conn:
            return conn.execute(sa.text(sql), params).scalar_one()

    def states(self) -> dict[str, int]:
        """The alert's deliveries by state."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT state, count(*) FROM delivery WHERE alert_id = :a GROUP BY state"),
                {"a": self.alert_id},
            ).all()
        return {str(s): int(n) for s, n in rows}


@pytest.fixture
def world(database_url: str) -> Iterator[World]:  # noqa: F811
    """400 subscribers in NYC evacuation zones and one alert planned for zones 1-3."""
    settings = Settings(env="test", database_url=database_url)
    engine = make_engine(settings)
    registry = ZoneRegistry.default()
    synth_into(engine, registry, n=400, zone_set="nyc_evacuation_zones", seed=5)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    try:
        with session_scope(engine) as session:
            row = session.get(Agency, agency.agency_id)
            assert row is not None
            outcome = intake.ingest(
                session=session,
                data=evacuation(zones=("1", "2", "3")),
                agency=row,
                max_bytes=1_000_000,
                actor="test",
                area_resolver=Targeting(registry).area_outcome,
            )
            assert outcome.alert.id is not None
            alert_id = outcome.alert.id
        Planner(engine, Targeting(registry), "http://test").plan(alert_id)
        yield World(engine, alert_id)
    finally:
        engine.dispose()


def _utc(value: object) -> datetime:
    """A timestamp as either driver returns it from a raw query (SQLite: text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _claim(world: World, batch: str, n: int = 1000, lease_s: float = 30.0) -> list[queue.Claimed]:
    return queue.claim(world.engine, batch_id=batch, n=n, lease_s=lease_s)


def test_a_claim_holds_one_content_so_requests_fill_up(world: World) -> None:
    with world.engine.connect() as conn:
        by_content = {
            int(c): int(n)
            for c, n in conn.execute(
                sa.text(
                    "SELECT content_id, count(*) FROM delivery WHERE alert_id = :a"
                    " GROUP BY content_id"
                ),
                {"a": world.alert_id},
            )
        }
    assert len(by_content) >= 2  # English and Spanish
    seen: dict[int, int] = {}
    for k in range(len(by_content) + 1):
        rows = _claim(world, f"b-{k}")
        if not rows:
            break
        assert len({r.content_id for r in rows}) == 1
        seen[rows[0].content_id] = seen.get(rows[0].content_id, 0) + len(rows)
    assert seen == by_content  # each content in one claim of up to 1,000 rows
    assert world.states() == {"claimed": sum(by_content.values())}


def test_reclaim_takes_expired_leases_only_of_dispatching_alerts(world: World) -> None:
    held = _claim(world, "dead-1", n=20, lease_s=30)
    assert queue.reclaim(world.engine, batch_id="r-0", n=100, lease_s=30) == []
    with world.engine.begin() as conn:
        past = db_time(conn, utcnow() - timedelta(seconds=1))
        conn.execute(
            sa.text("UPDATE delivery SET lease_until = :t WHERE batch_id = 'dead-1'"), {"t": past}
        )
    again = queue.reclaim(world.engine, batch_id="r-1", n=100, lease_s=30)
    assert sorted(r.id for r in again) == sorted(r.id for r in held)
    assert all(r.attempts == 2 for r in again)
    with world.engine.begin() as conn:  # lease runs out again, but the alert was cancelled
        past = db_time(conn, utcnow() - timedelta(seconds=1))
        conn.execute(
            sa.text(
                "UPDATE delivery SET lease_until = :t, state = 'submitting' WHERE batch_id = 'r-1'"
            ),
            {"t": past},
        )
        conn.execute(
            sa.text("UPDATE dispatch_plan SET state = 'cancelled' WHERE alert_id = :a"),
            {"a": world.alert_id},
        )
    assert queue.reclaim(world.engine, batch_id="r-2", n=100, lease_s=30) == []


def test_record_writes_a_batch_in_one_go(world: World) -> None:
    rows = _claim(world, "b-1", n=6)
    moved = queue.begin_submit(world.engine, [r.id for r in rows], "b-1")
    assert moved == [r.id for r in rows]
    a, b, c, d, e, f = rows
    outcomes = [
        queue.Outcome(a.id, "submitted", 1000, 200, message_id="M-1"),
        queue.Outcome(b.id, "submitted", 1000, 200, message_id="M-1"),
        queue.Outcome(c.id, "queued", 4006, 500, reason="retrying", retry_in_s=5.0),
        queue.Outcome(d.id, "failed", 3001, 500, reason="MMSC refused"),
        queue.Outcome(e.id, "submitted", 1000, 200, message_id="M-2"),
        queue.Outcome(f.id, "submitted", 1000, 200, message_id="M-2"),
    ]
    before = utcnow()
    queue.record(world.engine, world.alert_id, "b-1", outcomes)
    queue.record(world.engine, world.alert_id, "b-1", outcomes)  # a replay changes nothing
    with world.engine.connect() as conn:
        got = {
            int(r[0]): r[1:]
            for r in conn.execute(
                sa.text(
                    "SELECT id, state, message_id, status_code, reason, submitted_at, final_at,"
                    " next_attempt_at, lease_until FROM delivery WHERE batch_id = 'b-1'"
                )
            )
        }
        attempts = conn.execute(
            sa.text("SELECT count(*) FROM delivery_attempt WHERE batch_id = 'b-1'")
        ).scalar_one()
    assert attempts == 12  # history keeps both writes
    assert got[a.id][:3] == ("submitted", "M-1", 1000)
    assert got[a.id][4] is not None and got[a.id][5] is None  # submitted_at, no final_at
    assert got[c.id][0] == "queued" and got[c.id][3] == "retrying"
    assert _utc(got[c.id][6]) >= before + timedelta(seconds=4)  # backoff
    assert got[d.id][0] == "failed" and got[d.id][5] is not None
    assert all(v[7] is None for v in got.values())  # leases released
    first = world.scalar(
        "SELECT first_submit_at FROM dispatch_plan WHERE alert_id = :a", a=world.alert_id
    )
    assert first is not None


def _report(message_id: str, number: str, status: str = "Retrieved") -> DeliveryReport:
    return DeliveryReport(
        transaction_id="t",
        message_id=message_id,
        recipient=Address(number),
        mm_status=status,
        state=delivery_state(status),
    )


def test_delivery_reports_in_one_batch(world: World) -> None:
    rows = _claim(world, "b-1", n=4)
    queue.begin_submit(world.engine, [r.id for r in rows], "b-1")
    queue.record(
        world.engine,
        world.alert_id,
        "b-1",
        [queue.Outcome(r.id, "submitted", 1000, 200, message_id="M-1") for r in rows[:3]]
        + [queue.Outcome(rows[3].id, "failed", 3001, 500, reason="refused")],
    )
    a, b, c, d = rows
    writer = DeliveryReportWriter(world.engine)
    items = [
        (_report("M-1", a.recipient), 0),
        (_report("M-1", a.recipient, "Expired"), 0),  # a second final: the first wins
        (_report("M-1", b.recipient, "Deferred"), 0),  # pending: stays submitted
        (_report("M-1", c.recipient, "Rejected"), 0),
        (_report("M-1", d.recipient), 0),  # not submitted under M-1: early, retried
        (_report("M-9", a.recipient), 0),  # unknown MessageID: early, retried
    ]
    unmatched = writer._apply(items)
    assert sorted(r.message_id for r, _ in unmatched) == ["M-1", "M-9"]
    with world.engine.connect() as conn:
        got = {
            int(i): str(s)
            for i, s in conn.execute(
                sa.text("SELECT id, state FROM delivery WHERE batch_id = 'b-1'")
            )
        }
    assert got == {a.id: "delivered", b.id: "submitted", c.id: "failed", d.id: "failed"}
    assert writer._apply([(_report("M-1", a.recipient, "Expired"), 0)]) == []  # settled: dropped


def test_writer_retries_an_early_report_until_the_message_id_is_written(world: World) -> None:
    rows = _claim(world, "b-1", n=1)
    queue.begin_submit(world.engine, [rows[0].id], "b-1")
    writer = DeliveryReportWriter(world.engine, interval_s=0.01)

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(writer.run(stop))
        await writer.handle(_report("M-7", rows[0].recipient))
        await asyncio.sleep(0.2)  # the report came before the worker recorded M-7
        await asyncio.to_thread(
            queue.record,
            world.engine,
            world.alert_id,
            "b-1",
            [queue.Outcome(rows[0].id, "submitted", 1000, 200, message_id="M-7")],
        )
        for _ in range(100):
            if writer.processed:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(go())
    assert world.states().get("delivered") == 1


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("16175550123", "+16175550123"),  # Sinch's DeliveryReportReq sample writes no "+"
        ("+16175550123", "+16175550123"),
        ("tel:+16175550123", "+16175550123"),
        ("+16175550123/TYPE=PLMN", "+16175550123"),
        (" +1 617-555-0123 ", "+16175550123"),
        ("111122", "111122"),  # a short code stays a short code
    ],
)
def test_report_numbers_are_read_in_the_form_deliveries_hold(written: str, stored: str) -> None:
    assert e164_of(written) == stored


def test_report_without_plus_reaches_its_delivery(world: World) -> None:
    rows = _claim(world, "b-1", n=1)
    queue.begin_submit(world.engine, [rows[0].id], "b-1")
    queue.record(
        world.engine,
        world.alert_id,
        "b-1",
        [queue.Outcome(rows[0].id, "submitted", 1000, 200, message_id="M-5")],
    )
    writer = DeliveryReportWriter(world.engine, interval_s=0.01)
    assert rows[0].recipient.startswith("+")

    async def go() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(writer.run(stop))
        await writer.handle(_report("M-5", "tel:" + rows[0].recipient[1:]))
        for _ in range(100):
            if writer.processed:
                break
            await asyncio.sleep(0.05)
        stop.set()
        await task

    asyncio.run(go())
    assert world.states().get("delivered") == 1


def test_a_direct_claim_is_in_flight_and_a_cancel_waits_for_its_record(world: World) -> None:
    rows = queue.claim(world.engine, batch_id="b-1", n=5, lease_s=30, submitting=True)
    assert len(rows) == 5
    assert world.states()["submitting"] == 5
    assert queue.in_flight(world.engine, world.alert_id) == 5
    assert queue.begin_submit(world.engine, [r.id for r in rows], "b-1") == []  # already there

    async def go() -> dict[str, int]:
        cancel = asyncio.create_task(
            dispatch_service.cancel_async(world.engine, world.alert_id, reason="test")
        )
        await asyncio.sleep(0.3)
        assert not cancel.done()  # the batch is being sent: no acknowledgement yet
        outcomes = [queue.Outcome(r.id, "submitted", 1000, 200, message_id="M-1") for r in rows]
        await asyncio.to_thread(queue.record, world.engine, world.alert_id, "b-1", outcomes)
        return await asyncio.wait_for(cancel, 5)

    answer = asyncio.run(go())
    assert answer["in_flight"] == 0
    states = world.states()
    assert states["submitted"] == 5
    assert set(states) == {"submitted", "cancelled"}
    assert queue.claim(world.engine, batch_id="b-2", n=5, lease_s=30, submitting=True) == []


def test_record_groups_outcomes_and_keeps_every_attempt(world: World) -> None:
    rows = queue.claim(world.engine, batch_id="b-1", n=250, lease_s=30, submitting=True)
    outcomes = [
        queue.Outcome(r.id, "submitted", 1000, 200, message_id=f"M-{i // 100}")
        for i, r in enumerate(rows)
    ]
    with world.engine.begin() as conn:  # another worker took one row meanwhile
        conn.execute(
            sa.text("UPDATE delivery SET batch_id = 'other' WHERE id = :i"), {"i": rows[-1].id}
        )
    queue.record(world.engine, world.alert_id, "b-1", outcomes)
    with world.engine.connect() as conn:
        got = conn.execute(
            sa.text(
                "SELECT message_id, count(*) FROM delivery WHERE batch_id = 'b-1'"
                " AND state = 'submitted' GROUP BY message_id ORDER BY message_id"
            )
        ).all()
        attempts = conn.execute(
            sa.text("SELECT count(*) FROM delivery_attempt WHERE batch_id = 'b-1'")
        ).scalar_one()
    expected = Counter(o.message_id for o in outcomes[:-1])
    assert {str(m): int(n) for m, n in got} == expected
    assert len(expected) > 1
    assert attempts == len(rows)  # what was sent, including the row no longer ours


@pytest.mark.postgres
def test_notify_wakes_a_listener(pg_database: str) -> None:  # noqa: F811
    engine = make_engine(Settings(env="test", database_url=pg_database))
    woken, stop = threading.Event(), threading.Event()
    listener = threading.Thread(target=planloop.listen, args=(engine, woken.set, stop))
    listener.start()
    try:
        for _ in range(40):  # until the listener is subscribed
            planloop.notify(engine)
            if woken.wait(0.25):
                break
        assert woken.is_set()
    finally:
        stop.set()
        listener.join(5)
        engine.dispose()
    assert not listener.is_alive()
