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
  DR/s              delivery reports written per second: whole run (targeted over first
                    submit -> last report) and the best 3-second window
  claim/submit/record ms   mean per batch, from the workers' logs
  DR batch ms       mean time of one delivery-report batch write, from the API's log

Runs (``--runs``), each with a fresh simulator and fresh workers and an emptied queue:
  multi-limited     up to 100 recipients per SubmitReq, link limit --rate-limit SubmitReq/s
  multi-raw         the same with no limit: the simulator's capacity is the limit
  single-raw        one recipient per SubmitReq (zone 1 only, ~15 %, to keep the run short)
The simulator's raw capacity (SubmitReq/s with this latency, no dispatch around it) is
measured too and printed as the ceiling. Then the inbound endpoint alone: `wrk` posts a real
DeliveryReportReq (the Sinch sample, MessageID and Recipient varied from a list of delivered
rows set back to submitted) and the rows written per second are counted in the database.

    .venv/bin/python benchmarks/dispatch.py [--subscribers 1000000] [--workers 2]
        [--latency-ms 50] [--rate-limit 100] [--runs multi-raw,single-raw] [--repeat 3]
        [--keep-db alertcast_bench_1m] [--wrk-seconds 10]

With ``--keep-db NAME`` the seeded database is kept (and reused by the next run with that name).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from alerts.dispatch.connectors.base import Address, Priority, SubmitRequest  # noqa: E402
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client  # noqa: E402
from alerts.dispatch.mm7_cli import link_test_content  # noqa: E402
from alerts.settings import DEFAULT_SECRET  # noqa: E402
from benchmarks.proccpu import CpuMeter, Profiler  # noqa: E402
from tests.capdocs import evacuation  # noqa: E402
from tests.e2e.procs import (  # noqa: E402
    Cluster,
    Db,
    Proc,
    Seeded,
    Sim,
    cluster,
    kept_database,
    post_alert,
    seeded_database,
    wait_for,
)

HALF: tuple[str, ...] = ("1", "2", "3", "4")
FINAL = ("delivered", "failed", "expired")
DR_SAMPLE = Path("/work/shared/data/mm7/samples/sinch-docs/mm7-service-mm7_deliveryreport.md")
RUNS: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "multi-limited": (HALF, {"mmsc_max_recipients": 100}),
    "multi-raw": (HALF, {"mmsc_max_recipients": 100}),
    "single-raw": (("1",), {"mmsc_max_recipients": 1}),
}


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
    peak_dr_per_s: float
    timings: dict[str, float] = field(default_factory=dict)
    cpu_send: dict[str, float] = field(default_factory=dict)  # CPU s until all submitted
    cpu_all: dict[str, float] = field(default_factory=dict)  # CPU s until every report is in

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


def _exists(db: Db, alert_id: int, states: tuple[str, ...]) -> bool:
    q = sa.text(
        "SELECT EXISTS (SELECT 1 FROM delivery WHERE alert_id = :a AND state IN :s)"
    ).bindparams(sa.bindparam("s", expanding=True))
    with db.engine.connect() as conn:
        return bool(conn.execute(q, {"a": alert_id, "s": list(states)}).scalar_one())


def _all_submitted(db: Db, alert_id: int, targeted: int) -> bool:
    """Every targeted delivery exists and none waits to be submitted (plans may be written in
    chunks: no queued row does not mean none is still to come). Cheap while rows wait: the
    polling must not be what loads the database."""
    if _exists(db, alert_id, ("queued", "claimed", "submitting")):
        return False
    return sum(db.by_state(alert_id).values()) >= targeted


def _last(db: Db, alert_id: int, column: str) -> datetime | None:
    """The latest ``submitted_at`` or ``final_at`` of an alert's deliveries."""
    with db.engine.connect() as conn:
        value = conn.execute(
            sa.text(f"SELECT max({column}) FROM delivery WHERE alert_id = :a"),
            {"a": alert_id},
        ).scalar_one()
    return value if isinstance(value, datetime) else None


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
        if not _exists(self.db, self.alert_id, ("submitted",)):
            return True
        waiting = _open(self.db, self.alert_id, ("submitted",))
        if waiting != self.last:
            self.last, self.since = waiting, time.monotonic()
        stalled = time.monotonic() - self.since > 15 and self.sim.stats()["dr_in_flight"] == 0
        return waiting == 0 or stalled


