"""Semantic rules on ``<area>``: polygon, circle, altitude/ceiling.

An empty ``<polygon>``/``<circle>`` (common in NWS CAP 1.1) is ignored with a warning and left
out of the model. A polygon is ``lat,lon`` pairs separated by whitespace, at least 4 pairs,
first == last, in range and not self-intersecting. Validity is decided by shapely/GEOS on
the lon/lat ring; an invalid ring is a CAP error and is never repaired (repairing would
change who is alerted).
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import shapely
from lxml import etree

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.tree import Kids, first
from alerts.cap.values import in_range, parse_point

_CIRCLE = re.compile(r"\s*(\S+)\s+(\S+)\s*\Z")
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)"
_POLYGON = re.compile(rf"\s*{_NUMBER},{_NUMBER}(?:\s+{_NUMBER},{_NUMBER})*\s*\Z")


def check_area(area: etree._Element, k: Kids) -> list[Issue]:
    """Rules for one ``<area>`` (``k`` is its child map)."""
    issues: list[Issue] = []
    for polygon in k.get("polygon", ()):
        issues += check_polygon(polygon)
    for circle in k.get("circle", ()):
        issues += check_circle(circle)
    if "altitude" in k or "ceiling" in k:
        issues += _altitude_ceiling(area, k)
    return issues


def check_polygon(el: etree._Element) -> list[Issue]:
    """One ``<polygon>``: format, >= 4 pairs, closed, in range, simple."""
    raw = el.text or ""
    if not raw.strip():
        # NWS CAP 1.1 feeds emit <polygon></polygon>; it names no area, so it is ignored.
        return [issue_at("CAP-EMPTY-ELEMENT", "empty <polygon> ignored", el, "warning")]
    if not _POLYGON.match(raw):
        bad = next((t for t in raw.split() if parse_point(t) is None), raw.strip())
        return [issue_at("CAP-POLYGON-FORMAT", f"polygon point {bad!r} is not lat,lon", el)]
    numbers = [float(n) for n in raw.replace(",", " ").split()]
    lats, lons = numbers[0::2], numbers[1::2]
    issues: list[Issue] = []
    if len(lats) < 4:
        msg = f"polygon has {len(lats)} points, at least 4 (closed ring) are required"
        issues.append(issue_at("CAP-POLYGON-POINTS", msg, el))
    if lats[0] != lats[-1] or lons[0] != lons[-1]:
        msg = (
            f"polygon is not closed: first point {lats[0]},{lons[0]} != last {lats[-1]},{lons[-1]}"
        )
        issues.append(issue_at("CAP-POLYGON-CLOSED", msg, el))
    if min(lats) < -90 or max(lats) > 90 or min(lons) < -180 or max(lons) > 180:
        msg = "polygon has points outside lat [-90,90] / lon [-180,180]"
        issues.append(issue_at("CAP-POLYGON-RANGE", msg, el))
    if not issues:
        issues += _simple_ring(el, list(zip(lons, lats, strict=True)))
    return issues


def _simple_ring(el: etree._Element, ring: list[tuple[float, float]]) -> list[Issue]:
    """The ring (as lon/lat) must be a valid polygon: no self-intersection."""
    polygon = shapely.polygons(ring)
    if shapely.is_valid(polygon):
        return []
    msg = f"polygon is not a simple ring: {shapely.is_valid_reason(polygon)}"
    return [issue_at("CAP-POLYGON-SELF-INTERSECTION", msg, el)]


def check_circle(el: etree._Element) -> list[Issue]:
    """One ``<circle>``: ``lat,lon radius`` with the centre in range and radius km >= 0."""
    if not (el.text or "").strip():
        return [issue_at("CAP-EMPTY-ELEMENT", "empty <circle> ignored", el, "warning")]
    match = _CIRCLE.match(el.text or "")
    centre = parse_point(match.group(1)) if match else None
    try:
        radius = Decimal(match.group(2)) if match else None
    except InvalidOperation:
        radius = None
    if centre is None or radius is None or not radius.is_finite():
        msg = f"circle {el.text!r} is not 'lat,lon radius_km'"
        return [issue_at("CAP-CIRCLE-FORMAT", msg, el)]
    issues = []
    if not in_range(*centre):
        msg = "circle centre is outside lat [-90,90] / lon [-180,180]"
        issues.append(issue_at("CAP-CIRCLE-RANGE", msg, el))
    if radius < 0:
        issues.append(issue_at("CAP-CIRCLE-RADIUS", f"circle radius {radius} km is negative", el))
    return issues


def _altitude_ceiling(area: etree._Element, k: Kids) -> list[Issue]:
    """Altitude/ceiling are decimals (feet); ceiling needs altitude; altitude <= ceiling."""
    values: dict[str, Decimal | None] = {}
    issues = []
    for name in ("altitude", "ceiling"):
        el = first(k, name)
        values[name] = None
        if el is None:
            continue
        try:
            values[name] = Decimal((el.text or "").strip())
        except InvalidOperation:
            issues.append(issue_at("CAP-ALTITUDE-FORMAT", f"<{name}> is not a number", el))
    ceiling_el = first(k, "ceiling")
    if ceiling_el is not None and "altitude" not in k:
        msg = "<ceiling> requires <altitude>"
        issues.append(issue_at("CAP-CEILING-WITHOUT-ALTITUDE", msg, ceiling_el))
    altitude, ceiling = values["altitude"], values["ceiling"]
    if altitude is not None and ceiling is not None and altitude > ceiling:
        msg = f"altitude {altitude} is above ceiling {ceiling}"
        issues.append(issue_at("CAP-ALTITUDE-ABOVE-CEILING", msg, area))
    return issues
