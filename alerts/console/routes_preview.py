"""JSON and image endpoints behind the compose page's live preview and offline basemap."""

from __future__ import annotations

import json
from typing import Any

import shapely
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from alerts.access.jurisdiction import jurisdiction_of
from alerts.console import area as areas
from alerts.console import flows
from alerts.console.routes_compose import read_post
from alerts.console.web import ApiOperator
from alerts.deps import SessionDep
from alerts.errors import NotFound

router = APIRouter(prefix="/console/api", include_in_schema=False)
_ZONE_TOLERANCE_M = 60.0


@router.post("/area-check")
async def area_check(request: Request, op: ApiOperator, session: SessionDep) -> JSONResponse:
    """Check the drawn area (jurisdiction) and count who it reaches, per language."""
    form, zones = await read_post(request, op)
    _, geometry = await flows.checked_area(request, op, form, zones)
    preview = await flows.targeting(request, session, op, geometry, str(form.get("status", "")))
    body: dict[str, Any] = {
        "ok": True,
        "area": shapely.geometry.mapping(geometry),
        "preview_available": preview is not None,
        "count": None if preview is None else preview.get("count"),
        "by_language": {} if preview is None else preview.get("by_language", {}),
        "warnings": [] if preview is None else preview.get("warnings", []),
        "by_zone": {} if preview is None else preview.get("by_zone", {}),
    }
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


def _render(geometry: Any, form: dict[str, Any]) -> tuple[bytes, str]:
    from renderers.maps import render_alert_map

    return render_alert_map(
        geometry,
        event=str(form.get("event") or "Alert"),
        severity=str(form.get("severity") or "Unknown"),
        status=str(form.get("status")),
        headline=str(form.get("headline_en-US") or ""),
        area_label=str(form.get("area_desc", "")),
        size=(640, 480),
    )


@router.post("/preview-map")
async def preview_map(request: Request, op: ApiOperator) -> Response:
    """The map image as it will be sent (exercise band included), for the area drawn now."""
    form, zones = await read_post(request, op)
    _, geometry = await flows.checked_area(request, op, form, zones)
    data, media = await run_in_threadpool(_render, geometry, form)
    return Response(data, media_type=media, headers={"Cache-Control": "no-store"})


@router.get("/jurisdiction")
def jurisdiction(op: ApiOperator) -> JSONResponse:
    """The agency's jurisdiction as a GeoJSON Feature (null geometry when unset)."""
    home = jurisdiction_of(op.agency)
    geometry = shapely.geometry.mapping(home) if home is not None else None
    return JSONResponse(
        {"type": "Feature", "properties": {"name": op.agency.name}, "geometry": geometry}
    )


def _local_sets(request: Request, op: ApiOperator) -> list[dict[str, Any]]:
    registry = areas.zone_registry(request)
    home = jurisdiction_of(op.agency)
    out = []
    for info in registry.sets():
        zone_set = registry.zone_set(info.name)
        if home is None or shapely.box(*zone_set.bounds).intersects(home):
            out.append({"name": info.name, "description": info.description, "count": len(zone_set)})
    return out


def _local_zones(request: Request, op: ApiOperator, set_name: str) -> dict[str, Any]:
    registry = areas.zone_registry(request)
    if not registry.has_set(set_name):
        raise NotFound(f"no zone set {set_name!r}")
    home = jurisdiction_of(op.agency)
    zone_set = registry.zone_set(set_name)
    zones = zone_set.in_bbox(home.bounds) if home is not None else list(zone_set)
    features = [
        {
            "type": "Feature",
            "id": f"{set_name}:{z.id}",
            "properties": {"id": z.id, "name": z.name, "set": set_name},
            "geometry": shapely.geometry.mapping(z.display_geometry(_ZONE_TOLERANCE_M)),
        }
        for z in zones
    ]
    return {"type": "FeatureCollection", "features": features}


@router.get("/zones")
async def zone_sets(request: Request, op: ApiOperator) -> JSONResponse:
    """Zone sets that overlap the agency's jurisdiction (shipped data, no network)."""
    sets = await run_in_threadpool(_local_sets, request, op)
    return JSONResponse({"sets": sets}, headers={"Cache-Control": "private, max-age=300"})


@router.get("/zones/{set_name}")
async def zones(request: Request, op: ApiOperator, set_name: str) -> Response:
    """Zones of one set within the jurisdiction's bounding box, simplified for display."""
    data = await run_in_threadpool(_local_zones, request, op, set_name)
    return Response(
        json.dumps(data),
        media_type="application/geo+json",
        headers={"Cache-Control": "private, max-age=300"},
    )