class FinalSampler:
    """Counts an alert's final rows every second in a thread; best 3-second rate."""

    def __init__(self, db: Db, alert_id: int) -> None:
        self.db, self.alert_id = db, alert_id
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        q = sa.text("SELECT count(*) FROM delivery WHERE alert_id = :a AND state IN :s").bindparams(
            sa.bindparam("s", expanding=True)
        )
        while not self._stop.is_set():
            with self.db.engine.connect() as conn:
                n = int(conn.execute(q, {"a": self.alert_id, "s": list(FINAL)}).scalar_one())
            self.samples.append((time.monotonic(), n))
            self._stop.wait(1.0)

    @contextlib.contextmanager
    def running(self) -> Iterator[FinalSampler]:
        """Sample while the block runs."""
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join(5)

    def peak_per_s(self, window_s: float = 3.0) -> float:
        """The highest rate over any window of about ``window_s``."""
        best, j = 0.0, 0
        for i, (t, n) in enumerate(self.samples):
            while j < i and t - self.samples[j][0] > window_s:
                j += 1
            t0, n0 = self.samples[max(0, j - 1)] if j else self.samples[0]
            if t - t0 >= window_s * 0.8:
                best = max(best, (n - n0) / (t - t0))
        return best


_TIMING = re.compile(r"(claim|submit|record): n=(\d+) mean=([\d.]+)ms")
_DR_LOG = re.compile(r"delivery reports: processed=(\d+) batches=(\d+) mean_batch_ms=([\d.]+)")


def worker_timings(procs: list[Proc]) -> dict[str, float]:
    """Mean claim/submit/record ms per batch over the workers (weighted by batches)."""
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    for p in procs:
        for stage, n, mean in _TIMING.findall(p.text()):
            sums[stage] = sums.get(stage, 0.0) + int(n) * float(mean)
            counts[stage] = counts.get(stage, 0) + int(n)
    out = {f"{k} ms": sums[k] / counts[k] for k in sums if counts[k]}
    if counts.get("claim"):
        out["batches"] = float(counts["claim"])
    return out


def dr_writer_timing(api: Proc, since_chars: int) -> dict[str, float]:
    """Mean DR batch write ms of this run, from the API log written after ``since_chars``."""
    found = _DR_LOG.findall(api.text()[since_chars:])
    if not found:
        return {}
    processed, batches, mean = found[-1]
    return {"DR batch ms": float(mean), "DR batches": float(batches), "DR seen": float(processed)}


def empty_queue(db: Db) -> None:
    """Forget earlier runs' deliveries so each run starts from the same queue.

    Accepted alerts that never got a plan (a copied database, a run stopped before planning)
    are moved out of the planners' look-back window: otherwise the workers plan and send them
    beside the run's own alert (a kept 1M database once sent five alerts in one run).
    """
    with db.engine.begin() as conn:
        conn.execute(sa.text("TRUNCATE delivery, delivery_attempt"))
        conn.execute(sa.text("UPDATE dispatch_plan SET state = 'done' WHERE state = 'dispatching'"))
        aged = conn.execute(
            sa.text(
                "UPDATE alert SET received_at = received_at - interval '2 days'"
                " WHERE received_at > now() - interval '2 days'"
                " AND NOT EXISTS (SELECT 1 FROM dispatch_plan p WHERE p.alert_id = alert.id)"
            )
        ).rowcount
    if aged:
        print(f"  ({aged} unplanned alert(s) of earlier runs moved out of the planners' window)")


