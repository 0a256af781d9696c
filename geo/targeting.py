"""Targeting: geometry x subscriber index -> location ids, with the overshoot policy and counts.

The overshoot buffer is geodesic, in metres, default 0. The FCC WEA rule tolerates up to
0.1 mile (``WEA_OVERSHOOT_M``) of overshoot; the buffer is applied to the union of the areas
before selection, so the geometry actually used is returned for display and audit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo._grid import I64
from geo.geodesy import as_polygonal, buffer_geodesic
from geo.index import SubscriberIndex
from geo.zones import ZoneSet

WEA_OVERSHOOT_M = 160.9344  # 0.1 statute mile


@dataclass(frozen=True, slots=True)
class Targeting:
    """Ids selected, the geometry actually used (after the buffer), and the buffer in metres."""

    ids: I64
    geometry: Polygon | MultiPolygon
    buffer_m: float


def target(index: SubscriberIndex, geometry: BaseGeometry, *, buffer_m: float = 0.0) -> Targeting:
    """Select the ids whose locations lie in (or on) the geometry grown by ``buffer_m`` metres."""
    if buffer_m < 0:
        raise ValueError("overshoot buffer must be >= 0 metres")
    used = buffer_geodesic(geometry, buffer_m) if buffer_m else as_polygonal(geometry)
    return Targeting(index.select(used), used, buffer_m)


class Categories:
    """A category per id (e.g. language), for counting a selection: pure numpy."""

    def __init__(self, ids: npt.ArrayLike, codes: npt.ArrayLike, labels: Sequence[str]) -> None:
        raw_ids = np.asarray(ids, dtype=np.int64)
        raw_codes = np.asarray(codes, dtype=np.int64)
        if raw_ids.shape != raw_codes.shape:
            raise ValueError("ids and codes differ in length")
        if len(raw_codes) and (raw_codes.min() < 0 or raw_codes.max() >= len(labels)):
            raise ValueError("a code has no label")
        order = np.argsort(raw_ids, kind="stable")
        self._ids = raw_ids[order]
        self._codes = raw_codes[order]
        self.labels = tuple(labels)

    def counts(self, selected: npt.ArrayLike) -> dict[str, int]:
        """Count selected ids per label (ids without a category are counted under '')."""
        sel = np.asarray(selected, dtype=np.int64)
        pos = np.searchsorted(self._ids, sel)
        known = pos < len(self._ids)
        known[known] = self._ids[pos[known]] == sel[known]
        tally = np.bincount(self._codes[pos[known]], minlength=len(self.labels))
        result = {label: int(n) for label, n in zip(self.labels, tally, strict=True) if n}
        if not known.all():
            result[""] = int((~known).sum())
        return result


def counts_per_zone(
    index: SubscriberIndex, zone_set: ZoneSet, selected: npt.ArrayLike
) -> dict[str, int]:
    """Count selected ids per zone of the set (a location on a shared border counts in both)."""
    sel = np.unique(np.asarray(selected, dtype=np.int64))
    counts: dict[str, int] = {}
    for zone in zone_set:
        n = int(np.isin(index.select(zone.geometry), sel, assume_unique=True).sum())
        if n:
            counts[zone.id] = n
    return counts
