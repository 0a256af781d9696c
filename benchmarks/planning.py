"""Planning alone on PostgreSQL: time to the first claimable deliveries and to the full plan.

One alert for NYC evacuation zones 1-4 (~57 % of the synthetic population) is planned by the
chunked planner (plan row + first language + first chunk in one transaction, then 50k-row
chunks while the other languages render), in this process, with a warm subscriber index and
warm renderers (as a worker has after its warm-up). The peer is the previous design run on
the same targets: every language rendered first, then every delivery COPYed and inserted in
one transaction (nothing claimable before its commit).

Printed per run: targeting ms, render ms per language, first claimable (first commit) ms, all
written ms, the rate of the rows after the first chunk, and the CPU spent by the PostgreSQL
backends of the database and by this process (wall times on a box shared with other work
move with its load; CPU seconds much less); best and median over the runs.

    .venv/bin/python benchmarks/planning.py [--subscribers 100000] [--runs 3] [--keep NAME]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.access.models import Agency  # noqa: E402
from alerts.db import bulk_insert, db_time, make_engine, session_scope, utcnow  # noqa: E402
from alerts.dispatch import content as rendering  # noqa: E402
from alerts.dispatch.models import DispatchPlan, MessageKind  # noqa: E402
from alerts.dispatch.planloop import warm_up  # noqa: E402
from alerts.dispatch.planner import Planner  # noqa: E402
from alerts.intake import service as intake  # noqa: E402
from alerts.intake.models import Alert  # noqa: E402
from alerts.settings import Settings  # noqa: E402
from alerts.zones.targeting import Targeting  # noqa: E402
from geo.zones import ZoneRegistry  # noqa: E402
from tests.capdocs import evacuation  # noqa: E402
from tests.e2e.procs import Seeded, kept_database, seeded_database  # noqa: E402

ZONES = ("1", "2", "3", "4")


@dataclass
class Run:
    """One planning run's figures (milliseconds)."""

    name: str
    targeted: int
    targeting_ms: float
    render_ms: dict[str, float]
    first_ms: float
    total_ms: float
    db_cpu_ms: float = 0.0
    py_cpu_ms: float = 0.0

    @property
    def rows_per_s(self) -> float:
        """Rows per second over the writing (after targeting and the first render)."""
        renders = sum(self.render_ms.values()) if self.name != "chunked" else 0.0
        return self.targeted / max(self.total_ms - self.targeting_ms - renders, 1e-9) * 1000


_TICK = os.sysconf("SC_CLK_TCK")


def backend_cpu(database: str) -> dict[int, float]:
    """CPU seconds (user + system) of each PostgreSQL backend connected to ``database``."""
    out: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if f" {database} ".encode() not in (entry / "cmdline").read_bytes():
                continue
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry.name)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


@contextmanager
def cpu_meter(database: str) -> Iterator[list[float]]:
    """Yields a list that receives [database backends' CPU ms, this process's CPU ms]."""
    db0, py0 = backend_cpu(database), time.process_time()
    got: list[float] = []
    yield got
    db1 = backend_cpu(database)
    got += [sum(v - db0.get(p, 0.0) for p, v in db1.items()) * 1000]
    got += [(time.process_time() - py0) * 1000]


def _alert(engine: sa.Engine, targeting: Targeting, agency_id: int) -> int:
    with session_scope(engine) as session:
        agency = session.get(Agency, agency_id)
        assert agency is not None
        out = intake.ingest(
            session=session,
            data=evacuation(zones=ZONES),
            agency=agency,
            max_bytes=1_000_000,
            actor="bench",
            area_resolver=targeting.area_outcome,
        )
        assert out.alert.id is not None
        return out.alert.id


def _reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE delivery_attempt, delivery, content, dispatch_plan"))
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            sa.text("VACUUM ANALYZE delivery")
        )


def chunked(engine: sa.Engine, targeting: Targeting, agency_id: int) -> Run:
    """The chunked planner as a worker runs it."""
    alert_id = _alert(engine, targeting, agency_id)
    planner = Planner(engine, targeting, "https://alerts.example")
    t0 = time.perf_counter()
    first: list[float] = []
    outcome = planner.plan(
        alert_id, on_first_commit=lambda: first.append((time.perf_counter() - t0) * 1000)
    )
    total = (time.perf_counter() - t0) * 1000
    timings = planner.last_timings
    assert timings is not None
    targeting_ms = timings.targeting_ms or 0.0
    return Run("chunked", outcome.targeted, targeting_ms, timings.render_ms, first[0], total)


