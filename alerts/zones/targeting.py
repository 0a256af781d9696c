"""Targeting in the service: CAP areas to geometry and subscribers, with a cached point index.

The index is built in bulk from the subscriber tables and rebuilt when they change (a cheap
version probe before each use); it maps location rows to subscriber ids, languages and the
test-audience flag so one alert messages each subscriber once however many locations match.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import shapely
import sqlalchemy as sa
from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry
from sqlmodel import Session

from alerts.cap.model import CapAlert
from alerts.intake.columns import AreaOutcome
from geo.areas import AreaResolution, CapArea, area_geometry
from geo.index import SubscriberIndex
from geo.zones import Zone, ZoneRegistry

I64 = npt.NDArray[np.int64]
PREVIEW_MAX_AGE_S = 2.0


def cap_areas(alert: CapAlert) -> list[CapArea]:
    """Every ``<area>`` of every ``<info>`` as geo's plain CapArea values."""
    return [
        CapArea(
            area_desc=a.area_desc,
            polygons=list(a.polygons),
            circles=list(a.circles),
            geocodes=[(g.value_name, g.value) for g in a.geocodes],
        )
        for info in alert.infos
        for a in info.areas
    ]


@dataclass(slots=True)
class IndexSnapshot:
    """The index and the arrays aligned with its location rows."""

    version: tuple[Any, ...]
    index: SubscriberIndex
    lon: npt.NDArray[np.float64]
    lat: npt.NDArray[np.float64]
    subscriber_id: I64
    language: npt.NDArray[np.int32]
    languages: list[str]
    test_audience: npt.NDArray[np.bool_]
    checked_at: float = 0.0
    one_location_each: bool = False
    zone_rows: dict[tuple[str, str], I64] = field(default_factory=dict)

    def rows_in(self, zone_set: str, zone: Zone) -> I64:
        """Location rows inside a zone, computed once per snapshot."""
        key = (zone_set, zone.id)
        if key not in self.zone_rows:
            self.zone_rows[key] = self.index.select(zone.geometry)
        return self.zone_rows[key]


@dataclass(slots=True)
class Selection:
    """Subscribers selected by a geometry, unique, with their language codes."""

    subscriber_ids: I64
    language_codes: npt.NDArray[np.int32]
    languages: list[str]
    locations_matched: int
    rows: I64 = field(default_factory=lambda: np.empty(0, np.int64))

    def by_language(self) -> dict[str, int]:
        """Count of subscribers per language."""
        codes, counts = np.unique(self.language_codes, return_counts=True)
        return {self.languages[int(c)]: int(n) for c, n in zip(codes, counts, strict=True)}


# Every change the service makes shows here: new subscribers and locations take higher ids,
# and every update (status, language, locations replaced) stamps ``updated_at``. Three index
# ends, so probing costs nothing at any size. The counts it used to take scanned both tables
# (~0.3-0.7 s at 1M per plan) only to notice rows deleted behind the service's back: the
# service never deletes (unsubscribing is a status), and a subscriber deleted by hand is
# dropped anyway by the planner's insert, which joins active subscribers.
_VERSION_SQL = sa.text(
    "SELECT (SELECT max(id) FROM subscriber_location), (SELECT max(id) FROM subscriber),"
    " (SELECT max(updated_at) FROM subscriber)"
)
_ROWS_SQL = sa.text(
    "SELECT l.subscriber_id, l.lon, l.lat, s.language, s.test_audience FROM subscriber_location l"
    " JOIN subscriber s ON s.id = l.subscriber_id WHERE s.status = 'active' ORDER BY l.id"
)


