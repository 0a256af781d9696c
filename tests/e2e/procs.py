"""Real alertcast processes for fault and scale-out tests: API, workers, MMSC simulator.

Every process is started with ``subprocess.Popen`` on 127.0.0.1 with an ephemeral port, logs to
a file in the test's directory, and is killed when the ``Cluster`` closes (SIGTERM, then SIGKILL
after a bounded wait), so a failing test leaves nothing running. Also shared by the benchmarks.
"""

from __future__ import annotations

import collections
import functools
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import sqlalchemy as sa
import uvicorn
from pydantic import SecretStr

from alerts import migrate
from alerts.access import service as access
from alerts.db import make_engine, session_scope
from alerts.mmsc import SimulatorConfig, create_simulator_app
from alerts.mmsc.simulator import Simulator
from alerts.settings import DEFAULT_SECRET, Settings
from alerts.subscribers.synth import synth_into
from geo.zones import ZoneRegistry
from tests.alerts.conftest import AgencyKey, make_agency
from tests.dbfixtures import PG_ADMIN, create_pg_database, drop_pg_database, pg_url

REPO = Path(__file__).resolve().parents[2]
ALERTCAST = str(Path(sys.executable).parent / "alertcast")
CAP = {"Content-Type": "application/cap+xml"}
SENDER = "nycem@nyc.gov"
STATES = ("queued", "claimed", "submitting", "submitted", "delivered", "failed")


