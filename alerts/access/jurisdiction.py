"""An agency's jurisdiction: the area it may alert, stored as GeoJSON on the agency row."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import mapping, shape
from shapely.geometry.base import BaseGeometry

from alerts.access.models import Agency

# The demo agency's jurisdiction: New York City's five boroughs (shoreline-clipped) widened by
# about a kilometre so areas drawn along the shore and over the harbour stay inside.
NYC_BOROUGHS = Path("basemap") / "nyc_boroughs_nybb_14c.geojson"
SHORE_MARGIN_DEG = 0.01
SIMPLIFY_DEG = 0.001


def geometry_of(geojson: str) -> BaseGeometry:
    """A jurisdiction's geometry from stored GeoJSON: a geometry, a Feature or a FeatureCollection."""
    data: Any = json.loads(geojson)
    if data.get("type") == "FeatureCollection":
        return shapely.union_all([shape(f["geometry"]) for f in data["features"]])
    return shape(data.get("geometry", data))


def jurisdiction_of(agency: Agency) -> BaseGeometry | None:
    """The agency's jurisdiction geometry, or None when none is configured."""
    if not agency.jurisdiction_geojson:
        return None
    return geometry_of(agency.jurisdiction_geojson)


def from_boundary_file(path: Path, *, margin_deg: float = SHORE_MARGIN_DEG) -> str:
    """GeoJSON of the union of a boundary file's features, widened by `margin_deg` and simplified."""
    area = geometry_of(path.read_text())
    widened = area.buffer(margin_deg).simplify(SIMPLIFY_DEG)
    return json.dumps(mapping(widened))


def read_boundary(path: Path) -> str:
    """GeoJSON text of a jurisdiction file, checked to be a valid polygonal area (ValueError)."""
    try:
        area = geometry_of(path.read_text())
    except (ValueError, KeyError, TypeError, AttributeError, shapely.errors.GEOSException) as exc:
        raise ValueError(f"not a GeoJSON geometry, Feature or FeatureCollection ({exc})") from exc
    if area.is_empty or area.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError(f"a jurisdiction must be a polygon area, not {area.geom_type}")
    if not area.is_valid:
        raise ValueError(f"the area is not valid: {shapely.is_valid_reason(area)}")
    return json.dumps(mapping(area))