@dataclass
class Targeting:
    """Area resolution against the zone registry and subscriber selection through the index."""

    registry: ZoneRegistry
    buffer_m: float = 0.0
    _snapshot: IndexSnapshot | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def resolve(self, alert: CapAlert) -> AreaResolution:
        """The union geometry of the alert's areas (errors say why it cannot be used)."""
        return area_geometry(cap_areas(alert), self.registry, buffer_m=self.buffer_m)

    def area_outcome(self, alert: CapAlert) -> AreaOutcome:
        """For intake: the area as GeoJSON plus any resolution errors, stored with the alert."""
        res = self.resolve(alert)
        errors = [{"rule": e.rule, "message": e.message, "area": e.area_desc} for e in res.errors]
        geojson = None if res.geometry.is_empty else dict(mapping(res.geometry))
        return AreaOutcome(geojson=geojson, errors=errors)

    def snapshot(self, session: Session, *, max_age_s: float = 0.0) -> IndexSnapshot:
        """The current index, rebuilt when subscribers changed since the last build.

        ``max_age_s`` lets a burst of previews (an operator dragging a polygon) reuse a snapshot
        checked that recently; planning always probes (``max_age_s=0``).
        """
        snap = self._snapshot
        if snap is not None and max_age_s and time.monotonic() - snap.checked_at < max_age_s:
            return snap
        version = tuple(session.execute(_VERSION_SQL).one())
        with self._lock:
            if self._snapshot is None or self._snapshot.version != version:
                self._snapshot = self._build(session, version)
            self._snapshot.checked_at = time.monotonic()
            return self._snapshot

    def likely_language(self) -> str | None:
        """The most common subscriber language in the current index (no probe; None before one)."""
        snap = self._snapshot
        if snap is None or not snap.languages or snap.language.size == 0:
            return None
        return snap.languages[int(np.bincount(snap.language).argmax())]

    def _build(self, session: Session, version: tuple[Any, ...]) -> IndexSnapshot:
        rows = session.execute(_ROWS_SQL).all()
        langs: dict[str, int] = {}
        sub = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        lon = np.fromiter((r[1] for r in rows), dtype=np.float64, count=len(rows))
        lat = np.fromiter((r[2] for r in rows), dtype=np.float64, count=len(rows))
        code = np.fromiter(
            (langs.setdefault(r[3], len(langs)) for r in rows), dtype=np.int32, count=len(rows)
        )
        test = np.fromiter((bool(r[4]) for r in rows), dtype=np.bool_, count=len(rows))
        # Location rows ordered by subscriber, so ascending rows have ascending subscriber ids
        # and a selection is made unique in linear time (see ``select``).
        order = np.argsort(sub, kind="stable")
        sub, lon, lat, code, test = sub[order], lon[order], lat[order], code[order], test[order]
        index = SubscriberIndex(np.arange(len(rows), dtype=np.int64), lon, lat)
        snap = IndexSnapshot(version, index, lon, lat, sub, code, list(langs), test)
        snap.one_location_each = bool(len(sub) < 2 or (np.diff(sub) > 0).all())
        return snap

    def select(
        self,
        session: Session,
        geometry: BaseGeometry,
        *,
        test_only: bool = False,
        max_age_s: float = 0.0,
    ) -> Selection:
        """Unique subscribers with a location covered by ``geometry``."""
        snap = self.snapshot(session, max_age_s=max_age_s)
        rows = snap.index.select(geometry) if not geometry.is_empty else np.empty(0, np.int64)
        if test_only:
            rows = rows[snap.test_audience[rows]]
        # Rows sorted through a mask (linear, unlike np.unique's sort: ~130 ms at 554k rows)
        # come out grouped by ascending subscriber id; the first row of each id is kept.
        mask = np.zeros(snap.subscriber_id.size, dtype=np.bool_)
        mask[rows] = True
        rows = np.flatnonzero(mask)
        ids = snap.subscriber_id[rows]
        first = np.ones(ids.size, dtype=np.bool_)
        first[1:] = ids[1:] != ids[:-1]
        return Selection(
            ids[first], snap.language[rows][first], snap.languages, int(rows.size), rows
        )

    def per_zone(
        self, session: Session, selection: Selection, sets: list[str], max_zones: int = 60
    ) -> dict[str, dict[str, int]]:
        """Selected subscribers per zone of the given sets (explains a preview).

        Zone geometries are prepared once and tested only against the selected points: a few
        vectorised point-in-polygon tests, not another index query per zone.
        """
        snap = self.snapshot(session, max_age_s=PREVIEW_MAX_AGE_S)
        if selection.rows.size == 0:
            return {}
        rows = selection.rows
        x, y = snap.lon[rows], snap.lat[rows]
        bounds = (float(x.min()), float(y.min()), float(x.max()), float(y.max()))
        chosen = np.zeros(len(snap.subscriber_id), dtype=np.bool_)
        chosen[rows] = True
        out: dict[str, dict[str, int]] = {}
        for name in sets:
            zones = self.registry.zone_set(name).in_bbox(bounds)
            if not zones or len(zones) > max_zones:
                continue
            counts = {}
            for zone in zones:
                zone_rows = snap.rows_in(name, zone)
                both = zone_rows[chosen[zone_rows]]
                if both.size:
                    n = (
                        both.size
                        if snap.one_location_each
                        else np.unique(snap.subscriber_id[both]).size
                    )
                    counts[zone.id] = int(n)
            if counts:
                out[name] = counts
        return out


def geojson(geometry: BaseGeometry) -> dict[str, Any]:
    """GeoJSON of a shapely geometry."""
    return json.loads(shapely.to_geojson(geometry))  # type: ignore[no-any-return]