def run_once(
    c: Cluster,
    api: Proc,
    seeded: Seeded,
    db: Db,
    name: str,
    zones: tuple[str, ...],
    workers: int,
    profile: Path | None = None,
    reports: bool = True,
    **env: object,
) -> tuple[Figures, int]:
    """Start a simulator and workers, send one alert, measure until every report is in."""
    empty_queue(db)
    sim_args = ["--latency-ms", str(env.pop("latency_ms")), "--dr-delay", "0.2"]
    sim_args += ["--max-recipients", "100", "--store-limit", "0", "--log-level", "error"]
    sim_args += ["--dr-max-in-flight", "2000000"]
    sim = c.start_sim(*sim_args)
    procs = [c.start_worker(sim, **env) for _ in range(workers)]
    api_mark = len(api.text())
    try:
        c.await_workers(procs, timeout=180)
        groups = {"api": [api.pid], "workers": [p.pid for p in procs], "sim": [sim.proc.pid]}
        meter = CpuMeter(groups, database=seeded.name)
        profiler = Profiler(profile / name) if profile is not None else None
        if profiler is not None:
            targets = {"api": api.pid, "sim": sim.proc.pid}
            profiler.start({**targets, **{p.name: p.pid for p in procs}})
        meter.start()
        alert_id = post_alert(c.api_url, seeded.agency, evacuation(zones=zones))
        sampler = FinalSampler(db, alert_id)
        with sampler.running():
            wait_for("planning", lambda: db.plan(alert_id) is not None, 900, every=0.05)
            plan = db.plan(alert_id)
            assert plan is not None
            targeted = plan[1]
            wait_for("all submitted", lambda: _all_submitted(db, alert_id, targeted), 3600, 0.2)
            cpu_send = meter.stop()
            if profiler is not None:
                profiler.stop()
            if reports:
                wait_for("all reports", ReportWatch(db, sim, alert_id), 3600, 1.0)
            cpu_all = meter.stop()
        received, planned, first = _times(db, alert_id)
        last_submit = _last(db, alert_id, "submitted_at")
        last_report = _last(db, alert_id, "final_at")
        assert last_submit is not None
        submitted_at = last_submit.timestamp()
        reports_at = last_report.timestamp() if last_report is not None else time.time()
        if not reports:
            reports_at = float("nan")
        assert planned is not None
        assert first is not None
        t0 = received.timestamp()
        stats = sim.stats()
        figures = Figures(
            name,
            targeted,
            planned.timestamp() - t0,
            first.timestamp() - t0,
            submitted_at - t0,
            reports_at - t0,
            int(stats.get("accepted", 0)),
            int(stats["peak_rps"]),
            _open(db, alert_id, ("submitted",)),
            sampler.peak_per_s(),
            cpu_send=cpu_send,
            cpu_all=cpu_all,
        )
    finally:
        for p in procs:
            p.stop()
        sim.proc.stop()
    time.sleep(6)  # the DR writer logs its totals every 5 s
    figures.timings = {**worker_timings(procs), **dr_writer_timing(api, api_mark)}
    return figures, alert_id


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


_LUA = r"""
local list = {}
local template = ""
local i = 0
init = function(args)
  for line in io.lines(args[1]) do
    local m, n = line:match("^(%S+)%s+(%S+)$")
    if m then list[#list + 1] = {m, n} end
  end
  local f = io.open(args[2], "rb")
  template = f:read("*a")
  f:close()
end
request = function()
  i = i + 1
  local p = list[((i - 1) % #list) + 1]
  local body = template:gsub("@@MID@@", p[1]):gsub("@@RCPT@@", p[2]):gsub("@@TID@@", "wrk-" .. i)
  return wrk.format("POST", nil, nil, body)
end
"""


def dr_template() -> str:
    """The Sinch DeliveryReportReq example with MessageID, Recipient and TransactionID marked."""
    text = DR_SAMPLE.read_text()
    xml = text[
        text.index("<?xml") : text.index("</soap-env:Envelope>") + len("</soap-env:Envelope>")
    ]
    xml = xml.replace("<MessageID>369500617770864640</MessageID>", "<MessageID>@@MID@@</MessageID>")
    xml = xml.replace("<Number>16175550123</Number>", "<Number>@@RCPT@@</Number>")
    return xml.replace(">10000001</TransactionID>", ">@@TID@@</TransactionID>")


@dataclass
class Ingest:
    """The inbound endpoint alone under wrk."""

    requests_per_s: float
    written_per_s: float
    written: int
    posted: int
    dr_batch_ms: float | None


