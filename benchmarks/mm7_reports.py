"""Inbound delivery reports: ``Mm7Inbound`` and the DR writer's linger vs. the plain route (A/B).

Creates a fresh PostgreSQL database (``alertcast_mm7bench_<hex>``, dropped at the end) holding
submitted deliveries (100 recipients per MessageID), serves the app the way ``alertcast serve``
does (uvicorn, JSON logs, the batching DR writer, no in-process worker) and posts real
DeliveryReportReqs (Sinch's sample, one per delivery, recipients written without "+" as Sinch
does) to ``POST /mm7/default``. Three variants of the same app, alternated ``--rounds`` times:

  route         ``create_app`` without the ``Mm7Inbound`` middleware, writer without linger
                (the route behind FastAPI, as before)
  front         the raw ASGI front answers, writer without linger
  front+linger  as ``create_app`` serves now: the front, and the writer gathers reports 20 ms

and two loads per variant, each on its own deliveries:

  max     ``wrk -c16``: as many reports as the endpoint takes
  paced   a fixed ``--rate`` (2,000/s, the issue's goal) over 16 keep-alive connections, as an
          MMSC sends them: what one report costs when the endpoint is not saturated

A report counts only once its delivery row is ``delivered`` in PostgreSQL: the figures are
reports written per second (whole run and best 2-second window), API process CPU per written
report (HTTP, parse, acknowledge, queue, batch UPDATE) and PostgreSQL CPU per report.

    flock /tmp/bench.lock .venv/bin/python benchmarks/mm7_reports.py [--seconds 8] [--rounds 1]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import functools
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import mean
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import httpx  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from benchmarks.proccpu import cpu_seconds, postgres_backends  # noqa: E402

VARIANTS = ("route", "front", "front+linger")
LOADS = ("max", "paced")
CONNECTIONS = 16
PER_MESSAGE = 100  # recipients per MessageID, as a multi-recipient SubmitReq gets
_BATCH_LOG = re.compile(r"delivery reports: processed=(\d+) batches=(\d+) mean_batch_ms=([\d.]+)")


def served_app(variant: str) -> Any:
    """The app ``alertcast serve`` builds, changed back piece by piece for the peers."""
    from alerts.app import create_app
    from alerts.dispatch import runtime
    from alerts.dispatch.mm7_api import Mm7Inbound
    from alerts.logs import configure_logging
    from alerts.settings import get_settings

    settings = get_settings()
    configure_logging(settings.log_level)
    if variant != "front+linger":  # the writer as it was: a batch of whatever is queued
        runtime.DeliveryReportWriter = functools.partial(  # type: ignore[misc]
            runtime.DeliveryReportWriter, linger_s=0.0
        )
    app = create_app(settings)
    if variant == "route":
        app.user_middleware = [m for m in app.user_middleware if m.cls is not Mm7Inbound]
    return app


def serve(variant: str, port: int) -> None:
    """Server mode: uvicorn with the options ``alertcast serve`` uses."""
    import uvicorn

    uvicorn.run(
        served_app(variant),
        host="127.0.0.1",
        port=port,
        log_level="info",
        timeout_graceful_shutdown=30,
    )


@dataclass
class Run:
    """One timed load on one variant."""

    variant: str
    load: str
    requests_per_s: float
    posted: int
    written: int
    written_per_s: float
    peak_per_s: float
    api_ms: float  # API process CPU ms per written report
    pg_ms: float  # PostgreSQL CPU ms per written report (with this run's count queries)
    batch_ms: float | None


def seed(engine: sa.Engine, sizes: list[int]) -> None:
    """Submitted deliveries in slices of the given sizes; slice ``k`` is alert ``k + 1``."""
    lo = 0
    with engine.begin() as conn:
        for k, rows in enumerate(sizes):
            conn.execute(
                sa.text(
                    "INSERT INTO delivery (alert_id, subscriber_id, content_id, recipient, kind,"
                    " state, priority, attempts, next_attempt_at, message_id, created_at,"
                    " submitted_at) SELECT CAST(:a AS int), g, 1,"
                    " '+1555' || lpad(g::text, 7, '0'), 'alert', 'submitted', 0, 1, now(),"
                    " 'M' || CAST(:a AS text) || '-' || (g / CAST(:per AS int)), now(), now()"
                    " FROM generate_series(CAST(:lo AS int), CAST(:hi AS int)) g"
                ),
                {"a": k + 1, "per": PER_MESSAGE, "lo": lo, "hi": lo + rows - 1},
            )
            lo += rows
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE delivery"))


def pairs_file(engine: sa.Engine, alert_id: int, path: Path) -> None:
    """MessageID and recipient (as Sinch writes it: no "+") of every delivery of one slice."""
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT message_id, recipient FROM delivery WHERE alert_id = :a ORDER BY id"),
            {"a": alert_id},
        ).all()
    path.write_text("".join(f"{m} {n.lstrip('+')}\n" for m, n in rows))


def written(engine: sa.Engine, alert_id: int) -> int:
    """Deliveries of one slice a report moved to ``delivered``."""
    with engine.connect() as conn:
        q = "SELECT count(*) FROM delivery WHERE alert_id = :a AND state = 'delivered'"
        return int(conn.execute(sa.text(q), {"a": alert_id}).scalar_one())


class Sampler:
    """Counts written rows of one slice every 0.2 s in a thread."""

    def __init__(self, engine: sa.Engine, alert_id: int) -> None:
        self.engine, self.alert_id = engine, alert_id
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), written(self.engine, self.alert_id)))
            self._stop.wait(0.2)

    def start(self) -> None:
        """Start sampling."""
        self._thread.start()

    def settle(self, quiet_s: float = 2.0, limit_s: float = 60.0) -> None:
        """Wait until the count stopped moving for ``quiet_s`` (the writer drained its queue)."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline:
            time.sleep(0.2)
            last_n = self.samples[-1][1]
            moved = next(t for t, n in self.samples if n == last_n)
            if time.monotonic() - moved >= quiet_s:
                break
        self._stop.set()
        self._thread.join()

    def rates(self, t0: float) -> tuple[int, float, float]:
        """Rows written, rows/s from ``t0`` to the last change, best 2-second window rows/s."""
        n = self.samples[-1][1]
        last_change = next(t for t, k in self.samples if k == n)
        best = 0.0
        for i, (t, k) in enumerate(self.samples):
            later = [(u, m) for u, m in self.samples[i:] if u - t >= 2.0]
            if later:
                u, m = later[0]
                best = max(best, (m - k) / (u - t))
        return n, n / max(last_change - t0, 1e-9), best


