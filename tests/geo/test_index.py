"""SubscriberIndex.select must equal brute-force shapely covers, exactly, for any geometry."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Point, Polygon, box

from geo.areas import circle_from_cap
from geo.index import IndexInputError, SubscriberIndex, expand_ranges, gather_ranges


def brute_force(ids, lon, lat, geometry) -> np.ndarray:
    """The reference: shapely covers, point by point."""
    return np.unique(ids[shapely.covers(geometry, shapely.points(lon, lat))])


def assert_same(index: SubscriberIndex, ids, lon, lat, geometry) -> None:
    got = np.sort(index.select(geometry))
    np.testing.assert_array_equal(got, brute_force(ids, lon, lat, geometry))


# Lattice coordinates (multiples of 1/8, exact in binary) put many points exactly on edges and
# vertices of lattice polygons.
lattice = st.integers(-40, 40).map(lambda k: k / 8)


@st.composite
def lattice_triangle(draw: st.DrawFn) -> Polygon:
    pts = [(draw(lattice), draw(lattice)) for _ in range(3)]
    return Polygon(pts)


@st.composite
def shapes(draw: st.DrawFn) -> shapely.Geometry:
    """Unions of triangles minus triangles: holes, multipolygons, slivers; scaled huge or tiny."""
    plus = [t for t in draw(st.lists(lattice_triangle(), min_size=1, max_size=5)) if t.area > 0]
    minus = [t for t in draw(st.lists(lattice_triangle(), max_size=3)) if t.area > 0]
    if not plus:
        plus = [box(0, 0, 1, 1)]
    geometry = shapely.difference(shapely.union_all(plus), shapely.union_all(minus))
    scale = draw(st.sampled_from([1.0, 1e-5, 4.0]))
    return shapely.affinity.scale(geometry, scale, scale, origin=(0, 0))


def points_for(draw: st.DrawFn, geometry: shapely.Geometry) -> tuple[np.ndarray, np.ndarray]:
    """Random points, lattice points, the geometry's vertices and edge midpoints."""
    scale = max(1e-5, max(abs(c) for c in geometry.bounds) if not geometry.is_empty else 1.0)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    n = draw(st.integers(1, 400))
    rand = rng.uniform(-1.2 * scale, 1.2 * scale, size=(n, 2))
    lat_pts = rng.integers(-40, 41, size=(n, 2)) / 8 * (scale / 5)
    verts = shapely.get_coordinates(geometry)
    mids = (verts[:-1] + verts[1:]) / 2 if len(verts) > 1 else verts
    xy = np.concatenate([rand, lat_pts, verts, mids])
    xy = np.clip(xy, [-180, -90], [180, 90])
    return xy[:, 0], xy[:, 1]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ppc=st.sampled_from([0.05, 0.5, 2.0, 16.0]))
def test_select_equals_brute_force_covers(data: st.DataObject, ppc: float) -> None:
    geometry = data.draw(shapes())
    lon, lat = points_for(data.draw, geometry)
    ids = np.arange(len(lon), dtype=np.int64) * 3 + 7
    index = SubscriberIndex(ids, lon, lat, points_per_cell=ppc)
    assert_same(index, ids, lon, lat, geometry)
    # the same points against geometries far larger and far smaller than the point cloud
    assert_same(index, ids, lon, lat, shapely.affinity.scale(geometry, 50, 50))
    assert_same(index, ids, lon, lat, shapely.affinity.scale(geometry, 0.01, 0.01))


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_select_non_polygonal_geometries(data: st.DataObject) -> None:
    a, b = (data.draw(lattice), data.draw(lattice)), (data.draw(lattice), data.draw(lattice))
    geometry = data.draw(st.sampled_from([LineString([a, b]), Point(a), Polygon()]))
    lon, lat = points_for(data.draw, box(-5, -5, 5, 5))
    lon = np.append(lon, [a[0], b[0]])
    lat = np.append(lat, [a[1], b[1]])
    ids = np.arange(len(lon), dtype=np.int64)
    assert_same(SubscriberIndex(ids, lon, lat, points_per_cell=0.5), ids, lon, lat, geometry)


