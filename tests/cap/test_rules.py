"""Semantic rules: one synthetic document per rule, asserting code, severity and location."""

from __future__ import annotations

import pytest

from alerts.cap import ParseResult, parse
from tests.cap.factories import cap_xml

POLY_OK = "38.0,-120.0 38.5,-120.0 38.5,-119.5 38.0,-120.0"


def rules_of(result: ParseResult, severity: str = "error") -> set[str]:
    return {i.rule for i in result.issues if i.severity == severity}


def test_baseline_document_is_valid() -> None:
    result = parse(cap_xml())
    assert result.ok, result.issues
    assert result.issues == ()


@pytest.mark.parametrize("value", ["ID 1", "ID,1", "ID&amp;1", "ID&lt;1"])
def test_identifier_characters(value: str) -> None:
    result = parse(cap_xml(identifier=value))
    issue = next(i for i in result.errors if i.rule == "CAP-IDENTIFIER-CHARS")
    assert issue.path == "/alert/identifier[1]"
    assert issue.line == 3


def test_sender_characters() -> None:
    assert "CAP-SENDER-CHARS" in rules_of(parse(cap_xml(sender="a b@example.org")))


def test_empty_identifier() -> None:
    assert "CAP-IDENTIFIER-CHARS" in rules_of(parse(cap_xml(identifier="")))


def test_datetime_z_rejected_in_cap12() -> None:
    result = parse(cap_xml(sent="2024-05-01T10:00:00Z"))
    assert {"XSD-INVALID", "CAP-DATETIME-OFFSET"} <= rules_of(result)


def test_expires_before_sent_is_error() -> None:
    result = parse(cap_xml(times="<expires>2024-05-01T09:00:00-05:00</expires>"))
    issue = next(i for i in result.errors if i.rule == "CAP-EXPIRES-BEFORE-SENT")
    assert issue.path == "/alert/info[1]/expires[1]"


def test_expires_same_instant_other_offset_is_fine() -> None:
    assert parse(cap_xml(times="<expires>2024-05-01T15:00:00+00:00</expires>")).ok


def test_effective_and_onset_before_sent_are_warnings() -> None:
    times = (
        "<effective>2024-05-01T09:00:00-05:00</effective>"
        "<onset>2024-05-01T09:30:00-05:00</onset>"
        "<expires>2024-05-01T12:00:00-05:00</expires>"
    )
    result = parse(cap_xml(times=times))
    assert result.ok
    assert {"CAP-EFFECTIVE-BEFORE-SENT", "CAP-ONSET-BEFORE-SENT"} <= rules_of(result, "warning")


def test_expires_before_onset_is_error() -> None:
    times = "<onset>2024-05-01T13:00:00-05:00</onset><expires>2024-05-01T12:00:00-05:00</expires>"
    assert "CAP-EXPIRES-BEFORE-ONSET" in rules_of(parse(cap_xml(times=times)))


@pytest.mark.parametrize(
    "references",
    [
        "<references></references>",
        "<references>only,two</references>",
        "<references>a,b,2024-01-01T00:00:00Z</references>",
        "<references>a,b,c,2024-01-01T00:00:00-05:00</references>",
        "<references>,b,2024-01-01T00:00:00-05:00</references>",
    ],
)
def test_references_format(references: str) -> None:
    result = parse(cap_xml(msg_type="Update", alert_extra=references))
    issue = next(i for i in result.errors if i.rule == "CAP-REFERENCES-FORMAT")
    assert issue.path == "/alert/references[1]"


def test_references_good_triplets() -> None:
    refs = (
        "<references>test@example.org,TEST-0,2024-05-01T09:00:00-05:00 "
        "other@example.org,X-9,2024-04-30T09:00:00+02:00</references>"
    )
    result = parse(cap_xml(msg_type="Update", alert_extra=refs))
    assert result.ok, result.issues
    assert result.alert is not None
    assert [r.identifier for r in result.alert.references] == ["TEST-0", "X-9"]
    assert result.alert.references[1].sent.isoformat() == "2024-04-30T09:00:00+02:00"


def test_references_self() -> None:
    refs = "<references>test@example.org,TEST-1,2024-05-01T10:00:00-05:00</references>"
    assert "CAP-REFERENCES-SELF" in rules_of(parse(cap_xml(msg_type="Cancel", alert_extra=refs)))


