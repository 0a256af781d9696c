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
* ``alertcast (full)``  the same plus XML-Signature verification (the default ``parse()``).

Goal (issue 3): full validation >= 3,000 alerts/s, >= 7x capparselib, >= half of lxml + XSD.

    .venv/bin/python benchmarks/cap_ingest.py [--seconds 3] [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

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
    _print_table(rows)
    return rows


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


def _unique_alerts(n: int) -> list[bytes]:
    """N distinct, valid CAP 1.2 alerts (a polygon in Manhattan, English and Spanish)."""
    from tests.capdocs import evacuation

    polygon = "40.70,-74.02 40.75,-74.02 40.75,-73.96 40.70,-73.96 40.70,-74.02"
    return [evacuation(identifier=f"BENCH-{i}", zones=(), polygon=polygon) for i in range(n)]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve(database_url: str, port: int) -> tuple[object, object]:
    import threading

    import uvicorn

    from alerts.app import create_app
    from alerts.settings import Settings

    settings = Settings(
        env="test",
        database_url=database_url,
        in_process_worker=False,
        embedded_mmsc=False,
        public_base_url=f"http://127.0.0.1:{port}",
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="error", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(3000):
        if server.started:
            break
        time.sleep(0.01)
    return server, thread


async def _post_all(base: str, key: str, docs: list[bytes], concurrency: int) -> float:
    import asyncio

    import httpx

    sem = asyncio.Semaphore(concurrency)
    headers = {"Content-Type": "application/cap+xml", "Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:

        async def one(doc: bytes) -> None:
            async with sem:
                r = await client.post("/api/v1/alerts", content=doc, headers=headers)
                assert r.status_code == 201, r.text

        started = time.perf_counter()
        await asyncio.gather(*(one(d) for d in docs))
        return time.perf_counter() - started


def _api_rate(database_url: str, n: int, concurrency: int) -> float:
    import asyncio

    from alerts import migrate
    from alerts.db import make_engine
    from alerts.settings import Settings
    from tests.alerts.conftest import make_agency

    settings = Settings(env="test", database_url=database_url)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    engine.dispose()
    key = make_agency(settings, "bench", ["nycem@nyc.gov"]).key
    port = _free_port()
    server, thread = _serve(database_url, port)
    try:
        docs = _unique_alerts(n)
        asyncio.run(
            _post_all(f"http://127.0.0.1:{port}", key, docs[: min(50, n)], concurrency)
        )  # warm
        seconds = asyncio.run(
            _post_all(f"http://127.0.0.1:{port}", key, docs[min(50, n) :], concurrency)
        )
        return (n - min(50, n)) / seconds
    finally:
        server.should_exit = True  # type: ignore[attr-defined]
        thread.join(timeout=30)  # type: ignore[attr-defined]


def api_ingest_benchmark(n: int, concurrency: int) -> dict[str, float]:
    """POST /api/v1/alerts alerts/s on SQLite and PostgreSQL, beside the parse-only rate."""
    import tempfile

    from tests.dbfixtures import create_pg_database, drop_pg_database, pg_url

    docs = _unique_alerts(200)
    parse_only = throughput(parse, docs, 2.0, 3)
    rows = {"parse+validate only": parse_only}
    with tempfile.TemporaryDirectory() as tmp:
        rows["API ingest, SQLite"] = _api_rate(f"sqlite:///{tmp}/bench.db", n, concurrency)
    name = create_pg_database("alertcast_bench")
    try:
        rows["API ingest, PostgreSQL"] = _api_rate(pg_url(name), n, concurrency)
    finally:
        drop_pg_database(name)
    print(
        f"\nAPI ingest ({n} distinct alerts, {concurrency} concurrent clients, one uvicorn process)"
    )
    for label, rate in rows.items():
        print(f"{label:30} {rate:10,.0f} alerts/s {rate / parse_only:8.2f}x of parse-only")
    return rows


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--seconds", type=float, default=3.0, help="time budget per contender")
    args.add_argument("--rounds", type=int, default=5, help="minimum repeats per document")
    args.add_argument("--api-alerts", type=int, default=2000, help="alerts posted per database")
    args.add_argument("--concurrency", type=int, default=16, help="concurrent API clients")
    args.add_argument("--no-api", action="store_true", help="skip the API half")
    ns = args.parse_args()
    parse_ingest_benchmark(ns.seconds, ns.rounds)
    if not ns.no_api:
        api_ingest_benchmark(ns.api_alerts, ns.concurrency)


if __name__ == "__main__":
    main()
