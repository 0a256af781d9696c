"""Zone registry: named, coded zones (counties, states, local evacuation zones) from GeoJSON.

Zone sets are listed in ``<data>/zones/zonesets.json`` and loaded lazily on first use. Each
feature gives a zone id (one property, or several concatenated, e.g. STATE + COUNTY = FIPS) and
a name; features sharing an id are merged into one zone. Invalid geometry is repaired at load
with ``make_valid`` (keeping only its polygons) and the zone is flagged ``repaired``.

Geocodes (SAME, FIPS6, UGC, or a zone set's own name) resolve in ``geo.geocodes``.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box, shape
from shapely.geometry.base import BaseGeometry

from geo.errors import UnknownZoneError, ZoneDataError
from geo.geocodes import resolve_geocode
from geo.geodesy import as_polygonal

MANIFEST = "zonesets.json"
_METRES_PER_DEGREE = 111_320.0  # display simplification only: a tolerance, not a measurement
_WGS84_NAMES = {"urn:ogc:def:crs:OGC:1.3:CRS84", "EPSG:4326", "urn:ogc:def:crs:EPSG::4326"}


@dataclass(frozen=True, slots=True)
class Zone:
    """One zone: its set, id, display name and lon/lat geometry (valid, polygonal)."""

    set_name: str
    id: str
    name: str
    geometry: Polygon | MultiPolygon
    repaired: bool = False

    def display_geometry(self, tolerance_m: float) -> BaseGeometry:
        """Return a simplified copy for display (tolerance in metres, approximate)."""
        return shapely.simplify(
            self.geometry, tolerance_m / _METRES_PER_DEGREE, preserve_topology=True
        )


@dataclass(frozen=True, slots=True)
class ZoneSetInfo:
    """Summary of a zone set for listings."""

    name: str
    description: str
    count: int
    bounds: tuple[float, float, float, float]


class ZoneSet:
    """An ordered collection of zones with a spatial index for point and bbox queries."""

    def __init__(self, name: str, zones: Sequence[Zone], description: str = "") -> None:
        self.name = name
        self.description = description
        self._zones = {z.id: z for z in zones}
        self._order = list(self._zones.values())
        self._tree = shapely.STRtree([z.geometry for z in self._order])

    def __len__(self) -> int:
        """Number of zones."""
        return len(self._order)

    def __iter__(self) -> Iterator[Zone]:
        """Zones in file order."""
        return iter(self._order)

    def __contains__(self, zone_id: object) -> bool:
        """True if a zone with this id exists."""
        return zone_id in self._zones

    def get(self, zone_id: str) -> Zone:
        """Return the zone with this id or raise UnknownZoneError."""
        try:
            return self._zones[zone_id]
        except KeyError:
            raise UnknownZoneError(f"zone set {self.name!r} has no zone {zone_id!r}") from None

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """Bounding box (minx, miny, maxx, maxy) of all zones."""
        b = shapely.total_bounds([z.geometry for z in self._order])
        return float(b[0]), float(b[1]), float(b[2]), float(b[3])

    def info(self) -> ZoneSetInfo:
        """Summary for listings."""
        return ZoneSetInfo(self.name, self.description, len(self), self.bounds)

    def zones_at(self, lon: float, lat: float) -> list[Zone]:
        """Zones covering the point (on a shared border, both)."""
        hits = self._tree.query(shapely.Point(lon, lat), predicate="intersects")
        return [self._order[i] for i in sorted(hits)]

    def in_bbox(self, bbox: tuple[float, float, float, float]) -> list[Zone]:
        """Zones intersecting the bbox (minx, miny, maxx, maxy)."""
        hits = self._tree.query(box(*bbox), predicate="intersects")
        return [self._order[i] for i in sorted(hits)]


def _read_json(path: Path) -> dict[str, Any]:
    """Read a JSON object from a file, with a clear error for anything else."""
    try:
        data = json.loads(path.read_bytes())
    except OSError as exc:
        raise ZoneDataError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise ZoneDataError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ZoneDataError(f"{path}: expected a JSON object")
    return data


def _check_collection(path: Path, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Check the FeatureCollection envelope and CRS; return its features."""
    if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
        raise ZoneDataError(f"{path}: not a GeoJSON FeatureCollection")
    crs = (data.get("crs") or {}).get("properties", {}).get("name")
    if crs is not None and crs not in _WGS84_NAMES:
        raise ZoneDataError(f"{path}: CRS {crs!r} is not WGS84 lon/lat")
    if not data["features"]:
        raise ZoneDataError(f"{path}: has no features")
    return list(data["features"])


