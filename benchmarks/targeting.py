"""Targeting benchmark: SubscriberIndex.select against its peers, in one run, on the same points.

Points are uniform in the bounding box of the NYC hurricane evacuation zones. Queries: zone 1
(17,229 vertices) and a 50 km geodesic circle whose edge runs through the city. Peers:
  - shapely.contains_xy over all points (prepared geometry)
  - geopandas.sjoin (covers; the points' STRtree build is timed separately)
  - PostGIS ST_Covers against ST_Subdivide(geometry, 256) pieces (GiST on points and pieces)
Every peer must return the same id set as the index (asserted); times are only printed.

    .venv/bin/python benchmarks/targeting.py --n 1000000
    .venv/bin/python benchmarks/targeting.py                 # 10M, needs ~6 GB RAM with sjoin
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np
import shapely

from geo.areas import circle_from_cap
from geo.index import SubscriberIndex
from geo.zones import ZoneRegistry

PG = "host=127.0.0.1 port=5432 user=postgres"
CIRCLE = "40.70,-73.40 50"  # centred on Long Island, so its edge cuts through the city


def timed(fn: Callable[[], object], repeat: int = 1) -> tuple[float, object]:
    """Median wall time in seconds over ``repeat`` runs, and the last result."""
    times, result = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), result


def as_set(ids: object) -> np.ndarray:
    return np.unique(np.asarray(ids, dtype=np.int64))


def check(name: str, ours: np.ndarray, theirs: object) -> None:
    got = as_set(theirs)
    if not np.array_equal(ours, got):
        diff = np.setxor1d(ours, got)
        raise AssertionError(f"{name}: id sets differ in {len(diff)} ids, e.g. {diff[:5]}")


def bench_shapely(queries, lon, lat, ours, rows) -> None:
    for (qname, geom), expected in zip(queries, ours, strict=True):
        shapely.prepare(geom)
        t, mask = timed(lambda g=geom: shapely.contains_xy(g, lon, lat))
        check(f"contains_xy {qname}", expected, np.flatnonzero(mask))
        rows.setdefault("shapely.contains_xy (prepared)", {})[qname] = t


def bench_sjoin(queries, lon, lat, ours, rows, notes) -> None:
    import geopandas as gpd

    t_make, pts = timed(lambda: gpd.GeoDataFrame(geometry=gpd.points_from_xy(lon, lat)))
    t_index, _ = timed(lambda: pts.sindex)
    notes.append(f"geopandas: points GeoDataFrame {t_make:.1f} s, STRtree {t_index:.1f} s")
    for (qname, geom), expected in zip(queries, ours, strict=True):
        area = gpd.GeoDataFrame(geometry=[geom])
        t, joined = timed(lambda a=area: gpd.sjoin(a, pts, predicate="covers"))
        check(f"sjoin {qname}", expected, joined["index_right"].to_numpy())
        rows.setdefault("geopandas.sjoin (covers)", {})[qname] = t


def copy_binary(ids: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> bytes:
    """PostgreSQL binary COPY payload for rows (bigint, float8, float8): exact doubles."""
    fields = [("n", ">i2"), ("l1", ">i4"), ("id", ">i8"), ("l2", ">i4"), ("x", ">f8")]
    rows = np.empty(len(ids), dtype=np.dtype([*fields, ("l3", ">i4"), ("y", ">f8")]))
    rows["n"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 8
    rows["id"], rows["x"], rows["y"] = ids, lon, lat
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"


@contextmanager
def fresh_postgis() -> Iterator[object]:
    import psycopg

    name = f"alertcast_bench_{secrets.token_hex(4)}"
    with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"{PG} dbname={name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            yield conn
    finally:
        with psycopg.connect(f"{PG} dbname=test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_points(conn, ids, lon, lat) -> float:
    t = time.perf_counter()
    conn.execute("CREATE UNLOGGED TABLE raw (id bigint, x float8, y float8)")
    with conn.cursor().copy("COPY raw FROM STDIN WITH (FORMAT binary)") as copy:
        payload = copy_binary(ids, lon, lat)
        for start in range(0, len(payload), 1 << 24):
            copy.write(payload[start : start + (1 << 24)])
    del payload
    conn.execute(
        "CREATE UNLOGGED TABLE pts AS "
        "SELECT id, ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom FROM raw"
    )
    conn.execute("DROP TABLE raw")
    conn.execute("CREATE INDEX ON pts USING gist (geom)")
    conn.execute("VACUUM ANALYZE pts")
    return time.perf_counter() - t


def bench_postgis(queries, ids, lon, lat, ours, rows, notes) -> None:
    with fresh_postgis() as conn:
        notes.append(f"PostGIS: load + GiST index {load_points(conn, ids, lon, lat):.1f} s")
        conn.execute("CREATE TABLE pieces (q int, geom geometry(Polygon, 4326))")
        for q, (_, geom) in enumerate(queries):
            conn.execute(
                "INSERT INTO pieces SELECT %s, ST_Subdivide(ST_GeomFromWKB(%s, 4326), 256)",
                [q, shapely.to_wkb(geom)],
            )
        conn.execute("CREATE INDEX ON pieces USING gist (geom)")
        conn.execute("ANALYZE pieces")
        sql = (
            "SELECT DISTINCT p.id FROM pts p JOIN pieces s "
            "ON s.q = %s AND ST_Covers(s.geom, p.geom)"
        )
        for q, ((qname, _), expected) in enumerate(zip(queries, ours, strict=True)):
            timed(lambda q=q: conn.execute(sql, [q]).fetchall())  # warm the cache
            t, found = timed(lambda q=q: conn.execute(sql, [q]).fetchall())
            check(f"PostGIS {qname}", expected, [r[0] for r in found])
            rows.setdefault("PostGIS ST_Covers on ST_Subdivide(256) (warm)", {})[qname] = t


def print_table(rows: dict[str, dict[str, float]], names: list[str], ours_key: str) -> None:
    head = f"{'method':<48}" + "".join(f"{n:>14}{'ratio':>8}" for n in names)
    print(head)
    print("-" * len(head))
    for method, times in rows.items():
        cells = ""
        for n in names:
            t = times.get(n)
            ratio = t / rows[ours_key][n] if t is not None else float("nan")
            cells += f"{t * 1000:>11.1f} ms{ratio:>7.1f}x" if t is not None else f"{'-':>14}{'':>8}"
        print(f"{method:<48}{cells}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-sjoin", action="store_true")
    ap.add_argument("--no-postgis", action="store_true")
    args = ap.parse_args()

    zones = ZoneRegistry.default().zone_set("nyc_evacuation_zones")
    zone1 = zones.get("1").geometry
    queries = [("zone 1", zone1), ("circle 50 km", circle_from_cap(CIRCLE))]
    minx, miny, maxx, maxy = zones.bounds
    rng = np.random.default_rng(args.seed)
    lon, lat = rng.uniform(minx, maxx, args.n), rng.uniform(miny, maxy, args.n)
    ids = np.arange(args.n, dtype=np.int64)
    print(f"N = {args.n:,} points uniform in {zones.bounds}")
    print(f"zone 1: {shapely.get_num_coordinates(zone1):,} vertices; circle: {CIRCLE} (lat,lon km)")

    t_build, index = timed(lambda: SubscriberIndex(ids, lon, lat))
    notes = [f"SubscriberIndex build {t_build:.2f} s, {index.nbytes / args.n:.1f} bytes/location"]
    rows: dict[str, dict[str, float]] = {}
    ours = []
    ours_key = "SubscriberIndex.select"
    for qname, geom in queries:
        index.select(geom)  # warm: prepared geometry, thread pool
        t, found = timed(lambda g=geom: index.select(g), args.repeat)
        rows.setdefault(ours_key, {})[qname] = t
        ours.append(as_set(found))
        notes.append(f"{qname}: {len(found):,} ids selected")
    bench_shapely(queries, lon, lat, ours, rows)
    if not args.no_sjoin:
        bench_sjoin(queries, lon, lat, ours, rows, notes)
    if not args.no_postgis:
        bench_postgis(queries, ids, lon, lat, ours, rows, notes)
    print()
    print_table(rows, [q[0] for q in queries], ours_key)
    print()
    print("\n".join(notes))
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("all peers returned identical id sets")


if __name__ == "__main__":
    main()
