"""Drawing the map body: basemap layers, context evacuation zones, the alert area and labels."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely
from matplotlib.artist import Artist
from matplotlib.collections import CircleCollection, PathCollection
from matplotlib.figure import Figure
from matplotlib.path import Path
from matplotlib.text import Text
from matplotlib.transforms import Affine2D, Bbox
from shapely.geometry.base import BaseGeometry

from renderers import style
from renderers.basemap import Extent, Prepared, Region, level_for
from renderers.mapdecor import Layout, halo
from renderers.text import cut_words

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in base pixels from bottom-left


class MapView:
    """The map area drawn straight onto the figure: an Axes would cost ~10 ms per render."""

    def __init__(self, figure: Figure, extent: Extent, lay: Layout) -> None:
        self.figure = figure
        width, height = lay.width, lay.map_h * lay.scale
        sx, sy = width / (extent[2] - extent[0]), height / (extent[3] - extent[1])
        self.transform = Affine2D().translate(-extent[0], -extent[1]).scale(sx, sy)
        self.clip = Bbox.from_extents(0, 0, width, height)  # display pixels
        self.texts: list[Text] = []

    def add(self, artist: Artist, *, data_transform: bool = True) -> None:
        """Add an artist in Mercator coordinates, clipped to the map area."""
        if data_transform:
            artist.set_transform(self.transform)
        artist.set_clip_box(self.clip)
        self.figure.add_artist(artist)

    def text(self, x: float, y: float, s: str, **kw: Any) -> Text:
        """A text at a Mercator point."""
        t = Text(x, y, s, **kw)
        self.add(t)
        self.texts.append(t)
        return t

    def dots(self, xy: np.ndarray, size_pt: float, **kw: Any) -> None:
        """Round markers of `size_pt` points diameter at Mercator points."""
        dots = CircleCollection([size_pt**2], offsets=xy, offset_transform=self.transform, **kw)
        self.add(dots, data_transform=False)


def _collection(view: MapView, paths: list[Path], *, zorder: float, **kw: Any) -> None:
    if paths:
        view.add(PathCollection(paths, zorder=zorder, **kw))


def draw_basemap(ax: MapView, region: Region, extent: Extent, lay: Layout, level: float) -> None:
    """Land, lakes, rivers, coastline, county and borough boundaries inside the extent."""
    _collection(
        ax,
        region.land.visible(extent, level),
        zorder=1,
        facecolors=style.LAND,
        edgecolors="none",
        linewidths=0,
    )
    _collection(
        ax,
        region.water.visible(extent, level),
        zorder=2,
        facecolors=style.WATER,
        edgecolors=style.COAST,
        linewidths=lay.pt(0.5),
    )
    _collection(
        ax,
        region.rivers.visible(extent, level),
        zorder=2,
        facecolors="none",
        edgecolors=style.COAST,
        linewidths=lay.pt(1.0),
    )
    _collection(
        ax,
        region.coast.visible(extent, level),
        zorder=3,
        facecolors="none",
        edgecolors=style.COAST,
        linewidths=lay.pt(0.8),
    )
    _collection(
        ax,
        region.counties.visible(extent, level),
        zorder=3,
        facecolors="none",
        edgecolors=style.COUNTY,
        linewidths=lay.pt(0.9),
    )
    _collection(
        ax,
        region.districts.visible(extent, level),
        zorder=3,
        facecolors="none",
        edgecolors=style.DISTRICT,
        linewidths=lay.pt(1.2),
    )


def draw_zones(ax: MapView, zones: Sequence[Prepared], lay: Layout, level: float) -> None:
    """Evacuation zone boundaries as thin solid lines (dashes cost more than the rest)."""
    paths = [p for z in zones if (p := z.path(level)) is not None]
    _collection(
        ax, paths, zorder=4, facecolors="none", edgecolors=style.ZONE_LINE, linewidths=lay.pt(0.8)
    )


def draw_area(ax: MapView, area: Prepared, severity: str, lay: Layout, px_m: float) -> None:
    """The alert area: translucent severity fill and a strong outline (`px_m`: metres a pixel)."""
    path = area.path(level_for(px_m))
    if path is None:
        return
    _collection(
        ax,
        [path],
        zorder=5,
        facecolors=style.SEVERITY_FILL[severity],
        edgecolors="none",
        alpha=style.FILL_ALPHA,
        linewidths=0,
    )
    width = 2.2 if lay.compact else 2.4
    _collection(
        ax,
        [path],
        zorder=6,
        facecolors="none",
        edgecolors=style.SEVERITY_EDGE[severity],
        linewidths=lay.pt(width),
    )
    _mark_small_parts(ax, area.projected, severity, lay, px_m)


def _mark_small_parts(
    ax: MapView, area: BaseGeometry, severity: str, lay: Layout, px_m: float
) -> None:
    """A dot on each part too small to see (a mobile-home park in a county-wide view)."""
    parts = shapely.get_parts(area)
    b = shapely.bounds(parts)
    dot = 4.0 if lay.compact else 5.0
    small = np.maximum(b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]) < dot * px_m
    if not small.any():
        return
    xy = shapely.get_coordinates(shapely.centroid(parts[small]))
    ax.dots(
        xy,
        lay.pt(dot),
        facecolors=style.SEVERITY_FILL[severity],
        edgecolors=style.SEVERITY_EDGE[severity],
        linewidths=lay.pt(1.2),
        zorder=6,
    )


@dataclass
class LabelPlacer:
    """Places labels greedily, skipping any that would overlap one already placed."""

    ax: MapView
    lay: Layout
    taken: list[Box] = field(default_factory=list)

    def to_base(self, x: float, y: float) -> tuple[float, float]:
        """Base-pixel position (from the figure's bottom-left) of a projected map point."""
        dx, dy = self.ax.transform.transform((x, y))
        return dx / self.lay.scale, dy / self.lay.scale

    def place(self, x: float, y: float, text: str, px: float, **kw: Any) -> bool:
        """Draw `text` centred on map point (x, y) unless it collides or leaves the map."""
        bx, by = self.to_base(x, y)
        weight_factor = 0.68 if kw.get("weight") == "bold" else 0.6
        lines = text.split("\n")
        longest = max(len(line) for line in lines)
        half_w, half_h = px * weight_factor * longest / 2 + 3, px * (0.7 + 0.6 * (len(lines) - 1))
        box = (bx - half_w, by - half_h, bx + half_w, by + half_h)
        if not self._fits(box):
            return False
        self.taken.append(box)
        self.ax.text(
            x,
            y,
            text,
            fontsize=self.lay.pt(px),
            ha="center",
            va="center",
            path_effects=halo(self.lay),
            zorder=8,
            **kw,
        )
        return True

    def _fits(self, box: Box) -> bool:
        if box[0] < 4 or box[1] < 4 or box[2] > self.lay.base_w - 4 or box[3] > self.lay.map_h - 4:
            return False
        return not any(
            box[0] < t[2] and box[2] > t[0] and box[1] < t[3] and box[3] > t[1] for t in self.taken
        )


def _largest_visible_parts(geom: BaseGeometry, extent: Extent, n: int) -> list[BaseGeometry]:
    """The `n` largest parts whose bounding box meets the extent (no costly intersection)."""
    parts = shapely.get_parts(geom)
    if len(parts) == 0:
        return []
    b = shapely.bounds(parts)
    hit = (b[:, 0] <= extent[2]) & (b[:, 2] >= extent[0]) & (b[:, 1] <= extent[3])
    hit &= b[:, 3] >= extent[1]
    visible = list(parts[hit])
    visible.sort(key=lambda p: -p.area)
    return visible[:n]


def area_label_lines(label: str, compact: bool) -> str:
    """The area label wrapped to at most two lines (one when compact), cut at a word if longer."""
    width = 14 if compact else 26
    text = " ".join(label.split())
    if compact or len(text) <= width:
        return cut_words(text, width, "…") or text
    lines = textwrap.wrap(text, width, break_long_words=False)
    if len(lines) <= 2:
        return "\n".join(lines)
    rest = cut_words(" ".join(lines[1:]), width, "…") or lines[1]
    return f"{lines[0]}\n{rest}"


def label_area(placer: LabelPlacer, area: BaseGeometry, label: str, extent: Extent) -> None:
    """Label the alert area once, on the largest visible part where the label fits."""
    if not label:
        return
    px = 11.0 if placer.lay.compact else 15.0
    text = area_label_lines(label, placer.lay.compact)
    view = shapely.box(*extent)
    for i, part in enumerate(_largest_visible_parts(area, extent, 3)):
        if i and part.area < 0.002 * view.area:
            break
        pt = shapely.point_on_surface(part)
        if placer.place(
            pt.x, pt.y, text, px, weight="bold", color=style.TEXT_DARK, multialignment="center"
        ):
            return


def label_zones(
    placer: LabelPlacer, zones: Sequence[tuple[str, BaseGeometry]], extent: Extent
) -> None:
    """Label each context zone once at a point inside its largest visible part."""
    view = shapely.box(*extent)
    for label, geom in zones:
        parts = _largest_visible_parts(geom, extent, 1)
        if label and parts and parts[0].area > 0.001 * view.area:
            pt = shapely.point_on_surface(parts[0])
            placer.place(pt.x, pt.y, label, 11.5, color="#2b2b2b", style="italic")


def label_places(placer: LabelPlacer, region: Region, extent: Extent, limit: int = 7) -> None:
    """Place names (cities, boroughs, counties), most important first, up to `limit`."""
    placed = 0
    for x, y, name in region.places.visible(extent):
        if placed >= limit:
            break
        if placer.place(x, y, name, 12.0, color="#4a4a4a"):
            placed += 1


def reserve_furniture(placer: LabelPlacer, legend_rows: int) -> None:
    """Keep labels off the legend, scale bar, attribution and north arrow."""
    lay = placer.lay
    placer.taken += [
        (0, 0, 230, 18 + 18 * legend_rows),
        (lay.base_w - 240, 0, lay.base_w, 56),
        (lay.base_w - 40, lay.map_h - 50, lay.base_w, lay.map_h),
    ]


def area_mask_points(area: BaseGeometry, inset: float, count: int, seed: int = 7) -> np.ndarray:
    """Up to `count` random projected points at least `inset` metres inside the area."""
    inner = area.buffer(-inset) if inset else area
    if inner.is_empty:
        return np.empty((0, 2))
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = inner.bounds
    found: list[np.ndarray] = []
    for _ in range(40):  # rejection sampling; thin coastal strips need many draws
        cand = np.column_stack([rng.uniform(x0, x1, 5000), rng.uniform(y0, y1, 5000)])
        found.append(cand[shapely.contains_xy(inner, cand[:, 0], cand[:, 1])])
        if sum(len(f) for f in found) >= count:
            break
    return np.asarray(np.concatenate(found)[:count], dtype=float)