def inbound_capacity(
    c: Cluster, api: Proc, db: Db, alert_id: int, seconds: float, connections: int
) -> Ingest | None:
    """wrk posts DeliveryReportReqs for rows set back to ``submitted``; rows written per second."""
    if shutil.which("wrk") is None:
        print("wrk not found: inbound endpoint not measured")
        return None
    with db.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE delivery SET state = 'submitted', final_at = NULL WHERE alert_id = :a "
                "AND state = 'delivered' AND message_id IS NOT NULL"
            ),
            {"a": alert_id},
        )
        pairs = conn.execute(
            sa.text(
                "SELECT message_id, recipient FROM delivery WHERE alert_id = :a "
                "AND state = 'submitted' ORDER BY id"
            ),
            {"a": alert_id},
        ).all()
        conn.execute(sa.text("ANALYZE delivery"))
    if not pairs:
        return None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        (work / "pairs.txt").write_text("".join(f"{m} {n}\n" for m, n in pairs))
        (work / "dr.xml").write_text(dr_template())
        (work / "dr.lua").write_text(_LUA)
        auth = f"mmsc:{DEFAULT_SECRET}"
        header = "Authorization: Basic " + base64.b64encode(auth.encode()).decode()
        cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", str(work / "dr.lua")]
        cmd += ["-H", header, "-H", 'Content-Type: text/xml; charset="utf-8"']
        cmd += ["-H", 'SOAPAction: ""', f"{c.api_url}/mm7/default", "--"]
        cmd += [str(work / "pairs.txt"), str(work / "dr.xml")]
        api_mark = len(api.text())
        phase_start = datetime.now(UTC)
        sampler = FinalSampler(db, alert_id)
        with sampler.running():
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            last, since = -1, time.monotonic()
            while time.monotonic() - since < 3:  # until the writer has drained its queue
                n = sampler.samples[-1][1] if sampler.samples else 0
                if n != last:
                    last, since = n, time.monotonic()
                time.sleep(0.25)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    posted = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    with db.engine.connect() as conn:
        written, first, last = conn.execute(
            sa.text(
                "SELECT count(*), min(final_at), max(final_at) FROM delivery WHERE alert_id = :a"
                " AND state = 'delivered' AND final_at >= :t"
            ),
            {"a": alert_id, "t": phase_start},
        ).one()
    # final_at is the start of the batch that wrote the row: add one mean batch to the span.
    time.sleep(6)
    timing = dr_writer_timing(api, api_mark)
    batch_s = timing.get("DR batch ms", 0.0) / 1000
    span = (last - first).total_seconds() + batch_s if written else 1e9
    return Ingest(rps, int(written) / span, int(written), posted, timing.get("DR batch ms"))


def _fmt_cpu(cpu: dict[str, float], targeted: int) -> str:
    """CPU seconds per process group, and per 1,000 recipients in all."""
    parts = [f"{k}={v:.1f}" for k, v in cpu.items()]
    ours = sum(v for k, v in cpu.items() if k != "box")
    return " ".join(parts) + f" | ours {ours / max(targeted, 1) * 1000 * 1000:.0f} ms/1k recipients"


def _fmt_ms(f: Figures) -> str:
    t = f.timings
    keys = ("claim ms", "submit ms", "record ms", "DR batch ms")
    return " ".join(f"{k.split()[0]}={t[k]:.1f}" if k in t else f"{k.split()[0]}=-" for k in keys)


def _table(rows: list[Figures], raw: float | None) -> None:
    head = (
        f"{'run':<16}{'targeted':>9}{'plan s':>8}{'1st sub s':>10}{'all sub s':>10}"
        f"{'all DR s':>9}{'recip/min':>11}{'DR/s':>8}{'peak DR/s':>10}{'SubmitReq':>10}"
        f"{'peak/s':>7}{'no DR':>7}  ms per batch"
    )
    print(head)
    print("-" * len(head))
    for f in rows:
        print(
            f"{f.name:<16}{f.targeted:>9}{f.planning_s:>8.2f}{f.first_submit_s:>10.2f}"
            f"{f.all_submitted_s:>10.1f}{f.all_reports_s:>9.1f}{f.per_minute:>11,.0f}"
            f"{f.dr_per_s:>8,.0f}{f.peak_dr_per_s:>10,.0f}{f.submit_requests:>10}"
            f"{f.peak_rps:>7}{f.unreported:>7}  {_fmt_ms(f)}"
        )
    names = list(dict.fromkeys(f.name for f in rows))
    for name in names:
        same = [f for f in rows if f.name == name]
        if len(same) < 2:
            continue
        per_min = [f.per_minute for f in same]
        subs = [f.all_submitted_s for f in same]
        drs = [f.peak_dr_per_s for f in same]
        print(
            f"{name}: {len(same)} runs, all submitted best {min(subs):.1f} s median "
            f"{statistics.median(subs):.1f} s; recipients/min best {max(per_min):,.0f} median "
            f"{statistics.median(per_min):,.0f}; peak DR/s best {max(drs):,.0f} median "
            f"{statistics.median(drs):,.0f}"
        )
    if raw is not None:
        print(f"simulator raw capacity: {raw:,.0f} SubmitReq/s (one client, 64 in flight)")
        single = [f for f in rows if f.name.startswith("single")]
        if single:
            best = max(f.targeted / f.all_submitted_s for f in single)
            print(
                f"single-recipient ratio to raw capacity: {best / raw:.2f} "
                f"(best run; includes planning and first-submit latency)"
            )


