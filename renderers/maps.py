"""Alert maps: the alert area on an offline basemap, as PNG or JPEG bytes within a byte budget.

`render_alert_map` is the public contract (bytes + media type, cached by content);
`draw_alert_map` is the lower level that returns the drawn frame with its pixel transform, for
checks that sample pixels at projected points and inspect the text artists.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import numpy.typing as npt
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image
from shapely.geometry.base import BaseGeometry

from renderers import mapdecor, mapdraw, style
from renderers.basemap import (
    Extent,
    Prepared,
    Region,
    digest,
    level_for,
    lonlat_to_mercator,
    preload,
    prepare,
    region_for,
)
from renderers.encode import encode_within
from renderers.localtime import format_local, zone_for

MIN_EXTENT_M = 3_000.0  # ground metres: a tiny area still shows its neighbourhood
MARGIN = 0.18  # of the area's larger side, on every side
CACHE_SIZE = 128

Zones = Sequence[tuple[str, BaseGeometry]]


@dataclass(frozen=True)
class MapFacts:
    """Everything about an alert that the map shows, besides the geometry."""

    event: str
    severity: str
    status: str = "Actual"
    headline: str = ""
    sent: datetime | None = None
    expires: datetime | None = None
    sender_name: str = ""
    area_label: str = ""
    language: str = "en"


@dataclass(frozen=True)
class MapFrame:
    """A drawn map: the figure, its RGBA pixels and the projection from lon/lat to pixels."""

    figure: Figure
    view: mapdraw.MapView
    rgba: npt.NDArray[np.uint8]
    extent: Extent
    region: str
    layout: mapdecor.Layout

    def to_pixel(self, lon: float, lat: float) -> tuple[float, float]:
        """Image (column, row) of a WGS84 point; row 0 is the top of the image."""
        x, y = lonlat_to_mercator(np.array([lon]), np.array([lat]))
        return self.pixel_of(float(x[0]), float(y[0]))

    def pixel_of(self, x: float, y: float) -> tuple[float, float]:
        """Image (column, row) of a Web Mercator point; row 0 is the top of the image."""
        col, up = self.view.transform.transform((x, y))
        return float(col), float(self.rgba.shape[0] - up)

    def map_rows(self) -> tuple[int, int]:
        """First and last+1 image rows of the map area (below the title strip and band)."""
        top = (self.layout.title_h + self.layout.band_h) * self.layout.scale
        return math.ceil(top), self.rgba.shape[0]

    def band_rows(self) -> tuple[int, int] | None:
        """Image rows of the exercise band, or None when the map has none."""
        if not self.layout.band_h:
            return None
        top = self.layout.title_h * self.layout.scale
        return math.ceil(top), math.floor(top + self.layout.band_h * self.layout.scale)


def fit_extent(area: BaseGeometry, aspect: float) -> Extent:
    """A Mercator extent around the projected area: margin, minimum size, given width/height."""
    x0, y0, x1, y1 = area.bounds
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    lat = math.degrees(2 * math.atan(math.exp(cy / 6_378_137.0)) - math.pi / 2)
    min_side = MIN_EXTENT_M / math.cos(math.radians(lat))
    side = max(x1 - x0, y1 - y0)
    w = max(x1 - x0 + 2 * MARGIN * side, min_side)
    h = max(y1 - y0 + 2 * MARGIN * side, min_side)
    if w / h < aspect:
        w = h * aspect
    else:
        h = w / aspect
    return cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2


def _prepare_area(geometry: BaseGeometry) -> Prepared:
    area = prepare(geometry)
    if area.lonlat.is_empty:
        raise ValueError("the alert area has no polygonal extent")
    return area


def _title_lines(facts: MapFacts, lonlat_area: BaseGeometry) -> tuple[str, str, str]:
    pt = shapely.point_on_surface(lonlat_area)
    tz = zone_for(round(pt.x, 3), round(pt.y, 3))
    lang = facts.language
    meta = []
    if facts.sent:
        meta.append(f"{style.word('issued', lang)} {format_local(facts.sent, tz, lang)}")
    if facts.expires:
        meta.append(f"{style.word('expires', lang)} {format_local(facts.expires, tz, lang)}")
    if facts.sender_name:
        meta.append(facts.sender_name)
    return facts.event, facts.headline, " · ".join(meta)


def _new_figure(lay: mapdecor.Layout, extent: Extent) -> tuple[Figure, mapdraw.MapView]:
    fig = Figure(figsize=(lay.width / 100, lay.height / 100), dpi=100, facecolor=style.WATER)
    FigureCanvasAgg(fig)
    return fig, mapdraw.MapView(fig, extent, lay)


def _draw_furniture(
    fig: Figure,
    lay: mapdecor.Layout,
    facts: MapFacts,
    severity: str,
    lines: tuple[str, str, str],
    extras: tuple[str, float, bool],
) -> None:
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    mapdecor.draw_title(fig, lay, renderer, lines, severity)
    if lay.exercise:
        mapdecor.draw_exercise_band(
            fig, lay, renderer, style.word(style.band_word(facts.status), facts.language)
        )
        mapdecor.draw_exercise_frame(fig, lay)
    if lay.compact:
        return
    attribution, metres_per_px, has_zones = extras
    area_word = f"{style.word('area', facts.language)} · {style.word(severity, facts.language)}"
    zone_word = style.word("zones", facts.language) if has_zones else None
    mapdecor.draw_legend(fig, lay, severity, (area_word, zone_word))
    mapdecor.draw_scale_bar(fig, lay, metres_per_px)
    mapdecor.draw_north_arrow(fig, lay)
    mapdecor.draw_attribution(fig, lay, attribution)


def draw_alert_map(
    geometry: BaseGeometry,
    facts: MapFacts,
    *,
    size: tuple[int, int] = (640, 480),
    zones: Zones = (),
) -> MapFrame:
    """Draw the map for an alert area (WGS84) and return the frame with its pixels."""
    area = _prepare_area(geometry)
    lonlat_area = area.lonlat
    severity = style.severity_key(facts.severity)
    lay = mapdecor.Layout(size[0], size[1], style.is_exercise(facts.status))
    extent = fit_extent(area.projected, lay.base_w / lay.map_h)
    centre = shapely.point_on_surface(lonlat_area)
    region = region_for(centre.x, centre.y)
    fig, ax = _new_figure(lay, extent)
    px_m = (extent[2] - extent[0]) / lay.width
    level = level_for(px_m)
    mapdraw.draw_basemap(ax, region, extent, lay, level)
    prepared_zones = [(label, prepare(g)) for label, g in zones]
    mapdraw.draw_zones(ax, [z for _, z in prepared_zones], lay, level)
    mapdraw.draw_area(ax, area, severity, lay, px_m)
    projected_zones = [(label, z.projected) for label, z in prepared_zones]
    _label(ax, lay, area.projected, facts.area_label, projected_zones, region, extent)
    ground = math.cos(math.radians(centre.y)) * (extent[2] - extent[0]) / lay.base_w
    extras = (region.attribution, ground, bool(zones))
    _draw_furniture(fig, lay, facts, severity, _title_lines(facts, lonlat_area), extras)
    fig.canvas.draw()
    rgba = np.asarray(fig.canvas.buffer_rgba())  # type: ignore[attr-defined]
    return MapFrame(fig, ax, rgba, extent, region.name, lay)


def _label(
    ax: mapdraw.MapView,
    lay: mapdecor.Layout,
    area: BaseGeometry,
    area_label: str,
    zones: Zones,
    region: Region,
    extent: Extent,
) -> None:
    placer = mapdraw.LabelPlacer(ax, lay)
    if not lay.compact:
        mapdraw.reserve_furniture(placer, 2 if zones else 1)
    mapdraw.label_area(placer, area, area_label, extent)
    if lay.compact:
        return
    mapdraw.label_zones(placer, zones, extent)
    mapdraw.label_places(placer, region, extent)


def warm_up(*, all_levels: bool = False) -> None:
    """Load and project every basemap region now (call at service start so the first map is fast).

    With `all_levels` the simplified paths for every zoom level are built too (seconds, not
    milliseconds); otherwise each level is built on the first map that needs it.
    """
    preload(all_levels=all_levels)
    zone_for(-74.0, 40.7)  # builds the time zone finder


class _LruCache:
    """A small thread-safe LRU of encoded images keyed by content hash."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.items: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
        self.lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> tuple[bytes, str] | None:
        with self.lock:
            value = self.items.get(key)
            if value is None:
                self.misses += 1
                return None
            self.hits += 1
            self.items.move_to_end(key)
            return value

    def put(self, key: str, value: tuple[bytes, str]) -> None:
        with self.lock:
            self.items[key] = value
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


