"""The compiled fast path gives exactly what the Python rules give, on real and mutated alerts.

``alerts.cap._fast`` only recognises alerts with no rule error (and reproduces their warnings);
everything else falls back to the Python rules. Each document here is parsed twice, with and
without the fast path, and the two ``ParseResult``s must be equal: the model, every issue (rule,
message, path, line, severity, in order), version and signature status.
"""

from __future__ import annotations

import copy
import random
import sys
from collections.abc import Iterator
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from alerts.cap import parse
from alerts.cap._fast import plainly_simple
from alerts.cap.rules_area import _invalid_reason, polygon_problems
from alerts.cap.rules_info import is_base64
from alerts.cap.schema import CAP10_NS, CAP11_NS, CAP12_NS
from tests.cap.factories import cap_xml
from tests.conftest import SHARED_DATA

SAMPLES = sorted((SHARED_DATA / "cap" / "samples").glob("*.xml"))
PARSE_MODULE = sys.modules["alerts.cap.parse"]
CAP_NAMESPACES = (CAP12_NS, CAP11_NS, CAP10_NS)
MUTANTS_PER_SAMPLE = 60
# Values that trip rules (or nearly do): empties, bad dates, rings, circles, references...
TRICKY = (
    "",
    "   ",
    "x",
    "a b",
    "a,b",
    "a&b",
    "2003-06-17T14:57:00-07:00",
    "1999-01-01T00:00:00+00:00",
    "2099-01-01T00:00:00+00:00",
    "2003-06-17T14:57:00Z",
    "2003-06-17T14:57:00",
    "2003-13-45T99:00:00-07:00",
    "38.47,-120.14 38.34,-119.95 38.52,-119.74 38.47,-120.14",
    "38.47,-120.14 38.34,-119.95 38.52,-119.74",
    "0,0 0,1 1,1 1,0 0,0",
    "0,0 1,1 0,1 1,0 0,0",
    "91,0 0,1 1,1 0,0",
    "1,1 1,1 1,1 1,1",
    "32.9,-115.5 0",
    "32.9,-115.5 -1",
    "32.9,-115.5 nan",
    "95,0 10",
    "a,b,2003-06-17T14:57:00-07:00",
    "KSTO@NWS.NOAA.GOV,KSTO1055887203,2003-06-17T14:57:00-07:00",
    "en-US",
    "english!",
    "image/png",
    "png",
    "http://example.org/a.png",
    "relative/a.png",
    "aGVsbG8=",
    "not base64!",
    "-5",
    "12",
    "abc",
    "da39a3ee5e6b4b0d3255bfef95601890afd80709",
    "Restricted",
    "Private",
    "Update",
    "Alert",
    "Very Likely",
    "300",
    "100",
)


def _cap_elements(root: etree._Element) -> list[etree._Element]:
    """Every CAP element below the root (the mutation targets)."""
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str) and etree.QName(el).namespace in CAP_NAMESPACES
    ][1:]


def _mutate(data: bytes, rng: random.Random) -> bytes | None:
    """One random edit of a CAP document: text, removal, duplication or an inner comment."""
    try:
        root = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError:
        return None
    targets = _cap_elements(root)
    if not targets:
        return None
    for _ in range(rng.randint(1, 3)):
        el = rng.choice(targets)
        kind = rng.random()
        parent = el.getparent()
        if kind < 0.6 and len(el) == 0:
            el.text = rng.choice(TRICKY)
        elif kind < 0.75 and parent is not None:
            parent.remove(el)
            targets = _cap_elements(root)
            if not targets:
                break
        elif kind < 0.9 and parent is not None:
            parent.insert(parent.index(el), copy.deepcopy(el))
        else:
            el.insert(0, etree.Comment("inner"))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def _documents() -> Iterator[bytes]:
    """The samples, then a fixed set of mutants of each (seeded: the same every run)."""
    rng = random.Random(20261130)
    for path in SAMPLES:
        data = path.read_bytes()
        yield data
        for _ in range(MUTANTS_PER_SAMPLE):
            mutant = _mutate(data, rng)
            if mutant is not None:
                yield mutant


def test_the_compiled_module_is_built() -> None:
    """`make` builds the extension; without it the suite would only test the Python path."""
    assert PARSE_MODULE.fast_alert is not None, "alerts.cap._fast is not built"


