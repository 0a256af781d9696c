"""The area an operator composed: drawn polygon, circle and picked zones -> geometry and CAP.

Coordinates arrive as GeoJSON lon/lat; CAP wants ``lat,lon`` (polygon) and ``lat,lon km``
(circle). Every area is checked against the agency's jurisdiction before anything is stored.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import shapely
from fastapi import Request
from shapely.geometry.base import BaseGeometry

from alerts import cap
from alerts.access.jurisdiction import jurisdiction_of
from alerts.access.models import Agency
from alerts.deps import get_app_settings
from alerts.errors import BadInput, Forbidden, Violation
from geo.areas import circle_from_cap
from geo.zones import ZoneRegistry

# Drawing to the pixel on a jurisdiction border must not be refused: about 50 m of slack.
_BORDER_SLACK_DEG = 0.0005
_MAX_POLYGON_POINTS = 500


@dataclass(slots=True)
class AreaInput:
    """What the compose form says about the area."""

    desc: str
    polygon: list[tuple[float, float]] = field(default_factory=list)  # lon, lat
    circle: tuple[float, float, float] | None = None  # lat, lon, radius km
    zones: list[tuple[str, str]] = field(default_factory=list)  # zone set, zone id

    @property
    def empty(self) -> bool:
        """No polygon, no circle, no zone: nothing to send to."""
        return not (self.polygon or self.circle or self.zones)


def _bad(message: str, rule: str = "AREA-INVALID") -> BadInput:
    return BadInput(message, violations=[Violation(rule=rule, message=message, path="area")])


def _polygon(text: str) -> list[tuple[float, float]]:
    """Ring from a GeoJSON Polygon (or Feature) string; closed, lon/lat, bounded in size."""
    if not text.strip():
        return []
    try:
        data: Any = json.loads(text)
        geom = data.get("geometry", data)
        ring = [(float(x), float(y)) for x, y, *_ in geom["coordinates"][0]]
    except (ValueError, KeyError, TypeError, IndexError, AttributeError) as exc:
        raise _bad("the drawn polygon could not be read; draw it again") from exc
    if len(ring) > _MAX_POLYGON_POINTS:
        raise _bad(f"the polygon has more than {_MAX_POLYGON_POINTS} points")
    if ring and ring[0] != ring[-1]:
        ring.append(ring[0])
    if len(ring) < 4:
        raise _bad("a polygon needs at least three corners")
    if not all(-180 <= x <= 180 and -90 <= y <= 90 for x, y in ring):
        raise _bad("the polygon has coordinates outside the globe")
    return ring


def _circle(lat: str, lon: str, km: str) -> tuple[float, float, float] | None:
    if not (lat.strip() or lon.strip() or km.strip()):
        return None
    try:
        values = float(lat), float(lon), float(km)
    except ValueError as exc:
        raise _bad("the circle needs a centre latitude, longitude and radius in km") from exc
    if not (-90 <= values[0] <= 90 and -180 <= values[1] <= 180 and 0 < values[2] <= 500):
        raise _bad("the circle's centre or radius (0-500 km) is out of range")
    return values


def _zones(values: list[str]) -> list[tuple[str, str]]:
    out = []
    for value in values:
        set_name, sep, zone_id = value.partition(":")
        if sep and set_name and zone_id:
            out.append((set_name, zone_id))
    return out


def parse_area(form: dict[str, Any], zones: list[str]) -> AreaInput:
    """Read the area fields of the compose form (strings) into an ``AreaInput``."""
    desc = str(form.get("area_desc", "")).strip()
    area = AreaInput(
        desc=desc,
        polygon=_polygon(str(form.get("area_polygon", ""))),
        circle=_circle(*(str(form.get(k, "")) for k in ("circle_lat", "circle_lon", "circle_km"))),
        zones=_zones(zones),
    )
    if area.empty:
        raise _bad(
            "no area: draw a polygon or circle, or pick a zone — no area, no send",
            rule="AREA-MISSING",
        )
    if not desc:
        raise _bad(
            "give the area a name people will recognise (e.g. 'Zone A')", rule="AREA-DESC-MISSING"
        )
    return area


def zone_registry(request: Request) -> ZoneRegistry:
    """The app's zone registry (the lead's when installed, else one loaded from data/)."""
    state = request.app.state
    targeting = getattr(state, "targeting", None)
    registry = getattr(targeting, "registry", None) or getattr(state, "console_zones", None)
    if registry is None:
        registry = ZoneRegistry.default(get_app_settings(request).data_dir)
        state.console_zones = registry
    assert isinstance(registry, ZoneRegistry)
    return registry


def geometry_of(area: AreaInput, registry: ZoneRegistry) -> BaseGeometry:
    """The union of the area's polygon, circle and zones (lon/lat)."""
    pieces: list[BaseGeometry] = []
    if area.polygon:
        polygon = shapely.Polygon(area.polygon)
        if not polygon.is_valid:
            raise _bad("the polygon crosses itself; draw it again without crossing lines")
        pieces.append(polygon)
    if area.circle:
        lat, lon, km = area.circle
        pieces.append(circle_from_cap(f"{lat},{lon} {km}"))
    for set_name, zone_id in area.zones:
        try:
            pieces.append(registry.zone(set_name, zone_id).geometry)
        except Exception as exc:  # unknown set or id: the operator picked something stale
            raise _bad(f"unknown zone {set_name}:{zone_id}") from exc
    return shapely.union_all(pieces)


def check_jurisdiction(agency: Agency, geometry: BaseGeometry) -> None:
    """Refuse an area that reaches outside the agency's jurisdiction (rule AREA-OUTSIDE-...)."""
    home = jurisdiction_of(agency)
    if home is None or home.buffer(_BORDER_SLACK_DEG).covers(geometry):
        return
    message = (
        f"the area reaches outside {agency.name}'s jurisdiction; "
        "redraw it inside the outlined boundary"
    )
    raise Forbidden(
        message,
        violations=[Violation(rule="AREA-OUTSIDE-JURISDICTION", message=message, path="area")],
    )


def _cap_polygon(ring: list[tuple[float, float]]) -> str:
    return " ".join(f"{lat:.5f},{lon:.5f}" for lon, lat in ring)


def cap_area(area: AreaInput) -> cap.Area:
    """The CAP ``<area>`` for what was composed (zones become geocodes named by zone set)."""
    return cap.Area(
        area_desc=area.desc,
        polygons=(_cap_polygon(area.polygon),) if area.polygon else (),
        circles=(f"{area.circle[0]:.5f},{area.circle[1]:.5f} {area.circle[2]:g}",)
        if area.circle
        else (),
        geocodes=tuple(cap.NamedValue(s, z) for s, z in area.zones),
    )


def area_geojson(area: AreaInput, registry: ZoneRegistry) -> dict[str, Any]:
    """The area's geometry as a GeoJSON mapping (for the preview endpoints)."""
    geometry: dict[str, Any] = shapely.geometry.mapping(geometry_of(area, registry))
    return geometry
