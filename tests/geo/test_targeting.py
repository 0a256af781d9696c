"""Targeting: overshoot policy, counts per language and per zone, synthetic subscribers."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import box

from geo.errors import GeoError
from geo.index import SubscriberIndex
from geo.synth import load_population, population_path, region_of, synth_languages, synth_points
from geo.targeting import WEA_OVERSHOOT_M, Categories, counts_per_zone, target
from geo.zones import default_data_dir

DATA = default_data_dir()


@pytest.fixture(scope="module")
def nyc_subscribers(registry):
    """20k synthetic subscribers on land in NYC, placed by 2020 block-group population."""
    region = region_of(registry.zone_set("nyc_evacuation_zones"), exclude=("0",))
    population = load_population(population_path("nyc", DATA))
    lon, lat = synth_points(20_000, seed=11, region=region, population=population)
    ids = np.arange(100, 20_100, dtype=np.int64)
    return ids, lon, lat, SubscriberIndex(ids, lon, lat)


def test_overshoot_buffer_widens_selection(registry, nyc_subscribers) -> None:
    ids, lon, lat, index = nyc_subscribers
    zone = registry.zone("nyc_evacuation_zones", "2").geometry
    exact = target(index, zone)
    wider = target(index, zone, buffer_m=WEA_OVERSHOOT_M)
    assert set(exact.ids.tolist()) < set(wider.ids.tolist())
    assert wider.buffer_m == WEA_OVERSHOOT_M
    assert wider.geometry.covers(zone)
    extra = np.isin(ids, np.setdiff1d(wider.ids, exact.ids))
    # every extra subscriber is within 0.1 mile of the zone (UTM 18N: scale error < 0.04 %)
    utm = Transformer.from_crs("EPSG:4326", "EPSG:32618", always_xy=True)
    zone_m = shapely.transform(zone, lambda c: np.column_stack(utm.transform(c[:, 0], c[:, 1])))
    px, py = utm.transform(lon[extra], lat[extra])
    assert extra.sum() > 10
    assert shapely.distance(zone_m, shapely.points(px, py)).max() <= WEA_OVERSHOOT_M * 1.001
    with pytest.raises(ValueError, match=">= 0"):
        target(index, zone, buffer_m=-1)


def test_counts_per_language_and_zone(registry, nyc_subscribers) -> None:
    ids, _lon, _lat, index = nyc_subscribers
    codes, labels = synth_languages(len(ids), seed=2)
    languages = Categories(ids, codes, labels)
    zones = registry.zone_set("nyc_evacuation_zones")
    chosen = target(index, shapely.union_all([zones.get("1").geometry, zones.get("2").geometry]))
    by_language = languages.counts(chosen.ids)
    assert sum(by_language.values()) == len(chosen.ids)
    assert by_language["en"] > by_language["es"] > 0
    per_zone = counts_per_zone(index, zones, chosen.ids)
    assert set(per_zone) <= {"1", "2"}
    assert per_zone["1"] > 0
    assert per_zone["2"] > 0
    assert per_zone["1"] + per_zone["2"] >= len(chosen.ids)
    assert languages.counts(np.array([1, 2, 100])) == {"": 2, labels[codes[0]]: 1}


def test_categories_reject_bad_codes() -> None:
    with pytest.raises(ValueError, match="no label"):
        Categories([1, 2], [0, 3], ["en", "es"])
    with pytest.raises(ValueError, match="length"):
        Categories([1, 2], [0], ["en"])


def test_synth_points_are_seeded_and_inside(registry) -> None:
    region = region_of(registry.zone_set("fl_bay_evacuation_zones"))
    a = synth_points(3000, seed=5, region=region)
    b = synth_points(3000, seed=5, region=region)
    np.testing.assert_array_equal(a[0], b[0])
    assert shapely.covers(region, shapely.points(*a)).all()
    pop = load_population(population_path("fl_bay", DATA))
    x, y = synth_points(3000, seed=5, region=region, population=pop)
    assert len(x) == 3000
    assert shapely.covers(region, shapely.points(x, y)).all()


def test_synth_rejects_bad_regions(registry) -> None:
    with pytest.raises(GeoError):
        synth_points(10, seed=1, region=shapely.Polygon())
    pop = load_population(population_path("fl_bay", DATA))
    with pytest.raises(GeoError, match="populated"):
        synth_points(10, seed=1, region=box(0, 0, 1, 1), population=pop)
    codes, labels = synth_languages(1000, seed=1, mix={"en": 1, "fr": 1})
    assert set(codes.tolist()) == {0, 1}
    assert labels == ("en", "fr")


def test_geo_imports_stay_pure() -> None:
    code = (
        "import sys, geo.areas, geo.zones, geo.index, geo.targeting, geo.synth, geo.geocodes\n"
        "banned = ('fastapi', 'sqlmodel', 'httpx', 'matplotlib', 'alerts')\n"
        "bad = [m for m in banned if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