def test_real_zone_random_points(nyc_zones) -> None:
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = nyc_zones.bounds
    zone1 = nyc_zones.get("1").geometry
    verts = shapely.get_coordinates(zone1)[::7]
    lon = np.concatenate([rng.uniform(minx, maxx, 60_000), verts[:, 0]])
    lat = np.concatenate([rng.uniform(miny, maxy, 60_000), verts[:, 1]])
    ids = rng.permutation(len(lon)).astype(np.int64)
    index = SubscriberIndex(ids, lon, lat)
    for zone in nyc_zones:
        assert_same(index, ids, lon, lat, zone.geometry)


def test_duplicate_ids_are_returned_once() -> None:
    ids = np.array([5, 5, 9, 1])
    lon = np.array([0.5, 0.6, 3.0, 0.1])
    lat = np.array([0.5, 0.6, 3.0, 0.1])
    index = SubscriberIndex(ids, lon, lat)
    np.testing.assert_array_equal(np.sort(index.select(box(0, 0, 1, 1))), [1, 5])


def test_all_points_identical_and_single_point() -> None:
    index = SubscriberIndex([1, 2, 3], [10.0] * 3, [20.0] * 3)
    assert set(index.select(box(9, 19, 10, 20)).tolist()) == {1, 2, 3}
    assert len(index.select(box(9, 19, 9.99, 20))) == 0
    empty = SubscriberIndex([], [], [])
    assert len(empty.select(box(0, 0, 1, 1))) == 0
    assert len(empty) == 0


def test_incremental_add_remove_and_compact() -> None:
    rng = np.random.default_rng(3)
    lon, lat = rng.uniform(0, 1, 1000), rng.uniform(0, 1, 1000)
    ids = np.arange(1000)
    index = SubscriberIndex(ids, lon, lat)
    area = box(0.2, 0.2, 0.6, 0.6)
    expected = set(brute_force(ids, lon, lat, area).tolist())
    index.add([5000, 5001], [0.3, 0.9], [0.3, 0.9])
    index.remove([int(next(iter(expected)))])
    moved = int(sorted(expected)[1])
    index.remove([moved])
    index.add([moved], [0.95], [0.95])  # a subscriber moves out of the area
    want = (expected | {5000}) - {next(iter(expected)), moved}
    assert set(index.select(area).tolist()) == want
    assert len(index) == 1000 + 2 - 1
    index.compact()
    assert set(index.select(area).tolist()) == want
    assert len(index) == 1001


def test_large_delta_compacts_automatically() -> None:
    index = SubscriberIndex(np.arange(10), np.zeros(10), np.zeros(10))
    rng = np.random.default_rng(4)
    index.add(np.arange(10, 100_011), rng.uniform(-1, 1, 100_001), rng.uniform(-1, 1, 100_001))
    assert index._delta_len == 0  # folded into the bulk arrays
    assert len(index) == 100_011


def test_memory_per_location_under_40_bytes() -> None:
    rng = np.random.default_rng(5)
    n = 200_000
    index = SubscriberIndex(np.arange(n), rng.uniform(-74.3, -73.7, n), rng.uniform(40.5, 40.9, n))
    assert index.nbytes / n <= 40


@pytest.mark.parametrize(
    ("ids", "lon", "lat"),
    [([1, 2], [0.0], [0.0]), ([1], [np.nan], [0.0]), ([1], [181.0], [0.0]), ([1], [0.0], [-91.0])],
)
def test_rejects_bad_input(ids, lon, lat) -> None:
    with pytest.raises(IndexInputError):
        SubscriberIndex(ids, lon, lat)


def test_expand_ranges() -> None:
    got = expand_ranges(np.array([3, 10, 7]), np.array([5, 10, 9]))
    np.testing.assert_array_equal(got, [3, 4, 7, 8])


def test_gather_ranges_short_and_long() -> None:
    values = np.arange(1000, dtype=np.int64) * 2
    for starts, ends in (([3, 10], [5, 12]), ([0, 500, 950], [200, 900, 950])):
        s, e = np.array(starts), np.array(ends)
        want = np.concatenate([values[a:b] for a, b in zip(starts, ends, strict=True)])
        np.testing.assert_array_equal(gather_ranges(values, s, e), want)


def test_large_circle_matches_brute_force() -> None:
    # long runs of whole cells take the slice-copy path
    rng = np.random.default_rng(8)
    lon, lat = rng.uniform(-74.3, -73.7, 300_000), rng.uniform(40.5, 40.9, 300_000)
    ids = np.arange(300_000, dtype=np.int64)
    index = SubscriberIndex(ids, lon, lat, points_per_cell=64)
    assert_same(index, ids, lon, lat, circle_from_cap("40.70,-73.40 50"))
