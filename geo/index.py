"""In-memory subscriber location index: which location ids lie in (or on) a geometry.

Locations are bucketed by a uniform lon/lat grid and stored sorted by cell, so every run of
cells along a row is one contiguous slice of the arrays. A query rasterises the geometry's
boundary onto the grid; runs of cells the boundary never reaches are decided by one
representative point each and taken whole, and only the points in boundary cells are tested
one by one with shapely (vectorised, in parallel threads: shapely releases the GIL). The result
is exactly the set that ``shapely.covers(geometry, point)`` gives for every point.

Memory: ids, lon, lat (8 bytes each) plus one int64 cell offset per ``points_per_cell``
locations, i.e. 28 bytes per location with the default of 2.

Incremental changes go to a small delta (added locations, tested brute force) and a set of
tombstoned ids; ``compact()`` folds them into the bulk arrays, and ``add`` does it
automatically once the delta outgrows ``max(100_000, 1 % of the bulk)``. Queries may run
concurrently with each other; ``add``/``remove``/``compact`` must not overlap with queries
(serialise them, or build a new index and swap the reference).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

from geo._grid import F64, I64, Grid, boundary_cells, classify_runs
from geo.errors import IndexInputError

__all__ = ["IndexInputError", "SubscriberIndex", "expand_ranges", "gather_ranges"]

_POS_BITS = 34  # grid ids stay below 2**28, so (cell << 34 | position) fits in an int64
_PARALLEL_MIN = 20_000  # below this many candidate points a thread pool costs more than it saves
_LONG_RUN = 64  # mean points per range above which copying slices beats index arithmetic
_PREPARE_LOCK = threading.Lock()


def _as_arrays(ids: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike) -> tuple[I64, F64, F64]:
    """Validate and convert location arrays: equal length, finite, lon/lat in WGS84 range."""
    i = np.asarray(ids, dtype=np.int64).ravel()
    x = np.asarray(lon, dtype=np.float64).ravel()
    y = np.asarray(lat, dtype=np.float64).ravel()
    if not len(i) == len(x) == len(y):
        raise IndexInputError(f"ids, lon, lat differ in length: {len(i)}, {len(x)}, {len(y)}")
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        raise IndexInputError("lon/lat must be finite numbers")
    if len(x) and (np.abs(x).max() > 180 or np.abs(y).max() > 90):
        raise IndexInputError("lon must be within [-180, 180] and lat within [-90, 90]")
    return i, x, y


def expand_ranges(starts: I64, ends: I64) -> I64:
    """Return the concatenation of ``arange(s, e)`` for each pair, vectorised."""
    lengths = ends - starts
    keep = lengths > 0
    starts, lengths = starts[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    shift = np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
    return np.asarray(shift + np.arange(total, dtype=np.int64), dtype=np.int64)


def gather_ranges(values: I64, starts: I64, ends: I64) -> I64:
    """Return ``values[s:e]`` for each range, concatenated (slices when ranges are long)."""
    if len(starts) and int((ends - starts).sum()) > _LONG_RUN * len(starts):
        return np.concatenate(
            [values[s:e] for s, e in zip(starts.tolist(), ends.tolist(), strict=True)]
        )
    return np.asarray(values[expand_ranges(starts, ends)], dtype=np.int64)


def _is_unique(ids: I64) -> bool:
    """True if no id repeats (cheap when the ids arrive sorted, as they do from a database)."""
    if len(ids) < 2 or bool((ids[1:] > ids[:-1]).all()):
        return True
    return len(np.unique(ids)) == len(ids)


class SubscriberIndex:
    """Grid-bucketed point index answering ``select(geometry)`` with shapely covers semantics."""

    def __init__(
        self,
        ids: npt.ArrayLike,
        lon: npt.ArrayLike,
        lat: npt.ArrayLike,
        *,
        points_per_cell: float = 2.0,
        threads: int = 2,
    ) -> None:
        self._points_per_cell = points_per_cell
        self._threads = max(1, threads)
        self._build(*_as_arrays(ids, lon, lat))
        self._delta: list[tuple[I64, F64, F64]] = []
        self._delta_len = 0
        self._dead: set[int] = set()

    def _build(self, ids: I64, lon: F64, lat: F64) -> None:
        """Sort the locations by grid cell and record where each cell starts."""
        self._unique = _is_unique(ids)
        if len(ids) == 0:
            self._grid = Grid(0.0, 0.0, 1.0, 1.0, 1, 1)
            self._offsets = np.zeros(2, dtype=np.int64)
            self._ids, self._lon, self._lat = ids, lon, lat
            return
        cells = max(1, int(len(ids) / self._points_per_cell))
        self._grid = Grid.covering(lon, lat, cells)
        cell = self._grid.cell_of(lon, lat)
        counts = np.bincount(cell, minlength=self._grid.size)
        order = _cell_order(cell)
        del cell
        self._offsets = np.zeros(self._grid.size + 1, dtype=np.int64)
        np.cumsum(counts, out=self._offsets[1:])
        self._ids, self._lon, self._lat = ids[order], lon[order], lat[order]

    def __len__(self) -> int:
        """Number of live locations (bulk plus delta, minus removed)."""
        dead = int(np.isin(self._ids, self._dead_ids()).sum()) if self._dead else 0
        return len(self._ids) - dead + self._delta_len

    @property
    def nbytes(self) -> int:
        """Bytes held by the bulk arrays (ids, coordinates, cell offsets)."""
        return int(self._ids.nbytes + self._lon.nbytes + self._lat.nbytes + self._offsets.nbytes)

    def select(self, geometry: BaseGeometry) -> I64:
        """Return the unique ids of locations inside or on the boundary of ``geometry``."""
        if geometry.is_empty:
            return np.empty(0, dtype=np.int64)
        _prepare(geometry)
        found = self._select_bulk(geometry)
        if self._dead:
            found = found[~np.isin(found, self._dead_ids())]
        if self._delta:
            found = np.concatenate([found, self._select_delta(geometry)])
            return np.unique(found)
        return found if self._unique else np.unique(found)

    def _select_bulk(self, geometry: BaseGeometry) -> I64:
        """Cells wholly inside are taken whole; boundary cells are tested point by point."""
        if len(self._ids) == 0:
            return np.empty(0, dtype=np.int64)
        grid = self._grid
        marked = boundary_cells(grid, geometry)
        runs = classify_runs(grid, marked, geometry.bounds)
        runs = runs[self._offsets[runs[:, 1] + 1] > self._offsets[runs[:, 0]]]  # skip empty runs
        cx, cy = grid.centres(runs[:, 0])
        inner = runs[shapely.contains_xy(geometry, cx, cy)]
        whole = gather_ranges(self._ids, self._offsets[inner[:, 0]], self._offsets[inner[:, 1] + 1])
        hits = self._boundary_hits(geometry, marked)
        return np.concatenate([whole, self._ids[hits]])

    def _boundary_hits(self, geometry: BaseGeometry, marked: I64) -> I64:
        """Positions of points in boundary cells that the geometry covers."""
        cand = self._points_in(marked)
        return cand[self._covers(geometry, self._lon[cand], self._lat[cand])]

    def _points_in(self, cells: I64) -> I64:
        """Positions (into the bulk arrays) of every point in the given cells."""
        return expand_ranges(self._offsets[cells], self._offsets[cells + 1])

    def _covers(self, geometry: BaseGeometry, x: F64, y: F64) -> npt.NDArray[np.bool_]:
        """Vectorised covers test (for points, intersects == covers), split over threads."""
        if len(x) < _PARALLEL_MIN or self._threads == 1:
            return np.asarray(shapely.intersects_xy(geometry, x, y), dtype=np.bool_)
        chunks = np.array_split(np.arange(len(x)), self._threads)
        bounds = [(int(c[0]), int(c[-1]) + 1) for c in chunks if len(c)]
        with ThreadPoolExecutor(self._threads) as pool:
            parts = list(pool.map(lambda b: shapely.intersects_xy(geometry, *_xy(x, y, b)), bounds))
        return np.asarray(np.concatenate(parts), dtype=np.bool_)

    def _select_delta(self, geometry: BaseGeometry) -> I64:
        """Brute-force covers test over the locations added since the last compaction."""
        ids, lon, lat = self._delta_arrays()
        return np.asarray(ids[shapely.intersects_xy(geometry, lon, lat)], dtype=np.int64)

    def _delta_arrays(self) -> tuple[I64, F64, F64]:
        """The delta as three arrays (concatenated once, then cached)."""
        if len(self._delta) > 1:
            self._delta = [tuple(np.concatenate(a) for a in zip(*self._delta, strict=True))]  # type: ignore[list-item]
        return self._delta[0] if self._delta else _empty()

    def _dead_ids(self) -> I64:
        """Tombstoned ids as a sorted array."""
        return np.fromiter(sorted(self._dead), dtype=np.int64, count=len(self._dead))

    def add(self, ids: npt.ArrayLike, lon: npt.ArrayLike, lat: npt.ArrayLike) -> None:
        """Add locations; an id may have several locations (each is matched independently)."""
        i, x, y = _as_arrays(ids, lon, lat)
        self._delta.append((i, x, y))
        self._delta_len += len(i)
        if self._delta_len > max(100_000, len(self._ids) // 100):
            self.compact()

    def remove(self, ids: Iterable[int] | npt.ArrayLike) -> None:
        """Remove every location of the given ids (bulk entries are tombstoned until compaction)."""
        gone = np.unique(np.asarray(ids, dtype=np.int64).ravel())
        self._dead.update(int(i) for i in gone)
        if self._delta:
            di, dx, dy = self._delta_arrays()
            keep = ~np.isin(di, gone)
            self._delta = [(di[keep], dx[keep], dy[keep])]
            self._delta_len = int(keep.sum())

    def compact(self) -> None:
        """Fold the delta and tombstones into freshly built bulk arrays."""
        keep = ~np.isin(self._ids, self._dead_ids()) if self._dead else slice(None)
        di, dx, dy = self._delta_arrays()
        self._build(
            np.concatenate([self._ids[keep], di]),
            np.concatenate([self._lon[keep], dx]),
            np.concatenate([self._lat[keep], dy]),
        )
        self._delta, self._delta_len, self._dead = [], 0, set()


def _prepare(geometry: BaseGeometry) -> None:
    """Prepare the geometry and build its lazy point locators under a lock.

    GEOS builds a prepared geometry's point locator on first use; doing that once, serialised,
    keeps concurrent queries (threads here, or callers sharing zone geometries) race-free.
    """
    minx, miny, maxx, maxy = geometry.bounds
    x, y = (minx + maxx) / 2, (miny + maxy) / 2  # inside the envelope, so the locator is built
    with _PREPARE_LOCK:
        shapely.prepare(geometry)
        shapely.contains_xy(geometry, x, y)
        shapely.intersects_xy(geometry, x, y)


def _cell_order(cell: I64) -> I64:
    """Stable argsort of cell ids: sort (cell << 34 | position) keys, far faster than argsort."""
    if len(cell) >= 1 << _POS_BITS:
        return np.asarray(np.argsort(cell, kind="stable"), dtype=np.int64)
    keys = (cell << _POS_BITS) | np.arange(len(cell), dtype=np.int64)
    keys.sort()
    keys &= (1 << _POS_BITS) - 1
    return keys


def _xy(x: F64, y: F64, bounds: tuple[int, int]) -> tuple[F64, F64]:
    """Slice both coordinate arrays."""
    return x[bounds[0] : bounds[1]], y[bounds[0] : bounds[1]]


def _empty() -> tuple[I64, F64, F64]:
    """Three empty location arrays."""
    return np.empty(0, dtype=np.int64), np.empty(0), np.empty(0)
