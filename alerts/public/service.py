"""Rendering an alert for people: its map at a size and language, text forms per language."""

from __future__ import annotations

import json
from typing import Any

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from alerts.dispatch.content import info_texts, map_for
from alerts.errors import BadInput, NotFound, Violation
from alerts.intake.models import Alert
from renderers import text
from renderers.localtime import zone_for

SIZES = {
    "640x480": ((640, 480), 100_000),
    "160x120": ((160, 120), 30_000),
    "1280x960": ((1280, 960), 400_000),
}


def geometry_of(alert: Alert) -> BaseGeometry:
    """The alert's resolved area, or NotFound when it has none."""
    if not alert.area_geojson:
        raise NotFound(
            "this alert has no resolved area to draw",
            violations=[
                Violation(rule="AREA-EMPTY", message="no area geometry", path="/alert/info/area")
            ],
        )
    return shape(json.loads(alert.area_geojson))


def _infos(alert: Alert, geometry: BaseGeometry) -> list[text.InfoText]:
    centre = geometry.representative_point()
    return info_texts(alert, str(zone_for(centre.x, centre.y)))


def map_image(alert: Alert, *, size: str, lang: str | None, fmt: str) -> tuple[bytes, str]:
    """The alert map as sent (PNG or JPEG within the size's byte budget)."""
    if size not in SIZES:
        raise BadInput(
            f"size must be one of {', '.join(SIZES)}",
            violations=[
                Violation(rule="MAP-SIZE", message=f"unsupported size {size!r}", path="size")
            ],
        )
    if not alert.infos:
        raise NotFound("this alert carries no <info> to draw")
    geometry = geometry_of(alert)
    info = text.choose_info(_infos(alert, geometry), lang or alert.languages[0])
    dims, budget = SIZES[size]
    data, media = map_for(geometry, info, alert, dims, budget)
    if fmt == "jpg" and media != "image/jpeg":
        data, media = _as_jpeg(data, budget)
    return data, media


def _as_jpeg(png: bytes, budget: int) -> tuple[bytes, str]:
    import io

    from PIL import Image

    from renderers.encode import encode_jpeg

    image = Image.open(io.BytesIO(png)).convert("RGB")
    for quality in (90, 80, 70, 60, 50):
        data = encode_jpeg(image, quality)
        if len(data) <= budget:
            return data, "image/jpeg"
    return data, "image/jpeg"


def preview(alert: Alert, *, base_url: str) -> dict[str, Any]:
    """What a subscriber of each language receives: text forms and the map URL."""
    link = f"{base_url}/a/{alert.short_id}"
    if not alert.infos:
        return {"alert_id": alert.id, "link": link, "languages": {}}
    geometry = geometry_of(alert) if alert.area_geojson else None
    infos = info_texts(alert, "UTC") if geometry is None else _infos(alert, geometry)
    languages = {}
    for info in infos:
        msg = text.message_text(info, link=link)
        languages[info.language] = {
            "kind": msg.kind,
            "short": msg.short,
            "long": msg.long,
            "full": msg.full,
            "source": msg.source,
            "map": f"{base_url}/api/v1/alerts/{alert.id}/map.png?size=640x480&lang={info.language}",
        }
    return {
        "alert_id": alert.id,
        "link": link,
        "fallback_language": infos[0].language,
        "languages": languages,
    }
