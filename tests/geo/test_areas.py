"""CAP polygons and circles to geometry: parsing rules, geodesic accuracy, antimeridian, poles."""

from __future__ import annotations

import numpy as np
import pytest
import shapely
from hypothesis import given, settings
from hypothesis import strategies as st
from pyproj import Geod
from shapely.geometry import MultiPolygon, Point, Polygon

from geo.areas import AreaError, CapArea, area_geometry, circle_from_cap, polygon_from_cap
from geo.geodesy import buffer_geodesic

GEOD = Geod(ellps="WGS84")


def test_polygon_is_lat_first() -> None:
    poly = polygon_from_cap("38.47,-120.14 38.34,-119.95 38.52,-119.74 38.62,-119.89 38.47,-120.14")
    assert isinstance(poly, Polygon)
    assert poly.bounds == (-120.14, 38.34, -119.74, 38.62)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("", "polygon-too-few-points"),
        ("1,1 2,2 1,1", "polygon-too-few-points"),
        ("1,1 2,2 3,1 1,2", "polygon-not-closed"),
        ("1,1 2,2 x,1 1,1", "polygon-syntax"),
        ("1,1 2;2 3,1 1,1", "polygon-syntax"),
        ("1,1 nan,2 3,1 1,1", "polygon-syntax"),
        ("1,1 1e1,2 3,1 1,1", "polygon-syntax"),
        ("1,1 91,2 3,1 1,1", "coordinate-range"),
        ("1,1 2,181 3,1 1,1", "coordinate-range"),
        ("0,0 1,1 0,1 1,0 0,0", "polygon-invalid"),  # bow tie: not repaired
        ("0,0 1,1 2,2 0,0", "polygon-invalid"),  # zero area
    ],
)
def test_polygon_rule_violations(text: str, rule: str) -> None:
    with pytest.raises(AreaError) as info:
        polygon_from_cap(text)
    assert info.value.rule == rule
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("text", "rule"),
    [
        ("40,-74", "circle-syntax"),
        ("40,-74 x", "circle-syntax"),
        ("40;-74 5", "circle-syntax"),
        ("40,-74 -5", "circle-radius"),
        ("95,-74 5", "coordinate-range"),
        ("0,0 15000", "circle-radius"),  # would cover both poles
    ],
)
def test_circle_rule_violations(text: str, rule: str) -> None:
    with pytest.raises(AreaError) as info:
        circle_from_cap(text)
    assert info.value.rule == rule


def edge_distances(geometry, lat: float, lon: float, skip_pole_edges: bool = False) -> np.ndarray:
    """Geodesic distance from the centre of points densely sampled along every ring edge."""
    out = []
    for poly in shapely.get_parts(geometry):
        ring = np.asarray(poly.exterior.coords)
        a, b = ring[:-1], ring[1:]
        if skip_pole_edges:  # edges along lat +-90 or lon +-180 are the artificial polar closure
            real = (np.abs(a[:, 1]) < 90) & (np.abs(b[:, 1]) < 90)
            real &= ~((np.abs(a[:, 0]) == 180) & (a[:, 0] == b[:, 0]))
            a, b = a[real], b[real]
        for t in np.linspace(0, 1, 9):
            p = a + (b - a) * t
            _, _, d = GEOD.inv(np.full(len(p), lon), np.full(len(p), lat), p[:, 0], p[:, 1])
            out.append(d)
    return np.concatenate(out)


@pytest.mark.parametrize("lat", [0.0, 30.0, 45.0, 60.0, 80.0, -80.0])
@pytest.mark.parametrize("radius_km", [0.5, 50.0, 500.0])
def test_circle_accurate_to_a_thousandth_of_radius(lat: float, radius_km: float) -> None:
    lon = -74.0
    circle = circle_from_cap(f"{lat},{lon} {radius_km}")
    d = edge_distances(circle, lat, lon)
    assert np.abs(d - radius_km * 1000).max() <= 0.001 * radius_km * 1000
    assert circle.covers(Point(lon, lat))


def test_circle_around_north_pole() -> None:
    circle = circle_from_cap("89.5,30 100")
    assert circle.covers(Point(0, 90 - 1e-9))
    assert circle.covers(Point(-150, 89.7))  # across the pole: 0.8 deg (89 km) from the centre
    assert not circle.covers(Point(30, 88.5))
    d = edge_distances(circle, 89.5, 30.0, skip_pole_edges=True)
    assert np.abs(d - 100_000).max() <= 100


def test_circle_around_south_pole() -> None:
    circle = circle_from_cap("-89,0 200")
    assert circle.covers(Point(123, -89.9))
    assert not circle.covers(Point(0, -87))


def test_circle_crossing_antimeridian_is_split() -> None:
    circle = circle_from_cap("0,179.9 50")
    assert isinstance(circle, MultiPolygon)
    assert circle.covers(Point(179.95, 0))
    assert circle.covers(Point(-179.9, 0))
    assert not circle.covers(Point(0, 0))
    assert circle.bounds[0] == -180
    assert circle.bounds[2] == 180


def test_polygon_crossing_antimeridian_takes_shorter_way() -> None:
    poly = polygon_from_cap("10,179 10,-179 -10,-179 -10,179 10,179")
    assert isinstance(poly, MultiPolygon)
    assert poly.covers(Point(179.5, 0))
    assert poly.covers(Point(-179.5, 0))
    assert not poly.covers(Point(0, 0))
    assert poly.area == pytest.approx(2 * 20)


def test_polygon_around_pole() -> None:
    ring = " ".join(f"80,{lon}" for lon in range(-180, 180, 30)) + " 80,-180"
    poly = polygon_from_cap(ring)
    assert poly.covers(Point(0, 89))
    assert poly.covers(Point(123, 85))
    assert not poly.covers(Point(0, 70))