_CACHE = _LruCache(CACHE_SIZE)


def cache_info() -> dict[str, int]:
    """Hits, misses and current entries of the render cache."""
    return {"hits": _CACHE.hits, "misses": _CACHE.misses, "entries": len(_CACHE.items)}


def clear_cache() -> None:
    """Empty the render cache (the basemap layers stay loaded)."""
    with _CACHE.lock:
        _CACHE.items.clear()
        _CACHE.hits = _CACHE.misses = 0


def content_key(
    geometry: BaseGeometry, facts: MapFacts, size: tuple[int, int], max_bytes: int, zones: Zones
) -> str:
    """A SHA-256 over everything that changes the image."""
    h = hashlib.sha256()
    h.update(digest(geometry))
    for label, g in zones:
        h.update(label.encode() + b"\0" + digest(g))
    h.update(repr((facts, size, max_bytes)).encode())
    return h.hexdigest()


def render_alert_map(
    geometry: BaseGeometry,
    *,
    event: str,
    severity: str,
    status: str = "Actual",
    headline: str = "",
    size: tuple[int, int] = (640, 480),
    max_bytes: int = 100_000,
    sent: datetime | None = None,
    expires: datetime | None = None,
    sender_name: str = "",
    area_label: str = "",
    zones: Zones = (),
    language: str = "en",
    use_cache: bool = True,
) -> tuple[bytes, str]:
    """The alert map as (image bytes, media type): PNG or JPEG, at most `max_bytes`."""
    facts = MapFacts(
        event, severity, status, headline, sent, expires, sender_name, area_label, language
    )
    key = content_key(geometry, facts, size, max_bytes, zones)
    if use_cache and (hit := _CACHE.get(key)) is not None:
        return hit
    frame = draw_alert_map(geometry, facts, size=size, zones=zones)
    image = Image.fromarray(frame.rgba[:, :, :3])
    result = encode_within(image, max_bytes)
    if use_cache:
        _CACHE.put(key, result)
    return result