def single_transaction(engine: sa.Engine, targeting: Targeting, agency_id: int) -> Run:
    """The peer: render every language, then one transaction with every delivery."""
    alert_id = _alert(engine, targeting, agency_id)
    planner = Planner(engine, targeting, "https://alerts.example")
    t0 = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        alert = session.get(Alert, alert_id)
        assert alert is not None
        geometry = planner._geometry(alert)
        sel = planner._select(session, alert, geometry)
    targeting_ms = (time.perf_counter() - t0) * 1000
    renders: dict[str, float] = {}
    ids: dict[str, int] = {}
    messages = []
    for lang in sel.by_language():
        t = time.perf_counter()
        messages.append(planner._render_one(MessageKind.ALERT, geometry, alert, lang))
        renders[f"alert/{lang}"] = (time.perf_counter() - t) * 1000
    with engine.begin() as conn, Session(bind=conn) as session:
        session.add(DispatchPlan(alert_id=alert_id, state="dispatching", targeted=0))
        for msg in messages:
            row = rendering.content_row(alert_id, msg, priority_high=True, expires_at=None)
            session.add(row)
            session.flush()
            assert row.id is not None
            ids[msg.language] = row.id
        content = [ids[sel.languages[int(c)]] for c in sel.language_codes]
        conn.exec_driver_sql(
            "CREATE TEMP TABLE plan_target (sid BIGINT, cid BIGINT) ON COMMIT DROP"
        )
        bulk_insert(
            conn,
            "plan_target",
            ("sid", "cid"),
            list(zip(sel.subscriber_ids.tolist(), content, strict=True)),
        )
        now = db_time(conn, utcnow())
        conn.execute(
            sa.text(
                "INSERT INTO delivery (alert_id, subscriber_id, content_id, recipient, kind, state,"
                " priority, attempts, next_attempt_at, created_at) SELECT :a, t.sid, t.cid,"
                " s.phone_e164, 'alert', 'queued', 100, 0, :now, :now FROM plan_target t"
                " JOIN subscriber s ON s.id = t.sid WHERE s.status = 'active'"
            ),
            {"a": alert_id, "now": now},
        )
    total = (time.perf_counter() - t0) * 1000
    return Run("one transaction", int(sel.subscriber_ids.size), targeting_ms, renders, total, total)


@contextmanager
def database(n: int, keep: str | None) -> Iterator[Seeded]:
    """A seeded database: kept by name across runs (1M takes minutes to seed) or throwaway."""
    if keep:
        with kept_database(keep, n) as seeded:
            yield seeded
    else:
        with seeded_database(n, prefix="alertcast_planbench") as seeded:
            yield seeded


def _row(r: Run) -> str:
    renders = " ".join(f"{k.split('/')[1]}={v:.0f}" for k, v in r.render_ms.items())
    return (
        f"{r.name:<16}{r.targeted:>9}{r.targeting_ms:>8.0f}{r.first_ms:>10.0f}{r.total_ms:>9.0f}"
        f"{r.rows_per_s:>11,.0f}{r.db_cpu_ms:>8.0f}{r.py_cpu_ms:>8.0f}  {renders}"
    )


def main() -> None:
    """Seed, warm, run both designs alternately, print the table and ratios."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--keep", help="keep (and reuse) a database of this name")
    args = ap.parse_args()
    with database(args.subscribers, args.keep) as seeded:
        engine = make_engine(Settings(env="test", database_url=seeded.url))
        targeting = Targeting(ZoneRegistry.default())
        t = time.perf_counter()
        with Session(engine) as session:
            targeting.snapshot(session)
        warm_up(targeting)
        print(
            f"warm-up (index of {args.subscribers:,} + renderers): {time.perf_counter() - t:.1f} s"
        )
        runs: dict[str, list[Run]] = {"chunked": [], "one transaction": []}
        for _ in range(args.runs):
            for fn in (chunked, single_transaction):
                _reset(engine)
                with cpu_meter(seeded.name) as cpu:
                    r = fn(engine, targeting, seeded.agency.agency_id)
                r.db_cpu_ms, r.py_cpu_ms = cpu
                runs[r.name].append(r)
        _reset(engine)
        engine.dispose()
    head = (
        f"{'design':<16}{'targeted':>9}{'target':>8}{'1st claim':>10}{'all ms':>9}{'rows/s':>11}"
        f"{'db cpu':>8}{'py cpu':>8}  render ms"
    )
    print(head)
    print("-" * len(head))
    for rs in runs.values():
        for r in rs:
            print(_row(r))
    c, s = runs["chunked"], runs["one transaction"]
    for what, key in (
        ("first claimable", "first_ms"),
        ("all written", "total_ms"),
        ("database CPU", "db_cpu_ms"),
    ):
        cv = [getattr(r, key) for r in c]
        sv = [getattr(r, key) for r in s]
        print(
            f"{what}: chunked best {min(cv):.0f} / median {statistics.median(cv):.0f} ms; "
            f"one transaction best {min(sv):.0f} / median {statistics.median(sv):.0f} ms; "
            f"ratio (median) {statistics.median(sv) / statistics.median(cv):.1f}x"
        )


if __name__ == "__main__":
    main()
