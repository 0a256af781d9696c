"""Zone registry and targeting preview endpoints."""

from __future__ import annotations

import json
from typing import Annotated, Any

import numpy as np
import shapely
from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, Field
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from alerts.cap.xmlsafe import safe_parse
from alerts.deps import SessionDep, SettingsDep
from alerts.errors import BadInput, NotFound, Violation
from alerts.zones.targeting import PREVIEW_MAX_AGE_S, Targeting, geojson
from geo.areas import AreaResolution, CapArea, ResolvedArea, area_geometry
from geo.errors import UnknownZoneError
from geo.geodesy import as_polygonal, buffer_geodesic
from geo.zones import ZoneRegistry

router = APIRouter(tags=["zones & targeting"])
_PROBLEM: dict[str, Any] = {"content": {"application/problem+json": {}}}


def _targeting(request: Request) -> Targeting:
    targeting: Targeting = request.app.state.targeting
    return targeting


def _registry(request: Request) -> ZoneRegistry:
    return _targeting(request).registry


@router.get("/api/v1/zones", summary="Zone sets")
def list_sets(request: Request) -> list[dict[str, Any]]:
    """Every registered zone set with its zone count and bounds."""
    return [
        {"name": i.name, "description": i.description, "count": i.count, "bounds": list(i.bounds)}
        for i in _registry(request).sets()
    ]


def _zone_set(request: Request, name: str) -> Any:
    try:
        return _registry(request).zone_set(name)
    except UnknownZoneError:
        raise NotFound(f"no zone set named {name!r}") from None


