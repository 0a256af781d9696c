"""Scale-out proof (issue 9), with real processes: one API, 1, 2 and 4 `alertcast worker`
processes over one PostgreSQL database, and `alertcast mmsc-sim` answering every SubmitReq
after ~100 ms (an I/O-bound link, like a real MMSC).

Correctness only (timings are the benchmark's business, benchmarks/scaleout.py): every
delivery done, no duplicate at the MMSC, and the link's global rate limit never exceeded in
any second as counted by the simulator. Then a rolling restart: every worker SIGTERMed
mid-dispatch exits cleanly within its grace period holding nothing, replacements finish the
job, nobody is lost and nobody gets the alert twice.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.capdocs import evacuation
from tests.e2e.procs import (
    Cluster,
    Db,
    Proc,
    Seeded,
    Sim,
    cluster,
    post_alert,
    seeded_database,
    submitted_or_done,
    wait_for,
    wait_planned,
    wait_settled,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

LIMIT = 60  # SubmitReq/s the MMSC allows on this link, for all workers together
GRACE_S = 30  # Kubernetes' default terminationGracePeriodSeconds
WORKER = {
    "mmsc_rate_limit": LIMIT,
    "mmsc_max_recipients": 1,
    "worker_concurrency": 1,  # one batch at a time: a worker's throughput is latency-bound
    "worker_lease_s": 10,
}


@dataclass
class Env:
    """The module's processes and handles."""

    seeded: Seeded
    cluster: Cluster
    sim: Sim
    db: Db
    workers: list[Proc]
    spares: list[Proc]

    def run_alert(self, zones: tuple[str, ...]) -> tuple[int, int]:
        """Reset the simulator and send an alert; returns (alert id, targeted)."""
        httpx.post(f"{self.sim.url}/api/reset", timeout=10).raise_for_status()
        alert_id = post_alert(self.cluster.api_url, self.seeded.agency, evacuation(zones=zones))
        return alert_id, wait_planned(self.db, alert_id)

    def check_exactly_once(self, alert_id: int, targeted: int) -> dict[str, int]:
        """Everyone delivered, once; the rate limit held in every second."""
        state = wait_settled(self.db, alert_id, timeout=120)
        assert state == {"delivered": targeted}, state
        counts = self.sim.recipients_per_number()
        numbers = self.db.recipients(alert_id)
        assert sorted(counts) == sorted(numbers)  # nobody missing, nobody unexpected
        assert max(counts.values()) == 1, counts.most_common(3)  # no re-send without a crash
        stats = self.sim.stats()
        per_second = [s["requests"] for s in stats["per_second"]]
        assert stats["peak_rps"] <= LIMIT, per_second
        return {"peak_rps": int(stats["peak_rps"]), "requests": int(stats["requests"])}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    """2,000 subscribers, one API, four workers (three paused) and two paused spares for the
    rolling restart (started now so their start-up overlaps), the simulator with latency."""
    workdir = tmp_path_factory.mktemp("scaleout")
    with seeded_database(2000, seed=11) as seeded, cluster(workdir, seeded.url) as c:
        api = c.spawn("api", ["serve", "--host", "127.0.0.1", "--port", str(c.api_port)])
        sim = c.start_sim("--latency-ms", "100", "--dr-delay", "0.2", "--max-recipients", "1")
        workers = [c.start_worker(sim, **WORKER) for _ in range(6)]
        c._await_http(api, f"{c.api_url}/readyz", 90)
        c.await_workers(workers, timeout=150)
        for w in workers[1:]:  # idle now: paused workers hold no rows and no locks
            w.popen.send_signal(signal.SIGSTOP)
        db = Db(seeded.url)
        try:
            yield Env(seeded, c, sim, db, workers[:4], workers[4:])
        finally:
            db.close()


def test_one_two_four_workers_deliver_exactly_once_within_the_rate_limit(env: Env) -> None:
    """Adding workers keeps every guarantee: all delivered, no duplicate, limit held."""
    figures: list[tuple[int, int, dict[str, int]]] = []
    for n_workers, zones in ((1, ("1",)), (2, ("3",)), (4, ("4",))):
        for w in env.workers[:n_workers]:
            w.popen.send_signal(signal.SIGCONT)
        alert_id, targeted = env.run_alert(zones)
        assert targeted >= 150, targeted
        figures.append((n_workers, targeted, env.check_exactly_once(alert_id, targeted)))
    for w in env.workers:
        assert w.alive(), w.tail()
    print(f"\nworkers targeted peak_rps (limit {LIMIT})")
    for n, targeted, f in figures:
        print(f"{n:7d} {targeted:8d} {f['peak_rps']:8d}")


def test_rolling_restart_releases_or_finishes_and_loses_nobody(env: Env) -> None:
    """SIGTERM every worker mid-dispatch (two, then the other two) while replacements start:
    each exits 0 within the grace period holding no rows; the replacements finish."""
    for w in env.workers:
        w.popen.send_signal(signal.SIGCONT)
    alert_id, targeted = env.run_alert(("5", "6"))  # ~850: long enough for two rounds
    assert targeted >= 600, targeted
    wait_for(
        "dispatch to be under way",
        lambda: submitted_or_done(env.db, alert_id) >= targeted // 8,
        60,
        every=0.05,
    )
    old = list(env.workers)
    ids = [w.worker_id() for w in old]
    new = env.spares  # the new pods: up (surge) while the old ones are terminated
    for w in new:
        w.popen.send_signal(signal.SIGCONT)
    for pair in (old[:2], old[2:]):
        assert submitted_or_done(env.db, alert_id) < targeted, "dispatch ended too early"
        t0 = time.monotonic()
        for w in pair:
            w.popen.send_signal(signal.SIGTERM)
        for w in pair:
            code = w.popen.wait(GRACE_S)
            assert code == 0, w.tail()
        print(f"\nSIGTERM -> exit: {time.monotonic() - t0:.2f} s")
    for wid in ids:
        assert wid is not None
        assert env.db.held_by(alert_id, wid) == 0  # finished or released, nothing left leased
    assert all(w.alive() for w in new)
    env.workers = new

    env.check_exactly_once(alert_id, targeted)
