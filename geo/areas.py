"""CAP ``<area>`` to shapely geometry (WGS84 lon/lat).

CAP writes coordinates latitude first (``"lat,lon lat,lon ..."``); everything returned here is
lon/lat. ``<polygon>`` edges take the shorter way round (a polygon crossing the antimeridian is
split into pieces within [-180, 180]); ``<circle>`` is geodesic; ``<geocode>`` resolves through
the zone registry. A self-intersecting CAP polygon is an error, never silently repaired.

``area_geometry`` unions every area of one ``<info>`` and reports what it could not resolve:
an unknown geocode or an empty result is an error in ``AreaResolution.errors``, and
``AreaResolution.blocked`` tells the caller that dispatch must not go ahead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.errors import AreaError
from geo.geodesy import as_polygonal, buffer_geodesic, geodesic_circle, polar_polygon, unwrap_lon
from geo.geodesy import split_antimeridian as _split
from geo.zones import ZoneRegistry

__all__ = [
    "AreaError",
    "AreaProblem",
    "AreaResolution",
    "CapArea",
    "ResolvedArea",
    "area_geometry",
    "circle_from_cap",
    "polygon_from_cap",
]

_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")
_MAX_PAIRS = 100_000  # a hostile polygon must not make us allocate without bound


def _number(token: str, rule: str) -> float:
    """Parse one decimal number (no exponent, nan or inf, which CAP does not allow)."""
    if not _NUMBER.fullmatch(token):
        raise AreaError(rule, f"not a decimal number: {token!r}")
    return float(token)


def _pair(token: str, rule: str) -> tuple[float, float]:
    """Parse ``lat,lon`` and check the WGS84 ranges."""
    parts = token.split(",")
    if len(parts) != 2:
        raise AreaError(rule, f"expected 'lat,lon', got {token!r}")
    lat, lon = _number(parts[0], rule), _number(parts[1], rule)
    if not (-90.0 <= lat <= 90.0 and -180.0 <= lon <= 180.0):
        raise AreaError("coordinate-range", f"coordinate out of range: {token!r}")
    return lat, lon


def _polygon_pairs(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Parse CAP polygon text into (lat, lon) arrays, enforcing CAP's closed-ring rules."""
    tokens = text.split()
    if len(tokens) > _MAX_PAIRS:
        raise AreaError("polygon-too-large", f"polygon has more than {_MAX_PAIRS} points")
    if len(tokens) < 4:
        raise AreaError("polygon-too-few-points", f"polygon needs >= 4 pairs, got {len(tokens)}")
    pairs = np.array([_pair(t, "polygon-syntax") for t in tokens])
    if not np.array_equal(pairs[0], pairs[-1]):
        raise AreaError("polygon-not-closed", "polygon's first and last pairs differ")
    return pairs[:, 0], pairs[:, 1]


def polygon_from_cap(text: str) -> Polygon | MultiPolygon:
    """Return the lon/lat polygon of a CAP ``<polygon>`` (a MultiPolygon only if split at 180)."""
    lat, lon = _polygon_pairs(text)
    ulon = unwrap_lon(lon)
    if abs(ulon[-1] - ulon[0]) > 180.0:  # winds once round the globe: a ring around a pole
        return polar_polygon(ulon, lat, north=float(lat.mean()) > 0)
    polygon = Polygon(np.column_stack([ulon, lat]))
    if not polygon.is_valid:
        why = shapely.is_valid_reason(polygon)
        raise AreaError("polygon-invalid", f"polygon is not a simple ring: {why}")
    if polygon.area == 0:
        raise AreaError("polygon-invalid", "polygon has zero area")
    return _split(polygon)


def circle_from_cap(text: str) -> Polygon | MultiPolygon:
    """Return the geodesic circle of a CAP ``<circle>`` (``"lat,lon radius_km"``) as lon/lat.

    A zero radius (CAP's way to give a point) yields an empty Polygon.
    """
    tokens = text.split()
    if len(tokens) != 2:
        raise AreaError("circle-syntax", f"expected 'lat,lon radius', got {text.strip()!r}")
    lat, lon = _pair(tokens[0], "circle-syntax")
    radius_km = _number(tokens[1], "circle-syntax")
    if radius_km < 0:
        raise AreaError("circle-radius", f"negative radius: {tokens[1]!r}")
    return geodesic_circle(lat, lon, radius_km * 1000.0)


@dataclass(frozen=True, slots=True)
class CapArea:
    """One CAP ``<area>``: its description and raw polygon, circle and geocode texts."""

    area_desc: str
    polygons: list[str] = field(default_factory=list)
    circles: list[str] = field(default_factory=list)
    geocodes: list[tuple[str, str]] = field(default_factory=list)  # (valueName, value)