@pytest.mark.parametrize("ipaws_profile", [False, True], ids=["cap", "ipaws"])
def test_fast_and_python_paths_agree(ipaws_profile: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = PARSE_MODULE.fast_alert
    taken = compared = accepted = 0
    calls: list[bool] = []

    def counting(root: etree._Element) -> object:
        found = fast(root)
        calls.append(found is not None)
        return found

    for data in _documents():
        monkeypatch.setattr(PARSE_MODULE, "fast_alert", counting)
        calls.clear()
        with_fast = parse(data, check_signature=False, ipaws_profile=ipaws_profile)
        taken += any(calls)
        monkeypatch.setattr(PARSE_MODULE, "fast_alert", None)
        python = parse(data, check_signature=False, ipaws_profile=ipaws_profile)
        assert with_fast == python, data.decode("utf-8", "replace")[:2000]
        compared += 1
        accepted += python.ok
    # The comparison means something only if both outcomes are well represented.
    assert compared > 1500
    assert taken > compared // 4
    assert compared - accepted > compared // 10


def test_every_valid_sample_takes_the_fast_path() -> None:
    for path in SAMPLES:
        if path.name.startswith("invalid_"):
            continue
        root = etree.fromstring(path.read_bytes())
        if etree.QName(root).namespace != CAP12_NS:
            continue
        assert PARSE_MODULE.fast_alert(root) is not None, path.name


def test_a_sample_with_warnings_keeps_them(samples_dir: Path) -> None:
    data = (samples_dir / "ca_ec_thunderstorm_update_en_fr_polygon_references.xml").read_bytes()
    result = parse(data)
    assert result.ok
    rules = [i.rule for i in result.issues]
    assert rules.count("CAP-EFFECTIVE-BEFORE-SENT") == 2
    assert all(i.path and i.path.startswith("/alert/") and i.line for i in result.issues)


def test_the_compiled_namespace_move_matches_the_python_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    upgrade_module = sys.modules["alerts.cap.upgrade"]
    compiled = upgrade_module.adopt_namespace
    assert compiled is not None
    upgraded = 0
    for data in _documents():
        outcomes = []
        for mover in (compiled, None):
            monkeypatch.setattr(upgrade_module, "adopt_namespace", mover)
            try:
                root = etree.fromstring(data, etree.XMLParser(resolve_entities=False))
            except etree.XMLSyntaxError:
                break
            namespace = etree.QName(root).namespace
            if namespace not in (CAP11_NS, CAP10_NS):
                break
            version = "1.1" if namespace == CAP11_NS else "1.0"
            issues = upgrade_module.upgrade_to_12(root, version)
            outcomes.append((etree.tostring(root), issues))
        if outcomes:
            assert outcomes[0] == outcomes[1]
            upgraded += 1
    assert upgraded > 100


# Rings on a coarse grid (touches, collinear runs, repeats, spikes are common) and fine ones.
grid_point = st.tuples(st.integers(-3, 3), st.integers(-3, 3)).map(lambda p: (p[0] / 2, p[1] / 2))
fine_point = st.tuples(
    st.floats(-89.9, 89.9, allow_nan=False), st.floats(-179.9, 179.9, allow_nan=False)
)


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.one_of(grid_point, fine_point), min_size=3, max_size=12))
def test_a_ring_vouched_for_is_valid_for_geos(points: list[tuple[float, float]]) -> None:
    ring = [*points, points[0]]
    values = [v for point in ring for v in point]
    if plainly_simple(values):
        assert _invalid_reason(values) is None, ring


def test_the_ring_check_vouches_for_ordinary_rings() -> None:
    square = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    bowtie = [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    spike = [0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]
    assert plainly_simple(square)
    assert not plainly_simple(bowtie)
    assert not plainly_simple(spike)
    assert not plainly_simple([*square[:-2], 5.0, 5.0])  # not closed
    pairs = zip(bowtie[::2], bowtie[1::2], strict=True)
    assert polygon_problems(" ".join(f"{a},{b}" for a, b in pairs))


base64ish = st.text(alphabet="ABCDEFabcdef0123456789+/=\t\n\r -_*é", min_size=0, max_size=80)


@settings(max_examples=1500, deadline=None)
@given(payload=base64ish, filler=st.integers(0, 40))
def test_deref_uri_checks_agree(payload: str, filler: int) -> None:
    text = "QUJD" * filler + payload  # long enough for the 16-byte steps, then the tail
    resource = (
        "<resource><resourceDesc>map</resourceDesc><mimeType>image/png</mimeType>"
        f"<derefUri>{escape(text)}</derefUri></resource>"
    )
    data = cap_xml(resources=resource)
    with_fast = parse(data, check_signature=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(PARSE_MODULE, "fast_alert", None)
        python = parse(data, check_signature=False)
    assert with_fast == python
    assert python.ok == is_base64(text)
