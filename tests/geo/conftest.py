"""Fixtures for the geo tests: zone registries over the shared real data and the shipped copy."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from geo.zones import ZoneRegistry, ZoneSet, load_zone_file


@pytest.fixture(scope="session")
def geo_data(shared_data: Path) -> Path:
    """The shared geo data folder."""
    return shared_data / "geo"


@pytest.fixture(scope="session")
def registry(repo_root: Path) -> ZoneRegistry:
    """The registry over the repository's shipped data/ (copied from the shared data)."""
    return ZoneRegistry.default(repo_root / "data")


@pytest.fixture(scope="session")
def nyc_zones(geo_data: Path) -> ZoneSet:
    """NYC hurricane evacuation zones loaded straight from the shared data."""
    return load_zone_file(
        geo_data / "nyc_hurricane_evacuation_zones.geojson", "nyc", "zone", "zone"
    )


@pytest.fixture(scope="session")
def nyc_zone1(nyc_zones: ZoneSet) -> shapely.Geometry:
    """Zone 1: the 17,229-vertex MultiPolygon the issue benchmarks."""
    return nyc_zones.get("1").geometry
