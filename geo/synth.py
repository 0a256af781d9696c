"""Synthetic subscriber locations and languages for demos and benchmarks (seeded, reproducible).

Points are drawn inside a region (a lon/lat polygon the caller chooses to be land, e.g. the
NYC evacuation zones 1-6; zone 0 is water), uniformly or around the 2020 Census block-group
centres of population weighted by their population.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo._grid import F64
from geo.errors import GeoError, ZoneDataError
from geo.zones import ZoneSet, default_data_dir

_METRES_PER_DEGREE = 111_320.0  # local scatter only: synthetic data, not a measurement
_MAX_ROUNDS = 200

# Illustrative mix for demos (roughly NYC's most common home languages), not census figures.
DEFAULT_LANGUAGE_MIX: Mapping[str, float] = {
    "en": 0.70, "es": 0.16, "zh": 0.05, "ru": 0.03, "bn": 0.02, "ht": 0.02, "ko": 0.02,
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class PopulationCentres:
    """Weighted points: block-group centres of population."""

    lon: F64
    lat: F64
    weight: F64


def population_path(name: str, data_dir: Path | None = None) -> Path:
    """Path of a shipped population file: name is 'nyc', 'fl_palm_beach' or 'fl_bay'."""
    return (
        (data_dir or default_data_dir())
        / "population"
        / f"{name}_blockgroup_popcenters_2020.geojson"
    )


def load_population(path: Path) -> PopulationCentres:
    """Load GeoJSON points carrying a POPULATION property."""
    try:
        features = json.loads(path.read_bytes())["features"]
        coords = np.array([f["geometry"]["coordinates"][:2] for f in features], dtype=np.float64)
        weight = np.array([f["properties"]["POPULATION"] for f in features], dtype=np.float64)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ZoneDataError(f"{path}: not a population centres file: {exc}") from exc
    return PopulationCentres(coords[:, 0], coords[:, 1], weight)


def region_of(zone_set: ZoneSet, exclude: Sequence[str] = ()) -> BaseGeometry:
    """Union of a zone set's zones, leaving out the given ids (e.g. NYC zone '0', water)."""
    return shapely.union_all([z.geometry for z in zone_set if z.id not in exclude])


def _uniform(rng: np.random.Generator, region: BaseGeometry, k: int) -> tuple[F64, F64]:
    """k points uniform in the region's bounding box."""
    minx, miny, maxx, maxy = region.bounds
    return rng.uniform(minx, maxx, k), rng.uniform(miny, maxy, k)


def _around(
    rng: np.random.Generator, pop: PopulationCentres, k: int, spread_m: float
) -> tuple[F64, F64]:
    """k points scattered (Gaussian, spread_m metres) around population-weighted centres."""
    pick = rng.choice(len(pop.weight), size=k, p=pop.weight / pop.weight.sum())
    lat = pop.lat[pick] + rng.normal(0.0, spread_m / _METRES_PER_DEGREE, k)
    scale = _METRES_PER_DEGREE * np.cos(np.radians(pop.lat[pick]))
    return pop.lon[pick] + rng.normal(0.0, 1.0, k) * spread_m / scale, lat


def synth_points(
    n: int,
    *,
    seed: int,
    region: BaseGeometry,
    population: PopulationCentres | None = None,
    spread_m: float = 300.0,
) -> tuple[F64, F64]:
    """Return n (lon, lat) points inside ``region``, optionally following the population."""
    if region.is_empty or region.area == 0:
        raise GeoError("synthetic points need a region with area")
    if population is not None:
        inside = shapely.contains_xy(region, population.lon, population.lat) & (
            population.weight > 0
        )
        if not inside.any():
            raise GeoError("no populated centre lies inside the region")
        population = PopulationCentres(
            population.lon[inside], population.lat[inside], population.weight[inside]
        )
    shapely.prepare(region)
    rng = np.random.default_rng(seed)
    xs: list[F64] = []
    ys: list[F64] = []
    have, rate = 0, 0.5
    for _ in range(_MAX_ROUNDS):
        if have >= n:
            break
        k = int((n - have) / rate * 1.1) + 16
        x, y = (
            _uniform(rng, region, k)
            if population is None
            else _around(rng, population, k, spread_m)
        )
        ok = shapely.contains_xy(region, x, y)
        rate = max(float(ok.mean()), 0.001)
        xs.append(x[ok])
        ys.append(y[ok])
        have += int(ok.sum())
    if have < n:
        raise GeoError("region too small relative to its bounding box to place points")
    return np.concatenate(xs)[:n], np.concatenate(ys)[:n]


def synth_languages(
    n: int, *, seed: int, mix: Mapping[str, float] = DEFAULT_LANGUAGE_MIX
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Return (codes, labels): a language code index per subscriber drawn from ``mix``."""
    labels = tuple(mix)
    p = np.array([mix[k] for k in labels], dtype=np.float64)
    if len(p) == 0 or (p < 0).any() or p.sum() <= 0:
        raise GeoError("language mix needs positive weights")
    codes = np.random.default_rng(seed).choice(len(labels), size=n, p=p / p.sum()).astype(np.uint8)
    return codes, labels
