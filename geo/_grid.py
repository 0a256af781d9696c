"""Uniform lon/lat grid used by the subscriber index, and the rasteriser of geometry boundaries.

The grid maps a coordinate to a cell with ``floor((x - x0) / dx)``. That formula is monotonic
in ``x`` under IEEE rounding, so the set of coordinates (real or floating) that land in one cell
is a product of two intervals: a rectangle. If no boundary segment of a geometry reaches a cell,
the whole cell lies on one side of the boundary, and one representative point decides it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely
from shapely.geometry.base import BaseGeometry

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

# Rounding in the grid formula can never push a point past the last cell with this headroom.
_HEADROOM = 1.0 + 1e-9
_EPS = 1e-6  # cells: padding for rounding in interpolated segment pieces


@dataclass(frozen=True, slots=True)
class Grid:
    """A row-major grid of ``nx`` x ``ny`` cells starting at (x0, y0), cell size dx x dy degrees."""

    x0: float
    y0: float
    dx: float
    dy: float
    nx: int
    ny: int

    @classmethod
    def covering(cls, lon: F64, lat: F64, cells: int) -> Grid:
        """Return a grid of about ``cells`` cells, square in metres, over the points' extent."""
        x0, x1 = float(lon.min()), float(lon.max())
        y0, y1 = float(lat.min()), float(lat.max())
        w = max(x1 - x0, 1e-9)
        h = max(y1 - y0, 1e-9)
        w_m = w * max(np.cos(np.radians((y0 + y1) / 2)), 0.01)
        nx = int(np.clip(round(np.sqrt(cells * w_m / h)), 1, 1 << 14))
        ny = int(np.clip(round(cells / nx), 1, 1 << 14))
        return cls(x0, y0, w * _HEADROOM / nx, h * _HEADROOM / ny, nx, ny)

    @property
    def size(self) -> int:
        """Number of cells."""
        return self.nx * self.ny

    def cell_of(self, lon: F64, lat: F64) -> I64:
        """Return the linear (row-major) cell id of each point; points must lie in the extent."""
        ix = np.floor((lon - self.x0) / self.dx).astype(np.int64)
        iy = np.floor((lat - self.y0) / self.dy).astype(np.int64)
        return iy * self.nx + ix

    def centres(self, cells: I64) -> tuple[F64, F64]:
        """Return the centre coordinates of the given linear cell ids."""
        iy, ix = np.divmod(cells, self.nx)
        return self.x0 + (ix + 0.5) * self.dx, self.y0 + (iy + 0.5) * self.dy

    def col_range(self, minx: float, maxx: float) -> tuple[int, int]:
        """Return the inclusive column range (clamped) that a lon interval can touch."""
        lo = int(np.floor((minx - self.x0) / self.dx))
        hi = int(np.floor((maxx - self.x0) / self.dx))
        return max(lo, 0), min(hi, self.nx - 1)

    def row_range(self, miny: float, maxy: float) -> tuple[int, int]:
        """Return the inclusive row range (clamped) that a lat interval can touch."""
        lo = int(np.floor((miny - self.y0) / self.dy))
        hi = int(np.floor((maxy - self.y0) / self.dy))
        return max(lo, 0), min(hi, self.ny - 1)


def segments(geometry: BaseGeometry) -> tuple[F64, F64]:
    """Return segment start and end points (n x 2 each) of every linear piece of the geometry."""
    parts = shapely.get_parts(geometry)
    lines = shapely.get_rings(parts[shapely.get_type_id(parts) == 3])
    others = parts[shapely.get_type_id(parts) != 3]
    coords, idx = shapely.get_coordinates(np.concatenate([lines, others]), return_index=True)
    if len(coords) == 0:
        empty = np.empty((0, 2))
        return empty, empty
    same = idx[1:] == idx[:-1]
    starts = np.concatenate([coords[:-1][same], coords])
    ends = np.concatenate([coords[1:][same], coords])  # zero-length: each vertex itself
    return starts, ends


def _mark_rectangles(grid: Grid, iu: I64, iv: I64, ju: I64, jv: I64) -> I64:
    """Return cell ids of the index rectangles (at most 2 x 2) spanned by (iu, iv)-(ju, jv)."""
    u0, u1 = np.minimum(iu, ju), np.maximum(iu, ju)
    v0, v1 = np.minimum(iv, jv), np.maximum(iv, jv)
    du, dv = np.meshgrid(np.arange(2), np.arange(2))
    u = u0[:, None] + du.ravel()[None, :]
    v = v0[:, None] + dv.ravel()[None, :]
    keep = (u <= u1[:, None]) & (v <= v1[:, None])
    keep &= (u >= 0) & (u < grid.nx) & (v >= 0) & (v < grid.ny)
    return np.asarray(v[keep] * grid.nx + u[keep], dtype=np.int64)


