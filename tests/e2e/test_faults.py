"""Dispatch under faults, with real processes: an API (`alertcast serve`, no worker), two
`alertcast worker` processes, PostgreSQL, and the MMSC simulator on loopback.

Each test sends one alert to NYC evacuation zone 1 (about 300 synthetic subscribers, one
recipient per SubmitReq, 30 SubmitReq/s across the workers so dispatch takes ~10 s), injects
one fault mid-dispatch, and checks the outcome in the database and at the simulator: every
targeted subscriber delivered, nobody lost, duplicates within the at-least-once bound.

The simulator runs in this process (same app as `alertcast mmsc-sim`) so outages and
throttling can be switched on at a chosen moment.
"""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from tests.capdocs import evacuation
from tests.dbfixtures import PG_ADMIN
from tests.e2e.procs import (
    Cluster,
    Db,
    LocalSim,
    Proc,
    Seeded,
    cluster,
    local_sim,
    post_alert,
    seeded_database,
    submitted_or_done,
    wait_for,
    wait_planned,
    wait_settled,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RATE = 30  # SubmitReq/s for the link, shared by all workers through PostgreSQL
LEASE_S = 5  # short lease so a killed worker's rows come back within the test
BATCH = max(1, int(RATE * 0.9 * 0.25 / 8))  # rows per batch: Worker._batch_size, 8 in flight
WORKER = {
    "mmsc_rate_limit": RATE,
    "mmsc_max_recipients": 1,
    "worker_lease_s": LEASE_S,
}


@dataclass
class Env:
    """The module's processes and handles."""

    seeded: Seeded
    cluster: Cluster
    sim: LocalSim
    db: Db
    workers: list[Proc]

    def ensure_workers(self, n: int) -> None:
        """Start replacements so ``n`` workers run (after a test killed some)."""
        self.workers = [w for w in self.workers if w.alive()]
        while len(self.workers) < n:
            self.workers.append(self.cluster.start_worker(self.sim, **WORKER))
        self.cluster.await_workers(self.workers)

    def start_alert(self, zones: tuple[str, ...] = ("1",), **faults: object) -> tuple[int, int]:
        """Reset the simulator (with ``faults``), send an alert; returns (alert id, targeted)."""
        self.sim.set_faults(**{"outages": [], "throttle_rps": None, **faults})
        self.sim.reset()
        alert_id = post_alert(self.cluster.api_url, self.seeded.agency, evacuation(zones=zones))
        targeted = wait_planned(self.db, alert_id)
        assert targeted >= 150, targeted
        return alert_id, targeted

    def wait_progress(self, alert_id: int, n: int, timeout: float = 60) -> None:
        """Wait until ``n`` deliveries were handed to the MMSC."""
        wait_for(
            f"{n} submits", lambda: submitted_or_done(self.db, alert_id) >= n, timeout, every=0.05
        )

    def duplicates(self, alert_id: int) -> tuple[int, int]:
        """(numbers never accepted by the MMSC, extra copies accepted) for the alert's targets."""
        counts = self.sim.recipients_per_number()
        numbers = self.db.recipients(alert_id)
        missing = sum(1 for n in numbers if counts[n] == 0)
        twice = [n for n in numbers if counts[n] > 1]
        if twice:  # shown when an assertion on duplicates fails
            print("\nre-sent:", *self.db.history(alert_id, twice[:3]), sep="\n  ")
        return missing, sum(max(0, counts[n] - 1) for n in numbers)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """2,000 subscribers, one API, two workers, the simulator; all stopped at the end."""
    workdir = tmp_path_factory.mktemp("faults")
    with seeded_database(2000) as seeded, cluster(workdir, seeded.url) as c:
        api = c.spawn("api", ["serve", "--host", "127.0.0.1", "--port", str(c.api_port)])
        with local_sim(c.api_url, reports={"delay_s": 0.2, "jitter_s": 0.1}) as sim:
            workers = [c.start_worker(sim, **WORKER) for _ in range(2)]
            c._await_http(api, f"{c.api_url}/readyz", 90)
            c.await_workers(workers, timeout=90)
            db = Db(seeded.url)
            try:
                yield Env(seeded, c, sim, db, workers)
            finally:
                db.close()


def _only_delivered(state: dict[str, int], targeted: int) -> None:
    assert state == {"delivered": targeted}, state


def test_kill_9_worker_mid_dispatch_loses_nobody(env: Env) -> None:
    """SIGKILL one of two workers mid-dispatch: its rows come back after the lease; every
    subscriber is delivered, and the only re-sends are rows the dead worker held."""
    env.ensure_workers(2)
    alert_id, targeted = env.start_alert()
    env.wait_progress(alert_id, targeted // 5)
    victim = env.workers[0]
    worker_id = victim.worker_id()
    assert worker_id is not None
    victim.popen.send_signal(signal.SIGKILL)
    victim.popen.wait(10)
    held = env.db.held_by(alert_id, worker_id)  # frozen until their lease runs out

    state = wait_settled(env.db, alert_id, timeout=90)

    _only_delivered(state, targeted)
    missing, extra = env.duplicates(alert_id)
    assert missing == 0
    assert held > 0, "the worker held nothing when killed: not a mid-dispatch kill"
    assert extra <= held, (extra, held)
    assert env.db.max_attempts(alert_id) >= 2  # the dead worker's rows were claimed again
    print(f"\nkill -9: targeted={targeted} held_by_killed={held} duplicates={extra}")


def test_mmsc_outage_opens_breaker_then_everything_delivered(env: Env) -> None:
    """The MMSC answers 503 to everything for 10 s mid-dispatch: the breakers open (requests
    during the outage fall far below the link rate), close after it, and all is delivered."""
    env.ensure_workers(2)
    alert_id, targeted = env.start_alert()
    env.wait_progress(alert_id, targeted // 5)
    outage_s = 10.0
    env.sim.outage_now(outage_s)
    before = env.sim.stats()
    time.sleep(outage_s)
    during = env.sim.stats()
    at_end = submitted_or_done(env.db, alert_id)

    state = wait_settled(env.db, alert_id, timeout=120)

    _only_delivered(state, targeted)
    missing, extra = env.duplicates(alert_id)
    assert missing == 0 and extra == 0
    refused = during.get("outage", 0)
    assert refused > 0
    # Without a breaker the workers would keep the link busy at ~RATE the whole outage.
    assert during["requests"] - before["requests"] < RATE * outage_s / 3, (refused, during)
    assert at_end < targeted  # work was left for after the outage
    print(f"\noutage: targeted={targeted} refused_during_outage={refused}")


def test_throttling_mmsc_slows_dispatch_drops_nothing(env: Env) -> None:
    """The MMSC takes only 12 SubmitReq/s (below our configured 30) and refuses the rest with
    MM7 4006: dispatch slows to what it accepts, every subscriber is delivered. (HTTP 503
    refusals take the same path: the outage test sends nothing else.)"""
    answer = "4006"
    env.ensure_workers(2)
    alert_id, targeted = env.start_alert(("2",), throttle_rps=12, throttle_response=answer)
    started = time.monotonic()

    state = wait_settled(env.db, alert_id, timeout=150)
    seconds = time.monotonic() - started

    _only_delivered(state, targeted)
    stats = env.sim.stats()
    assert stats.get("throttled", 0) > 0
    assert stats["peak_accepted_rps"] <= 12
    missing, extra = env.duplicates(alert_id)
    assert missing == 0 and extra == 0
    print(
        f"\nthrottle {answer}: targeted={targeted} refused={stats['throttled']} "
        f"seconds={seconds:.1f} accepted/s={targeted / seconds:.1f}"
    )


def _pg_accepts() -> bool:
    try:
        with psycopg.connect(PG_ADMIN, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def test_postgres_restart_mid_dispatch_workers_reconnect(env: Env) -> None:
    """`pg_ctlcluster 15 main restart` mid-dispatch: workers and the API survive, reconnect
    and finish; re-sends stay within what was in flight."""
    env.ensure_workers(2)
    alert_id, targeted = env.start_alert()
    env.wait_progress(alert_id, targeted // 5)
    cmd = ["pg_ctlcluster", "--mode", "fast", "15", "main", "restart"]
    subprocess.run(cmd, check=True, timeout=60, capture_output=True)
    wait_for("PostgreSQL to accept connections", _pg_accepts, 60, every=0.2)

    state = wait_settled(env.db, alert_id, timeout=120)

    _only_delivered(state, targeted)
    assert all(w.alive() for w in env.workers), [w.tail() for w in env.workers]
    missing, extra = env.duplicates(alert_id)
    assert missing == 0
    bound = len(env.workers) * 8 * BATCH  # every batch in flight at the restart
    assert extra <= bound, (extra, bound)
    print(f"\npg restart: targeted={targeted} duplicates={extra} (bound {bound})")


def test_cancel_mid_dispatch_nothing_submitted_after_ack(env: Env) -> None:
    """POST /api/v1/alerts/{id}/cancel mid-dispatch: after the 200, the MMSC receives no
    further SubmitReq for the alert; the rest of the deliveries are cancelled."""
    env.ensure_workers(2)
    alert_id, targeted = env.start_alert()
    env.wait_progress(alert_id, targeted // 5)
    headers = env.seeded.agency.headers
    t0 = time.monotonic()
    r = httpx.post(
        f"{env.cluster.api_url}/api/v1/alerts/{alert_id}/cancel", headers=headers, timeout=30
    )
    ack_s = time.monotonic() - t0
    at_ack = env.sim.stats()
    assert r.status_code == 200, r.text
    assert r.json()["in_flight"] == 0
    time.sleep(2 * LEASE_S)  # longer than a lease: even reclaimed rows would have gone by now
    later = env.sim.stats()

    assert later["requests"] == at_ack["requests"]
    assert later.get("recipients", 0) == at_ack.get("recipients", 0)
    state = env.db.by_state(alert_id)
    assert not {"queued", "claimed", "submitting"} & set(state), state
    reached = state.get("submitted", 0) + state.get("delivered", 0)
    _, extra = env.duplicates(alert_id)
    assert state.get("cancelled", 0) > 0
    assert (reached, extra) == (at_ack.get("recipients", 0), 0), (state, at_ack, extra)
    print(f"\ncancel: targeted={targeted} reached={reached} ack={ack_s * 1000:.0f} ms")