@router.get(
    "/api/v1/zones/{set_name}", responses={404: _PROBLEM}, summary="Zones of a set (GeoJSON)"
)
def zone_collection(
    request: Request,
    set_name: str,
    bbox: Annotated[
        str | None,
        Query(
            pattern=r"^-?[\d.]+,-?[\d.]+,-?[\d.]+,-?[\d.]+$",
            description="minlon,minlat,maxlon,maxlat",
        ),
    ] = None,
    simplify_m: Annotated[
        float, Query(ge=0, le=10_000, description="Display simplification, metres")
    ] = 0,
) -> dict[str, Any]:
    """A GeoJSON FeatureCollection of the set's zones, optionally clipped to a bbox and simplified."""
    zs = _zone_set(request, set_name)
    if bbox:
        lo_x, lo_y, hi_x, hi_y = (float(v) for v in bbox.split(","))
        zones = zs.in_bbox((lo_x, lo_y, hi_x, hi_y))
    else:
        zones = list(zs)
    features = [
        {
            "type": "Feature",
            "id": z.id,
            "properties": {"id": z.id, "name": z.name, "set": set_name},
            "geometry": geojson(z.display_geometry(simplify_m) if simplify_m else z.geometry),
        }
        for z in zones
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get(
    "/api/v1/zones/{set_name}/{zone_id}", responses={404: _PROBLEM}, summary="One zone (GeoJSON)"
)
def one_zone(request: Request, set_name: str, zone_id: str) -> dict[str, Any]:
    """One zone as a GeoJSON Feature."""
    try:
        z = _registry(request).zone(set_name, zone_id)
    except UnknownZoneError as exc:
        raise NotFound(str(exc)) from None
    return {
        "type": "Feature",
        "id": z.id,
        "properties": {"id": z.id, "name": z.name, "set": set_name},
        "geometry": geojson(z.geometry),
    }


@router.get("/api/v1/zones-at", summary="Which zones am I in")
def zones_at(
    request: Request,
    lon: Annotated[float, Query(ge=-180, le=180)],
    lat: Annotated[float, Query(ge=-90, le=90)],
) -> list[dict[str, str]]:
    """The zones (of every set) covering a point."""
    return [
        {"set": z.set_name, "id": z.id, "name": z.name}
        for z in _registry(request).zones_at(lon, lat)
    ]


class PreviewResponse(BaseModel):
    """Who an area reaches: counts, the geometry actually used, warnings."""

    count: int
    by_language: dict[str, int]
    by_zone: dict[str, dict[str, int]]
    warnings: list[str]
    blocked: bool
    geometry: dict[str, Any]


class PreviewRequest(BaseModel):
    """What to preview: a GeoJSON geometry or a CAP ``<area>`` element (XML text)."""

    geometry: dict[str, Any] | None = None
    area_xml: str | None = Field(default=None, max_length=1_048_576)
    buffer_m: float = Field(default=0, ge=0, le=5_000, description="Geodesic overshoot, metres")
    test_audience_only: bool = False


def _local(el: Any) -> str:
    return str(el.tag).rsplit("}", 1)[-1]


def area_from_xml(text: str) -> CapArea:
    """Read a CAP ``<area>`` fragment with the hardened parser."""
    root, issues = safe_parse(text.encode(), max_bytes=1_048_576)
    if root is None or _local(root) != "area":
        vs = [Violation(rule=i.rule, message=i.message) for i in issues] or [
            Violation(rule="AREA-XML-ROOT", message="the document must be one CAP <area> element")
        ]
        raise BadInput("area_xml is not a CAP <area>", violations=vs)
    kids = [(_local(c), c) for c in root]
    desc = next((c.text or "" for n, c in kids if n == "areaDesc"), "")
    geocodes = []
    for n, c in kids:
        if n == "geocode":
            parts = {_local(g): (g.text or "").strip() for g in c}
            geocodes.append((parts.get("valueName", ""), parts.get("value", "")))
    return CapArea(
        area_desc=desc,
        polygons=[c.text or "" for n, c in kids if n == "polygon"],
        circles=[c.text or "" for n, c in kids if n == "circle"],
        geocodes=geocodes,
    )


def _polygonal(raw: dict[str, Any]) -> BaseGeometry:
    """Polygon/MultiPolygon GeoJSON to shapely with numpy rings (drawn zones have 10^4+ vertices)."""
    kind = raw.get("type")
    if kind not in ("Polygon", "MultiPolygon"):
        return shape(raw)  # other types are refused by the caller with a precise rule
    parts = raw["coordinates"] if kind == "MultiPolygon" else [raw["coordinates"]]
    polygons = [
        shapely.polygons(
            np.asarray(rings[0], dtype=np.float64),
            holes=[np.asarray(h, dtype=np.float64) for h in rings[1:]] or None,
        )
        for rings in parts
    ]
    return shapely.multipolygons(polygons) if kind == "MultiPolygon" else polygons[0]


def geometry_from_geojson(data: dict[str, Any]) -> BaseGeometry:
    """A polygonal shapely geometry from GeoJSON, refusing invalid or non-areal shapes."""
    try:
        raw = data.get("geometry", data) if data.get("type") == "Feature" else data
        geom = _polygonal(raw)
    except (
        ValueError,
        TypeError,
        AttributeError,
        KeyError,
        IndexError,
        shapely.errors.GEOSException,
    ) as exc:
        raise BadInput(
            "geometry is not GeoJSON",
            violations=[Violation(rule="AREA-GEOJSON-INVALID", message=str(exc), path="geometry")],
        ) from None
    if geom.geom_type not in ("Polygon", "MultiPolygon") or geom.is_empty:
        raise BadInput(
            "only Polygon or MultiPolygon areas can be targeted",
            violations=[
                Violation(
                    rule="AREA-GEOJSON-TYPE", message=f"got {geom.geom_type}", path="geometry"
                )
            ],
        )
    if not geom.is_valid:
        raise BadInput(
            "the drawn area crosses itself",
            violations=[
                Violation(
                    rule="AREA-POLYGON-SELF-INTERSECTING",
                    message=shapely.is_valid_reason(geom),
                    path="geometry",
                )
            ],
        )
    return geom


def _resolve(body: PreviewRequest, registry: ZoneRegistry) -> AreaResolution:
    if body.area_xml:
        res = area_geometry([area_from_xml(body.area_xml)], registry, buffer_m=body.buffer_m)
        if res.errors:
            raise BadInput(
                "the area cannot be resolved",
                violations=[
                    Violation(rule=f"AREA-{e.rule.upper()}", message=e.message, path=e.area_desc)
                    for e in res.errors
                ],
            )
        return res
    if body.geometry is None:
        raise BadInput(
            "give geometry or area_xml",
            violations=[
                Violation(rule="AREA-MISSING", message="no area given: nothing can be targeted")
            ],
        )
    geom = as_polygonal(geometry_from_geojson(body.geometry))
    final = buffer_geodesic(geom, body.buffer_m) if body.buffer_m else geom
    warnings = [f"overshoot buffer of {body.buffer_m:g} m applied"] if body.buffer_m else []
    part = ResolvedArea("drawn area", geom)
    return AreaResolution(
        geometry=final, parts=[part], warnings=warnings, errors=[], buffer_m=body.buffer_m
    )


@router.post(
    "/api/v1/targeting/preview",
    responses={400: {"description": "The area cannot be used", **_PROBLEM}},
    summary="Preview who an area reaches",
    response_model=PreviewResponse,
)
def preview(
    body: PreviewRequest, request: Request, session: SessionDep, settings: SettingsDep
) -> Response:
    """Count subscribers in an area (per language and per zone), with the geometry actually used."""
    targeting = _targeting(request)
    res = _resolve(body, targeting.registry)
    sel = targeting.select(
        session, res.geometry, test_only=body.test_audience_only, max_age_s=PREVIEW_MAX_AGE_S
    )
    warnings = list(res.warnings)
    if sel.subscriber_ids.size == 0:
        warnings.append("no subscriber is inside this area")
    local_sets = [n for n in targeting.registry.names() if not n.startswith("us_")]
    by_zone = targeting.per_zone(session, sel, local_sets)
    facts = {
        "count": int(sel.subscriber_ids.size),
        "by_language": sel.by_language(),
        "by_zone": by_zone,
        "warnings": warnings,
        "blocked": res.geometry.is_empty,
    }
    # The geometry can hold tens of thousands of vertices: GEOS writes its GeoJSON directly
    # instead of a walk through nested Python lists.
    body_json = json.dumps(facts)[:-1] + ', "geometry": ' + shapely.to_geojson(res.geometry) + "}"
    return Response(body_json, media_type="application/json")