def _clip_to_grid(grid: Grid, a: F64, b: F64) -> tuple[F64, F64]:
    """Liang-Barsky clip of segments (grid units) to the grid plus one cell; drop misses."""
    lo = np.array([-1.0, -1.0])
    hi = np.array([grid.nx + 1.0, grid.ny + 1.0])
    d = b - a
    t0 = np.zeros(len(a))
    t1 = np.ones(len(a))
    with np.errstate(divide="ignore", invalid="ignore"):
        for k in range(2):
            ta = (lo[k] - a[:, k]) / d[:, k]
            tb = (hi[k] - a[:, k]) / d[:, k]
            flat = d[:, k] == 0
            inside = (a[:, k] >= lo[k]) & (a[:, k] <= hi[k])
            t0 = np.where(flat, np.where(inside, t0, 2.0), np.maximum(t0, np.minimum(ta, tb)))
            t1 = np.where(flat, t1, np.minimum(t1, np.maximum(ta, tb)))
    keep = t0 <= t1
    a, d, t0, t1 = a[keep], d[keep], t0[keep], t1[keep]
    return a + d * t0[:, None], a + d * t1[:, None]


def _long_segment_cells(grid: Grid, a: F64, b: F64) -> I64:
    """Cells of segments spanning more than one cell, split into pieces shorter than a cell.

    Interpolated piece ends carry rounding errors of ~1e-12 cells; each piece's cell range is
    widened by ``_EPS`` cells on both sides, which covers them many times over.
    """
    a, b = _clip_to_grid(grid, a, b)
    if len(a) == 0:
        return np.empty(0, dtype=np.int64)
    pieces = np.ceil(np.abs(b - a).max(axis=1)).astype(np.int64) + 1
    seg = np.repeat(np.arange(len(a)), pieces)
    first = np.cumsum(pieces) - pieces
    k = np.arange(len(seg)) - np.repeat(first, pieces)
    d = b[seg] - a[seg]
    p = a[seg] + d * (k / pieces[seg])[:, None]
    q = a[seg] + d * ((k + 1) / pieces[seg])[:, None]
    lo = np.floor(np.minimum(p, q) - _EPS).astype(np.int64)
    hi = np.floor(np.maximum(p, q) + _EPS).astype(np.int64)
    offsets = np.arange(3)  # a piece under one cell long, widened by _EPS, spans <= 3 cells
    u = (lo[:, 0, None, None] + offsets[None, None, :]).repeat(3, axis=1)
    v = (lo[:, 1, None, None] + offsets[None, :, None]).repeat(3, axis=2)
    keep = (u <= hi[:, 0, None, None]) & (v <= hi[:, 1, None, None])
    keep &= (u >= 0) & (u < grid.nx) & (v >= 0) & (v < grid.ny)
    return np.asarray(v[keep] * grid.nx + u[keep], dtype=np.int64)


def boundary_cells(grid: Grid, geometry: BaseGeometry) -> I64:
    """Return the sorted unique ids of every cell that any boundary point of geometry can reach.

    A superset is fine (those cells are tested point by point); missing a cell is not, which
    is why short segments use the exact monotonic index rectangle and long ones are padded.
    """
    return segment_cells(grid, *segments(geometry))


def segment_cells(grid: Grid, starts: F64, ends: F64) -> I64:
    """Return the sorted unique ids of every cell that the given segments can reach."""
    a = np.column_stack([(starts[:, 0] - grid.x0) / grid.dx, (starts[:, 1] - grid.y0) / grid.dy])
    b = np.column_stack([(ends[:, 0] - grid.x0) / grid.dx, (ends[:, 1] - grid.y0) / grid.dy])
    fa = np.floor(a)
    fb = np.floor(b)
    short = (np.abs(fa - fb) <= 1).all(axis=1)
    fa_s = fa[short].astype(np.int64)
    fb_s = fb[short].astype(np.int64)
    near = _mark_rectangles(grid, fa_s[:, 0], fa_s[:, 1], fb_s[:, 0], fb_s[:, 1])
    far = _long_segment_cells(grid, a[~short], b[~short])
    seen = np.zeros(grid.size, dtype=np.bool_)  # a flag per cell beats a sort-based unique
    seen[near] = True
    seen[far] = True
    return np.flatnonzero(seen).astype(np.int64)


def classify_runs(grid: Grid, marked: I64, bounds: tuple[float, float, float, float]) -> I64:
    """Return (start, end) cell-id pairs (n x 2, inclusive) of unmarked runs within bounds, per row.

    Each run is a horizontal stretch of cells that no boundary reaches: wholly inside or
    wholly outside the geometry.
    """
    c_lo, c_hi = grid.col_range(bounds[0], bounds[2])
    r_lo, r_hi = grid.row_range(bounds[1], bounds[3])
    if c_lo > c_hi or r_lo > r_hi:
        return np.empty((0, 2), dtype=np.int64)
    width = grid.nx + 2  # padded row: column -1 and nx exist as sentinels
    rows = np.arange(r_lo, r_hi + 1, dtype=np.int64)
    iy, ix = np.divmod(marked, grid.nx)
    inside = (ix >= c_lo) & (ix <= c_hi) & (iy >= r_lo) & (iy <= r_hi)
    padded = np.concatenate(
        [iy[inside] * width + ix[inside] + 1, rows * width + c_lo, rows * width + c_hi + 2]
    )
    padded.sort()
    gap = np.diff(padded) > 1
    start = padded[:-1][gap] + 1
    end = padded[1:][gap] - 1
    row = start // width
    ok = (row == end // width) & (start % width >= c_lo + 1) & (end % width <= c_hi + 1)
    start, end, row = start[ok], end[ok], row[ok]
    return np.column_stack([row * grid.nx + start % width - 1, row * grid.nx + end % width - 1])
