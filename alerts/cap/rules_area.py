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

from lxml import etree
from shapely.geometry import Polygon
from shapely.validation import explain_validity

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue
from alerts.cap.schema import CAP12_NS
from alerts.cap.values import in_range, parse_point

Q = f"{{{CAP12_NS}}}"
_CIRCLE = re.compile(r"\s*(\S+)\s+(\S+)\s*\Z")


def check_area(area: etree._Element) -> list[Issue]:
    """Rules for one ``<area>``."""
    issues: list[Issue] = []
    for polygon in area.iterfind(f"{Q}polygon"):
        issues += check_polygon(polygon)
    for circle in area.iterfind(f"{Q}circle"):
        issues += check_circle(circle)
    issues += _altitude_ceiling(area)
    return issues


def check_polygon(el: etree._Element) -> list[Issue]:
    """One ``<polygon>``: format, >= 4 pairs, closed, in range, simple."""
    tokens = (el.text or "").split()
    if not tokens:
        # NWS CAP 1.1 feeds emit <polygon></polygon>; it names no area, so it is ignored.
        return [issue_at("CAP-EMPTY-ELEMENT", "empty <polygon> ignored", el, "warning")]
    points = [parse_point(t) for t in tokens]
    if None in points:
        bad = next(t for t, p in zip(tokens, points, strict=True) if p is None)
        return [issue_at("CAP-POLYGON-FORMAT", f"polygon point {bad!r} is not lat,lon", el)]
    pairs = [p for p in points if p is not None]
    issues: list[Issue] = []
    if len(pairs) < 4:
        msg = f"polygon has {len(pairs)} points, at least 4 (closed ring) are required"
        issues.append(issue_at("CAP-POLYGON-POINTS", msg, el))
    if pairs[0] != pairs[-1]:
        msg = f"polygon is not closed: first point {tokens[0]} != last point {tokens[-1]}"
        issues.append(issue_at("CAP-POLYGON-CLOSED", msg, el))
    out = [t for t, (lat, lon) in zip(tokens, pairs, strict=True) if not in_range(lat, lon)]
    if out:
        msg = f"polygon point {out[0]} is outside lat [-90,90] / lon [-180,180]"
        issues.append(issue_at("CAP-POLYGON-RANGE", msg, el))
    if not issues:
        issues += _simple_ring(el, pairs)
    return issues


def _simple_ring(el: etree._Element, pairs: list[tuple[float, float]]) -> list[Issue]:
    """The ring (as lon/lat) must be a valid polygon: no self-intersection."""
    ring = Polygon([(lon, lat) for lat, lon in pairs])
    if ring.is_valid:
        return []
    msg = f"polygon is not a simple ring: {explain_validity(ring)}"
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


def _altitude_ceiling(area: etree._Element) -> list[Issue]:
    """Altitude/ceiling are decimals (feet); ceiling needs altitude; altitude <= ceiling."""
    values: dict[str, Decimal | None] = {}
    issues = []
    for name in ("altitude", "ceiling"):
        el = area.find(Q + name)
        values[name] = None
        if el is None:
            continue
        try:
            values[name] = Decimal((el.text or "").strip())
        except InvalidOperation:
            issues.append(issue_at("CAP-ALTITUDE-FORMAT", f"<{name}> is not a number", el))
    ceiling_el = area.find(f"{Q}ceiling")
    if ceiling_el is not None and area.find(f"{Q}altitude") is None:
        msg = "<ceiling> requires <altitude>"
        issues.append(issue_at("CAP-CEILING-WITHOUT-ALTITUDE", msg, ceiling_el))
    altitude, ceiling = values["altitude"], values["ceiling"]
    if altitude is not None and ceiling is not None and altitude > ceiling:
        msg = f"altitude {altitude} is above ceiling {ceiling}"
        issues.append(issue_at("CAP-ALTITUDE-ABOVE-CEILING", msg, area))
    return issues