def free_port() -> int:
    """A loopback port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: str, check: Callable[[], bool], timeout: float, every: float = 0.1) -> None:
    """Poll ``check`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


@dataclass
class Proc:
    """One child process and its log file."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.popen.pid

    def alive(self) -> bool:
        """True while the process runs."""
        return self.popen.poll() is None

    def text(self) -> str:
        """Everything the process logged so far."""
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def tail(self, n: int = 30) -> str:
        """The last ``n`` log lines (for assertion messages)."""
        return "\n".join(self.text().splitlines()[-n:])

    def worker_id(self) -> str | None:
        """The id a worker logged at start (its batch ids begin with it)."""
        for line in self.text().splitlines():
            if line.startswith("{") and '"worker ' in line:
                msg = str(json.loads(line).get("msg", ""))
                if msg.startswith("worker ") and " started" in msg:
                    return msg.split()[1]
        return None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 45.0) -> int | None:
        """Send ``sig`` and wait up to ``timeout``; SIGKILL if it is still there."""
        if self.alive():
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(10)
        return self.popen.returncode


@dataclass
class Sim:
    """A running MMSC simulator and its JSON API."""

    proc: Proc
    url: str

    @property
    def mm7_url(self) -> str:
        """The MM7 endpoint workers submit to."""
        return f"{self.url}/mm7"

    def stats(self) -> dict[str, Any]:
        """``GET /api/stats``."""
        r = httpx.get(f"{self.url}/api/stats", timeout=10)
        r.raise_for_status()
        return dict(r.json())

    def recipients_per_number(self) -> collections.Counter[str]:
        """How many times each number was accepted (needs every message still stored)."""
        r = httpx.get(f"{self.url}/api/messages", params={"limit": 1000}, timeout=10)
        r.raise_for_status()
        body = r.json()
        assert body["stored"] == body["count"], "simulator store too small to count duplicates"
        return collections.Counter(n for m in body["messages"] for n in m["recipients"])


@dataclass
class LocalSim:
    """The MMSC simulator served by uvicorn in a thread of this process on a loopback port.

    Same app as ``alertcast mmsc-sim``; living here lets a test switch faults (outage now,
    throttle) at run time and read the full message store.
    """

    simulator: Simulator
    server: uvicorn.Server
    thread: threading.Thread
    url: str

    @property
    def mm7_url(self) -> str:
        """The MM7 endpoint workers submit to."""
        return f"{self.url}/mm7"

    def set_faults(self, **changes: object) -> None:
        """Replace fault settings (``Faults`` fields) from now on."""
        config = self.simulator.config
        faults = config.faults.model_copy(update=changes)
        self.simulator.config = config.model_copy(update={"faults": faults})

    def outage_now(self, seconds: float) -> None:
        """Answer 503 to every MM7 request for the next ``seconds``."""
        up = time.monotonic() - self.simulator.stats.started
        self.set_faults(outages=[(up, up + seconds)])

    def reset(self) -> None:
        """Forget messages and counters (between tests)."""
        self.simulator.reset()

    def stats(self) -> dict[str, Any]:
        """Counters as ``GET /api/stats`` shows them."""
        for _ in range(20):  # the server thread may be appending; retry a bounded number of times
            try:
                return dict(self.simulator.stats.snapshot())
            except RuntimeError:
                time.sleep(0.01)
        raise RuntimeError("simulator stats kept changing")

    def recipients_per_number(self) -> collections.Counter[str]:
        """How many times each number was accepted."""
        store = self.simulator.store
        for _ in range(20):
            try:
                messages = store.latest(len(store))
                break
            except RuntimeError:
                time.sleep(0.01)
        else:
            raise RuntimeError("simulator store kept changing")
        assert len(messages) == store.total, "simulator store too small to count duplicates"
        return collections.Counter(a.value for m in messages for a in m.recipients)


@contextmanager
def local_sim(api_url: str, **config: Any) -> Iterator[LocalSim]:
    """Serve a simulator (delivery reports to the API at ``api_url``) until the block ends."""
    sim_config = SimulatorConfig(
        vasp_url=f"{api_url}/mm7/default",
        vasp_username="mmsc",
        vasp_password=SecretStr(DEFAULT_SECRET),
        store_limit=1_000_000,
        **config,
    )
    app = create_simulator_app(sim_config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws="none")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for("simulator to start", lambda: bool(server.started), 30, every=0.02)
        yield LocalSim(app.state.simulator, server, thread, f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        thread.join(timeout=20)


@dataclass
class Cluster:
    """API, workers and simulator processes on one PostgreSQL database."""

    workdir: Path
    database_url: str
    api_port: int = field(default_factory=free_port)
    procs: list[Proc] = field(default_factory=list)

    @property
    def api_url(self) -> str:
        """Base URL of the API process."""
        return f"http://127.0.0.1:{self.api_port}"

    def _env(self, extra: dict[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("ALERTCAST_")}
        env.update(
            ALERTCAST_ENV="test",
            ALERTCAST_DATABASE_URL=self.database_url,
            ALERTCAST_PUBLIC_BASE_URL=self.api_url,
            ALERTCAST_IN_PROCESS_WORKER="false",
            ALERTCAST_EMBEDDED_MMSC="false",
            ALERTCAST_LOG_LEVEL="INFO",
            PYTHONUNBUFFERED="1",
        )
        env.update(extra)
        return env

    def spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> Proc:
        """Start ``alertcast ARGS`` with its output in ``workdir/NAME.log``."""
        log = self.workdir / f"{name}.log"
        with log.open("ab") as out:
            popen = subprocess.Popen(
                [ALERTCAST, *args],
                cwd=REPO,
                env=self._env(env or {}),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_api(self, workers: int = 1) -> Proc:
        """``alertcast serve`` without a worker; returns once ``/readyz`` answers."""
        args = ["serve", "--host", "127.0.0.1", "--port", str(self.api_port)]
        if workers > 1:
            args += ["--workers", str(workers)]
        proc = self.spawn("api", args)
        self._await_http(proc, f"{self.api_url}/readyz", 60)
        return proc

    def start_sim(self, *options: str, store_limit: int = 2000) -> Sim:
        """``alertcast mmsc-sim`` posting delivery reports to the API; returns once it answers."""
        port = free_port()
        args = ["mmsc-sim", "--port", str(port), "--vasp-url", f"{self.api_url}/mm7/default"]
        args += ["--vasp-user", "mmsc", "--store-limit", str(store_limit), *options]
        proc = self.spawn(f"sim-{port}", args, {"ALERTCAST_VASP_PASSWORD": DEFAULT_SECRET})
        sim = Sim(proc, f"http://127.0.0.1:{port}")
        self._await_http(proc, f"{sim.url}/api/stats", 30)
        return sim

    def start_worker(self, sim: Sim | LocalSim, **settings: object) -> Proc:
        """``alertcast worker`` on ``sim``; ``settings`` become ALERTCAST_* variables."""
        env = {"ALERTCAST_MMSC_URL": sim.mm7_url}
        env.update({f"ALERTCAST_{k.upper()}": str(v) for k, v in settings.items()})
        n = sum(p.name.startswith("worker") for p in self.procs)
        return self.spawn(f"worker{n}", ["worker"], env)

    def await_workers(self, procs: list[Proc], timeout: float = 40) -> None:
        """Wait until every worker logged its start."""
        for p in procs:
            wait_for(f"{p.name} to start", functools.partial(_started, p), timeout)

    @staticmethod
    def _await_http(proc: Proc, url: str, timeout: float) -> None:
        def up() -> bool:
            if not proc.alive():
                raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
            try:
                return httpx.get(url, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(f"{proc.name} at {url}", up, timeout)

    def close(self) -> None:
        """Stop every process (SIGTERM, bounded wait, then SIGKILL)."""
        for p in self.procs:
            if p.alive():
                p.popen.send_signal(signal.SIGTERM)
                p.popen.send_signal(signal.SIGCONT)  # a paused process acts on SIGTERM only then
        deadline = time.monotonic() + 15
        for p in self.procs:
            try:
                p.popen.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.popen.kill()
                p.popen.wait(10)


def _started(proc: Proc) -> bool:
    if not proc.alive():
        raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
    return proc.worker_id() is not None


@contextmanager
def cluster(workdir: Path, database_url: str) -> Iterator[Cluster]:
    """A ``Cluster`` whose processes are all gone when the block ends."""
    c = Cluster(workdir, database_url)
    try:
        yield c
    finally:
        c.close()


@dataclass
class Seeded:
    """A fresh migrated database with synthetic subscribers and an agency key."""

    name: str
    url: str
    agency: AgencyKey
    subscribers: int


@contextmanager
def seeded_database(
    n_subscribers: int, *, seed: int = 7, prefix: str = "alertcast_e2e"
) -> Iterator[Seeded]:
    """Create, migrate and populate a PostgreSQL database; dropped at the end."""
    name = create_pg_database(prefix)
    url = pg_url(name)
    try:
        settings = Settings(env="test", database_url=url)
        engine = make_engine(settings)
        try:
            migrate.upgrade(engine)
            if n_subscribers:
                synth_into(
                    engine,
                    ZoneRegistry.default(),
                    n=n_subscribers,
                    zone_set="nyc_evacuation_zones",
                    seed=seed,
                )
        finally:
            engine.dispose()
        agency = make_agency(settings, "NYCEM", [SENDER])
        yield Seeded(name, url, agency, n_subscribers)
    finally:
        drop_pg_database(name)


@contextmanager
def kept_database(name: str, n_subscribers: int, *, seed: int = 7) -> Iterator[Seeded]:
    """Like ``seeded_database`` but under a fixed name and kept afterwards (benchmarks).

    An existing database of that name is migrated to head and reused as it is (seeding a
    million subscribers takes minutes); a new key is issued for its agency.
    """
    url = pg_url(name)
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    settings = Settings(env="test", database_url=url)
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        with engine.connect() as conn:
            have = int(conn.execute(sa.text("SELECT count(*) FROM subscriber")).scalar_one())
            agency_id = conn.execute(
                sa.text("SELECT id FROM agency WHERE name = 'NYCEM'")
            ).scalar_one_or_none()
        if have == 0 and n_subscribers:
            synth_into(
                engine,
                ZoneRegistry.default(),
                n=n_subscribers,
                zone_set="nyc_evacuation_zones",
                seed=seed,
            )
            have = n_subscribers
        if agency_id is None:
            agency = make_agency(settings, "NYCEM", [SENDER])
        else:
            with session_scope(engine) as session:
                issued = access.issue_key(session=session, agency_id=int(agency_id))
            agency = AgencyKey(agency_id=issued.agency_id, key=issued.key)
    finally:
        engine.dispose()
    yield Seeded(name, url, agency, have)


class Db:
    """Direct reads of the dispatch tables (what the processes wrote)."""

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url, pool_pre_ping=True)

    def close(self) -> None:
        """Release connections."""
        self.engine.dispose()

    def by_state(self, alert_id: int) -> dict[str, int]:
        """Deliveries of an alert counted by state."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT state, count(*) FROM delivery WHERE alert_id = :a GROUP BY state"),
                {"a": alert_id},
            ).all()
        return {str(s): int(n) for s, n in rows}

    def plan(self, alert_id: int) -> tuple[str, int] | None:
        """(state, targeted) of an alert's plan, or None before planning."""
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT state, targeted FROM dispatch_plan WHERE alert_id = :a"),
                {"a": alert_id},
            ).first()
        return (str(row[0]), int(row[1])) if row else None

    def recipients(self, alert_id: int) -> list[str]:
        """The numbers an alert targets, one per delivery row."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT recipient FROM delivery WHERE alert_id = :a"), {"a": alert_id}
            ).all()
        return [str(r[0]) for r in rows]

    def held_by(self, alert_id: int, worker_id: str) -> int:
        """Rows a worker holds right now (claimed or being submitted under its batches)."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text(
                        "SELECT count(*) FROM delivery WHERE alert_id = :a AND "
                        "state IN ('claimed', 'submitting') AND batch_id LIKE :w"
                    ),
                    {"a": alert_id, "w": f"{worker_id}-%"},
                ).scalar_one()
            )

    def history(self, alert_id: int, numbers: list[str]) -> list[tuple[object, ...]]:
        """Attempt history of some recipients (for assertion messages)."""
        if not numbers:
            return []
        q = sa.text(
            "SELECT d.recipient, d.state, a.batch_id, a.outcome, a.status_code, a.at "
            "FROM delivery d JOIN delivery_attempt a ON a.delivery_id = d.id "
            "WHERE d.alert_id = :a AND d.recipient IN :n ORDER BY d.recipient, a.at"
        ).bindparams(sa.bindparam("n", expanding=True))
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(q, {"a": alert_id, "n": numbers})]

    def max_attempts(self, alert_id: int) -> int:
        """The highest attempt count of an alert's deliveries."""
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT COALESCE(max(attempts), 0) FROM delivery WHERE alert_id = :a"),
                    {"a": alert_id},
                ).scalar_one()
            )


def post_alert(api_url: str, agency: AgencyKey, cap: bytes) -> int:
    """Ingest one CAP alert through the API; returns its id."""
    r = httpx.post(
        f"{api_url}/api/v1/alerts", content=cap, headers={**CAP, **agency.headers}, timeout=30
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def wait_planned(db: Db, alert_id: int, timeout: float = 60) -> int:
    """Wait until the alert is planned; returns the targeted count."""
    wait_for(f"alert {alert_id} to be planned", lambda: db.plan(alert_id) is not None, timeout)
    plan = db.plan(alert_id)
    assert plan is not None
    return plan[1]


def submitted_or_done(db: Db, alert_id: int) -> int:
    """Deliveries already handed to the MMSC (submitted or with a delivery report)."""
    s = db.by_state(alert_id)
    return s.get("submitted", 0) + s.get("delivered", 0)


def wait_settled(db: Db, alert_id: int, timeout: float) -> dict[str, int]:
    """Wait until the plan is closed and no delivery awaits a submit or a report."""

    def settled() -> bool:
        plan = db.plan(alert_id)
        s = db.by_state(alert_id)
        open_rows = sum(s.get(k, 0) for k in ("queued", "claimed", "submitting", "submitted"))
        return plan is not None and plan[0] != "dispatching" and open_rows == 0

    wait_for(f"alert {alert_id} to settle", settled, timeout, every=0.25)
    return db.by_state(alert_id)
