"""Cross-check: SubscriberIndex.select == PostGIS ST_Covers on the real NYC zone sets."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import shapely

from geo.areas import circle_from_cap
from geo.index import SubscriberIndex

psycopg = pytest.importorskip("psycopg")

pytestmark = pytest.mark.postgres

SERVER = "host=127.0.0.1 port=5432 user=postgres"
POSTGIS_CONTROL = Path("/usr/share/postgresql/15/extension/postgis.control")


def copy_binary(ids: np.ndarray, lon: np.ndarray, lat: np.ndarray) -> bytes:
    """PostgreSQL binary COPY payload for rows (bigint, float8, float8): exact doubles."""
    row = np.dtype(
        [
            ("n", ">i2"),
            ("l1", ">i4"),
            ("id", ">i8"),
            ("l2", ">i4"),
            ("x", ">f8"),
            ("l3", ">i4"),
            ("y", ">f8"),
        ]
    )
    rows = np.empty(len(ids), dtype=row)
    rows["n"], rows["l1"], rows["l2"], rows["l3"] = 3, 8, 8, 8
    rows["id"], rows["x"], rows["y"] = ids, lon, lat
    return b"PGCOPY\n\xff\r\n\x00" + b"\x00" * 8 + rows.tobytes() + b"\xff\xff"


@pytest.fixture(scope="module")
def postgis() -> Iterator[psycopg.Connection]:
    """A fresh database with PostGIS, dropped afterwards."""
    if not POSTGIS_CONTROL.exists():
        pytest.fail("PostGIS is not installed: run `make system-deps` (scripts/system-deps.sh)")
    name = f"alertcast_geo_{secrets.token_hex(4)}"
    with psycopg.connect(f"{SERVER} dbname=test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        with psycopg.connect(f"{SERVER} dbname={name}", autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
            yield conn
    finally:
        with psycopg.connect(f"{SERVER} dbname=test", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def load_points(conn: psycopg.Connection, ids, lon, lat) -> None:
    conn.execute("CREATE TABLE raw (id bigint, x float8, y float8)")
    with conn.cursor().copy("COPY raw FROM STDIN WITH (FORMAT binary)") as copy:
        copy.write(copy_binary(ids, lon, lat))
    conn.execute(
        "CREATE TABLE pts AS SELECT id, ST_SetSRID(ST_MakePoint(x, y), 4326) AS geom FROM raw"
    )
    conn.execute("CREATE INDEX ON pts USING gist (geom)")
    conn.execute("ANALYZE pts")


def st_covers(conn: psycopg.Connection, geometry) -> np.ndarray:
    rows = conn.execute(
        "SELECT id FROM pts WHERE ST_Covers(ST_GeomFromWKB(%s, 4326), geom)",
        [shapely.to_wkb(geometry)],
    ).fetchall()
    return np.sort(np.array([r[0] for r in rows], dtype=np.int64))


def test_select_matches_st_covers_on_nyc_zones(postgis, nyc_zones) -> None:
    rng = np.random.default_rng(2024)
    minx, miny, maxx, maxy = nyc_zones.bounds
    verts = np.concatenate([shapely.get_coordinates(z.geometry)[::25] for z in nyc_zones])
    n = 100_000 - len(verts)
    lon = np.concatenate([rng.uniform(minx, maxx, n), verts[:, 0]])  # vertices lie on boundaries
    lat = np.concatenate([rng.uniform(miny, maxy, n), verts[:, 1]])
    ids = rng.permutation(100_000).astype(np.int64) + 1
    load_points(postgis, ids, lon, lat)
    index = SubscriberIndex(ids, lon, lat)
    shapes = [z.geometry for z in nyc_zones]
    shapes += [shapely.union_all(shapes[1:4]), circle_from_cap("40.65,-73.95 12")]
    for geometry in shapes:
        ours = np.sort(index.select(geometry))
        np.testing.assert_array_equal(ours, st_covers(postgis, geometry))
        assert len(ours) > 0