@settings(max_examples=50, deadline=None)
@given(lat=st.floats(-85, 85), lon=st.floats(-180, 180), radius_km=st.floats(0.05, 2000))
def test_circle_property_contains_centre_and_is_valid(
    lat: float, lon: float, radius_km: float
) -> None:
    circle = circle_from_cap(f"{lat:.6f},{lon:.6f} {radius_km:.3f}")
    assert circle.is_valid
    assert not circle.is_empty
    assert circle.covers(Point(round(lon, 6), round(lat, 6)))


def test_zero_radius_circle_is_empty_and_blocks(registry) -> None:
    assert circle_from_cap("55.3,-134.9 0.0").is_empty
    result = area_geometry([CapArea("epicentre", circles=["55.3,-134.9 0.0"])], registry)
    assert result.blocked
    assert any("zero radius" in w for w in result.warnings)
    assert [e.rule for e in result.errors] == ["area-empty"]


def test_area_union_parts_and_errors(registry) -> None:
    areas = [
        CapArea("box", polygons=["40.6,-74.1 40.6,-74.0 40.7,-74.0 40.7,-74.1 40.6,-74.1"]),
        CapArea("circle", circles=["40.75,-73.95 2"]),
        CapArea("zone", geocodes=[("nyc_evacuation_zones", "1")]),
    ]
    result = area_geometry(areas, registry)
    assert not result.blocked
    assert not result.errors
    assert [p.area_desc for p in result.parts] == ["box", "circle", "zone"]
    union = shapely.union_all([p.geometry for p in result.parts])
    assert result.geometry.symmetric_difference(union).area < 1e-12


def test_unknown_geocode_is_an_error_naming_the_code(registry) -> None:
    result = area_geometry([CapArea("nowhere", geocodes=[("UGC", "FLZ112")])], registry)
    assert result.blocked
    assert result.errors[0].rule == "geocode-unknown"
    assert "FLZ112" in result.errors[0].message
    bad = area_geometry([CapArea("typo", polygons=["1,1 2,2"])], registry)
    assert bad.errors[0].rule == "polygon-too-few-points"
    assert bad.blocked
    none = area_geometry([CapArea("bare")], registry)
    assert none.errors[0].rule == "area-undefined"
    assert none.blocked
    assert area_geometry([], registry).blocked


def test_overshoot_buffer_is_geodesic_metres(registry) -> None:
    square = "40.70,-74.00 40.70,-73.99 40.71,-73.99 40.71,-74.00 40.70,-74.00"
    result = area_geometry([CapArea("sq", polygons=[square])], registry, buffer_m=160.9344)
    east_mid = (-73.99, 40.705)
    for dist, inside in ((159.0, True), (163.0, False)):
        lon, lat, _ = GEOD.fwd(east_mid[0], east_mid[1], 90.0, dist)
        assert result.geometry.covers(Point(lon, lat)) is inside
    for dist, inside in ((159.0, True), (163.0, False)):  # north edge too: metres, not degrees
        lon, lat, _ = GEOD.fwd(-73.995, 40.71, 0.0, dist)
        assert result.geometry.covers(Point(lon, lat)) is inside


def test_buffer_across_antimeridian_stays_in_range() -> None:
    grown = buffer_geodesic(polygon_from_cap("10,179 10,-179 -10,-179 -10,179 10,179"), 5000)
    minx, _, maxx, _ = grown.bounds
    assert minx >= -180
    assert maxx <= 180
    assert grown.covers(Point(178.97, 0))
    assert grown.covers(Point(-178.97, 0))


def test_empty_polygon_element_is_ignored_with_warning(registry) -> None:
    # NWS CAP 1.1 feeds carry an empty <polygon/> beside the county codes
    area = CapArea("Cook; Lake", polygons=[""], geocodes=[("FIPS6", "027031"), ("FIPS6", "027075")])
    result = area_geometry([area], registry)
    assert not result.errors
    assert not result.geometry.is_empty
    assert any("empty <polygon>" in w for w in result.warnings)


def test_negative_buffer_is_refused(registry) -> None:
    with pytest.raises(ValueError, match=">= 0"):
        area_geometry([CapArea("x", circles=["40,-74 1"])], registry, buffer_m=-5)


def test_every_sample_polygon_and_circle_parses_or_names_a_rule(shared_data) -> None:
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    seen = 0
    for path in sorted((shared_data / "cap" / "samples").glob("*.xml")):
        tree = etree.parse(str(path), parser)
        for kind, parse in (("polygon", polygon_from_cap), ("circle", circle_from_cap)):
            for element in tree.iter(f"{{*}}{kind}"):
                text = element.text or ""
                if not text.strip():
                    continue
                seen += 1
                if path.name.startswith("invalid_nws_empty_references_bad_polygon"):
                    with pytest.raises(AreaError):
                        parse(text)
                else:
                    assert parse(text).is_valid, path.name
    assert seen >= 20


def test_polygon_beside_geocodes_defines_the_area(registry):
    """NWS style: storm polygon plus whole-county codes; only the polygon is targeted."""
    polygon = "40.70,-74.02 40.75,-74.02 40.75,-73.96 40.70,-73.96 40.70,-74.02"
    both = area_geometry(
        [CapArea("storm", polygons=[polygon], geocodes=[("FIPS6", "036061"), ("UGC", "NYZ999")])],
        registry,
    )
    alone = area_geometry([CapArea("storm", polygons=[polygon])], registry)
    assert not both.errors
    assert both.geometry.equals(alone.geometry)
    assert any("geocodes not used" in w for w in both.warnings)
