"""Benchmark: NYC hurricane zone 1 at 640x480, renderers.maps vs a plain geopandas .plot().

Both draw the same layers (county land and boundaries, NYC boroughs, evacuation zones 1-6, the
alert area, place names) from the same shipped files, loaded and projected once before timing;
only the per-map work is timed. Run:

    .venv/bin/python benchmarks/render.py [--runs 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import geopandas as gpd
import shapely
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from renderers import style
from renderers.basemap import NYC_FIPS, data_dir
from renderers.maps import render_alert_map

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "geo"


Zones = list[tuple[str, Any]]


def load_zones() -> Zones:
    src = SHARED / "nyc_hurricane_evacuation_zones.geojson"
    if not src.exists():
        sys.exit(f"zone file not found: {src}")
    df = gpd.read_file(src)
    return [
        (f"Zone {z}", shapely.make_valid(g))
        for z, g in zip(df["zone"], df.geometry, strict=True)
        if z > 0
    ]


def geopandas_renderer(zones: Zones) -> Callable[[], bytes]:
    """The obvious way: GeoDataFrames projected once, then .plot() per layer and savefig."""
    base = data_dir()
    counties = gpd.read_file(base / "counties_ny_nj_ct_fl_basemap_uscounties.geojson")
    counties = counties[~counties["FIPS"].isin(NYC_FIPS)].to_crs(3857)
    boros = gpd.read_file(base / "nyc_boroughs_nybb_14c.geojson").to_crs(3857)
    places = gpd.read_file(base / "nyc_ne_10m_populated_places.geojson").to_crs(3857)
    zone_df = gpd.GeoDataFrame(
        {"label": [z for z, _ in zones]}, geometry=[g for _, g in zones], crs=4326
    ).to_crs(3857)
    area = zone_df[zone_df["label"] == "Zone 1"]
    x0, y0, x1, y1 = area.total_bounds

    def render() -> bytes:
        fig = Figure(figsize=(6.4, 4.8), dpi=100)
        FigureCanvasAgg(fig)
        ax = fig.add_axes((0, 0, 1, 0.85))
        ax.set_facecolor(style.WATER)
        counties.plot(ax=ax, color=style.LAND, edgecolor=style.COUNTY, linewidth=0.6)
        boros.plot(ax=ax, color=style.LAND, edgecolor=style.DISTRICT, linewidth=0.9)
        zone_df.boundary.plot(ax=ax, color=style.ZONE_LINE, linewidth=0.6)
        area.plot(
            ax=ax,
            color=style.SEVERITY_FILL["Extreme"],
            alpha=0.6,
            edgecolor=style.SEVERITY_EDGE["Extreme"],
            linewidth=1.7,
        )
        for pt, name in zip(places.geometry, places["NAME"], strict=True):
            ax.annotate(name, (pt.x, pt.y), fontsize=8.6)
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.set_axis_off()
        fig.text(0.02, 0.95, "Hurricane Evacuation Order", fontsize=15, weight="bold")
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        return buf.getvalue()

    return render


def ours_renderer(zones: Zones) -> Callable[[], bytes]:
    zone1 = dict(zones)["Zone 1"]

    def render() -> bytes:
        data, _ = render_alert_map(
            zone1,
            event="Hurricane Evacuation Order",
            severity="Extreme",
            headline="Evacuate Zone 1 now",
            sender_name="NYC Emergency Management",
            area_label="Zone 1",
            zones=zones,
            use_cache=False,
        )
        return data

    return render


def timed(render: Callable[[], bytes], runs: int) -> tuple[float, float, float, int]:
    """Median wall ms, best wall ms and median CPU ms over `runs` warm renders, and bytes.

    CPU time is reported because other jobs on a shared machine inflate wall time.
    """
    data = render()
    walls, cpus = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        data = render()
        walls.append((time.perf_counter() - t) * 1000)
        cpus.append((time.process_time() - c) * 1000)
    return statistics.median(walls), min(walls), statistics.median(cpus), len(data)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    zones = load_zones()
    t = time.perf_counter()
    render_ours = ours_renderer(zones)
    render_ours()
    cold = (time.perf_counter() - t) * 1000
    ours = timed(render_ours, args.runs)
    plain = timed(geopandas_renderer(zones), args.runs)
    zone1 = dict(zones)["Zone 1"]
    render_alert_map(zone1, event="Hurricane Evacuation Order", severity="Extreme", zones=zones)
    hit = timed(
        lambda: render_alert_map(
            zone1, event="Hurricane Evacuation Order", severity="Extreme", zones=zones
        )[0],
        args.runs,
    )

    print(f"NYC hurricane zone 1, 640x480, {args.runs} warm runs")
    print(f"{'renderer':<28}{'median ms':>10}{'best ms':>9}{'CPU ms':>8}{'bytes':>9}")
    rows = (
        ("renderers.maps (warm)", ours),
        ("geopandas .plot + savefig", plain),
        ("renderers.maps (cache hit)", hit),
    )
    for name, (med, best, cpu, size) in rows:
        print(f"{name:<28}{med:>10.2f}{best:>9.2f}{cpu:>8.2f}{size:>9}")
    print(f"first render incl. basemap load: {cold:.0f} ms")
    print(
        f"speed-up vs geopandas: {plain[0] / ours[0]:.1f}x wall median, "
        f"{plain[2] / ours[2]:.1f}x CPU; bytes ours/geopandas: {ours[3] / plain[3]:.2f}"
    )


if __name__ == "__main__":
    main()
