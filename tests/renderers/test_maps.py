"""Alert map images: size, budget, format, colours at projected points, band, labels, cache."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
import shapely
from matplotlib.colors import to_rgb
from PIL import Image

from renderers import style
from renderers.basemap import project
from renderers.encode import ByteBudgetError, encode_within
from renderers.mapdraw import area_mask_points
from renderers.maps import MapFacts, MapFrame, cache_info, draw_alert_map, render_alert_map

from .conftest import EXPIRES, SENT, geodesic_circle

FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG"}


def facts(**kw) -> MapFacts:
    base = {
        "event": "Hurricane Evacuation Order",
        "severity": "Severe",
        "headline": "Evacuate now",
        "sent": SENT,
        "expires": EXPIRES,
        "sender_name": "NYC Emergency Management",
        "area_label": "Zone 1",
    }
    return MapFacts(**{**base, **kw})


@pytest.mark.parametrize(
    ("size", "budget"), [((640, 480), 100_000), ((160, 120), 30_000), ((1280, 960), 300_000)]
)
def test_size_budget_and_format(nyc_zone1, nyc_zones, size, budget):
    data, media_type = render_alert_map(
        nyc_zone1,
        event="Hurricane Evacuation Order",
        severity="Extreme",
        status="Actual",
        headline="Evacuate Zone 1",
        size=size,
        max_bytes=budget,
        zones=nyc_zones,
        use_cache=False,
    )
    assert len(data) <= budget
    image = Image.open(io.BytesIO(data))
    assert image.format == FORMATS[media_type]
    assert image.size == size
    image.load()


def test_default_contract_is_image_rich(circle_10km):
    data, media_type = render_alert_map(circle_10km, event="Hazmat", severity="Severe")
    assert len(data) <= 100_000
    assert Image.open(io.BytesIO(data)).size == (640, 480)
    assert media_type in FORMATS


def blend(fill: str, under: str) -> np.ndarray:
    a = style.FILL_ALPHA
    return 255 * (a * np.array(to_rgb(fill)) + (1 - a) * np.array(to_rgb(under)))


def severity_match(frame: MapFrame, pts: np.ndarray, severity: str) -> float:
    """Share of projected points whose pixel shows the severity fill over land or water."""
    rgb = frame.rgba[:, :, :3].astype(float)
    targets = [blend(style.SEVERITY_FILL[severity], bg) for bg in (style.LAND, style.WATER)]
    hits = 0
    for x, y in pts:
        col, row = frame.pixel_of(float(x), float(y))
        px = rgb[int(row), int(col)]
        hits += min(np.abs(px - t).max() for t in targets) < 24
    return hits / len(pts)


@pytest.mark.parametrize("case", ["nyc_zone1", "circle_10km", "palm_beach_zone_b"])
@pytest.mark.parametrize("severity", ["Extreme", "Severe", "Moderate", "Minor"])
def test_pixels_inside_carry_severity_colour(request, case, severity):
    geom = request.getfixturevalue(case)
    frame = draw_alert_map(geom, facts(severity=severity, area_label=""))
    px_m = (frame.extent[2] - frame.extent[0]) / frame.rgba.shape[1]
    inside = area_mask_points(project(geom), 4 * px_m, 150)
    assert len(inside) >= 20
    assert severity_match(frame, inside, severity) >= 0.9


@pytest.mark.parametrize("case", ["nyc_zone1", "circle_10km", "palm_beach_zone_b"])
def test_pixels_well_outside_do_not(request, case):
    geom = request.getfixturevalue(case)
    frame = draw_alert_map(geom, facts())
    x0, y0, x1, y1 = frame.extent
    px_m = (x1 - x0) / frame.rgba.shape[1]
    view = shapely.box(x0, y0 + 60 * px_m, x1, y1)  # above the legend and scale bar
    outside = view.difference(project(geom).buffer(6 * px_m))
    pts = area_mask_points(outside, 0.0, 300)
    assert len(pts) >= 100
    assert severity_match(frame, pts, "Severe") <= 0.02


@pytest.mark.parametrize(
    ("status", "band"),
    [
        ("Actual", None),
        ("Exercise", "EXERCISE — NOT A REAL ALERT"),
        ("Test", "TEST — NOT A REAL ALERT"),
        ("Draft", "EXERCISE — NOT A REAL ALERT"),
    ],
)
@pytest.mark.parametrize("size", [(640, 480), (160, 120)])
def test_exercise_band_exactly_when_not_actual(circle_10km, status, band, size):
    frame = draw_alert_map(circle_10km, facts(status=status), size=size)
    texts = [t.get_text() for t in frame.figure.texts]
    assert [t for t in texts if "NOT A REAL ALERT" in t] == ([band] if band else [])
    rgb = frame.rgba[:, :, :3].astype(int)
    yellow = np.abs(rgb - np.array([255, 212, 0])).max(axis=2) < 30
    if band:
        rows = frame.band_rows()
        assert rows is not None
        assert yellow[rows[0] : rows[1]].mean() > 0.15
    else:
        assert frame.band_rows() is None
        assert yellow.mean() < 0.001


def test_exercise_band_spanish(circle_10km):
    frame = draw_alert_map(circle_10km, facts(status="Exercise", language="es"))
    assert "SIMULACRO — NO ES UNA ALERTA REAL" in [t.get_text() for t in frame.figure.texts]


def all_texts(frame: MapFrame):
    return [t for t in [*frame.figure.texts, *frame.view.texts] if t.get_text().strip()]


@pytest.mark.parametrize("case", ["nyc_zone1", "circle_10km", "palm_beach_zone_b"])
def test_labels_present_legible_and_inside(request, case, nyc_zones):
    frame = draw_alert_map(request.getfixturevalue(case), facts(), zones=nyc_zones)
    renderer = frame.figure.canvas.get_renderer()  # type: ignore[attr-defined]
    texts = all_texts(frame)
    strings = {t.get_text() for t in texts}
    assert "Hurricane Evacuation Order" in strings
    assert "Zone 1" in strings
    assert "N" in strings
    assert any(s.startswith("Issued ") and "EDT" in s for s in strings)
    assert any("Natural Earth" in s for s in strings)
    assert any(s.endswith(" km)") for s in strings)
    for t in texts:
        assert t.get_fontsize() * frame.figure.dpi / 72 >= 10.99, t.get_text()
        box = t.get_window_extent(renderer)
        assert -1 <= box.x0 <= box.x1 <= 641, t.get_text()
        assert -1 <= box.y0 <= box.y1 <= 481, t.get_text()


def test_place_names_drawn(circle_10km):
    frame = draw_alert_map(circle_10km, facts(area_label="10 km"))
    strings = {t.get_text() for t in frame.view.texts}
    assert {"Manhattan", "Brooklyn"} & strings


def test_local_time_zone_in_title(palm_beach_zone_b):
    frame = draw_alert_map(palm_beach_zone_b, facts())
    strings = [t.get_text() for t in frame.figure.texts]
    assert any("Issued Mon Sep 14 11:00 AM EDT" in s for s in strings)
    assert any("Expires Mon Sep 14 11:00 PM EDT" in s for s in strings)


def test_region_chosen_from_geometry(nyc_zone1, palm_beach_zone_b):
    assert draw_alert_map(nyc_zone1, facts()).region == "nyc"
    assert draw_alert_map(palm_beach_zone_b, facts()).region == "florida"
    texas = geodesic_circle(-97.74, 30.27, 5_000)
    assert draw_alert_map(texas, facts()).region == "counties"


def test_minimum_extent_for_tiny_area():
    tiny = geodesic_circle(-73.98, 40.75, 50.0)
    frame = draw_alert_map(tiny, facts())
    width_m = (frame.extent[2] - frame.extent[0]) * np.cos(np.radians(40.75))
    assert width_m >= 3_000


def test_whole_county_fits_with_margin(palm_beach_county):
    frame = draw_alert_map(palm_beach_county, facts(area_label="Palm Beach County"))
    x0, y0, x1, y1 = project(palm_beach_county).bounds
    top = frame.map_rows()[0]
    for x, y in ((x0, y0), (x1, y1)):
        col, row = frame.pixel_of(x, y)
        assert 0 < col < 640
        assert top < row < 480
    assert "Palm Beach County" in {t.get_text() for t in frame.view.texts}


def test_multipolygon_parts_all_coloured(nyc_zone1):
    frame = draw_alert_map(nyc_zone1, facts(area_label=""))
    px_m = (frame.extent[2] - frame.extent[0]) / 640
    parts = sorted(shapely.get_parts(project(nyc_zone1)), key=lambda p: -p.area)[:5]
    for part in parts:
        pts = area_mask_points(part, 3 * px_m, 20)
        if len(pts):
            assert severity_match(frame, pts, "Severe") >= 0.7


def test_empty_geometry_refused():
    with pytest.raises(ValueError, match="polygonal"):
        draw_alert_map(shapely.LineString([(-74, 40.7), (-73.9, 40.8)]), facts())


def test_repeated_render_served_from_cache(circle_10km):
    kw: dict[str, Any] = {"event": "Cache check", "severity": "Minor", "headline": "x"}
    first = render_alert_map(circle_10km, **kw)
    hits = cache_info()["hits"]
    assert render_alert_map(circle_10km, **kw) == first
    assert cache_info()["hits"] == hits + 1
    other = render_alert_map(circle_10km, **{**kw, "severity": "Extreme"})
    assert other != first


def test_budget_switches_to_jpeg_for_photographic_content():
    rng = np.random.default_rng(1)
    yy, xx = np.mgrid[0:480, 0:640]
    smooth = np.stack([xx * 0.4, yy * 0.5, (xx + yy) * 0.2], axis=2)
    photo = np.clip(smooth + rng.normal(0, 12, (480, 640, 3)), 0, 255).astype(np.uint8)
    data, media_type = encode_within(Image.fromarray(photo), 100_000)
    assert media_type == "image/jpeg"
    assert len(data) <= 100_000


def test_impossible_budget_raises(circle_10km):
    with pytest.raises(ByteBudgetError):
        render_alert_map(circle_10km, event="x", severity="Severe", max_bytes=500)


def test_concurrent_renders_match_sequential(circle_10km, nyc_zone1):
    from concurrent.futures import ThreadPoolExecutor

    jobs = [(g, sev) for g in (circle_10km, nyc_zone1) for sev in ("Severe", "Extreme")]

    def render(job):
        geom, severity = job
        return render_alert_map(geom, event="Thread check", severity=severity, use_cache=False)

    sequential = [render(j) for j in jobs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(render, jobs))
    assert parallel == sequential


@pytest.mark.parametrize("status", ["Actual", "Exercise"])
@pytest.mark.parametrize("language", ["en", "es"])
def test_no_text_below_11px_in_any_variant(palm_beach_zones, palm_beach_zone_b, status, language):
    frame = draw_alert_map(
        palm_beach_zone_b,
        facts(status=status, language=language, event="A" * 80, headline="word " * 40),
        zones=palm_beach_zones,
    )
    for t in all_texts(frame):
        assert t.get_fontsize() * frame.figure.dpi / 72 >= 10.99, t.get_text()


def test_multipart_area_labelled_once_in_full(nyc_zone1):
    """A long label on a many-part area: drawn once, wrapped, never cut to an ambiguous stub."""
    label = "NYC hurricane evacuation zones 1 and 2"
    frame = draw_alert_map(nyc_zone1, facts(area_label=label))
    drawn = [t.get_text() for t in frame.view.texts if "hurricane" in t.get_text()]
    assert len(drawn) == 1
    assert " ".join(drawn[0].split()) == label
    assert "\n" in drawn[0]


def test_area_label_lines():
    from renderers.mapdraw import area_label_lines

    assert area_label_lines("Zone 1", compact=False) == "Zone 1"
    assert area_label_lines("NYC hurricane evacuation zones 1 and 2", compact=False) == (
        "NYC hurricane evacuation\nzones 1 and 2"
    )
    three = area_label_lines("Coastal flood zone A and B of the county, south of the bay", False)
    assert three.count("\n") == 1 and three.endswith("…")
    assert area_label_lines("Palm Beach County", compact=True) == "Palm Beach…"