def wait_idle(pid: int, limit_s: float = 90.0) -> None:
    """Until the process used under 20 ms of CPU in half a second (zone sets loaded...)."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(0.5)
        if cpu_seconds(pid) - before < 0.02:
            return


def wrk(url: str, work: Path, pairs: Path, seconds: float, connections: int) -> tuple[float, int]:
    """Requests/s and requests sent by ``wrk`` posting one report per pair."""
    from benchmarks.dispatch import _LUA, dr_template

    (work / "dr.xml").write_text(dr_template())
    (work / "dr.lua").write_text(_LUA)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:.0f}s", "-s", str(work / "dr.lua")]
    cmd += ["-H", f"Authorization: {_auth()}", "-H", 'Content-Type: text/xml; charset="utf-8"']
    cmd += ["-H", 'SOAPAction: ""', url, "--", str(pairs), str(work / "dr.xml")]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk saw errors:\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    sent = re.search(r"(\d+) requests in", out)
    if rps is None or sent is None:
        raise RuntimeError(out)
    return float(rps.group(1)), int(sent.group(1))


def _auth() -> str:
    from alerts.settings import DEFAULT_SECRET

    return "Basic " + base64.b64encode(f"mmsc:{DEFAULT_SECRET}".encode()).decode()


def _requests(port: int, pairs: Path, n: int) -> list[bytes]:
    """``n`` complete HTTP requests, one report per pair (cycling), built before the clock runs."""
    from benchmarks.dispatch import dr_template

    template = dr_template()
    head = (
        f"POST /mm7/default HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {_auth()}\r\n"
        'Content-Type: text/xml; charset="utf-8"\r\nSOAPAction: ""\r\n'
    )
    lines = pairs.read_text().split()
    found = list(zip(lines[::2], lines[1::2], strict=True))
    out = []
    for i in range(n):
        m, rcpt = found[i % len(found)]
        body = template.replace("@@MID@@", m).replace("@@RCPT@@", rcpt)
        body = body.replace("@@TID@@", f"paced-{i}").encode()
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def _paced_connection(
    port: int, requests: list[bytes], start: float, step: float, seen: Counter[int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    loop = asyncio.get_running_loop()
    for k, request in enumerate(requests):
        delay = start + k * step - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = re.search(rb"(?i)content-length: *(\d+)", head)
        await reader.readexactly(int(length.group(1)) if length else 0)
        seen[int(head[9:12])] += 1
    writer.close()


def paced(port: int, pairs: Path, rate: float, seconds: float) -> tuple[float, int]:
    """Requests/s and requests sent at a fixed total ``rate`` over keep-alive connections."""
    n = int(rate * seconds) // CONNECTIONS * CONNECTIONS
    requests = _requests(port, pairs, n)
    seen: Counter[int] = Counter()

    async def go() -> float:
        start = asyncio.get_running_loop().time() + 0.05
        step = CONNECTIONS / rate
        await asyncio.gather(
            *(
                _paced_connection(port, requests[c::CONNECTIONS], start + c / rate, step, seen)
                for c in range(CONNECTIONS)
            )
        )
        return asyncio.get_running_loop().time() - start

    elapsed = asyncio.run(go())
    if set(seen) != {200}:
        raise RuntimeError(f"paced load saw statuses {dict(seen)}")
    return n / elapsed, n


class Server:
    """One API process of one variant, logging to a file."""

    def __init__(self, variant: str, database_url: str, work: Path) -> None:
        from tests.e2e.procs import free_port

        self.port = free_port()
        self.log = work / f"api-{variant}-{self.port}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTCAST_")}
        env.update(
            ALERTCAST_ENV="test",
            ALERTCAST_DATABASE_URL=database_url,
            ALERTCAST_PUBLIC_BASE_URL=f"http://127.0.0.1:{self.port}",
            ALERTCAST_IN_PROCESS_WORKER="false",
            ALERTCAST_EMBEDDED_MMSC="false",
            ALERTCAST_LOG_LEVEL="INFO",
        )
        cmd = [sys.executable, __file__, "--serve", variant, "--port", str(self.port)]
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=out)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 60
        while not self._ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"API did not start:\n{self.log.read_text()[-2000:]}")
            time.sleep(0.1)
        wait_idle(self.proc.pid)

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def batch_ms(self) -> float | None:
        """The DR writer's mean batch time from its last progress line."""
        found = _BATCH_LOG.findall(self.log.read_text(errors="replace"))
        return float(found[-1][2]) if found else None

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after a bounded wait."""
        self.proc.terminate()
        try:
            self.proc.wait(40)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class Slices:
    """Which deliveries (alert ids) one variant's warm-up and loads post reports for."""

    warm: int
    max: int
    paced: int


