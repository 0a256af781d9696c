"""Geodesic building blocks on WGS84 lon/lat: circles, antimeridian splitting, metric buffers.

Conventions:
- Geometries are planar in lon/lat degrees (what the index and shapely test against); edges
  are straight in lon/lat, so circles use enough vertices that the deviation from the true
  geodesic circle stays far below 0.1 % of the radius.
- A shape that crosses the antimeridian is built with continuous ("unwrapped") longitudes and
  then cut at +-180 and the pieces shifted back, so the result lies within [-180, 180].
- A shape around a pole (a circle containing it, or a ring whose longitudes wind once around
  the globe) is closed along the pole's latitude (+-90) between lon -180 and 180: in lon/lat
  space the polar cap is the band between the ring and the pole line.
"""

from __future__ import annotations

import numpy as np
import shapely
from pyproj import CRS, Geod, Transformer
from shapely.affinity import translate
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo._grid import F64
from geo.errors import AreaError

WGS84 = Geod(ellps="WGS84")
CIRCLE_VERTICES = 360  # chord error 1 - cos(pi / 360) = 0.004 % of the radius


def wrap_lon(lon: F64, centre: float) -> F64:
    """Return longitudes shifted by multiples of 360 to lie within 180 degrees of ``centre``."""
    return np.asarray(centre + (lon - centre + 180.0) % 360.0 - 180.0, dtype=np.float64)


def unwrap_lon(lon: F64) -> F64:
    """Return longitudes made continuous: each step takes the shorter way round."""
    step = np.diff(lon)
    step = step - 360.0 * np.round(step / 360.0)
    return np.asarray(np.concatenate([lon[:1], lon[0] + np.cumsum(step)]), dtype=np.float64)


def _polygons(geometry: BaseGeometry) -> list[Polygon]:
    """The non-empty polygons of any geometry (lines and points from clipping are dropped)."""
    parts = shapely.get_parts(geometry)
    return [p for p in parts if isinstance(p, Polygon) and not p.is_empty]


def as_polygonal(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    """Return the geometry's polygons as one Polygon or a MultiPolygon (empty Polygon if none)."""
    polys = _polygons(geometry)
    if not polys:
        return Polygon()
    return polys[0] if len(polys) == 1 else MultiPolygon(polys)


def split_antimeridian(geometry: BaseGeometry) -> Polygon | MultiPolygon:
    """Cut a shape drawn with unwrapped longitudes at +-180 and shift the pieces into range."""
    minx, _, maxx, _ = geometry.bounds
    if minx >= -180.0 and maxx <= 180.0:
        return as_polygonal(geometry)
    pieces: list[Polygon] = []
    for k in range(
        int(np.floor((minx + 180.0) / 360.0)), int(np.floor((maxx + 180.0) / 360.0)) + 1
    ):
        clipped = shapely.clip_by_rect(geometry, 360.0 * k - 180.0, -90.0, 360.0 * k + 180.0, 90.0)
        pieces += [translate(p, xoff=-360.0 * k) for p in _polygons(clipped)]
    return as_polygonal(shapely.union_all(pieces))


def polar_polygon(lon: F64, lat: F64, north: bool) -> Polygon | MultiPolygon:
    """Close a ring whose unwrapped longitudes wind once around the globe over a pole."""
    if lon[-1] < lon[0]:
        lon, lat = lon[::-1], lat[::-1]
    lon = lon.copy()
    lon[-1] = lon[0] + 360.0  # the ring winds exactly once; pin the end to avoid a sliver
    pole = 90.0 if north else -90.0
    xs = np.concatenate([lon, [lon[-1], lon[0]]])
    ys = np.concatenate([lat, [pole, pole]])
    polygon = Polygon(np.column_stack([xs, ys]))
    if not polygon.is_valid:
        why = shapely.is_valid_reason(polygon)
        raise AreaError("polygon-invalid", f"ring around the pole is not simple: {why}")
    return split_antimeridian(polygon)


def geodesic_circle(lat: float, lon: float, radius_m: float) -> Polygon | MultiPolygon:
    """Return the geodesic circle of ``radius_m`` metres around (lat, lon) as lon/lat polygon."""
    if radius_m <= 0:
        return Polygon()
    _, _, to_north = WGS84.inv(lon, lat, lon, 90.0)
    _, _, to_south = WGS84.inv(lon, lat, lon, -90.0)
    if to_north < radius_m and to_south < radius_m:
        raise AreaError("circle-radius", f"circle of {radius_m / 1000:g} km covers both poles")
    az = np.linspace(0.0, 360.0, CIRCLE_VERTICES, endpoint=False)
    plon, plat, _ = WGS84.fwd(
        np.full_like(az, lon), np.full_like(az, lat), az, np.full_like(az, radius_m)
    )
    plon, plat = np.append(plon, plon[0]), np.append(plat, plat[0])
    if to_north < radius_m or to_south < radius_m:
        return polar_polygon(unwrap_lon(plon), plat, north=to_north < radius_m)
    return split_antimeridian(Polygon(np.column_stack([wrap_lon(plon, lon), plat])))


def _aeqd(lon: float, lat: float) -> tuple[Transformer, Transformer]:
    """Forward and inverse transformers to an azimuthal equidistant projection at (lon, lat)."""
    crs = CRS.from_proj4(f"+proj=aeqd +lat_0={lat} +lon_0={lon} +datum=WGS84 +units=m")
    return (
        Transformer.from_crs("EPSG:4326", crs, always_xy=True),
        Transformer.from_crs(crs, "EPSG:4326", always_xy=True),
    )


def _buffer_part(part: Polygon, metres: float) -> Polygon | MultiPolygon:
    """Buffer one polygon in its own azimuthal equidistant projection, centred on it."""
    centre = part.centroid
    fwd, inv = _aeqd(centre.x, centre.y)
    local = shapely.transform(part, lambda c: np.column_stack(fwd.transform(c[:, 0], c[:, 1])))
    grown = shapely.buffer(local, metres, quad_segs=16)

    def back(c: F64) -> F64:
        x, y = inv.transform(c[:, 0], c[:, 1])
        return np.column_stack([wrap_lon(np.asarray(x), centre.x), y])

    return split_antimeridian(shapely.transform(grown, back))


def buffer_geodesic(geometry: BaseGeometry, metres: float) -> Polygon | MultiPolygon:
    """Grow (or shrink, if negative) polygons by ``metres``, measured on the ellipsoid.

    Each polygon is buffered in an azimuthal equidistant projection centred on its centroid:
    distances from the centre are exact, elsewhere the scale error is about (d / R)^2 / 6
    (d = distance from the centre), under 0.01 % of the buffer for parts up to 150 km across.
    """
    if metres == 0 or geometry.is_empty:
        return as_polygonal(geometry)
    return as_polygonal(shapely.union_all([_buffer_part(p, metres) for p in _polygons(geometry)]))
