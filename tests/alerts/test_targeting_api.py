"""Zones and targeting preview over HTTP against both databases."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import shape

from alerts.db import make_engine
from alerts.subscribers import importer
from tests.alerts.conftest import make_agency


def _nyc_zone(shared_data, zone: str):
    data = json.loads((shared_data / "geo/nyc_hurricane_evacuation_zones.geojson").read_text())
    geoms = [shape(f["geometry"]) for f in data["features"] if str(f["properties"]["zone"]) == zone]
    return shapely.make_valid(shapely.union_all(geoms))


@pytest.fixture
def populated(settings, shared_data, tmp_path):
    """300 subscribers: 200 spread over the NYC bbox, 100 at points inside zone 1."""
    rng = np.random.default_rng(7)
    zone1 = _nyc_zone(shared_data, "1")
    inside = []
    minx, miny, maxx, maxy = zone1.bounds
    while len(inside) < 100:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if zone1.covers(shapely.Point(x, y)):
            inside.append((x, y))
    spread = list(zip(rng.uniform(-74.25, -73.7, 200), rng.uniform(40.5, 40.9, 200), strict=True))
    rows = [
        {
            "phone": f"+1212555{i:04d}",
            "language": "es" if i % 3 == 0 else "en",
            "lon": f"{x}",
            "lat": f"{y}",
        }
        for i, (x, y) in enumerate(inside + spread)
    ]
    path = tmp_path / "subs.csv"
    path.write_text(importer.csv_text(rows))
    engine = make_engine(settings)
    report = importer.import_file(engine, path)
    engine.dispose()
    assert report.ok, report.errors[:3]
    expected = {
        i + 1 for i, (x, y) in enumerate(inside + spread) if zone1.covers(shapely.Point(x, y))
    }
    return zone1, expected


def test_zone_sets_listed_and_served(client):
    sets = {s["name"]: s for s in client.get("/api/v1/zones").json()}
    assert "nyc_evacuation_zones" in sets
    fc = client.get("/api/v1/zones/nyc_evacuation_zones", params={"simplify_m": 20}).json()
    assert fc["type"] == "FeatureCollection"
    assert {f["id"] for f in fc["features"]} >= {
        "1",
        "2",
        "6",
    }
    assert client.get("/api/v1/zones/nope").status_code == 404
    here = client.get("/api/v1/zones-at", params={"lon": -74.0134, "lat": 40.7033}).json()
    assert any(z["set"] == "us_counties_ny_nj_ct_fl" for z in here)


def test_preview_counts_exactly_the_subscribers_inside(client, populated):
    zone1, expected = populated
    r = client.post("/api/v1/targeting/preview", json={"geometry": shapely.geometry.mapping(zone1)})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(expected)
    assert sum(body["by_language"].values()) == len(expected)
    assert body["by_zone"]["nyc_evacuation_zones"]["1"] == len(expected)


def test_preview_of_cap_area_with_zone_geocode(client, populated):
    _, expected = populated
    xml = (
        "<area xmlns='urn:oasis:names:tc:emergency:cap:1.2'><areaDesc>Zone 1</areaDesc>"
        "<geocode><valueName>nyc_evacuation_zones</valueName><value>1</value></geocode></area>"
    )
    body = client.post("/api/v1/targeting/preview", json={"area_xml": xml}).json()
    assert body["count"] == len(expected)


def test_preview_refuses_unknown_codes_and_bad_shapes(client):
    xml = (
        "<area><areaDesc>x</areaDesc><geocode><valueName>SAME</valueName><value>099999</value>"
        "</geocode></area>"
    )
    r = client.post("/api/v1/targeting/preview", json={"area_xml": xml})
    assert r.status_code == 400
    assert "099999" in json.dumps(r.json())
    bowtie = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    r = client.post("/api/v1/targeting/preview", json={"geometry": bowtie})
    assert r.status_code == 400
    assert r.json()["violations"][0]["rule"] == "AREA-POLYGON-SELF-INTERSECTING"
    r = client.post("/api/v1/targeting/preview", json={})
    assert r.status_code == 400
    assert r.json()["violations"][0]["rule"] == "AREA-MISSING"


def test_alert_area_stored_as_geojson(client, settings, shared_data):
    nws = make_agency(settings, "NWS", ["KSTO@NWS.NOAA.GOV"])
    body = (
        shared_data / "cap/samples/oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml"
    ).read_bytes()
    made = client.post(
        "/api/v1/alerts",
        content=body,
        headers={"Content-Type": "application/cap+xml", **nws.headers},
    )
    detail = client.get(f"/api/v1/alerts/{made.json()['id']}").json()
    assert detail["area"]["type"] in ("Polygon", "MultiPolygon")
