"""Dispatch end to end on PostgreSQL: one alert to ~half of N subscribers, real processes.

One API process (`alertcast serve`, no worker), W worker processes (`alertcast worker`), the
MMSC simulator (`alertcast mmsc-sim`) answering each SubmitReq after a realistic latency and
posting delivery reports back to the API. An alert for NYC evacuation zones 1-4 (~57 % of the
synthetic population) is ingested over HTTP; the figures come from the database and the
simulator:

  planning          alert received -> plan written (targeting, rendering, bulk insert)
  first submit      alert received -> first delivery recorded as submitted
  all submitted     alert received -> no delivery left queued/claimed/submitting
  all reports       alert received -> every delivery has its final delivery report
  recipients/min    targeted / all-submitted time
  DR/s              delivery reports written per second (final-state rows per second)

Runs, each with a fresh simulator and fresh workers:
  multi, limited    up to 100 recipients per SubmitReq, link limit --rate-limit SubmitReq/s
  multi, raw        the same with no limit: the simulator's capacity is the limit
  single, raw       one recipient per SubmitReq (zone 1 only, ~15 %, to keep the run short)
The simulator's raw capacity (SubmitReq/s with this latency, no dispatch around it) is
measured too and printed as the ceiling.

    .venv/bin/python benchmarks/dispatch.py [--subscribers 1000000] [--workers 2]
        [--latency-ms 50] [--rate-limit 100] [--keep-db]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.dispatch.connectors.base import Address, Priority, SubmitRequest  # noqa: E402
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client  # noqa: E402
from alerts.dispatch.mm7_cli import link_test_content  # noqa: E402
from tests.capdocs import evacuation  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    Cluster,
    Db,
    Seeded,
    Sim,
    cluster,
    post_alert,
    seeded_database,
    wait_for,
)

HALF: tuple[str, ...] = ("1", "2", "3", "4")


@dataclass
class Figures:
    """One run's measurements (seconds from the alert's reception)."""

    name: str
    targeted: int
    planning_s: float
    first_submit_s: float
    all_submitted_s: float
    all_reports_s: float
    submit_requests: int
    peak_rps: int
    unreported: int

    @property
    def per_minute(self) -> float:
        """Recipients handed to the MMSC per minute."""
        return self.targeted / max(self.all_submitted_s, 1e-9) * 60

    @property
    def dr_per_s(self) -> float:
        """Delivery reports written per second over the run's report phase."""
        span = max(self.all_reports_s - self.first_submit_s, 1e-9)
        return self.targeted / span


def _times(db: Db, alert_id: int) -> tuple[datetime, datetime | None, datetime | None]:
    with db.engine.connect() as conn:
        row = conn.execute(
            sa.text(
                "SELECT a.received_at, p.planned_at, p.first_submit_at FROM alert a "
                "JOIN dispatch_plan p ON p.alert_id = a.id WHERE a.id = :a"
            ),
            {"a": alert_id},
        ).one()
    return row[0], row[1], row[2]


def _open(db: Db, alert_id: int, states: tuple[str, ...]) -> int:
    s = db.by_state(alert_id)
    return sum(s.get(k, 0) for k in states)


@dataclass
class ReportWatch:
    """Done when every delivery has its report, or nothing moved for 15 s with none pending
    at the simulator (reports lost; the table then shows the rows still waiting)."""

    db: Db
    sim: Sim
    alert_id: int
    last: int = -1
    since: float = 0.0

    def __call__(self) -> bool:
        """Poll once."""
        waiting = _open(self.db, self.alert_id, ("submitted",))
        if waiting != self.last:
            self.last, self.since = waiting, time.monotonic()
        stalled = time.monotonic() - self.since > 15 and self.sim.stats()["dr_in_flight"] == 0
        return waiting == 0 or stalled


def run_once(
    c: Cluster,
    seeded: Seeded,
    db: Db,
    name: str,
    zones: tuple[str, ...],
    workers: int,
    **env: object,
) -> Figures:
    """Start a simulator and workers, send one alert, measure until every report is in."""
    sim_args = ["--latency-ms", str(env.pop("latency_ms")), "--dr-delay", "0.2"]
    sim_args += ["--max-recipients", "100", "--store-limit", "0", "--log-level", "error"]
    sim_args += ["--dr-max-in-flight", "2000000"]
    sim = c.start_sim(*sim_args)
    procs = [c.start_worker(sim, **env) for _ in range(workers)]
    try:
        c.await_workers(procs, timeout=180)
        alert_id = post_alert(c.api_url, seeded.agency, evacuation(zones=zones))
        wait_for("planning", lambda: db.plan(alert_id) is not None, 600, every=0.05)
        plan = db.plan(alert_id)
        assert plan is not None
        targeted = plan[1]
        wait_for(
            "all submitted",
            lambda: _open(db, alert_id, ("queued", "claimed", "submitting")) == 0,
            3600,
            every=0.05,
        )
        submitted_at = time.time()
        wait_for("all reports", ReportWatch(db, sim, alert_id), 3600, 0.5)
        reports_at = time.time()
        received, planned, first = _times(db, alert_id)
        assert planned is not None
        assert first is not None
        t0 = received.timestamp()
        stats = sim.stats()
        return Figures(
            name,
            targeted,
            planned.timestamp() - t0,
            first.timestamp() - t0,
            submitted_at - t0,
            reports_at - t0,
            int(stats.get("accepted", 0)),
            int(stats["peak_rps"]),
            _open(db, alert_id, ("submitted",)),
        )
    finally:
        for p in procs:
            p.stop()
        sim.proc.stop()


