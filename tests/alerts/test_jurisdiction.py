"""Agency jurisdictions: stored forms read alike everywhere; the demo agency is New York City."""

from __future__ import annotations

import json

import shapely
from shapely.geometry import box, mapping

from alerts.access import jurisdiction
from alerts.access import service as access
from alerts.db import make_engine, session_scope
from alerts.demo import DEMO_AGENCY, seed_demo
from alerts.settings import Settings
from geo.zones import ZoneRegistry


def test_geometry_feature_and_collection_read_alike() -> None:
    """Planner and console read a jurisdiction the same way, whatever GeoJSON form it has."""
    square = box(-74.1, 40.6, -73.8, 40.9)
    geometry = json.dumps(mapping(square))
    feature = json.dumps({"type": "Feature", "properties": {}, "geometry": mapping(square)})
    collection = json.dumps(
        {"type": "FeatureCollection", "features": [json.loads(feature)]},
    )
    for text in (geometry, feature, collection):
        assert jurisdiction.geometry_of(text).equals(square)


def test_demo_agency_may_alert_new_york_city_only(settings: Settings, tmp_path) -> None:
    """Seeding gives the demo agency NYC (shore included), so areas elsewhere are refused."""
    seeded = settings.model_copy(update={"var_dir": tmp_path})
    seed_demo(seeded, subscribers=0, say=lambda _: None)
    engine = make_engine(seeded)
    with session_scope(engine) as session:
        agency = access.find_agency(session=session, ref=DEMO_AGENCY)
        home = jurisdiction.jurisdiction_of(agency)
    engine.dispose()
    assert home is not None
    zones = ZoneRegistry.default()
    zone_1 = zones.zone("nyc_evacuation_zones", "1").geometry
    assert home.covers(zone_1)
    lower_manhattan = box(-74.02, 40.70, -73.99, 40.72)
    assert home.covers(lower_manhattan)
    assert not home.intersects(shapely.Point(-74.17, 40.735))  # Newark, NJ
    assert not home.intersects(shapely.Point(-80.19, 25.76))  # Miami
