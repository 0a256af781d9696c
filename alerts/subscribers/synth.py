"""Synthetic subscribers for demos and benchmarks: placed by census population, with a language mix.

Numbers are well-formed NANP numbers in New York and Florida area codes, generated from the
seed (never real people's numbers are looked up); 1 % are flagged as test audience.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sqlalchemy.engine import Engine

from alerts.subscribers.importer import ImportReport, Row, refresh_statistics, write_rows
from geo.synth import load_population, population_path, region_of, synth_languages, synth_points
from geo.zones import ZoneRegistry

POPULATION_OF = {
    "nyc_evacuation_zones": "nyc",
    "fl_palm_beach_evacuation_zones": "fl_palm_beach",
    "fl_bay_evacuation_zones": "fl_bay",
}
WATER_ZONES = {"nyc_evacuation_zones": ("0",)}
AREA_CODES = {"nyc": (212, 646, 718, 917, 347, 929), "fl_palm_beach": (561,), "fl_bay": (850,)}
CHUNK = 100_000


def synth_numbers(n: int, *, seed: int, area_codes: tuple[int, ...]) -> list[str]:
    """``n`` distinct E.164 numbers: area code, exchange 200-999, line 0000-9999."""
    rng = np.random.default_rng(seed)
    space = len(area_codes) * 800 * 10_000
    if n > space:
        raise ValueError(f"at most {space} synthetic numbers for these area codes")
    picks = (
        rng.choice(space, size=n, replace=False) if n < space // 4 else rng.permutation(space)[:n]
    )
    area = np.array(area_codes)[picks // 8_000_000]
    exchange = 200 + (picks // 10_000) % 800
    line = picks % 10_000
    return [
        f"+1{a}{e:03d}{ln:04d}"
        for a, e, ln in zip(area.tolist(), exchange.tolist(), line.tolist(), strict=True)
    ]


def synth_rows(registry: ZoneRegistry, *, n: int, zone_set: str, seed: int) -> list[Row]:
    """Rows for ``n`` synthetic subscribers inside a zone set's land, following its population."""
    zones = registry.zone_set(zone_set)
    region = region_of(zones, WATER_ZONES.get(zone_set, ()))
    pop_name = POPULATION_OF.get(zone_set)
    population = load_population(population_path(pop_name)) if pop_name else None
    lon, lat = synth_points(n, seed=seed, region=region, population=population)
    codes, labels = synth_languages(n, seed=seed + 1)
    numbers = synth_numbers(n, seed=seed + 2, area_codes=AREA_CODES.get(pop_name or "", (212,)))
    test = np.random.default_rng(seed + 3).random(n) < 0.01
    return [
        (
            numbers[i],
            labels[int(codes[i])],
            float(lon[i]),
            float(lat[i]),
            "home",
            "synthetic",
            bool(test[i]),
        )
        for i in range(n)
    ]


def synth_into(
    engine: Engine,
    registry: ZoneRegistry,
    *,
    n: int,
    zone_set: str,
    seed: int,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Generate and store synthetic subscribers in chunks."""
    report = ImportReport()
    rows = synth_rows(registry, n=n, zone_set=zone_set, seed=seed)
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        part = ImportReport(rows=len(chunk))
        write_rows(engine, chunk, part)
        report.rows += part.rows
        report.subscribers += part.subscribers
        report.locations += part.locations
        report.existing_numbers += part.existing_numbers
        if progress:
            progress(len(chunk))
    refresh_statistics(engine)
    return report
