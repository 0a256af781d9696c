"""Every real sample classified correctly, round-tripped through the serializer."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.cap import CapAlert, parse, serialize
from tests.conftest import SHARED_DATA

SAMPLES = sorted((SHARED_DATA / "cap" / "samples").glob("*.xml"))
EXPECTED_REJECTION = {
    "invalid_ca_empty_references_element.xml": "CAP-REFERENCES-FORMAT",
    "invalid_missing_scope.xml": "XSD-INVALID",
    "invalid_nws_empty_references_bad_polygon_cap11.xml": "XSD-INVALID",
    "invalid_smhi_alerts_wrapper_root_18_alerts.xml": "CAP-ROOT-ELEMENT",
    "invalid_wrong_namespace_taiwan.xml": "CAP-NAMESPACE",
    "invalid_xinclude_external_entity_attack.xml": "XML-DTD-FORBIDDEN",
}
VALID = [p.name for p in SAMPLES if not p.name.startswith("invalid_")]


def test_corpus_is_present(samples_dir: Path) -> None:
    names = {p.name for p in samples_dir.glob("*.xml")}
    assert set(EXPECTED_REJECTION) <= names
    assert len(names) - len(EXPECTED_REJECTION) == len(VALID) == 28


@pytest.mark.parametrize("name", sorted(EXPECTED_REJECTION))
def test_invalid_sample_rejected_with_its_rule(name: str, sample_bytes) -> None:
    result = parse(sample_bytes(name))
    assert not result.ok
    assert result.alert is None
    assert EXPECTED_REJECTION[name] in {i.rule for i in result.errors}


def test_invalid_nws_sample_reports_every_problem(sample_bytes) -> None:
    result = parse(sample_bytes("invalid_nws_empty_references_bad_polygon_cap11.xml"))
    rules = {i.rule for i in result.errors}
    assert {"XSD-INVALID", "CAP-POLYGON-FORMAT"} <= rules
    polygon = next(i for i in result.errors if i.rule == "CAP-POLYGON-FORMAT")
    assert polygon.path == "/alert/info[1]/area[1]/polygon[1]"
    assert polygon.line == 66


@pytest.mark.parametrize("name", VALID)
def test_valid_sample_accepted(name: str, sample_bytes) -> None:
    data = sample_bytes(name)
    result = parse(data)
    assert result.ok, [i for i in result.errors]
    assert isinstance(result.alert, CapAlert)
    assert result.raw == data
    assert result.alert.sent.tzinfo is not None


@pytest.mark.parametrize("name", VALID)
def test_serialize_round_trip(name: str, sample_bytes) -> None:
    alert = parse(sample_bytes(name)).alert
    assert alert is not None
    again = parse(serialize(alert))
    assert again.ok, again.errors
    assert again.cap_version == "1.2"
    assert again.alert == alert


@pytest.mark.parametrize(
    ("name", "version"),
    [
        ("nws_blizzard_warning_polygon_ugc_fips_cap11.xml", "1.1"),
        ("usgs_minimal_no_info_block_cap11.xml", "1.1"),
        ("oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml", "1.2"),
    ],
)
def test_original_version_reported(name: str, version: str, sample_bytes) -> None:
    assert parse(sample_bytes(name)).cap_version == version


def test_edxl_wrapped_sample_is_unwrapped(sample_bytes) -> None:
    result = parse(sample_bytes("au_nsw_rfs_fire_circle_edxlde_wrapped.xml"))
    assert result.ok
    assert "CAP-EDXL-UNWRAPPED" in {i.rule for i in result.warnings}
    assert result.alert is not None
    assert result.alert.sender == "webmaster@rfs.nsw.gov.au"


def test_iso_8859_1_sample_decoded(sample_bytes) -> None:
    result = parse(sample_bytes("usgs_earthquake_circle_iso8859-1_signed_cap12.xml"))
    assert result.ok
    assert result.alert is not None
    assert result.alert.infos[0].areas[0].circles


def test_model_fields_from_appendix_a2(sample_bytes) -> None:
    alert = parse(sample_bytes("oasis_cap12_appendixA2_severe_thunderstorm_polygon_same.xml")).alert
    assert alert is not None
    assert alert.identifier == "KSTO1055887203"
    assert alert.sent.isoformat() == "2003-06-17T14:57:00-07:00"
    assert alert.msg_type == "Alert"
    info = alert.infos[0]
    assert info.event_codes[0].value_name == "SAME"
    assert info.event_codes[0].value == "SVR"
    assert info.expires is not None
    assert info.expires.isoformat() == "2003-06-17T16:00:00-07:00"
    area = info.areas[0]
    assert area.polygons[0].startswith("38.47,-120.14")
    assert [g.value for g in area.geocodes] == ["006109", "006009", "006003"]


def test_references_parsed_as_triplets(sample_bytes) -> None:
    alert = parse(
        sample_bytes("oasis_cap12_appendixA3_earthquake_update_references_circle.xml")
    ).alert
    assert alert is not None
    assert alert.msg_type == "Update"
    ref = alert.references[0]
    assert ref.identifier == "TRI13970876.1"
    assert ref.sent.utcoffset() is not None


def test_cap11_upgrade_keeps_original_bytes(sample_bytes) -> None:
    data = sample_bytes("usgs_earthquake_circle_cap11.xml")
    result = parse(data)
    assert result.raw == data
    assert b"cap:1.1" in data
    assert result.alert is not None
    assert b"urn:oasis:names:tc:emergency:cap:1.2" in serialize(result.alert)
