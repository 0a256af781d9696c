"""Semantic rules on ``<area>``: polygon, circle, altitude/ceiling.

An empty ``<polygon>``/``<circle>`` (common in NWS CAP 1.1) is ignored with a warning and left
out of the model. A polygon is ``lat,lon`` pairs separated by whitespace, at least 4 pairs,
first == last, in range and not self-intersecting. Validity is decided by shapely/GEOS on
the lon/lat ring; an invalid ring is a CAP error and is never repaired (repairing would
change who is alerted).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation

import numpy as np
from lxml import etree
from shapely import lib as _geos
from shapely.creation import HandleNaN

from alerts.cap.paths import issue_at
from alerts.cap.result import Issue, IssueSeverity
from alerts.cap.tree import Kids, first
from alerts.cap.values import in_range, parse_point

_CIRCLE = re.compile(r"\s*(\S+)\s+(\S+)\s*\Z")
# What shapely.polygons passes for "coordinates may be NaN" and "no holes"; GEOS's valid verdict.
_NAN_ALLOW = np.intc(HandleNaN.allow)
_NO_HOLES = np.empty((0,), dtype=object)
_VALID = "Valid Geometry"


def check_area(
    area: etree._Element, k: Kids, memo: dict[str, list[tuple[str, str]]] | None = None
) -> list[Issue]:
    """Rules for one ``<area>`` (``k`` is its child map, ``memo`` caches polygon verdicts)."""
    issues: list[Issue] = []
    for polygon in k.get("polygon", ()):
        issues += check_polygon(polygon, memo)
    for circle in k.get("circle", ()):
        issues += check_circle(circle)
    if "altitude" in k or "ceiling" in k:
        issues += _altitude_ceiling(area, k)
    return issues


def check_polygon(
    el: etree._Element, memo: dict[str, list[tuple[str, str]]] | None = None
) -> list[Issue]:
    """One ``<polygon>``: format, >= 4 pairs, closed, in range, simple."""
    raw = el.text or ""
    problems = None if memo is None else memo.get(raw)
    if problems is None:
        if not raw.strip():
            # NWS CAP 1.1 feeds emit <polygon></polygon>; it names no area, so it is ignored.
            return [issue_at("CAP-EMPTY-ELEMENT", "empty <polygon> ignored", el, "warning")]
        problems = polygon_problems(raw)
        if memo is not None:
            memo[raw] = problems
    return [issue_at(rule, message, el) for rule, message in problems] if problems else []


def polygon_problems(
    raw: str, plainly_simple: Callable[[list[float]], bool] | None = None
) -> list[tuple[str, str]]:
    """``(rule, message)`` for everything wrong with a polygon's text (all errors).

    ``plainly_simple(values)`` may vouch for a ring that GEOS would find valid (the compiled
    path's exact-sign test); only when it cannot is GEOS asked.
    """
    tokens = raw.split()
    values = _numbers(raw, tokens)
    if values is None:
        bad = next((t for t in tokens if parse_point(t) is None), raw.strip())
        return [("CAP-POLYGON-FORMAT", f"polygon point {bad!r} is not lat,lon")]
    problems: list[tuple[str, str]] = []
    if len(tokens) < 4:
        msg = f"polygon has {len(tokens)} points, at least 4 (closed ring) are required"
        problems.append(("CAP-POLYGON-POINTS", msg))
    if values[0] != values[-2] or values[1] != values[-1]:
        msg = f"polygon is not closed: first point {tokens[0]} != last point {tokens[-1]}"
        problems.append(("CAP-POLYGON-CLOSED", msg))
    lats, lons = values[0::2], values[1::2]
    if max(lats) > 90 or min(lats) < -90 or max(lons) > 180 or min(lons) < -180:
        msg = "polygon has points outside lat [-90,90] / lon [-180,180]"
        problems.append(("CAP-POLYGON-RANGE", msg))
    if not problems and (plainly_simple is None or not plainly_simple(values)):
        reason = _invalid_reason(values)
        if reason is not None:
            problems.append(("CAP-POLYGON-SELF-INTERSECTION", f"polygon is not simple: {reason}"))
    return problems


def _invalid_reason(values: list[float]) -> str | None:
    """GEOS's reason why the lon/lat ring of ``values`` is not a valid polygon, None if valid.

    The same GEOS calls as ``shapely.is_valid(shapely.polygons(coords))`` made through
    ``shapely.lib`` directly: the public wrappers' argument handling and warning filters cost
    three times the GEOS work on a CAP-sized ring. ``is_valid_reason`` decides validity exactly
    as ``is_valid`` does (one ``IsValidOp``) and never warns.
    """
    ring = _geos.linearrings(np.array(values).reshape(-1, 2)[:, ::-1], _NAN_ALLOW)
    reason = str(_geos.is_valid_reason(_geos.polygons(ring, _NO_HOLES)))
    return None if reason == _VALID else reason


def _numbers(raw: str, tokens: list[str]) -> list[float] | None:
    """``lat,lon`` tokens as a flat list of finite floats (lat, lon, lat, ...); None if malformed.

    Every token holds exactly one comma (as many commas as tokens, each token has one) and
    yields exactly two numbers; cheaper than a regular expression over the whole ring. Plain
    ``float`` on a few dozen numbers beats building a NumPy array from strings.
    """
    if raw.count(",") != len(tokens) or not all("," in t for t in tokens):
        return None
    numbers = raw.replace(",", " ").split()
    if len(numbers) != 2 * len(tokens) or "_" in raw:
        return None
    try:
        values = list(map(float, numbers))
    except ValueError:
        return None
    # A finite sum proves every value finite (NaN and inf propagate); only an overflowing sum
    # of huge finite values needs the per-value check.
    if math.isfinite(sum(values)) or all(map(math.isfinite, values)):
        return values
    return None


def check_circle(el: etree._Element) -> list[Issue]:
    """One ``<circle>``: ``lat,lon radius`` with the centre in range and radius km >= 0."""
    return [issue_at(rule, msg, el, sev) for rule, msg, sev in circle_problems(el.text or "")]


def circle_problems(text: str) -> list[tuple[str, str, IssueSeverity]]:
    """``(rule, message, severity)`` for everything wrong with a circle's text."""
    if not text.strip():
        return [("CAP-EMPTY-ELEMENT", "empty <circle> ignored", "warning")]
    match = _CIRCLE.match(text)
    centre = parse_point(match.group(1)) if match else None
    try:
        radius = Decimal(match.group(2)) if match else None
    except InvalidOperation:
        radius = None
    if centre is None or radius is None or not radius.is_finite():
        return [("CAP-CIRCLE-FORMAT", f"circle {text!r} is not 'lat,lon radius_km'", "error")]
    problems: list[tuple[str, str, IssueSeverity]] = []
    if not in_range(*centre):
        msg = "circle centre is outside lat [-90,90] / lon [-180,180]"
        problems.append(("CAP-CIRCLE-RANGE", msg, "error"))
    if radius < 0:
        problems.append(("CAP-CIRCLE-RADIUS", f"circle radius {radius} km is negative", "error"))
    return problems


def _altitude_ceiling(area: etree._Element, k: Kids) -> list[Issue]:
    """Altitude/ceiling are decimals (feet); ceiling needs altitude; altitude <= ceiling."""
    altitude, ceiling = first(k, "altitude"), first(k, "ceiling")
    texts = (
        None if altitude is None else altitude.text or "",
        None if ceiling is None else ceiling.text or "",
    )
    issues = []
    for rule, name, msg in altitude_problems(*texts):
        el = altitude if name == "altitude" else ceiling if name == "ceiling" else None
        issues.append(issue_at(rule, msg, area if el is None else el))
    return issues


def altitude_problems(altitude: str | None, ceiling: str | None) -> list[tuple[str, str, str]]:
    """``(rule, element, message)`` for an area's altitude/ceiling texts (None when absent)."""
    values: dict[str, Decimal | None] = {}
    problems = []
    for name, text in (("altitude", altitude), ("ceiling", ceiling)):
        values[name] = None
        if text is None:
            continue
        try:
            values[name] = Decimal(text.strip())
        except InvalidOperation:
            problems.append(("CAP-ALTITUDE-FORMAT", name, f"<{name}> is not a number"))
    if ceiling is not None and altitude is None:
        problems.append(
            ("CAP-CEILING-WITHOUT-ALTITUDE", "ceiling", "<ceiling> requires <altitude>")
        )
    low, high = values["altitude"], values["ceiling"]
    if low is not None and high is not None and low > high:
        problems.append(
            ("CAP-ALTITUDE-ABOVE-CEILING", "area", f"altitude {low} is above ceiling {high}")
        )
    return problems
