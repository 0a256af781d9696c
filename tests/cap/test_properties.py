"""Property tests: the parser never raises, and serialize/parse round-trips any text."""

from __future__ import annotations

from xml.sax.saxutils import escape

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.cap import parse, serialize
from alerts.cap.rules_area import _invalid_reason
from tests.cap.factories import cap_xml

# XML 1.0 characters (no surrogates, no C0 controls except tab/newline; CR is normalised).
xml_text = st.text(
    alphabet=st.characters(
        blacklist_categories=("Cs",),
        blacklist_characters="\r\x0b\x0c\ufffe\uffff",
        min_codepoint=0x9,
    ).filter(lambda c: c in "\t\n" or ord(c) >= 0x20),
    max_size=200,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_parse_never_raises_on_random_bytes(data: bytes) -> None:
    result = parse(data)
    assert result.ok == (result.alert is not None)


@settings(max_examples=200, deadline=None)
@given(st.integers(min_value=0, max_value=2000), st.binary(min_size=1, max_size=8))
def test_parse_never_raises_on_corrupted_alert(position: int, junk: bytes) -> None:
    data = bytearray(cap_xml())
    position %= len(data)
    data[position : position + len(junk)] = junk
    result = parse(bytes(data))
    assert result.ok == (result.alert is not None)


@settings(max_examples=150, deadline=None)
@given(headline=xml_text, description=xml_text, area_desc=xml_text)
def test_round_trip_of_free_text(headline: str, description: str, area_desc: str) -> None:
    data = cap_xml().replace(
        b"<headline>Test headline</headline>",
        f"<headline>{escape(headline)}</headline>"
        f"<description>{escape(description)}</description>".encode(),
    )
    data = data.replace(b"Test county", escape(area_desc).encode())
    first = parse(data)
    assert first.ok, first.errors
    assert first.alert is not None
    assert first.alert.infos[0].headline == headline
    assert parse(serialize(first.alert)).alert == first.alert


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(min_value=-90, max_value=90, allow_nan=False),
            st.floats(min_value=-180, max_value=180, allow_nan=False),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_polygon_rules_never_raise(points: list[tuple[float, float]]) -> None:
    ring = " ".join(f"{lat},{lon}" for lat, lon in [*points, points[0]])
    result = parse(cap_xml(area_extra=f"<polygon>{ring}</polygon>"))
    assert result.ok == (result.alert is not None)
    if result.ok:
        assert result.alert is not None
        assert result.alert.infos[0].areas[0].polygons == (ring,)


# Small integer grids make self-touching, self-crossing, collinear and repeated-point rings common.
grid_rings = st.lists(
    st.tuples(st.integers(min_value=-3, max_value=3), st.integers(min_value=-3, max_value=3)),
    min_size=3,
    max_size=9,
).map(lambda pts: [float(v) for lat, lon in [*pts, pts[0]] for v in (lat, lon)])


@settings(max_examples=400, deadline=None)
@given(st.one_of(grid_rings, st.lists(st.floats(-90, 90), min_size=8, max_size=24)))
def test_geos_verdict_matches_public_shapely(values: list[float]) -> None:
    """The direct ``shapely.lib`` path decides validity exactly as the public API does."""
    values = values[: len(values) // 2 * 2]  # at least 4 points: always a ring
    polygon = shapely.polygons(np.array(values).reshape(-1, 2)[:, ::-1])
    expected = None if shapely.is_valid(polygon) else shapely.is_valid_reason(polygon)
    assert _invalid_reason(values) == expected
