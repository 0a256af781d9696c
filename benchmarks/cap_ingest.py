"""CAP ingest throughput: parse + validate vs capparselib and bare lxml + XSD, same run.

Corpus: the valid samples in ../shared/data/cap/samples (those ``alerts.cap.parse`` accepts).
Each contender runs on one core in this process; per document the fastest of repeated calls
is kept and the minima are summed (robust against other processes sharing the machine):

* ``capparselib``       the reference parser (``pip install --no-deps capparselib``), timed on
                        the samples it can handle (it raises on two IPAWS samples whose
                        resources carry derefUri without uri); our parser is timed on that
                        same subset too, for a like-for-like ratio;
* ``lxml + XSD``        bare lxml parse + OASIS XSD validation, no rules, no model;
* ``alertcast (rules)`` hardened parse + XSD + upgrade + all CAP rules + model, no signature;
* ``alertcast (full)``  the same plus XML-Signature verification (the default ``parse()``);
* ``alertcast (rules), Python path``  the rules row with the compiled fast path
                        (``alerts/cap/_fast.pyx``) switched off: what an install without a C
                        compiler runs.

Goal (issue 3): full validation >= 3,000 alerts/s, >= 7x capparselib, >= half of lxml + XSD.

    .venv/bin/python benchmarks/cap_ingest.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from lxml import etree  # noqa: E402

from alerts.cap import parse  # noqa: E402
from alerts.cap.schema import NAMESPACES, _validator  # noqa: E402

SAMPLES = REPO / ".." / "shared" / "data" / "cap" / "samples"
GOAL_ALERTS_PER_S = 3000


def load_corpus(folder: Path) -> list[bytes]:
    """The samples our parser accepts (the issue's "28 valid samples")."""
    docs = [p.read_bytes() for p in sorted(folder.glob("*.xml"))]
    return [d for d in docs if parse(d).ok]


def throughput(
    fn: Callable[[bytes], object], corpus: list[bytes], seconds: float, rounds: int
) -> float:
    """Alerts/s of ``fn`` over the corpus: per document, the fastest of repeated timed calls.

    Summing per-document minima (rather than one wall-clock loop) keeps the figure stable on a
    shared machine where other processes steal the core; every contender is measured the same
    way. ``seconds`` bounds the time spent per contender, ``rounds`` is the minimum repeats.
    """
    repeats = max(rounds, int(seconds * 1e6 / max(1.0, _estimate(fn, corpus))))
    total = 0.0
    for doc in corpus:
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            fn(doc)
            best = min(best, time.perf_counter() - start)
        total += best
    return len(corpus) / total


def _estimate(fn: Callable[[bytes], object], corpus: list[bytes]) -> float:
    """Microseconds for one pass over the corpus (warms caches and compiled schemas)."""
    start = time.perf_counter()
    for doc in corpus:
        fn(doc)
    return (time.perf_counter() - start) * 1e6


def bare_lxml_xsd() -> Callable[[bytes], object]:
    """lxml parse (entities off, no network) + the version's OASIS XSD."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    schemas = {ns: _validator(version) for ns, version in NAMESPACES.items()}

    def run(doc: bytes) -> object:
        root = etree.fromstring(doc, parser)
        schema = schemas.get(etree.QName(root).namespace or "")
        return schema.validate(root) if schema is not None else False

    return run


def capparselib_parser() -> tuple[Callable[[bytes], object] | None, str]:
    """capparselib's CAPParser, or why it cannot run."""
    try:
        from capparselib.parsers import CAPParser
    except ImportError as exc:
        return None, f"capparselib not importable ({exc}); pip install --no-deps capparselib"

    def run(doc: bytes) -> object:
        return CAPParser(doc.decode("utf-8", errors="replace")).as_dict()

    return run, ""


def capparselib_coverage(run: Callable[[bytes], object], corpus: list[bytes]) -> list[bytes]:
    """The documents capparselib handles without raising (it is timed on those only)."""
    ok = []
    for doc in corpus:
        try:
            run(doc)
        except Exception:  # a peer's failure is data, not a crash
            continue
        ok.append(doc)
    return ok


def parse_ingest_benchmark(seconds: float, rounds: int) -> dict[str, float]:
    """The parse half: print and return alerts/s per contender."""
    corpus = load_corpus(SAMPLES)
    print(f"corpus: {len(corpus)} valid CAP samples, {sum(map(len, corpus)) / 1024:.0f} KiB")
    rows: dict[str, float] = {}
    peer, why = capparselib_parser()
    if peer is None:
        print(why)
    else:
        covered = capparselib_coverage(peer, corpus)
        print(f"capparselib handles {len(covered)}/{len(corpus)} samples; timed on those")
        rows["capparselib"] = throughput(peer, covered, seconds, rounds)
        rows["alertcast (rules), same docs"] = throughput(
            lambda d: parse(d, check_signature=False), covered, seconds, rounds
        )
    rows["lxml + XSD"] = throughput(bare_lxml_xsd(), corpus, seconds, rounds)
    rows["alertcast (rules)"] = throughput(
        lambda d: parse(d, check_signature=False), corpus, seconds, rounds
    )
    rows["alertcast (full)"] = throughput(parse, corpus, seconds, rounds)
    with _python_path_only() as compiled:
        if compiled:
            rows["alertcast (rules), Python path"] = throughput(
                lambda d: parse(d, check_signature=False), corpus, seconds, rounds
            )
    _print_table(rows)
    return rows


@contextmanager
def _python_path_only() -> Iterator[bool]:
    """Switch the compiled fast path off (yields whether it was on), for the comparison row."""
    parse_module = sys.modules["alerts.cap.parse"]
    upgrade_module = sys.modules["alerts.cap.upgrade"]
    saved = parse_module.fast_alert, upgrade_module.adopt_namespace
    parse_module.fast_alert = upgrade_module.adopt_namespace = None
    try:
        yield saved[0] is not None
    finally:
        parse_module.fast_alert, upgrade_module.adopt_namespace = saved


def _print_table(rows: dict[str, float]) -> None:
    """Alerts/s and ratios against each peer."""
    print(f"{'contender':30} {'alerts/s':>10} {'vs capparselib':>15} {'vs lxml+XSD':>12}")
    for name, rate in rows.items():
        peer = rows.get("capparselib")
        vs_peer = f"{rate / peer:.1f}x" if peer else "n/a"
        print(f"{name:30} {rate:10,.0f} {vs_peer:>15} {rate / rows['lxml + XSD']:11.2f}x")
    rules = rows["alertcast (rules)"]
    verdict = "meets" if rules >= GOAL_ALERTS_PER_S else "misses"
    print(f"parse + XSD + rules (no signature) {verdict} the {GOAL_ALERTS_PER_S:,} alerts/s goal")


# ---------------------------------------------------------------------------------------------
# API half: POST /api/v1/alerts throughput through a real uvicorn server on loopback, on SQLite
# and on a fresh PostgreSQL database, with the parse-only rate of the same documents as the peer.
# ---------------------------------------------------------------------------------------------


# wrk (C, one thread) drives the load so the client costs little CPU next to the server; its Lua
# script (cap_ingest_post.lua) splices RUN-thread-counter into a body template, so every request
# carries a new identifier. Each (database, workers) cell gets a fresh database migrated to head,
# a warm-up, then a timed run; afterwards the rows are counted (nothing lost, no duplicates, one
# audit event per alert) and CPU seconds from /proc are divided by the requests answered: the
# server (all its processes) and, on PostgreSQL, the backends serving the bench database (a
# backend that exits mid-run takes its CPU with it). The API runs with
# ALERTCAST_IN_PROCESS_WORKER=false and no subscribers, so the figure is ingest alone.
# ``--api-profile N`` adds a cProfile (CPU time) of N calls of the handler's blocking part.
#
#     .venv/bin/python benchmarks/cap_ingest.py --api-only [--api-seconds 10] [--api-repeat 3]

WRK_SCRIPT = Path(__file__).resolve().parent / "cap_ingest_post.lua"
GOAL_API_ALERTS_PER_S = 300
MANHATTAN = "40.70,-74.02 40.75,-74.02 40.75,-73.96 40.70,-73.96 40.70,-74.02"


@dataclass(slots=True)
class ApiRun:
    """One timed wrk run against one server shape, with its database check."""

    database: str
    workers: int
    rate: float
    p50_ms: float
    p99_ms: float
    server_cpu_ms: float
    db_cpu_ms: float
    client_cpu_ms: float
    sent: int
    created: int
    rows: int
    problems: list[str]


def _template() -> bytes:
    """The CAP body every request posts, with ``@@ID@@`` where the identifier goes."""
    from tests.capdocs import evacuation

    return evacuation(identifier="@@ID@@", zones=(), polygon=MANHATTAN)


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _fresh_database(kind: str) -> Iterator[str]:
    """A new, migrated database URL (SQLite file or PostgreSQL database), dropped afterwards."""
    from alerts import migrate
    from alerts.db import make_engine
    from alerts.settings import Settings
    from tests.dbfixtures import create_pg_database, drop_pg_database, pg_url

    with tempfile.TemporaryDirectory() as tmp:
        name = create_pg_database("alertcast_bench") if kind == "postgresql" else ""
        url = pg_url(name) if name else f"sqlite:///{tmp}/bench.db"
        try:
            engine = make_engine(Settings(env="test", database_url=url))
            migrate.upgrade(engine)
            engine.dispose()
            yield url
        finally:
            if name:
                drop_pg_database(name)


def _tree_cpu_s(root: int) -> float:
    """User + system CPU seconds of a process and all its descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(entry.name)] = int(fields[1])
        cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    tree, frontier = {root}, [root]
    while frontier:
        pid = frontier.pop()
        kids = [p for p, pp in parent.items() if pp == pid and p not in tree]
        tree.update(kids)
        frontier.extend(kids)
    return sum(cpu.get(p, 0.0) for p in tree)


def _db_backends_cpu_s(url: str) -> float:
    """CPU seconds of the PostgreSQL backends serving this database (0 for SQLite)."""
    name = url.rsplit("/", 1)[-1].encode()
    if url.startswith("sqlite"):
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        try:
            if not entry.name.isdigit() or name not in (entry / "cmdline").read_bytes():
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _start_server(url: str, port: int, workers: int, log: IO[bytes]) -> subprocess.Popen[bytes]:
    """``alertcast serve --workers N`` on loopback, the production API shape, once /healthz answers."""
    import httpx

    env = {
        **os.environ,
        "ALERTCAST_ENV": "test",
        "ALERTCAST_DATABASE_URL": url,
        "ALERTCAST_IN_PROCESS_WORKER": "false",
        "ALERTCAST_EMBEDDED_MMSC": "false",
        "ALERTCAST_LOG_LEVEL": "WARNING",
        "ALERTCAST_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    cmd = [sys.executable, "-m", "alerts.cli", "serve", "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--workers", str(workers)], env=env, cwd=REPO, stdout=log, stderr=log
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server on port {port} did not start (exit {proc.poll()})")


def _wait_idle(pid: int, limit_s: float = 30.0) -> None:
    """Wait until the server's start-up work (zone sets, warm-up thread) stops using CPU."""
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = _tree_cpu_s(pid)
        time.sleep(0.5)
        if _tree_cpu_s(pid) - before < 0.02:
            return


def _stop_server(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wrk(
    port: int, key: str, run: str, seconds: float, connections: int, template: Path
) -> tuple[dict[str, float], float]:
    """One wrk run: its JSON summary and the CPU seconds wrk itself spent."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "30s"]
    cmd += ["-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}", "--", run, str(template)]
    done = subprocess.run(
        cmd, env={**os.environ, "BENCH_API_KEY": key}, capture_output=True, text=True, check=True
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return summary, cpu


def _check_rows(url: str, run: str, sent: int, created: int) -> tuple[int, list[str]]:
    """Stored rows of this run, and what is wrong with them (lost, duplicated, unaudited)."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    like = f"{run}-%"
    with engine.connect() as conn:
        rows, distinct = conn.execute(
            sa.text(
                "SELECT count(*), count(DISTINCT identifier) FROM alert WHERE identifier LIKE :p"
            ),
            {"p": like},
        ).one()
        alerts = conn.execute(sa.text("SELECT count(*) FROM alert")).scalar_one()
        audited = conn.execute(
            sa.text("SELECT count(*) FROM audit_event WHERE action = 'alert.alert'")
        ).scalar_one()
    engine.dispose()
    problems = []
    if not created <= rows <= sent:  # requests in flight when wrk stopped may still be stored
        problems.append(f"{rows} rows for {created} answered 201 and {sent} sent")
    if distinct != rows:
        problems.append(f"{rows - distinct} duplicate identifiers")
    if audited != alerts:
        problems.append(f"{alerts} alerts but {audited} audit events")
    return int(rows), problems


def api_run(kind: str, workers: int, seconds: float, connections: int) -> ApiRun:
    """Fresh database, ``alertcast serve --workers N``, warm-up, one timed wrk run, row check."""
    from alerts.settings import Settings
    from tests.alerts.conftest import make_agency

    with _fresh_database(kind) as url, tempfile.TemporaryDirectory() as tmp:
        key = make_agency(Settings(env="test", database_url=url), "bench", ["nycem@nyc.gov"]).key
        template = Path(tmp) / "alert.xml"
        template.write_bytes(_template())
        port = _free_port()
        with (Path(tmp) / "server.log").open("wb") as log:
            proc = _start_server(url, port, workers, log)
            try:
                _wait_idle(proc.pid)
                _wrk(port, key, "WARM", 3, connections, template)
                cpu_before = _tree_cpu_s(proc.pid)
                db_before = _db_backends_cpu_s(url)
                summary, client_cpu = _wrk(port, key, "RUN", seconds, connections, template)
                server_cpu = _tree_cpu_s(proc.pid) - cpu_before
                db_cpu = _db_backends_cpu_s(url) - db_before
            finally:
                _stop_server(proc)
        rows, problems = _check_rows(url, "RUN", int(summary["sent"]), int(summary["created"]))
    if summary["other"] or summary["timeouts"]:
        problems.append(
            f"{summary['other']:.0f} non-201 answers, {summary['timeouts']:.0f} timeouts"
        )
    done = max(1, int(summary["completed"]))
    return ApiRun(
        database=kind,
        workers=workers,
        rate=summary["created"] / summary["seconds"],
        p50_ms=summary["p50_ms"],
        p99_ms=summary["p99_ms"],
        server_cpu_ms=server_cpu * 1e3 / done,
        db_cpu_ms=db_cpu * 1e3 / done,
        client_cpu_ms=client_cpu * 1e3 / done,
        sent=int(summary["sent"]),
        created=int(summary["created"]),
        rows=rows,
        problems=problems,
    )


def api_ingest_benchmark(
    kinds: list[str], workers: list[int], seconds: float, connections: int, repeat: int
) -> list[ApiRun]:
    """POST /api/v1/alerts alerts/s per database and worker count, beside the parse-only rate."""
    template = _template()
    docs = [template.replace(b"@@ID@@", f"PARSE-{i}".encode()) for i in range(50)]
    parse_only = throughput(parse, docs, 2.0, 3)
    print(f"\nparse + validate only (same document, one core): {parse_only:,.0f} alerts/s")
    print(
        f"API ingest: wrk -t1 -c{connections}, {seconds:g} s per run, fresh database per run,"
        f" {os.cpu_count()} CPUs (shared)"
    )
    print(
        f"{'database':11} {'workers':>7} {'alerts/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
        f" {'server CPU ms/alert':>19} {'PG backends':>11} {'wrk':>5} {'201s':>6} {'rows':>6}  check"
    )
    runs = []
    for kind in kinds:
        for n in workers:
            for _ in range(repeat):
                r = api_run(kind, n, seconds, connections)
                runs.append(r)
                print(
                    f"{r.database:11} {r.workers:7} {r.rate:9,.0f} {r.p50_ms:7.1f} {r.p99_ms:7.1f}"
                    f" {r.server_cpu_ms:19.2f} {r.db_cpu_ms:11.2f} {r.client_cpu_ms:5.2f} {r.created:6} {r.rows:6}"
                    f"  {'; '.join(r.problems) or 'ok'}",
                    flush=True,
                )
    _print_api_summary(runs, parse_only)
    return runs


def _print_api_summary(runs: list[ApiRun], parse_only: float) -> None:
    """Best and median alerts/s per cell, against the parse-only peer and the goal."""
    print(f"\n{'database':11} {'workers':>7} {'best/s':>8} {'median/s':>9} {'vs parse-only':>13}")
    cells = sorted({(r.database, r.workers) for r in runs})
    for kind, n in cells:
        rates = [r.rate for r in runs if (r.database, r.workers) == (kind, n)]
        best, median = max(rates), statistics.median(rates)
        verdict = "meets" if best >= GOAL_API_ALERTS_PER_S else "misses"
        print(
            f"{kind:11} {n:7} {best:8,.0f} {median:9,.0f} {best / parse_only:12.2f}x"
            f"  {verdict} {GOAL_API_ALERTS_PER_S}/s"
        )
    if any(r.problems for r in runs):
        print("SOME RUNS LOST, DUPLICATED OR REFUSED ALERTS (see the check column)")


def ingest_profile(kind: str, n: int, top: int = 25) -> float:
    """CPU ms per alert of the handler's blocking part (``service.ingest`` + commit), profiled.

    The same call the API makes in its one thread-pool hop, on a fresh database; prints the
    functions with the most CPU time (cProfile on ``time.process_time``) and returns ms/alert.
    """
    import cProfile
    import pstats

    from alerts.access import service as access
    from alerts.app import create_app
    from alerts.db import make_engine, session_scope
    from alerts.intake import service
    from alerts.settings import Settings
    from tests.alerts.conftest import make_agency

    template = _template()
    with _fresh_database(kind) as url:
        settings = Settings(env="test", database_url=url, in_process_worker=False)
        key = make_agency(settings, "bench", ["nycem@nyc.gov"]).key
        engine = make_engine(settings)
        agency = access.authenticate_on(engine, key).agency
        resolver = create_app(settings).state.area_resolver

        def post(i: int, run: str) -> None:
            doc = template.replace(b"@@ID@@", f"{run}-{i}".encode())
            with session_scope(engine) as session:
                out = service.ingest(
                    session=session,
                    data=doc,
                    agency=agency,
                    max_bytes=1 << 20,
                    actor="bench",
                    area_resolver=resolver,
                )
            assert out.created

        for i in range(50):
            post(i, "WARM")
        profiler = cProfile.Profile(time.process_time)
        started = time.process_time()
        profiler.enable()
        for i in range(n):
            post(i, "PROF")
        profiler.disable()
        per_alert = (time.process_time() - started) * 1e3 / n
        engine.dispose()
    print(f"\n{kind}: service.ingest + commit, {n} alerts, {per_alert:.2f} CPU ms/alert (profiled)")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
    return per_alert


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=3.0, help="time budget per contender")
    args.add_argument("--rounds", type=int, default=5, help="minimum repeats per document")
    args.add_argument("--no-api", action="store_true", help="skip the API half")
    args.add_argument("--api-only", action="store_true", help="skip the parse half")
    args.add_argument("--api-seconds", type=float, default=10.0, help="timed wrk run length")
    args.add_argument("--api-connections", type=int, default=16, help="wrk connections")
    args.add_argument("--api-workers", default="1,2", help="uvicorn worker counts to try")
    args.add_argument("--api-db", default="sqlite,postgresql", help="databases to try")
    args.add_argument("--api-repeat", type=int, default=1, help="timed runs per cell")
    args.add_argument("--api-profile", type=int, default=0, help="also profile N ingests per db")
    ns = args.parse_args()
    if not ns.api_only:
        parse_ingest_benchmark(ns.seconds, ns.rounds)
    if not ns.no_api:
        api_ingest_benchmark(
            ns.api_db.split(","),
            [int(w) for w in ns.api_workers.split(",")],
            ns.api_seconds,
            ns.api_connections,
            ns.api_repeat,
        )
    for kind in ns.api_db.split(",") if ns.api_profile else []:
        ingest_profile(kind, ns.api_profile)


if __name__ == "__main__":
    main()