def _property(path: Path, index: int, props: dict[str, Any], field: str) -> str:
    """Return one property as text (integral floats without '.0'); missing is an error."""
    value = props.get(field)
    if value is None or value == "":
        raise ZoneDataError(f"{path}: feature {index} has no value for field {field!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def _feature_geometry(path: Path, index: int, feature: dict[str, Any]) -> tuple[BaseGeometry, bool]:
    """Return the feature's polygonal geometry, repaired if invalid, and whether it was."""
    try:
        geom = shape(feature["geometry"])
    except (KeyError, TypeError, ValueError, AttributeError, shapely.errors.GEOSException) as exc:
        raise ZoneDataError(f"{path}: feature {index} has unreadable geometry: {exc}") from exc
    if not isinstance(geom, Polygon | MultiPolygon) or geom.is_empty:
        raise ZoneDataError(f"{path}: feature {index} geometry is {geom.geom_type}, not a polygon")
    minx, miny, maxx, maxy = geom.bounds
    if not (minx >= -180 and maxx <= 180 and miny >= -90 and maxy <= 90):
        raise ZoneDataError(f"{path}: feature {index} is outside lon/lat range (not WGS84?)")
    if geom.is_valid:
        return geom, False
    return as_polygonal(shapely.make_valid(geom)), True


def load_zone_file(
    path: Path, name: str, id_field: str | Sequence[str], name_field: str, description: str = ""
) -> ZoneSet:
    """Load a GeoJSON FeatureCollection as a zone set; raise ZoneDataError for bad files."""
    fields = [id_field] if isinstance(id_field, str) else list(id_field)
    features = _check_collection(path, _read_json(path))
    groups: dict[str, tuple[str, list[BaseGeometry], bool]] = {}
    for i, feature in enumerate(features):
        props = feature.get("properties") or {}
        zone_id = "".join(_property(path, i, props, f) for f in fields)
        geom, repaired = _feature_geometry(path, i, feature)
        label, geoms, was = groups.setdefault(
            zone_id, (_property(path, i, props, name_field), [], False)
        )
        geoms.append(geom)
        groups[zone_id] = (label, geoms, was or repaired)
    zones = [
        Zone(name, zid, label, _merge(geoms), repaired)
        for zid, (label, geoms, repaired) in groups.items()
    ]
    return ZoneSet(name, zones, description)


def _merge(geoms: list[BaseGeometry]) -> Polygon | MultiPolygon:
    """One geometry per zone: the union of its features."""
    return as_polygonal(geoms[0] if len(geoms) == 1 else shapely.union_all(geoms))


def default_data_dir() -> Path:
    """The data folder: ``$ALERTCAST_DATA_DIR`` if set, else the repository's ``data/``."""
    env = os.environ.get("ALERTCAST_DATA_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[1] / "data"


class ZoneRegistry:
    """All known zone sets by name; sets from the manifest load on first use."""

    def __init__(self) -> None:
        self._loaders: dict[str, Callable[[], ZoneSet]] = {}
        self._sets: dict[str, ZoneSet] = {}
        self._lock = threading.RLock()  # lazy loading is shared by request threads

    @classmethod
    def default(cls, data_dir: Path | None = None) -> ZoneRegistry:
        """Registry of the zone sets listed in ``<data_dir>/zones/zonesets.json``."""
        folder = (data_dir or default_data_dir()) / "zones"
        manifest = _read_json(folder / MANIFEST)
        registry = cls()
        for entry in manifest.get("sets", []):
            registry._register_entry(folder, entry)
        return registry

    def _register_entry(self, folder: Path, entry: dict[str, Any]) -> None:
        """Register one manifest entry for lazy loading."""
        try:
            name, file = str(entry["name"]), folder / str(entry["file"])
            id_field, name_field = entry["id_field"], str(entry["name_field"])
        except KeyError as exc:
            raise ZoneDataError(f"{folder / MANIFEST}: entry lacks {exc}") from exc
        desc = str(entry.get("description", ""))
        self._loaders[name] = lambda: load_zone_file(file, name, id_field, name_field, desc)

    def register(self, zone_set: ZoneSet) -> None:
        """Add (or replace) a loaded zone set."""
        with self._lock:
            self._loaders.pop(zone_set.name, None)
            self._sets[zone_set.name] = zone_set

    def add_set_from_file(
        self,
        path: Path,
        name: str,
        id_field: str | Sequence[str],
        name_field: str,
        description: str = "",
    ) -> ZoneSet:
        """Load a GeoJSON file as a new zone set and register it; raise ZoneDataError if bad."""
        zone_set = load_zone_file(Path(path), name, id_field, name_field, description)
        self.register(zone_set)
        return zone_set

    def names(self) -> list[str]:
        """Names of all registered zone sets (without loading them)."""
        return sorted({*self._loaders, *self._sets})

    def has_set(self, name: str) -> bool:
        """True if a zone set of that name is registered."""
        return name in self._sets or name in self._loaders

    def sets(self) -> list[ZoneSetInfo]:
        """Summaries of all zone sets (loads them)."""
        return [self.zone_set(n).info() for n in self.names()]

    def zone_set(self, name: str) -> ZoneSet:
        """The zone set of that name, loading it on first use; UnknownZoneError if absent."""
        with self._lock:
            if name not in self._sets:
                if name not in self._loaders:
                    raise UnknownZoneError(f"no zone set named {name!r}")
                self._sets[name] = self._loaders[name]()
                del self._loaders[name]
            return self._sets[name]

    def zone(self, set_name: str, zone_id: str) -> Zone:
        """One zone by set name and id; UnknownZoneError if either is absent."""
        return self.zone_set(set_name).get(zone_id)

    def zones_at(self, lon: float, lat: float, sets: Sequence[str] | None = None) -> list[Zone]:
        """Zones covering the point, across the given sets (default: all)."""
        if not (np.isfinite(lon) and np.isfinite(lat)):
            return []
        return [z for n in (sets or self.names()) for z in self.zone_set(n).zones_at(lon, lat)]

    def resolve(self, value_name: str, value: str) -> Polygon | MultiPolygon:
        """Geometry of a CAP geocode (SAME, FIPS6, UGC, zone set name); else UnknownGeocodeError."""
        return resolve_geocode(self, value_name, value)