def timed(
    variant: str, load: str, server: Server, db: tuple[sa.Engine, str], alert_id: int, args: Any
) -> Run:
    """One load on a running server: CPU before and after, rows written until they settle."""
    engine, name = db
    pairs = server.log.parent / f"pairs-{alert_id}.txt"
    pairs_file(engine, alert_id, pairs)
    time.sleep(1.0)
    wait_idle(server.proc.pid)
    api0 = cpu_seconds(server.proc.pid)
    pg0 = {p: cpu_seconds(p) for p in postgres_backends(name)}
    sampler = Sampler(engine, alert_id)
    sampler.start()
    t0 = time.monotonic()
    if load == "max":
        url = f"{server.url}/mm7/default"
        rps, posted = wrk(url, server.log.parent, pairs, args.seconds, CONNECTIONS)
    else:
        rps, posted = paced(server.port, pairs, args.rate, args.seconds)
    sampler.settle()
    api = cpu_seconds(server.proc.pid) - api0
    pg = sum(cpu_seconds(p) - pg0.get(p, 0.0) for p in postgres_backends(name))
    n, per_s, peak = sampler.rates(t0)
    per = 1000 / max(n, 1)
    return Run(variant, load, rps, posted, n, per_s, peak, api * per, pg * per, None)


def one_variant(
    variant: str, db: tuple[sa.Engine, str], url: str, s: Slices, args: Any
) -> list[Run]:
    """Start a server, warm it up, time both loads on their own deliveries, stop it."""
    engine, _ = db
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        server = Server(variant, url, work)
        try:
            pairs_file(engine, s.warm, work / "warm.txt")
            wrk(f"{server.url}/mm7/default", work, work / "warm.txt", 2, CONNECTIONS)
            runs = [timed(variant, load, server, db, getattr(s, load), args) for load in LOADS]
        finally:
            server.stop()
        batch = server.batch_ms()  # the writer logs its totals (all loads) when it stops
    for r in runs:
        r.batch_ms = batch
    return runs


