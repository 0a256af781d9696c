"""CAP-IPAWS v1.0 profile rules and CAP 1.0/1.1 upgrade."""

from __future__ import annotations

import pytest

from alerts.cap import parse, serialize
from tests.cap.factories import cap_xml

SAME = "<eventCode><valueName>SAME</valueName><value>CEM</value></eventCode>"
IPAWS_CODE = "<code>IPAWSv1.0</code>"


def _param(name: str, value: str) -> str:
    return f"<parameter><valueName>{name}</valueName><value>{value}</value></parameter>"


def _ipaws_rules(data: bytes) -> set[str]:
    return {i.rule for i in parse(data, ipaws_profile=True).errors}


def test_ipaws_compliant_document() -> None:
    data = cap_xml(codes=IPAWS_CODE, event_codes=SAME, parameters=_param("CMAMtext", "x" * 90))
    result = parse(data, ipaws_profile=True)
    assert result.ok, result.issues


def test_ipaws_rules_only_in_profile_mode() -> None:
    data = cap_xml()
    assert parse(data).ok
    assert {"IPAWS-CODE", "IPAWS-SAME-EVENTCODE"} <= _ipaws_rules(data)


def test_ipaws_expires_required() -> None:
    assert "IPAWS-EXPIRES" in _ipaws_rules(cap_xml(codes=IPAWS_CODE, event_codes=SAME, times=""))


def test_ipaws_exactly_one_same_code() -> None:
    assert "IPAWS-SAME-EVENTCODE" in _ipaws_rules(
        cap_xml(codes=IPAWS_CODE, event_codes=SAME + SAME)
    )


def test_ipaws_area_required() -> None:
    assert "IPAWS-AREA" in _ipaws_rules(
        cap_xml(codes=IPAWS_CODE, event_codes=SAME, with_area=False)
    )


@pytest.mark.parametrize(("name", "limit"), [("CMAMtext", 90), ("CMAMlongtext", 360)])
def test_ipaws_wea_text_limits(name: str, limit: int) -> None:
    ok = cap_xml(codes=IPAWS_CODE, event_codes=SAME, parameters=_param(name, "x" * limit))
    assert parse(ok, ipaws_profile=True).ok
    long = cap_xml(codes=IPAWS_CODE, event_codes=SAME, parameters=_param(name, "x" * (limit + 1)))
    assert f"IPAWS-{name.upper()}-LENGTH" in _ipaws_rules(long)


def test_ipaws_infos_must_agree() -> None:
    data = cap_xml(codes=IPAWS_CODE, event_codes=SAME).decode()
    start, end = data.index("<info>"), data.index("</info>") + len("</info>")
    second = data[start:end].replace("en-US", "es-US").replace("CEM", "EVI")
    doc = (data[:end] + second + data[end:]).encode()
    assert "IPAWS-INFO-CONSISTENCY" in _ipaws_rules(doc)


@pytest.mark.parametrize(
    "name",
    [
        "ipaws_local_area_emergency_polygon_wea_cmamtext_jpeg_signed.xml",
        "ipaws_required_monthly_test_eas_same_mp3_derefuri_signed.xml",
        "ipaws_civil_emergency_wea_cmamlongtext_mp3_derefuri_signed.xml",
        "ipaws_cancel_no_info_references_signed.xml",
    ],
)
def test_real_ipaws_samples_pass_the_profile(name: str, sample_bytes) -> None:
    result = parse(sample_bytes(name), ipaws_profile=True)
    assert result.ok, result.errors


CAP11 = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.1">
  <identifier>OLD-1</identifier>
  <sender>old@example.org</sender>
  <sent>2010-01-01T10:00:00Z</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Wind</event>
    <urgency>Expected</urgency>
    <severity>Minor</severity>
    <certainty>Likely</certainty>
    <expires>2010-01-01T12:00:00.500Z</expires>
    <resource><resourceDesc>text</resourceDesc><uri>http://example.org/a</uri></resource>
    <area><areaDesc>Somewhere</areaDesc><altitude>100</altitude></area>
  </info>
</alert>
"""


def test_cap11_upgrade_rewrites_z_and_mimetype() -> None:
    result = parse(CAP11)
    assert result.ok, result.errors
    assert result.cap_version == "1.1"
    warnings = {i.rule for i in result.warnings}
    assert {"CAP-UPGRADE-DATETIME", "CAP-UPGRADE-MIMETYPE"} <= warnings
    alert = result.alert
    assert alert is not None
    assert alert.sent.isoformat() == "2010-01-01T10:00:00+00:00"
    assert alert.infos[0].expires is not None
    assert alert.infos[0].expires.isoformat() == "2010-01-01T12:00:00+00:00"
    assert alert.infos[0].resources[0].mime_type == "application/octet-stream"
    assert alert.infos[0].language == "en-US"
    assert parse(serialize(alert)).alert == alert


def test_cap11_without_offset_rejected() -> None:
    result = parse(CAP11.replace(b"10:00:00Z", b"10:00:00"))
    assert "CAP-DATETIME-OFFSET" in {i.rule for i in result.errors}


CAP10 = b"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="http://www.incident.com/cap/1.0">
  <identifier>V10-1</identifier>
  <sender>old@example.org</sender>
  <sent>2003-06-17T14:57:00-07:00</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <password>secret</password>
  <scope>Public</scope>
  <info>
    <category>Met</category>
    <event>Storm</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Very Likely</certainty>
    <eventCode>SAME=SVR</eventCode>
    <parameter>VTEC=abc</parameter>
    <area><areaDesc>County</areaDesc><geocode>FIPS6=006109</geocode></area>
  </info>
</alert>
"""


def test_cap10_upgrade() -> None:
    result = parse(CAP10)
    assert result.ok, result.errors
    assert result.cap_version == "1.0"
    assert "CAP-UPGRADE-PASSWORD" in {i.rule for i in result.warnings}
    alert = result.alert
    assert alert is not None
    info = alert.infos[0]
    assert info.certainty == "Likely"
    assert (info.event_codes[0].value_name, info.event_codes[0].value) == ("SAME", "SVR")
    assert info.parameter("VTEC") == "abc"
    assert info.areas[0].geocodes[0].value == "006109"


def test_cap10_without_scope_cannot_be_upgraded() -> None:
    result = parse(CAP10.replace(b"<scope>Public</scope>", b""))
    assert any(i.rule == "XSD-INVALID" and "upgrade" in i.message for i in result.errors)