@dataclass(frozen=True, slots=True)
class AreaProblem:
    """A rule violation found while resolving an area (rule code, message, which area)."""

    rule: str
    message: str
    area_desc: str


@dataclass(frozen=True, slots=True)
class ResolvedArea:
    """The geometry one CAP area resolved to (before the overshoot buffer)."""

    area_desc: str
    geometry: Polygon | MultiPolygon


@dataclass(frozen=True, slots=True)
class AreaResolution:
    """Union geometry of all areas (buffered), per-area parts, warnings and errors."""

    geometry: Polygon | MultiPolygon
    parts: list[ResolvedArea]
    warnings: list[str]
    errors: list[AreaProblem]
    buffer_m: float = 0.0

    @property
    def blocked(self) -> bool:
        """True when dispatch must not go ahead: any error, or nothing to target."""
        return bool(self.errors) or self.geometry.is_empty


_Memo = dict[tuple[Callable[[str], BaseGeometry], str], "BaseGeometry | AreaError"]


def _area_pieces(
    area: CapArea,
    registry: ZoneRegistry,
    errors: list[AreaProblem],
    warnings: list[str],
    memo: _Memo,
) -> list[BaseGeometry]:
    """Geometry of each polygon, circle and geocode of one area; failures go to ``errors``."""
    pieces: list[BaseGeometry] = []
    if any(not t.strip() for t in (*area.polygons, *area.circles)):
        warnings.append(f"{area.area_desc}: empty <polygon>/<circle> element ignored")
    for text in filter(str.strip, area.polygons):
        pieces.append(_guard(polygon_from_cap, text, area, errors, memo))
    for text in filter(str.strip, area.circles):
        known = len(errors)
        circle = _guard(circle_from_cap, text, area, errors, memo)
        if circle.is_empty and len(errors) == known:
            warnings.append(f"{area.area_desc}: circle {text.strip()!r} has zero radius")
        pieces.append(circle)
    if pieces and area.geocodes:
        # As WEA does: a polygon or circle is the area; geocodes beside it only name the places
        # (NWS adds whole counties to storm-based polygons; their union would over-alert).
        warnings.append(f"{area.area_desc}: geocodes not used, the polygon/circle defines the area")
        return pieces
    for value_name, value in area.geocodes:
        try:
            pieces.append(registry.resolve(value_name, value))
        except AreaError as exc:
            errors.append(AreaProblem(exc.rule, exc.message, area.area_desc))
    return pieces


def _guard(
    parse: Callable[[str], BaseGeometry],
    text: str,
    area: CapArea,
    errors: list[AreaProblem],
    memo: _Memo,
) -> BaseGeometry:
    """Run a CAP text parser, turning an AreaError into a recorded problem and empty geometry.

    ``memo`` holds what each text gave earlier in the same alert: the info blocks of a
    multilingual alert usually repeat the same polygon, which is then parsed once.
    """
    found = memo.get((parse, text))
    if found is None:
        try:
            found = parse(text)
        except AreaError as exc:
            found = exc
        memo[(parse, text)] = found
    if isinstance(found, AreaError):
        errors.append(AreaProblem(found.rule, found.message, area.area_desc))
        return Polygon()
    return found


def area_geometry(
    areas: Sequence[CapArea], registry: ZoneRegistry, *, buffer_m: float = 0
) -> AreaResolution:
    """Resolve and union CAP areas; ``buffer_m`` is a geodesic overshoot buffer in metres."""
    if buffer_m < 0:
        raise ValueError("overshoot buffer must be >= 0 metres")
    errors: list[AreaProblem] = []
    warnings: list[str] = []
    parts: list[ResolvedArea] = []
    memo: _Memo = {}
    for area in areas:
        if not (area.polygons or area.circles or area.geocodes):
            errors.append(
                AreaProblem(
                    "area-undefined", "area has no polygon, circle or geocode", area.area_desc
                )
            )
            continue
        geometry = as_polygonal(
            shapely.union_all(_area_pieces(area, registry, errors, warnings, memo))
        )
        if geometry.is_empty:
            errors.append(AreaProblem("area-empty", "area resolved to no geometry", area.area_desc))
        parts.append(ResolvedArea(area.area_desc, geometry))
    union = as_polygonal(shapely.union_all([p.geometry for p in parts]))
    if buffer_m:
        union = buffer_geodesic(union, buffer_m)
        warnings.append(f"overshoot buffer of {buffer_m:g} m applied")
    if union.is_empty and not any(e.rule == "area-empty" for e in errors):
        errors.append(AreaProblem("area-empty", "the alert's areas resolved to no geometry", ""))
    return AreaResolution(union, parts, warnings, errors, buffer_m)
