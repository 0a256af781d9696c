"""Subscriber scale: CSV import of N rows and the targeting preview API over N subscribers.

Peers in the same run: for import, the raw phonenumbers validation cost per row (the floor of
any import that validates numbers); for preview, prepared shapely ``contains_xy`` over all the
subscribers' points (the obvious way). Prints times and ratios; asserts equal counts only.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import phonenumbers  # noqa: E402
import shapely  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from shapely.geometry import mapping, shape  # noqa: E402

from alerts import migrate  # noqa: E402
from alerts.app import create_app  # noqa: E402
from alerts.db import make_engine  # noqa: E402
from alerts.settings import Settings  # noqa: E402
from alerts.subscribers import importer  # noqa: E402
from alerts.subscribers.synth import synth_numbers  # noqa: E402


def _csv(path: Path, n: int) -> None:
    rng = np.random.default_rng(7)
    numbers = synth_numbers(n, seed=7, area_codes=(212, 646, 718, 917, 347, 929))
    lon = rng.uniform(-74.25, -73.70, n)
    lat = rng.uniform(40.50, 40.91, n)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["phone", "language", "lon", "lat"])
        for i in range(n):
            w.writerow([numbers[i], "en" if i % 4 else "es", f"{lon[i]:.6f}", f"{lat[i]:.6f}"])


def _zone1() -> object:
    data = json.loads((REPO / "data/zones/nyc_hurricane_evacuation_zones.geojson").read_text())
    return shapely.make_valid(
        shapely.union_all(
            [shape(f["geometry"]) for f in data["features"] if str(f["properties"]["zone"]) == "1"]
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--requests", type=int, default=20)
    ns = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "subs.csv"
        _csv(path, ns.n)
        settings = Settings(
            env="test",
            database_url=f"sqlite:///{tmp}/bench.db",
            in_process_worker=False,
            embedded_mmsc=False,
        )
        engine = make_engine(settings)
        migrate.upgrade(engine)
        t = time.perf_counter()
        report = importer.import_file(engine, path)
        import_s = time.perf_counter() - t
        assert report.ok, report.errors[:3]
        sample = [r[0] for r in importer.csv.reader(path.open())][1:20_001]
        t = time.perf_counter()
        for number in sample:
            phonenumbers.is_valid_number(phonenumbers.parse(number, "US"))
        floor = (time.perf_counter() - t) / len(sample) * ns.n
        print(
            f"import {ns.n:,} rows (SQLite): {import_s:.1f} s  ({ns.n / import_s:,.0f} rows/s); "
            f"phone validation alone, single core: {floor:.1f} s; ratio {import_s / floor:.2f}x"
        )
        zone = _zone1()
        body = {"geometry": mapping(zone)}
        with TestClient(create_app(settings)) as client:
            t = time.perf_counter()
            first = client.post("/api/v1/targeting/preview", json=body).json()
            cold = time.perf_counter() - t
            times = []
            for _ in range(ns.requests):
                t = time.perf_counter()
                r = client.post("/api/v1/targeting/preview", json=body)
                times.append(time.perf_counter() - t)
                assert r.json()["count"] == first["count"]
        with engine.connect() as conn:
            pts = np.array(
                conn.exec_driver_sql("SELECT lon, lat FROM subscriber_location").fetchall()
            )
        engine.dispose()
        shapely.prepare(zone)
        t = time.perf_counter()
        brute = int(shapely.contains_xy(zone, pts[:, 0], pts[:, 1]).sum())
        peer = time.perf_counter() - t
        warm = statistics.median(times)
        print(
            f"preview over {ns.n:,} subscribers, NYC zone 1: {first['count']:,} inside "
            f"(brute force {brute:,}); first {cold * 1000:.0f} ms (index build), warm median "
            f"{warm * 1000:.1f} ms; prepared contains_xy alone {peer * 1000:.0f} ms; ratio {peer / warm:.1f}x"
        )


if __name__ == "__main__":
    main()