@pytest.mark.parametrize("msg_type", ["Update", "Cancel", "Ack", "Error"])
def test_references_required(msg_type: str) -> None:
    assert "CAP-REFERENCES-REQUIRED" in rules_of(parse(cap_xml(msg_type=msg_type)))


def test_empty_references_on_alert_is_only_a_warning() -> None:
    result = parse(cap_xml(alert_extra="<references/>"))
    assert result.ok
    assert "CAP-EMPTY-ELEMENT" in rules_of(result, "warning")


def test_restriction_only_with_restricted_scope() -> None:
    result = parse(cap_xml(alert_extra="<restriction>staff only</restriction>"))
    assert "CAP-RESTRICTION-SCOPE" in rules_of(result)
    ok = parse(cap_xml(scope="Restricted", alert_extra="<restriction>staff only</restriction>"))
    assert ok.ok
    assert "CAP-RESTRICTION-REQUIRED" in rules_of(parse(cap_xml(scope="Restricted")))


def test_addresses_required_with_private_scope() -> None:
    assert "CAP-ADDRESSES-REQUIRED" in rules_of(parse(cap_xml(scope="Private")))
    assert parse(cap_xml(scope="Private", alert_extra="<addresses>ops@x.org</addresses>")).ok


@pytest.mark.parametrize(
    ("polygon", "rule"),
    [
        ("38.0,-120.0 38.5,-120.0 38.0,-120.0", "CAP-POLYGON-POINTS"),
        ("38.0,-120.0 38.5,-120.0 38.5,-119.5 38.1,-120.0", "CAP-POLYGON-CLOSED"),
        ("38.0,-120.0 98.5,-120.0 38.5,-119.5 38.0,-120.0", "CAP-POLYGON-RANGE"),
        ("38.0,-120.0 38.5,-120.0 38.5,-190.5 38.0,-120.0", "CAP-POLYGON-RANGE"),
        (
            "38.0,-120.0 38.5,-119.0 38.0,-119.0 38.5,-120.0 38.0,-120.0",
            "CAP-POLYGON-SELF-INTERSECTION",
        ),
        ("38.0,-120.0, 38.5,-120.0 38.5,-119.5 38.0,-120.0", "CAP-POLYGON-FORMAT"),
        ("38.0;-120.0 38.5,-120.0 38.5,-119.5 38.0,-120.0", "CAP-POLYGON-FORMAT"),
        ("nan,-120.0 38.5,-120.0 38.5,-119.5 nan,-120.0", "CAP-POLYGON-FORMAT"),
    ],
)
def test_polygon_rules(polygon: str, rule: str) -> None:
    result = parse(cap_xml(area_extra=f"<polygon>{polygon}</polygon>"))
    issue = next(i for i in result.errors if i.rule == rule)
    assert issue.path == "/alert/info[1]/area[1]/polygon[1]"
    assert issue.line is not None


def test_self_intersecting_polygon_is_not_repaired() -> None:
    bowtie = "38.0,-120.0 38.5,-119.0 38.0,-119.0 38.5,-120.0 38.0,-120.0"
    result = parse(cap_xml(area_extra=f"<polygon>{POLY_OK}</polygon><polygon>{bowtie}</polygon>"))
    issue = next(i for i in result.errors if i.rule == "CAP-POLYGON-SELF-INTERSECTION")
    assert issue.path == "/alert/info[1]/area[1]/polygon[2]"
    assert result.alert is None


def test_empty_polygon_ignored_with_warning() -> None:
    result = parse(cap_xml(area_extra=f"<polygon>{POLY_OK}</polygon><polygon> </polygon>"))
    assert result.ok
    assert result.alert is not None
    assert result.alert.infos[0].areas[0].polygons == (POLY_OK,)


@pytest.mark.parametrize(
    ("circle", "rule"),
    [
        ("38.0,-120.0 -1", "CAP-CIRCLE-RADIUS"),
        ("38.0,-120.0", "CAP-CIRCLE-FORMAT"),
        ("38.0 -120.0 5", "CAP-CIRCLE-FORMAT"),
        ("38.0,-120.0 five", "CAP-CIRCLE-FORMAT"),
        ("91.0,-120.0 5", "CAP-CIRCLE-RANGE"),
    ],
)
def test_circle_rules(circle: str, rule: str) -> None:
    result = parse(cap_xml(area_extra=f"<circle>{circle}</circle>"))
    assert rule in rules_of(result)


