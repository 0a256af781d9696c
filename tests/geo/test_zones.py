"""Zone registry: loading real zone files, repairs, lookups, bad files, and CAP sample geocodes."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pytest
import shapely
from lxml import etree

from geo.areas import CapArea, area_geometry
from geo.errors import UnknownGeocodeError, UnknownZoneError, ZoneDataError
from geo.geocodes import STATE_FIPS
from geo.zones import ZoneRegistry, load_zone_file


def test_nyc_zones_repaired_at_load(geo_data: Path, nyc_zones) -> None:
    raw = json.loads((geo_data / "nyc_hurricane_evacuation_zones.geojson").read_bytes())
    invalid = [
        str(f["properties"]["zone"])
        for f in raw["features"]
        if not shapely.geometry.shape(f["geometry"]).is_valid
    ]
    assert len(invalid) == 3
    assert sorted(z.id for z in nyc_zones if z.repaired) == sorted(invalid)
    assert all(z.geometry.is_valid and not z.geometry.is_empty for z in nyc_zones)
    assert shapely.get_num_coordinates(nyc_zones.get("1").geometry) >= 17_000


def test_default_registry_sets(registry: ZoneRegistry) -> None:
    names = {info.name: info for info in registry.sets()}
    assert names["nyc_evacuation_zones"].count == 7
    assert names["fl_bay_evacuation_zones"].count == 4
    assert names["fl_palm_beach_evacuation_zones"].count == 6  # 141 features merged by code
    assert names["us_counties"].count == 3221
    assert registry.zone("fl_palm_beach_evacuation_zones", "A").name == "ZONE A"
    with pytest.raises(UnknownZoneError):
        registry.zone_set("atlantis")
    with pytest.raises(UnknownZoneError):
        registry.zone("nyc_evacuation_zones", "9")


def test_default_data_dir_from_environment(monkeypatch, repo_root: Path, tmp_path: Path) -> None:
    (tmp_path / "zones").mkdir()
    shutil.copy(
        repo_root / "data" / "zones" / "fl_bay_county_evacuation_zones.geojson", tmp_path / "zones"
    )
    manifest = {
        "sets": [
            {
                "name": "bay",
                "file": "fl_bay_county_evacuation_zones.geojson",
                "id_field": "EZONE",
                "name_field": "EZONE",
            }
        ]
    }
    (tmp_path / "zones" / "zonesets.json").write_text(json.dumps(manifest))
    monkeypatch.setenv("ALERTCAST_DATA_DIR", str(tmp_path))
    assert ZoneRegistry.default().names() == ["bay"]


def test_which_zone_am_i_in(registry: ZoneRegistry) -> None:
    # Coney Island beach (Brooklyn) is in NYC evacuation zone 1
    hits = {(z.set_name, z.id) for z in registry.zones_at(-73.975, 40.574)}
    assert ("nyc_evacuation_zones", "1") in hits
    assert ("us_counties_ny_nj_ct_fl", "36047") in hits
    assert ("us_states", "36") in hits
    assert registry.zones_at(-40.0, 30.0) == []  # mid-Atlantic
    assert registry.zones_at(float("nan"), 0.0) == []


def test_bbox_filter_and_display_simplification(registry: ZoneRegistry) -> None:
    nyc = registry.zone_set("nyc_evacuation_zones")
    assert len(nyc.in_bbox((-74.3, 40.4, -73.6, 41.0))) == 7
    assert nyc.in_bbox((-80, 26, -79, 27)) == []
    zone = nyc.get("1")
    simple = zone.display_geometry(50.0)
    assert shapely.get_num_coordinates(simple) < shapely.get_num_coordinates(zone.geometry) / 2
    assert simple.is_valid


def write(tmp_path: Path, content: object) -> Path:
    path = tmp_path / "zones.geojson"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def feature(props: dict, geometry: dict) -> dict:
    return {"type": "Feature", "properties": props, "geometry": geometry}


SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ([1, 2], "expected a JSON object"),
        ({"type": "Feature"}, "not a GeoJSON FeatureCollection"),
        ({"type": "FeatureCollection", "features": []}, "has no features"),
        (
            {"type": "FeatureCollection", "features": [feature({"name": "x"}, SQUARE)]},
            "no value for field 'id'",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    feature({"id": 1, "name": "x"}, {"type": "Point", "coordinates": [0, 0]})
                ],
            },
            "not a polygon",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    feature(
                        {"id": 1, "name": "x"},
                        {
                            "type": "Polygon",
                            "coordinates": [[[5e5, 4e6], [5e5, 4.1e6], [6e5, 4e6], [5e5, 4e6]]],
                        },
                    )
                ],
            },
            "outside lon/lat range",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [feature({"id": 1, "name": "x"}, {"type": "Polygon"})],
            },
            "unreadable geometry",
        ),
        (
            {
                "type": "FeatureCollection",
                "crs": {"type": "name", "properties": {"name": "EPSG:2263"}},
                "features": [feature({"id": 1, "name": "x"}, SQUARE)],
            },
            "is not WGS84",
        ),
    ],
)
def test_bad_zone_files_get_clear_errors(tmp_path: Path, content: object, message: str) -> None:
    registry = ZoneRegistry()
    with pytest.raises(ZoneDataError, match=message):
        registry.add_set_from_file(write(tmp_path, content), "bad", "id", "name")
    assert not registry.has_set("bad")
    with pytest.raises(ZoneDataError, match="cannot read"):
        registry.add_set_from_file(tmp_path / "missing.geojson", "bad", "id", "name")


def test_imported_set_is_repaired_and_resolvable(tmp_path: Path) -> None:
    bow = {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}
    path = write(
        tmp_path,
        {"type": "FeatureCollection", "features": [feature({"code": 7.0, "label": "Bow"}, bow)]},
    )
    registry = ZoneRegistry()
    zone_set = registry.add_set_from_file(path, "local", "code", "label")
    zone = zone_set.get("7")
    assert zone.repaired
    assert zone.geometry.is_valid
    assert zone.geometry.area == pytest.approx(0.5)
    assert registry.resolve("local", "7").equals(zone.geometry)
    with pytest.raises(UnknownGeocodeError, match="local='8'"):
        registry.resolve("local", "8")


def test_counties_by_concatenated_fields(geo_data: Path) -> None:
    counties = load_zone_file(
        geo_data / "us_counties_2010_20m.geojson", "c", ["STATE", "COUNTY"], "NAME"
    )
    assert counties.get("35013").name == "Doña Ana"


@pytest.mark.parametrize(
    ("value_name", "value", "zone"),
    [
        ("SAME", "036061", ("us_counties_ny_nj_ct_fl", "36061")),  # hi-res NY file wins
        ("FIPS6", "006037", ("us_counties", "06037")),
        ("UGC", "FLC005", ("us_counties_ny_nj_ct_fl", "12005")),
        ("SAME", "026000", ("us_states", "26")),
        ("nyc_evacuation_zones", "3", ("nyc_evacuation_zones", "3")),
    ],
)
def test_geocodes_resolve(registry: ZoneRegistry, value_name: str, value: str, zone) -> None:
    assert registry.resolve(value_name, value).equals(registry.zone(*zone).geometry)


@pytest.mark.parametrize(
    ("value_name", "value"),
    [
        ("SAME", "136061"),
        ("SAME", "03606"),
        ("SAME", "099001"),
        ("UGC", "FLZ112"),
        ("UGC", "QQC001"),
        ("UGC", "FL-005"),
        ("FIPS6", "056999"),
        ("AMOC-AreaCode", "NSW_PW002"),
    ],
)
def test_unknown_geocodes_name_the_code(
    registry: ZoneRegistry, value_name: str, value: str
) -> None:
    with pytest.raises(UnknownGeocodeError) as info:
        registry.resolve(value_name, value)
    assert value in str(info.value)
    assert info.value.rule == "geocode-unknown"


# --- every geocode-only area in the shared CAP samples ---------------------------------------


@functools.cache
def county_codes(geo_data: Path) -> tuple[set[str], set[str]]:
    counties = json.loads((geo_data / "us_counties_2010_20m.geojson").read_bytes())["features"]
    fips = {f["properties"]["STATE"] + f["properties"]["COUNTY"] for f in counties}
    return fips, {f["properties"]["STATE"] for f in counties}


def covered(geo_data: Path, value_name: str, value: str) -> bool:
    """Independent oracle: is this SAME/FIPS6/UGC code in the shipped county/state files?"""
    fips, states = county_codes(geo_data)
    kind = value_name.upper()
    if kind in ("SAME", "FIPS6") and len(value) == 6 and value.isdigit() and value[0] == "0":
        return value[1:] in fips or (value[3:] == "000" and value[1:3] in states)
    if kind == "UGC" and len(value) == 6 and value[2] == "C" and value[:2] in STATE_FIPS:
        return STATE_FIPS[value[:2]] + value[3:] in fips
    return False


def sample_areas(shared_data: Path) -> list[tuple[str, CapArea]]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    out = []
    for path in sorted((shared_data / "cap" / "samples").glob("*.xml")):
        try:
            tree = etree.parse(str(path), parser)
        except etree.XMLSyntaxError:
            continue
        for area in tree.iter("{*}area"):
            geocodes = [
                (g.findtext("{*}valueName") or "", g.findtext("{*}value") or "")
                for g in area.findall("{*}geocode")
            ]
            if geocodes and not area.findall("{*}polygon") and not area.findall("{*}circle"):
                out.append(
                    (path.name, CapArea(area.findtext("{*}areaDesc") or "", geocodes=geocodes))
                )
    return out


def test_geocode_only_cap_samples(
    shared_data: Path, geo_data: Path, registry: ZoneRegistry
) -> None:
    areas = sample_areas(shared_data)
    assert len(areas) >= 8
    resolved = 0
    for name, area in areas:
        result = area_geometry([area], registry)
        for value_name, value in area.geocodes:
            if covered(geo_data, value_name, value):
                resolved += 1
                assert not registry.resolve(value_name, value).is_empty, (name, value)
            else:
                assert any(
                    value in e.message and e.rule == "geocode-unknown" for e in result.errors
                ), (name, value)
        if all(covered(geo_data, *g) for g in area.geocodes):
            assert not result.blocked, name
            assert not result.geometry.is_empty, name
        else:
            assert result.blocked, name
    assert resolved >= 4  # Michigan statewide, Quebradillas PR, Los Angeles, Lewis and Clark MT