@contextlib.contextmanager
def database(args: argparse.Namespace) -> Iterator[Seeded]:
    """The benchmark's database: kept under a name, or fresh and dropped."""
    t = time.monotonic()
    if args.keep_db:
        with kept_database(args.keep_db, args.subscribers) as seeded:
            print(f"{seeded.subscribers:,} subscribers ready in {time.monotonic() - t:.0f} s")
            yield seeded
    else:
        with seeded_database(args.subscribers, prefix="alertcast_bench") as seeded:
            print(f"{args.subscribers:,} subscribers seeded in {time.monotonic() - t:.0f} s")
            yield seeded


def main() -> None:
    """Parse arguments, run, print."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--subscribers", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--latency-ms", type=float, default=50.0)
    ap.add_argument("--rate-limit", type=float, default=100.0, help="SubmitReq/s, limited run")
    ap.add_argument("--concurrency", type=int, default=16, help="batches in flight per worker")
    ap.add_argument("--runs", default="multi-limited,multi-raw,single-raw")
    ap.add_argument("--repeat", type=int, default=1, help="times each run is repeated")
    ap.add_argument("--keep-db", default=None, metavar="NAME", help="keep/reuse this database")
    ap.add_argument("--wrk-seconds", type=float, default=10.0, help="0: skip the endpoint run")
    ap.add_argument("--wrk-connections", type=int, default=32)
    ap.add_argument("--skip-raw", action="store_true", help="skip the simulator's raw capacity")
    ap.add_argument("--api-workers", type=int, default=1, help="uvicorn processes of the API")
    ap.add_argument(
        "--skip-reports", action="store_true", help="stop at all submitted (no DR figures)"
    )
    ap.add_argument("--logs", type=Path, default=None, metavar="DIR", help="keep process logs")
    ap.add_argument(
        "--profile", type=Path, default=None, metavar="DIR", help="py-spy each process to DIR"
    )
    args = ap.parse_args()
    names = [n.strip() for n in args.runs.split(",") if n.strip()]
    unknown = set(names) - set(RUNS)
    if unknown:
        ap.error(f"unknown runs {sorted(unknown)}; choose from {sorted(RUNS)}")
    rows: list[Figures] = []
    raw: float | None = None
    ingest: Ingest | None = None
    with database(args) as seeded:
        db = Db(seeded.url)
        with tempfile.TemporaryDirectory() as tmp, cluster(args.logs or Path(tmp), seeded.url) as c:
            api = c.start_api(args.api_workers)
            base = {"latency_ms": args.latency_ms, "worker_concurrency": args.concurrency}
            last_alert = None
            for _ in range(args.repeat):
                for name in names:
                    zones, extra = RUNS[name]
                    if name == "multi-limited":
                        extra = {**extra, "mmsc_rate_limit": args.rate_limit}
                    f, alert_id = run_once(
                        c,
                        api,
                        seeded,
                        db,
                        name,
                        zones,
                        args.workers,
                        args.profile,
                        not args.skip_reports,
                        **base,
                        **extra,
                    )
                    rows.append(f)
                    last_alert = alert_id  # each run empties the queue: only the last is left
                    print(
                        f"  {name}: {f.targeted} targeted, all submitted {f.all_submitted_s:.1f} s,"
                        f" {f.per_minute:,.0f}/min, peak DR/s {f.peak_dr_per_s:,.0f}, {_fmt_ms(f)}",
                        flush=True,
                    )
                    print(f"    CPU s to all submitted: {_fmt_cpu(f.cpu_send, f.targeted)}")
                    print(f"    CPU s to all reports:   {_fmt_cpu(f.cpu_all, f.targeted)}")
            if not args.skip_raw:
                raw = raw_capacity(c, args.latency_ms)
            if args.wrk_seconds > 0 and last_alert is not None:
                ingest = inbound_capacity(
                    c, api, db, last_alert, args.wrk_seconds, args.wrk_connections
                )
        db.close()
    print(
        f"\n{seeded.subscribers:,} subscribers, {args.workers} workers, {args.api_workers} API "
        f"process(es), "
        f"{args.latency_ms:.0f} ms MMSC latency, limited run at {args.rate_limit:.0f} SubmitReq/s"
    )
    _table(rows, raw)
    if ingest is not None:
        batch = f"{ingest.dr_batch_ms:.1f} ms" if ingest.dr_batch_ms is not None else "-"
        print(
            f"inbound endpoint alone (wrk, {args.wrk_connections} connections): "
            f"{ingest.requests_per_s:,.0f} DeliveryReportReq/s acknowledged, "
            f"{ingest.written_per_s:,.0f} DR/s written to the database "
            f"({ingest.written} of {ingest.posted} posted; DR batch write {batch})"
        )


if __name__ == "__main__":
    main()
