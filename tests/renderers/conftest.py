"""Real alert areas for the renderer tests: NYC and Palm Beach evacuation zones, a 10 km circle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod
from shapely.geometry.base import BaseGeometry

Zones = list[tuple[str, BaseGeometry]]

SENT = datetime(2026, 9, 14, 15, 0, tzinfo=UTC)
EXPIRES = SENT + timedelta(hours=12)


@pytest.fixture(scope="session")
def nyc_zones(shared_data: Path) -> Zones:
    """NYC hurricane evacuation zones 1-6 as (label, geometry)."""
    df = pyogrio.read_dataframe(shared_data / "geo" / "nyc_hurricane_evacuation_zones.geojson")
    return [
        (f"Zone {z}", shapely.make_valid(g))
        for z, g in zip(df["zone"], df.geometry, strict=False)
        if z > 0
    ]


@pytest.fixture(scope="session")
def nyc_zone1(nyc_zones: Zones) -> BaseGeometry:
    return dict(nyc_zones)["Zone 1"]


@pytest.fixture(scope="session")
def palm_beach_zones(shared_data: Path) -> Zones:
    """Palm Beach County evacuation areas dissolved by zone letter."""
    path = shared_data / "geo" / "fl_palm_beach_county_evacuation_zones.geojson"
    df = pyogrio.read_dataframe(path)
    df["geometry"] = df.geometry.make_valid()
    dissolved = df.dissolve("FCODE")
    return [(f"Zone {c}", g) for c, g in zip(dissolved.index, dissolved.geometry, strict=False)]


@pytest.fixture(scope="session")
def palm_beach_zone_b(palm_beach_zones: Zones) -> BaseGeometry:
    return dict(palm_beach_zones)["Zone B"]


@pytest.fixture(scope="session")
def palm_beach_county(shared_data: Path) -> BaseGeometry:
    path = shared_data / "geo" / "counties_ny_nj_ct_fl_basemap_uscounties.geojson"
    df = pyogrio.read_dataframe(path)
    return df[df["FIPS"] == "12099"].geometry.iloc[0]


def geodesic_circle(lon: float, lat: float, radius_m: float, n: int = 96) -> BaseGeometry:
    """A geodesic circle polygon (WGS84 ellipsoid), as geo.areas builds CAP circles."""
    az = np.linspace(0.0, 360.0, n, endpoint=False)
    lons, lats, _ = Geod(ellps="WGS84").fwd(
        np.full(n, lon), np.full(n, lat), az, np.full(n, radius_m)
    )
    return shapely.Polygon(zip(lons, lats, strict=True))


@pytest.fixture(scope="session")
def circle_10km() -> BaseGeometry:
    """A 10 km circle centred in Lower Manhattan / Brooklyn."""
    return geodesic_circle(-73.95, 40.73, 10_000.0)