def test_circle_radius_zero_is_valid() -> None:
    assert parse(cap_xml(area_extra="<circle>38.0,-120.0 0</circle>")).ok


@pytest.mark.parametrize("tag", ["en-US", "es-419", "zh-Hant-TW", "fr-CA", "de", "x-private"])
def test_language_tags_accepted(tag: str) -> None:
    assert parse(cap_xml(language=tag)).ok


@pytest.mark.parametrize("tag", ["en_US", "e", "en-US-", "abcdefghi"])
def test_language_tags_rejected(tag: str) -> None:
    result = parse(cap_xml(language=tag))
    assert not result.ok
    assert rules_of(result) & {"CAP-LANGUAGE-TAG", "XSD-INVALID"}


def test_language_tag_with_bad_shape_passing_xsd() -> None:
    # xs:language accepts any 1-8 alphanumerics per subtag; RFC 5646 does not.
    assert "CAP-LANGUAGE-TAG" in rules_of(parse(cap_xml(language="en-US-a")))


def _resource(inner: str) -> str:
    return f"<resource><resourceDesc>map</resourceDesc>{inner}</resource>"


@pytest.mark.parametrize(
    ("inner", "rule"),
    [
        ("<mimeType>image</mimeType>", "CAP-MIMETYPE-FORMAT"),
        ("<mimeType>image/png</mimeType><uri>maps/1.png</uri>", "CAP-RESOURCE-URI"),
        ("<mimeType>image/png</mimeType><derefUri>not base64!</derefUri>", "CAP-DEREFURI-BASE64"),
        ("<mimeType>image/png</mimeType><derefUri>YW=J</derefUri>", "CAP-DEREFURI-BASE64"),
        ("<mimeType>image/png</mimeType><size>-5</size>", "CAP-RESOURCE-SIZE"),
    ],
)
def test_resource_rules(inner: str, rule: str) -> None:
    result = parse(cap_xml(resources=_resource(inner)))
    issue = next(i for i in result.errors if i.rule == rule)
    assert issue.path is not None
    assert issue.path.startswith("/alert/info[1]/resource[1]/")


def test_resource_relative_uri_allowed_with_deref() -> None:
    inner = "<mimeType>image/png</mimeType><uri>map.png</uri><derefUri>YWJj\nZGVm</derefUri>"
    result = parse(cap_xml(resources=_resource(inner)))
    assert result.ok, result.issues


def test_resource_digest_warning() -> None:
    inner = "<mimeType>text/plain</mimeType><uri>http://x.org/a</uri><digest>abc</digest>"
    result = parse(cap_xml(resources=_resource(inner)))
    assert result.ok
    assert "CAP-RESOURCE-DIGEST" in rules_of(result, "warning")


def test_altitude_ceiling() -> None:
    above = f"<polygon>{POLY_OK}</polygon><altitude>500</altitude><ceiling>100</ceiling>"
    assert "CAP-ALTITUDE-ABOVE-CEILING" in rules_of(parse(cap_xml(area_extra=above)))
    alone = f"<polygon>{POLY_OK}</polygon><ceiling>100</ceiling>"
    assert "CAP-CEILING-WITHOUT-ALTITUDE" in rules_of(parse(cap_xml(area_extra=alone)))
    ok = parse(cap_xml(area_extra=f"<polygon>{POLY_OK}</polygon><altitude>0</altitude>"))
    assert ok.ok
    assert ok.alert is not None
    assert ok.alert.infos[0].areas[0].altitude == 0


def test_alert_without_info_is_warned() -> None:
    result = parse(cap_xml(with_info=False))
    assert result.ok
    assert "CAP-INFO-MISSING" in rules_of(result, "warning")


def test_raise_for_errors() -> None:
    from alerts.cap import CapRejected

    with pytest.raises(CapRejected) as caught:
        parse(cap_xml(scope="Private")).raise_for_errors()
    assert caught.value.issues[0].rule == "CAP-ADDRESSES-REQUIRED"
    assert parse(cap_xml()).raise_for_errors().identifier == "TEST-1"
