"""Prefilled forms: a fresh compose from a template, or an Update/Cancel of a stored alert."""

from __future__ import annotations

import json
from typing import Any

from alerts import cap
from alerts.console.message_templates import LANGUAGES, template
from alerts.intake.models import Alert

ACTIONS = {
    "update": ("Update", ""),
    "cancel": ("Cancel", "cancelled"),
    "false_alarm": ("Cancel", "false_alarm"),
}


def from_template(key: str, area_desc: str = "") -> dict[str, Any]:
    """Form values for a prepared template (``{area}`` filled when the area is known)."""
    tpl = template(key)
    if tpl is None:
        return {}
    area = area_desc or "{area}"
    form: dict[str, Any] = {
        "template": key,
        "event": tpl.event,
        "category": tpl.category,
        "response_type": tpl.response_type,
        "urgency": tpl.urgency,
        "severity": tpl.severity,
        "certainty": tpl.certainty,
        "expires_hours": tpl.expires_hours,
    }
    for lang, wording in tpl.texts.items():
        form[f"headline_{lang}"] = wording.headline.replace("{area}", area)
        form[f"instruction_{lang}"] = wording.instruction.replace("{area}", area)
    return form


def _ring_geojson(polygon: str) -> str:
    """CAP ``lat,lon`` polygon text -> GeoJSON Polygon text (lon/lat)."""
    ring = []
    for pair in polygon.split():
        lat, lon = pair.split(",")
        ring.append([float(lon), float(lat)])
    return json.dumps({"type": "Polygon", "coordinates": [ring]})


def _area_fields(area: cap.Area) -> dict[str, Any]:
    form: dict[str, Any] = {"area_desc": area.area_desc}
    if area.polygons:
        form["area_polygon"] = _ring_geojson(area.polygons[0])
    if area.circles:
        centre, radius = area.circles[0].split()
        lat, lon = centre.split(",")
        form.update(circle_lat=lat, circle_lon=lon, circle_km=radius)
    form["zones"] = [f"{g.value_name}:{g.value}" for g in area.geocodes]
    return form


def _texts(infos: tuple[cap.Info, ...]) -> dict[str, Any]:
    form: dict[str, Any] = {}
    for info in infos:
        if info.language in LANGUAGES:
            form[f"headline_{info.language}"] = info.headline or ""
            form[f"instruction_{info.language}"] = info.instruction or ""
    return form


def from_alert(alert: Alert, action: str) -> dict[str, Any]:
    """Form values for an Update, Cancel or false-alarm correction of ``alert``, same area."""
    msg_type, template_key = ACTIONS[action]
    parsed = cap.parse(alert.raw_xml, max_bytes=len(alert.raw_xml) + 1).raise_for_errors()
    info = parsed.infos[0]
    area = info.areas[0] if info.areas else cap.Area(area_desc=alert.event or "")
    form = from_template(template_key, area.area_desc) if template_key else _texts(parsed.infos)
    if not template_key:
        form.update(
            event=info.event,
            category=info.categories[0].value,
            response_type=(info.response_types or (cap.ResponseType.NONE,))[0].value,
            urgency=info.urgency.value,
            severity=info.severity.value,
            certainty=info.certainty.value,
        )
    form.update(_area_fields(area))
    form.update(
        status=parsed.status.value,
        msg_type=msg_type,
        action=action,
        references=f"{alert.sender},{alert.identifier},{alert.sent}",
        original_id=alert.id,
    )
    return form