def main() -> None:
    """Create the database, alternate the variants, print a table and the ratios."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rate", type=float, default=2000, help="reports/s of the paced load")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--serve", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    from alerts import migrate
    from alerts.db import make_engine
    from alerts.settings import Settings
    from tests.dbfixtures import create_pg_database, drop_pg_database, pg_url

    name = create_pg_database("alertcast_mm7bench")
    url = pg_url(name)
    engine = make_engine(Settings(env="test", database_url=url))
    order = [v for _ in range(args.rounds) for v in VARIANTS]
    # enough rows that no load posts a delivery twice (wrk tops out near 8,000/s here)
    sizes = [20_000, int(10_000 * args.seconds), int(args.rate * args.seconds * 1.2)]
    runs: list[Run] = []
    try:
        migrate.upgrade(engine)
        seed(engine, sizes * len(order))
        for i, variant in enumerate(order):
            slices = Slices(3 * i + 1, 3 * i + 2, 3 * i + 3)
            runs += one_variant(variant, (engine, name), url, slices, args)
            for r in runs[-len(LOADS) :]:
                print(_row(r), flush=True)
    finally:
        engine.dispose()
        drop_pg_database(name)
    _report(runs, args)


def _row(r: Run) -> str:
    batch = f"{r.batch_ms:.1f}" if r.batch_ms is not None else "-"
    return (
        f"{r.variant:<14}{r.load:<7}{r.requests_per_s:>8,.0f}{r.posted:>9,}{r.written:>9,}"
        f"{r.written_per_s:>11,.0f}{r.peak_per_s:>9,.0f}{r.api_ms:>8.3f}{r.pg_ms:>7.3f}{batch:>7}"
    )


def _report(runs: list[Run], args: Any) -> None:
    load = os.getloadavg()[0]
    print(f"\nInbound DeliveryReportReq, {CONNECTIONS} connections, {args.seconds:.0f} s per load,")
    print(f"{os.cpu_count()} CPUs, load average at end {load:.1f}; every report updates a row")
    print(
        f"{'variant':<14}{'load':<7}{'req/s':>8}{'posted':>9}{'written':>9}{'written/s':>11}"
        f"{'peak/s':>9}{'API ms':>8}{'PG ms':>7}{'batch':>7}"
    )
    for r in runs:
        print(_row(r))
    print("(API ms / PG ms: CPU per written report; batch: the writer's mean batch ms, all loads)")

    def avg(variant: str, load: str, attr: str) -> float:
        return mean(getattr(r, attr) for r in runs if (r.variant, r.load) == (variant, load))

    for load_name, attr, label in (
        ("max", "written_per_s", "written/s at max load (higher is better)"),
        ("max", "api_ms", "API CPU ms/report at max load (lower is better)"),
        ("paced", "api_ms", f"API CPU ms/report at {args.rate:,.0f}/s (lower is better)"),
    ):
        route = avg("route", load_name, attr)
        cells = "  ".join(
            f"{v} {avg(v, load_name, attr):.3f} ({avg(v, load_name, attr) / route:.2f}x)"
            for v in VARIANTS[1:]
        )
        print(f"{label}: route {route:.3f}  {cells}")
    best = avg("front+linger", "max", "written_per_s")
    print(
        f"reports written per second, as served (front+linger, max): {best:,.0f}  (goal >= 2,000)"
    )


if __name__ == "__main__":
    main()
