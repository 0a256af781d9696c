"""Offline basemap layers: loaded from data/basemap, projected to Web Mercator once per process.

Each region (NYC, Florida, and a counties-only fallback) is a bundle of pre-built matplotlib
paths with their bounding boxes, so a render only picks the paths that touch its extent and never
re-reads or re-projects a file.
"""

from __future__ import annotations

import hashlib
import math
import os
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path as FsPath
from typing import Any

import numpy as np
import numpy.typing as npt
import pyogrio
import shapely
from matplotlib.path import Path
from shapely.geometry.base import BaseGeometry

EARTH_RADIUS_M = 6_378_137.0
LEVELS = (4.0, 12.0, 36.0, 108.0)  # simplification tolerances, Mercator metres
REGION_BBOXES = {
    "nyc": (-74.60, 40.30, -73.30, 41.20),
    "florida": (-87.80, 24.30, -79.70, 31.10),
}
NYC_FIPS = frozenset({"36005", "36047", "36061", "36081", "36085"})

_LOCK = threading.RLock()  # guards the region and prepared-geometry caches

FloatArray = npt.NDArray[np.float64]
Extent = tuple[float, float, float, float]  # xmin, ymin, xmax, ymax in Web Mercator metres


def data_dir() -> FsPath:
    """The basemap folder: $ALERTCAST_DATA_DIR/basemap, else the repository's data/basemap."""
    root = os.environ.get("ALERTCAST_DATA_DIR")
    base = FsPath(root) if root else FsPath(__file__).resolve().parents[1] / "data"
    return base / "basemap"


