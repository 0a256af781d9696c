"""Map furniture drawn in figure pixels: title strip, exercise band, legend, scale bar, north arrow.

Sizes are given in "base pixels" of a 640-pixel-wide image and scaled with the output width, so
a 1280x960 console image looks like the 640x480 one at twice the resolution. Small images
(under 400 px wide) use a compact layout that keeps only what reads at that size.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from matplotlib.backend_bases import RendererBase
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon as PolygonPatch
from matplotlib.patches import Rectangle
from matplotlib.text import Text

from renderers import style

PT_PER_PX = 0.72  # matplotlib sizes are in points; figures are rendered at 100 dpi
MIN_LABEL_PX = 11.0
METRES_PER_MILE = 1609.344
FURNITURE_Z = 20.0  # above every map layer (those stay below 10)


@dataclass(frozen=True)
class Layout:
    """Pixel geometry of one output size."""

    width: int
    height: int
    exercise: bool

    @property
    def compact(self) -> bool:
        """Whether this is a small (Image Basic) image with the reduced layout."""
        return self.width < 400

    @property
    def scale(self) -> float:
        """Output pixels per base pixel."""
        return 1.0 if self.compact else self.width / 640

    @property
    def title_h(self) -> float:
        """Height of the title strip in base pixels."""
        return 22.0 if self.compact else 74.0

    @property
    def band_h(self) -> float:
        """Height of the exercise band in base pixels (0 for a real alert)."""
        if not self.exercise:
            return 0.0
        return 15.0 if self.compact else 30.0

    @property
    def base_w(self) -> float:
        """Width in base pixels."""
        return self.width / self.scale

    @property
    def base_h(self) -> float:
        """Height in base pixels."""
        return self.height / self.scale

    @property
    def map_h(self) -> float:
        """Height of the map area in base pixels."""
        return self.base_h - self.title_h - self.band_h

    def pt(self, px: float) -> float:
        """Points for a length given in base pixels."""
        return px * self.scale * PT_PER_PX

    def frac(self, x: float, y: float) -> tuple[float, float]:
        """Figure fractions of a point in base pixels measured from the bottom-left."""
        return x / self.base_w, y / self.base_h


def _rect(fig: Figure, lay: Layout, x: float, y: float, w: float, h: float, **kw: object) -> None:
    fx, fy = lay.frac(x, y)
    fw, fh = lay.frac(w, h)
    kw.setdefault("zorder", FURNITURE_Z)
    fig.patches.append(Rectangle((fx, fy), fw, fh, transform=fig.transFigure, **kw))  # type: ignore[arg-type]


def _text(fig: Figure, lay: Layout, x: float, y: float, s: str, px: float, **kw: object) -> Text:
    fx, fy = lay.frac(x, y)
    kw.setdefault("zorder", FURNITURE_Z + 1)
    return fig.text(fx, fy, s, fontsize=lay.pt(px), **kw)  # type: ignore[arg-type]


def fit_text(text: Text, max_px: float, renderer: RendererBase, min_pt: float) -> None:
    """Shrink a text to `max_px` pixels wide: smaller font down to `min_pt`, then whole words."""
    while text.get_window_extent(renderer).width > max_px and float(text.get_fontsize()) > min_pt:
        text.set_fontsize(max(min_pt, float(text.get_fontsize()) * 0.92))
    words = text.get_text().split()
    while text.get_window_extent(renderer).width > max_px and len(words) > 1:
        words.pop()
        text.set_text(" ".join(words).rstrip(",;:·—-") + "…")


def draw_title(
    fig: Figure, lay: Layout, renderer: RendererBase, lines: tuple[str, str, str], severity: str
) -> None:
    """The dark title strip: event (bold), headline, then issued/expires/sender."""
    top = lay.base_h
    _rect(fig, lay, 0, top - lay.title_h, lay.base_w, lay.title_h, color=style.TITLE_BG, lw=0)
    bar = 6.0 if lay.compact else 10.0
    _rect(
        fig, lay, 0, top - lay.title_h, bar, lay.title_h, color=style.SEVERITY_FILL[severity], lw=0
    )
    x, avail = bar + 6, (lay.base_w - bar - 12) * lay.scale
    if lay.compact:
        t = _text(fig, lay, x, top - 4, lines[0], 12, color="white", weight="bold", va="top")
        fit_text(t, avail, renderer, lay.pt(8))
        return
    specs = (
        (lines[0], 21, 6, "bold", "white"),
        (lines[1], 14, 33, "normal", "#e3e9f0"),
        (lines[2], 12, 54, "normal", "#c2ccd8"),
    )
    for s, px, dy, weight, colour in specs:
        if s:
            t = _text(fig, lay, x, top - dy, s, px, color=colour, weight=weight, va="top")
            fit_text(t, avail, renderer, lay.pt(MIN_LABEL_PX))


def draw_exercise_band(fig: Figure, lay: Layout, renderer: RendererBase, wording: str) -> None:
    """The black-and-yellow "EXERCISE — NOT A REAL ALERT" band under the title strip."""
    y = lay.base_h - lay.title_h - lay.band_h
    _rect(fig, lay, 0, y, lay.base_w, lay.band_h, color=style.EXERCISE_BG, lw=0)
    stripe = 3.0 if lay.compact else 5.0
    _rect(fig, lay, 0, y, lay.base_w, stripe, color=style.EXERCISE_FG, lw=0)
    _rect(fig, lay, 0, y + lay.band_h - stripe, lay.base_w, stripe, color=style.EXERCISE_FG, lw=0)
    px = 8.0 if lay.compact else 17.0
    t = _text(
        fig,
        lay,
        lay.base_w / 2,
        y + lay.band_h / 2,
        wording,
        px,
        color=style.EXERCISE_FG,
        weight="bold",
        ha="center",
        va="center_baseline",
    )
    fit_text(t, (lay.base_w - 8) * lay.scale, renderer, lay.pt(6 if lay.compact else 11))


def draw_legend(fig: Figure, lay: Layout, severity: str, labels: tuple[str, str | None]) -> None:
    """Bottom-left legend: the alert-area swatch and, when drawn, the evacuation zone line."""
    rows = [labels[0]] + ([labels[1]] if labels[1] else [])
    w = 34 + 7.2 * max(len(r) for r in rows)
    h = 8 + 18 * len(rows)
    _rect(fig, lay, 6, 6, w, h, facecolor="white", alpha=0.85, edgecolor="#888888", lw=0.5)
    y = 6 + h - 14
    _rect(
        fig,
        lay,
        12,
        y - 5,
        18,
        11,
        facecolor=style.SEVERITY_FILL[severity],
        edgecolor=style.SEVERITY_EDGE[severity],
        lw=lay.pt(2),
    )
    _text(fig, lay, 36, y, labels[0], 12, color=style.TEXT_DARK, va="center")
    if labels[1]:
        fx0, fy = lay.frac(12, y - 18)
        fx1, _ = lay.frac(30, y - 18)
        fig.lines.append(_zone_line(fig, (fx0, fx1), (fy, fy), lay))
        _text(fig, lay, 36, y - 18, labels[1], 12, color=style.TEXT_DARK, va="center")


def _zone_line(
    fig: Figure, xs: tuple[float, float], ys: tuple[float, float], lay: Layout
) -> Line2D:
    return Line2D(
        xs,
        ys,
        transform=fig.transFigure,
        color=style.ZONE_LINE,
        lw=lay.pt(1.2),
        zorder=FURNITURE_Z + 1,
    )


def nice_miles(max_miles: float) -> float:
    """The largest 1-2-5 step (in miles, down to 0.1) not longer than `max_miles`."""
    exp = math.floor(math.log10(max(max_miles, 0.1)))
    for step in (5, 2, 1):
        if step * 10**exp <= max_miles:
            return float(step * 10**exp)
    return float(10 ** (exp - 1) * 5)


def draw_scale_bar(fig: Figure, lay: Layout, metres_per_px: float) -> None:
    """A bottom-right scale bar in miles with the km equivalent, above the attribution."""
    miles = nice_miles(lay.base_w * 0.22 * metres_per_px / METRES_PER_MILE)
    length = miles * METRES_PER_MILE / metres_per_px
    x1, y = lay.base_w - 10, 30.0
    x0 = x1 - length
    _rect(fig, lay, x0 - 4, y - 5, length + 8, 22, facecolor="white", alpha=0.85, lw=0)
    _rect(fig, lay, x0, y, length, 4, facecolor=style.TEXT_DARK, lw=0)
    km = miles * METRES_PER_MILE / 1000
    label = f"{miles:g} mi ({km:.1f} km)" if km < 10 else f"{miles:g} mi ({km:.0f} km)"
    _text(
        fig, lay, x0 + length / 2, y + 5, label, 11, color=style.TEXT_DARK, ha="center", va="bottom"
    )


def draw_north_arrow(fig: Figure, lay: Layout) -> None:
    """A north arrow in the top-right corner of the map (Web Mercator: north is up)."""
    cx, top = lay.base_w - 20, lay.map_h - 8
    pts = [(cx, top - 14), (cx - 7, top - 32), (cx, top - 27), (cx + 7, top - 32)]
    fig.patches.append(
        PolygonPatch(
            [lay.frac(x, y) for x, y in pts],
            closed=True,
            transform=fig.transFigure,
            facecolor=style.TEXT_DARK,
            edgecolor="white",
            lw=lay.pt(1),
            zorder=FURNITURE_Z,
        )
    )
    _text(
        fig,
        lay,
        cx,
        top - 13,
        "N",
        13,
        color=style.TEXT_DARK,
        weight="bold",
        ha="center",
        va="bottom",
        path_effects=halo(lay),
    )


def draw_attribution(fig: Figure, lay: Layout, attribution: str) -> None:
    """Data credits in the bottom-right corner."""
    _text(
        fig,
        lay,
        lay.base_w - 6,
        5,
        attribution,
        11,
        color="#333333",
        ha="right",
        va="bottom",
        bbox={"facecolor": "white", "alpha": 0.8, "lw": 0, "pad": 1.5},
    )


def draw_exercise_frame(fig: Figure, lay: Layout) -> None:
    """A yellow frame around the map so an exercise map stays marked even when cropped."""
    w = 3.0 if lay.compact else 5.0
    for x, y, fw, fh in (
        (0, 0, lay.base_w, w),
        (0, 0, w, lay.map_h),
        (lay.base_w - w, 0, w, lay.map_h),
        (0, lay.map_h - w, lay.base_w, w),
    ):
        _rect(fig, lay, x, y, fw, fh, color=style.EXERCISE_FG, lw=0)


def halo(lay: Layout) -> list[object]:
    """A white outline behind dark text so labels read over any fill."""
    from matplotlib import patheffects

    return [patheffects.withStroke(linewidth=lay.pt(3), foreground="white")]