async def _raw(url: str, seconds: float, concurrency: int) -> float:
    config = Mm7Config(url=url, max_recipients=1)
    content = link_test_content("raw capacity probe")
    done = 0
    deadline = time.monotonic() + seconds

    async def one(client_conn: Mm7Connector, k: int) -> None:
        nonlocal done
        while time.monotonic() < deadline:
            request = SubmitRequest(
                transaction_id=f"raw-{k}-{done}",
                recipients=(Address("+12125550100"),),
                content=content,
                subject="raw",
                priority=Priority.NORMAL,
            )
            await client_conn.submit(request)
            done += 1

    async with mm7_client(config, max_connections=concurrency) as client:
        conn = Mm7Connector(config, client)
        started = time.monotonic()
        await asyncio.gather(*(one(conn, k) for k in range(concurrency)))
        return done / (time.monotonic() - started)


def raw_capacity(c: Cluster, latency_ms: float, seconds: float = 5.0) -> float:
    """SubmitReq/s the simulator answers with this latency, from one client process."""
    sim: Sim = c.start_sim("--latency-ms", str(latency_ms), "--store-limit", "0")
    try:
        return asyncio.run(_raw(sim.mm7_url, seconds, 64))
    finally:
        sim.proc.stop()


def _table(rows: list[Figures], raw: float) -> None:
    head = (
        f"{'run':<16}{'targeted':>9}{'plan s':>8}{'1st sub s':>10}{'all sub s':>10}"
        f"{'all DR s':>9}{'recip/min':>11}{'DR/s':>8}{'SubmitReq':>10}{'peak/s':>7}{'no DR':>7}"
    )
    print(head)
    print("-" * len(head))
    for f in rows:
        print(
            f"{f.name:<16}{f.targeted:>9}{f.planning_s:>8.2f}{f.first_submit_s:>10.2f}"
            f"{f.all_submitted_s:>10.1f}{f.all_reports_s:>9.1f}{f.per_minute:>11,.0f}"
            f"{f.dr_per_s:>8,.0f}{f.submit_requests:>10}{f.peak_rps:>7}{f.unreported:>7}"
        )
    print(f"simulator raw capacity: {raw:,.0f} SubmitReq/s (one client, 64 in flight)")
    single = next((f for f in rows if f.name.startswith("single")), None)
    if single:
        print(
            f"single-recipient ratio to raw capacity: "
            f"{single.targeted / single.all_submitted_s / raw:.2f} "
            f"(includes planning and first-submit latency)"
        )


def main() -> None:
    """Parse arguments, run, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--rate-limit", type=float, default=100.0, help="SubmitReq/s, limited run")
    ap.add_argument("--concurrency", type=int, default=16, help="batches in flight per worker")
    ap.add_argument("--skip-single", action="store_true")
    args = ap.parse_args()
    t = time.monotonic()
    with seeded_database(args.subscribers, prefix="alertcast_bench") as seeded:
        print(f"{args.subscribers:,} subscribers seeded in {time.monotonic() - t:.0f} s")
        db = Db(seeded.url)
        with tempfile.TemporaryDirectory() as tmp, cluster(Path(tmp), seeded.url) as c:
            c.start_api()
            base = {"latency_ms": args.latency_ms, "worker_concurrency": args.concurrency}
            runs: list[tuple[str, tuple[str, ...], dict[str, object]]] = [
                (
                    "multi, limited",
                    HALF,
                    {"mmsc_max_recipients": 100, "mmsc_rate_limit": args.rate_limit},
                ),
                ("multi, raw", HALF, {"mmsc_max_recipients": 100}),
            ]
            if not args.skip_single:
                runs.append(("single, raw", ("1",), {"mmsc_max_recipients": 1}))
            rows = [
                run_once(c, seeded, db, name, zones, args.workers, **base, **extra)
                for name, zones, extra in runs
            ]
            raw = raw_capacity(c, args.latency_ms)
        db.close()
    print(
        f"\n{args.subscribers:,} subscribers, {args.workers} workers, "
        f"{args.latency_ms:.0f} ms MMSC latency, limited run at {args.rate_limit:.0f} SubmitReq/s"
    )
    _table(rows, raw)


if __name__ == "__main__":
    main()