def lonlat_to_mercator(lon: FloatArray, lat: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Spherical Web Mercator (EPSG:3857) metres from WGS84 degrees."""
    lat_c = np.clip(lat, -85.0, 85.0)
    x = np.radians(lon) * EARTH_RADIUS_M
    y = np.log(np.tan(np.pi / 4 + np.radians(lat_c) / 2)) * EARTH_RADIUS_M
    return x, y


def mercator_to_lat(y: float) -> float:
    """Latitude in degrees of a Web Mercator northing."""
    return math.degrees(2 * math.atan(math.exp(y / EARTH_RADIUS_M)) - math.pi / 2)


def project(geom: BaseGeometry) -> BaseGeometry:
    """A WGS84 lon/lat geometry in Web Mercator metres."""
    return shapely.transform(geom, lambda x, y: lonlat_to_mercator(x, y), interleaved=False)


def polygonal(geom: BaseGeometry) -> BaseGeometry:
    """The valid polygonal part of a geometry (invalid input repaired, stray lines dropped)."""
    if not geom.is_valid:
        geom = shapely.make_valid(geom)
    if geom.geom_type == "GeometryCollection":
        polys = [g for g in shapely.get_parts(geom) if g.geom_type in ("Polygon", "MultiPolygon")]
        return shapely.union_all(polys) if polys else shapely.Polygon()
    return geom if geom.geom_type in ("Polygon", "MultiPolygon") else shapely.Polygon()


def geometry_path(geom: BaseGeometry) -> Path | None:
    """One compound matplotlib path for a (multi)polygon or (multi)line; None when empty.

    Rings keep their repeated first vertex and end in LINETO rather than CLOSEPOLY: matplotlib
    only simplifies paths made of MOVETO/LINETO, and simplification halves the drawing time.
    Polygons are oriented (holes opposite to shells) so the non-zero fill rule leaves holes open.
    """
    if geom.is_empty:
        return None
    parts = shapely.get_parts(geom)
    if geom.geom_type in ("Polygon", "MultiPolygon"):
        parts = shapely.get_rings(shapely.orient_polygons(parts))
    coords, index = shapely.get_coordinates(parts, return_index=True)
    if len(coords) < 2:
        return None
    codes = np.full(len(coords), Path.LINETO, dtype=np.uint8)
    codes[0] = Path.MOVETO
    codes[np.flatnonzero(np.diff(index)) + 1] = Path.MOVETO
    return Path(coords, codes)


def level_for(metres_per_px: float) -> float:
    """The coarsest simplification level (Mercator metres) still finer than ~half a pixel."""
    fitting = [lv for lv in LEVELS if lv <= 0.6 * metres_per_px]
    return fitting[-1] if fitting else LEVELS[0]


class Levels:
    """Paths of projected geometries at a few simplification levels, built lazily and kept."""

    def __init__(self, geoms: Sequence[BaseGeometry]) -> None:
        self.geoms = tuple(geoms)
        self._paths: dict[float, tuple[Path | None, ...]] = {}
        self._lock = threading.Lock()

    def paths(self, level: float) -> tuple[Path | None, ...]:
        """One path per geometry (None when empty) simplified to `level` metres."""
        with self._lock:
            if level not in self._paths:
                simple = shapely.simplify(
                    np.asarray(self.geoms, dtype=object), level, preserve_topology=False
                )
                self._paths[level] = tuple(geometry_path(g) for g in simple)
            return self._paths[level]


class PathLayer:
    """Projected geometries of one layer with bounding boxes, drawn as level-of-detail paths."""

    def __init__(self, geoms: Sequence[BaseGeometry]) -> None:
        self.levels = Levels(geoms)
        bounds = shapely.bounds(np.asarray(self.levels.geoms, dtype=object))
        self.bounds: FloatArray = np.asarray(bounds, dtype=float).reshape(-1, 4)

    def visible(self, extent: Extent, level: float = LEVELS[0]) -> list[Path]:
        """Paths (at the given simplification level) whose bounding box touches the extent."""
        if not self.levels.geoms:
            return []
        b = self.bounds
        hit = (b[:, 0] <= extent[2]) & (b[:, 2] >= extent[0])
        hit &= (b[:, 1] <= extent[3]) & (b[:, 3] >= extent[1])
        paths = self.levels.paths(level)
        return [p for i in np.flatnonzero(hit) if (p := paths[i]) is not None]


@dataclass(frozen=True)
class PlaceLayer:
    """Labelled points (Mercator), ranked: a lower rank is more important."""

    x: FloatArray
    y: FloatArray
    names: tuple[str, ...]
    ranks: npt.NDArray[np.int64]

    def visible(self, extent: Extent) -> list[tuple[float, float, str]]:
        """Places inside the extent, most important first."""
        inside = (self.x >= extent[0]) & (self.x <= extent[2])
        inside &= (self.y >= extent[1]) & (self.y <= extent[3])
        idx = sorted(np.flatnonzero(inside), key=lambda i: (int(self.ranks[i]), self.names[i]))
        return [(float(self.x[i]), float(self.y[i]), self.names[i]) for i in idx]


@dataclass(frozen=True)
class Region:
    """All basemap layers of one region, projected and ready to draw."""

    name: str
    bbox: tuple[float, float, float, float]  # lon/lat
    land: PathLayer
    water: PathLayer
    rivers: PathLayer
    coast: PathLayer
    counties: PathLayer
    districts: PathLayer
    places: PlaceLayer
    attribution: str

    def covers(self, lon: float, lat: float) -> bool:
        """Whether a lon/lat point lies inside this region's data box."""
        x0, y0, x1, y1 = self.bbox
        return x0 <= lon <= x1 and y0 <= lat <= y1


def build_layer(geoms: Iterable[BaseGeometry]) -> PathLayer:
    """A PathLayer from WGS84 geometries (projected, polygons repaired)."""
    out: list[BaseGeometry] = []
    for g in geoms:
        if g is None or g.is_empty:
            continue
        m = project(g)
        if m.geom_type in ("Polygon", "MultiPolygon", "GeometryCollection"):
            m = polygonal(m)
        if not m.is_empty:
            out.append(m)
    return PathLayer(out)


def _read(name: str) -> Any:
    path = data_dir() / f"{name}.geojson"
    if not path.exists():
        return None
    return pyogrio.read_dataframe(path)


def _geoms(name: str) -> list[BaseGeometry]:
    df = _read(name)
    return [] if df is None else list(df.geometry.values)


def _places(frames: list[tuple[list[str], list[BaseGeometry], list[int]]]) -> PlaceLayer:
    names = [n for f in frames for n in f[0]]
    pts = [shapely.point_on_surface(g) for f in frames for g in f[1]]
    ranks = np.array([r for f in frames for r in f[2]], dtype=np.int64)
    lon = np.array([p.x for p in pts], dtype=float)
    lat = np.array([p.y for p in pts], dtype=float)
    x, y = lonlat_to_mercator(lon, lat)
    return PlaceLayer(x, y, tuple(names), ranks)


@cache
def _counties() -> Any:
    return _read("counties_ny_nj_ct_fl_basemap_uscounties")


def _ne_places(prefix: str) -> tuple[list[str], list[BaseGeometry], list[int]]:
    df = _read(f"{prefix}_ne_10m_populated_places")
    if df is None:
        return [], [], []
    return list(df["NAME"]), list(df.geometry.values), [int(r) for r in df["SCALERANK"]]


def _county_places(df: Any) -> tuple[list[str], list[BaseGeometry], list[int]]:
    names = [f"{n} Co." for n in df["NAME"]]
    return names, list(df.geometry.values), [12] * len(names)


def _nyc() -> Region:
    counties = _counties()
    outside = counties[~counties["FIPS"].isin(NYC_FIPS)]
    boros = _read("nyc_boroughs_nybb_14c")
    boro_geoms = list(boros.geometry.values)
    borough_places = (list(boros["BoroName"]), boro_geoms, [3] * len(boro_geoms))
    ne = _ne_places("nyc")
    return Region(
        name="nyc",
        bbox=REGION_BBOXES["nyc"],
        land=build_layer([*outside.geometry.values, *boro_geoms]),
        water=build_layer([]),
        rivers=build_layer([]),
        coast=build_layer([]),  # the borough outlines are the shoreline
        counties=build_layer(outside.geometry.values),
        districts=build_layer(boro_geoms),
        places=_places([ne, borough_places]),
        attribution="Natural Earth · US Census · NYC DCP",
    )


def _florida() -> Region:
    counties = _counties()
    fl = counties[counties["STATE"] == "FL"]
    lakes = _geoms("florida_ne_10m_lakes") + _geoms("florida_ne_10m_lakes_north_america")
    rivers = _geoms("florida_ne_10m_rivers_lake_centerlines")
    rivers += _geoms("florida_ne_10m_rivers_north_america")
    return Region(
        name="florida",
        bbox=REGION_BBOXES["florida"],
        land=build_layer([*_geoms("florida_ne_10m_land"), *fl.geometry.values]),
        water=build_layer(lakes),
        rivers=build_layer(rivers),
        coast=build_layer(_geoms("florida_ne_10m_coastline")),
        counties=build_layer(fl.geometry.values),
        districts=build_layer([]),
        places=_places([_ne_places("florida"), _county_places(fl)]),
        attribution="Natural Earth · US Census",
    )


def _fallback() -> Region:
    counties = _counties()
    geoms = [] if counties is None else list(counties.geometry.values)
    return Region(
        name="counties",
        bbox=(-180.0, -90.0, 180.0, 90.0),
        land=build_layer(geoms),
        water=build_layer([]),
        rivers=build_layer([]),
        coast=build_layer([]),
        counties=build_layer(geoms),
        districts=build_layer([]),
        places=_places([]),
        attribution="US Census",
    )


@dataclass(frozen=True)
class Prepared:
    """A WGS84 polygonal geometry made ready to draw: repaired, projected, as one path."""

    lonlat: BaseGeometry
    projected: BaseGeometry
    levels: Levels

    def path(self, level: float = LEVELS[0]) -> Path | None:
        """The projected geometry as one path simplified to `level` metres."""
        return self.levels.paths(level)[0]


_PREPARED: OrderedDict[bytes, Prepared] = OrderedDict()
PREPARED_CACHE_SIZE = 256


_DIGESTS: OrderedDict[int, tuple[BaseGeometry, bytes]] = OrderedDict()


def digest(geom: BaseGeometry) -> bytes:
    """A content hash of a geometry; the same object is hashed once (its WKB can be megabytes)."""
    with _LOCK:
        hit = _DIGESTS.get(id(geom))
        if hit is not None and hit[0] is geom:
            _DIGESTS.move_to_end(id(geom))
            return hit[1]
    value = hashlib.blake2b(shapely.to_wkb(geom), digest_size=16).digest()
    with _LOCK:
        _DIGESTS[id(geom)] = (geom, value)  # the reference keeps the id from being reused
        while len(_DIGESTS) > PREPARED_CACHE_SIZE:
            _DIGESTS.popitem(last=False)
    return value


def prepare(geom: BaseGeometry) -> Prepared:
    """Repair and project an alert area or zone once; zone sets reuse the result across renders."""
    key = digest(geom)
    with _LOCK:
        hit = _PREPARED.get(key)
        if hit is not None:
            _PREPARED.move_to_end(key)
            return hit
    lonlat = polygonal(geom)
    projected = project(lonlat)
    prepared = Prepared(lonlat, projected, Levels([projected]))
    with _LOCK:
        _PREPARED[key] = prepared
        while len(_PREPARED) > PREPARED_CACHE_SIZE:
            _PREPARED.popitem(last=False)
    return prepared


_BUILDERS = {"nyc": _nyc, "florida": _florida, "counties": _fallback}
_REGIONS: dict[str, Region] = {}


def load_region(name: str) -> Region:
    """The named region, built on first use and then shared by every render in the process."""
    with _LOCK:
        if name not in _REGIONS:
            _REGIONS[name] = _BUILDERS[name]()
        return _REGIONS[name]


def region_for(lon: float, lat: float) -> Region:
    """The region whose shipped data covers a lon/lat point (counties-only fallback otherwise)."""
    for name, (x0, y0, x1, y1) in REGION_BBOXES.items():
        if x0 <= lon <= x1 and y0 <= lat <= y1:
            return load_region(name)
    return load_region("counties")


def preload(
    names: Sequence[str] = ("nyc", "florida", "counties"), *, all_levels: bool = True
) -> None:
    """Load regions (and build every simplification level) before the first alert needs them."""
    for name in names:
        region = load_region(name)
        if not all_levels:
            continue
        layers = (
            region.land,
            region.water,
            region.rivers,
            region.coast,
            region.counties,
            region.districts,
        )
        for layer in layers:
            for level in LEVELS:
                layer.levels.paths(level)
