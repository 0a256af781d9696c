"""Scale-out: throughput with 1, 2, 4 (and 8) worker processes against one MMSC link.

One API process, K `alertcast worker` processes, PostgreSQL, and `alertcast mmsc-sim` answering
each SubmitReq after --latency-ms (an I/O-bound link like a real MMSC). Each worker keeps
--concurrency batches in flight, so one worker alone cannot fill the link; the link's global
limit (--limit SubmitReq/s, shared through PostgreSQL) caps the total. For each K a fresh set
of workers sends one alert (a different NYC evacuation zone each time, single-recipient
SubmitReqs) and the table shows:

  throughput    recipients submitted per second, first submit -> last submit
  vs 1          throughput relative to one worker
  peak/s        most SubmitReq the simulator saw in any one second (must be <= limit)
  duplicates    numbers the simulator accepted more than once (must be 0: no crash here)
  lost          targeted subscribers without a final delivery report (must be 0)

    .venv/bin/python benchmarks/scaleout.py [--subscribers 10000] [--workers 1 2 4 8]
        [--latency-ms 200] [--limit 150] [--concurrency 1]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

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
    wait_planned,
    wait_settled,
)

ZONES = ("1", "3", "4", "6", "2", "5")


@dataclass
class Row:
    """One worker count's figures."""

    workers: int
    targeted: int
    seconds: float
    peak_rps: int
    duplicates: int
    lost: int

    @property
    def throughput(self) -> float:
        """Recipients submitted per second."""
        return self.targeted / max(self.seconds, 1e-9)


def _submit_window(sim: Sim) -> float:
    """Seconds between the first and the last second with requests at the simulator."""
    seconds = [s["t"] for s in sim.stats()["per_second"] if s["requests"]]
    return float(max(seconds) - min(seconds) + 1) if seconds else 0.0


def run_once(
    c: Cluster, seeded: Seeded, db: Db, sim: Sim, k: int, zone: str, env: dict[str, object]
) -> Row:
    """K fresh workers send one alert; returns its figures."""
    procs = [c.start_worker(sim, **env) for _ in range(k)]
    try:
        c.await_workers(procs, timeout=240)
        httpx.post(f"{sim.url}/api/reset", timeout=10).raise_for_status()
        alert_id = post_alert(c.api_url, seeded.agency, evacuation(zones=(zone,)))
        targeted = wait_planned(db, alert_id, timeout=300)
        started = time.monotonic()
        wait_for(
            "all submitted",
            lambda: (
                sum(db.by_state(alert_id).get(s, 0) for s in ("queued", "claimed", "submitting"))
                == 0
            ),
            3600,
            every=0.05,
        )
        elapsed = time.monotonic() - started
        state = wait_settled(db, alert_id, timeout=600)
        counts = sim.recipients_per_number()
        window = _submit_window(sim)
        return Row(
            k,
            targeted,
            min(elapsed, window) if window else elapsed,
            int(sim.stats()["peak_rps"]),
            sum(n - 1 for n in counts.values() if n > 1),
            targeted - state.get("delivered", 0),
        )
    finally:
        for p in procs:
            p.stop()


def main() -> None:
    """Parse arguments, run each worker count, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=10_000)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4, 8])
    ap.add_argument("--latency-ms", type=float, default=200.0)
    ap.add_argument("--limit", type=float, default=150.0, help="link limit, SubmitReq/s")
    ap.add_argument("--concurrency", type=int, default=1, help="batches in flight per worker")
    args = ap.parse_args()
    env: dict[str, object] = {
        "mmsc_rate_limit": args.limit,
        "mmsc_max_recipients": 1,
        "worker_concurrency": args.concurrency,
    }
    rows: list[Row] = []
    with seeded_database(args.subscribers, prefix="alertcast_bench") as seeded:
        db = Db(seeded.url)
        with tempfile.TemporaryDirectory() as tmp, cluster(Path(tmp), seeded.url) as c:
            c.start_api()
            sim = c.start_sim(
                "--latency-ms",
                str(args.latency_ms),
                "--dr-delay",
                "0.2",
                "--max-recipients",
                "1",
                "--store-limit",
                "1000000",
                "--log-level",
                "error",
            )
            for i, k in enumerate(args.workers):
                rows.append(run_once(c, seeded, db, sim, k, ZONES[i % len(ZONES)], env))
                r = rows[-1]
                print(f"  {k} workers: {r.throughput:.1f}/s peak {r.peak_rps}", flush=True)
        db.close()
    print(
        f"\n{args.subscribers:,} subscribers; MMSC latency {args.latency_ms:.0f} ms; link limit "
        f"{args.limit:.0f} SubmitReq/s; {args.concurrency} batch(es) in flight per worker"
    )
    head = f"{'workers':>8}{'targeted':>10}{'seconds':>9}{'recip/s':>9}{'vs 1':>6}{'peak/s':>8}"
    head += f"{'dupes':>7}{'lost':>6}"
    print(head)
    print("-" * len(head))
    base = rows[0].throughput if rows else 1.0
    for r in rows:
        print(
            f"{r.workers:>8}{r.targeted:>10}{r.seconds:>9.1f}{r.throughput:>9.1f}"
            f"{r.throughput / base:>6.2f}{r.peak_rps:>8}{r.duplicates:>7}{r.lost:>6}"
        )


if __name__ == "__main__":
    main()
