"""CAP geocode resolution: SAME, FIPS6, UGC and zone-set names to geometry.

- SAME / FIPS6: six digits ``PSSCCC``. ``P`` = 0 means the whole county (a subdivision 1-9 is
  not in the shipped data and is reported unknown rather than widened to the whole county);
  ``SS`` = state FIPS; ``CCC`` = county FIPS, ``000`` = the whole state.
- UGC: ``SSCNNN`` (state postal code, ``C``, county FIPS) resolves like a county. Forecast zones
  ``SSZNNN`` resolve only if a zone set named ``ugc_zones`` (ids like ``FLZ112``) is registered.
- Any other valueName that names a registered zone set looks the value up as a zone id.

Counties come from the first set in ``COUNTY_SETS`` that has the code, so the higher-resolution
NY/NJ/CT/FL file wins over the national 1:20M file.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shapely.geometry import MultiPolygon, Polygon

from geo.errors import UnknownGeocodeError, UnknownZoneError

if TYPE_CHECKING:
    from geo.zones import ZoneRegistry

COUNTY_SETS = ("us_counties_ny_nj_ct_fl", "us_counties")
STATE_SET = "us_states"
UGC_ZONE_SET = "ugc_zones"

STATE_FIPS = {
    "AL": "01", "AK": "02", "AZ": "04", "AR": "05", "CA": "06", "CO": "08", "CT": "09",
    "DE": "10", "DC": "11", "FL": "12", "GA": "13", "HI": "15", "ID": "16", "IL": "17",
    "IN": "18", "IA": "19", "KS": "20", "KY": "21", "LA": "22", "ME": "23", "MD": "24",
    "MA": "25", "MI": "26", "MN": "27", "MS": "28", "MO": "29", "MT": "30", "NE": "31",
    "NV": "32", "NH": "33", "NJ": "34", "NM": "35", "NY": "36", "NC": "37", "ND": "38",
    "OH": "39", "OK": "40", "OR": "41", "PA": "42", "RI": "44", "SC": "45", "SD": "46",
    "TN": "47", "TX": "48", "UT": "49", "VT": "50", "VA": "51", "WA": "53", "WV": "54",
    "WI": "55", "WY": "56", "AS": "60", "GU": "66", "MP": "69", "PR": "72", "VI": "78",
}  # fmt: skip

_SAME = re.compile(r"\d{6}")
_UGC = re.compile(r"([A-Z]{2})([CZ])(\d{3})")


def _county(
    registry: ZoneRegistry, value_name: str, value: str, fips: str
) -> Polygon | MultiPolygon:
    """The county with this 5-digit FIPS code from the best county set that has it."""
    for set_name in COUNTY_SETS:
        if registry.has_set(set_name) and fips in registry.zone_set(set_name):
            return registry.zone(set_name, fips).geometry
    raise UnknownGeocodeError(value_name, value, f"no county with FIPS {fips} in the zone data")


def _same(registry: ZoneRegistry, value_name: str, value: str) -> Polygon | MultiPolygon:
    """Resolve a SAME / FIPS6 code PSSCCC."""
    if not _SAME.fullmatch(value):
        raise UnknownGeocodeError(value_name, value, "expected six digits PSSCCC")
    part, state, county = value[0], value[1:3], value[3:]
    if part != "0":
        raise UnknownGeocodeError(
            value_name, value, f"county subdivision {part} is not in the zone data"
        )
    if county != "000":
        return _county(registry, value_name, value, state + county)
    if registry.has_set(STATE_SET) and state in registry.zone_set(STATE_SET):
        return registry.zone(STATE_SET, state).geometry
    raise UnknownGeocodeError(value_name, value, f"no state with FIPS {state} in the zone data")


def _ugc(registry: ZoneRegistry, value_name: str, value: str) -> Polygon | MultiPolygon:
    """Resolve a UGC county (SSCNNN) or forecast zone (SSZNNN) code."""
    match = _UGC.fullmatch(value)
    if not match:
        raise UnknownGeocodeError(value_name, value, "expected a UGC code like FLC005 or FLZ112")
    postal, kind, number = match.groups()
    if kind == "Z":
        if registry.has_set(UGC_ZONE_SET) and value in registry.zone_set(UGC_ZONE_SET):
            return registry.zone(UGC_ZONE_SET, value).geometry
        raise UnknownGeocodeError(value_name, value, "NWS forecast zones are not in the zone data")
    if postal not in STATE_FIPS:
        raise UnknownGeocodeError(value_name, value, f"unknown state code {postal}")
    return _county(registry, value_name, value, STATE_FIPS[postal] + number)


def resolve_geocode(registry: ZoneRegistry, value_name: str, value: str) -> Polygon | MultiPolygon:
    """Return the geometry of one CAP geocode or raise UnknownGeocodeError naming it."""
    name, code = value_name.strip(), value.strip()
    kind = name.upper()
    if kind in ("SAME", "FIPS6"):
        return _same(registry, name, code)
    if kind == "UGC":
        return _ugc(registry, name, code.upper())
    if registry.has_set(name):
        try:
            return registry.zone(name, code).geometry
        except UnknownZoneError as exc:
            raise UnknownGeocodeError(name, code, exc.message) from exc
    raise UnknownGeocodeError(name, code, "no zone data is registered under this valueName")
