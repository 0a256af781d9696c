"""Rendered MMS content: map + text per language, CAP resource photos as extra slides."""

from __future__ import annotations

import base64
import io
import json

import shapely
from PIL import Image
from shapely.geometry import mapping

from alerts import cap
from alerts.dispatch.content import render_messages, resource_photos
from alerts.dispatch.models import MessageKind
from alerts.intake.columns import AreaOutcome, alert_row
from alerts.intake.models import Alert

IPAWS = "ipaws_local_area_emergency_polygon_wea_cmamtext_jpeg_signed.xml"


def _alert(data: bytes) -> Alert:
    result = cap.parse(data)
    assert result.ok, result.issues
    box = shapely.box(-74.02, 40.70, -74.00, 40.72)
    row = alert_row(
        result, agency_id=None, via="test", area_resolver=lambda _: AreaOutcome(dict(mapping(box)))
    )
    row.id, row.short_id = 1, "abc"
    return row


def test_inline_jpeg_resource_becomes_a_photo_slide(shared_data):
    alert = _alert((shared_data / "cap/samples" / IPAWS).read_bytes())
    photos = resource_photos(alert, "en-US")
    assert len(photos) == 1
    geometry = shapely.geometry.shape(json.loads(alert.area_geojson or "{}"))
    (msg,) = render_messages(
        alert, geometry, kind=MessageKind.ALERT, languages=["en-US"], link="http://x/a/abc"
    )
    types = [p.content_type.split(";")[0] for p in msg.mms.parts]
    assert types[0] == "application/smil"
    assert "image/jpeg" in types[2:]
    assert msg.mms.size <= 100_000
    smil = msg.mms.parts[0].data.decode()
    for part in msg.mms.parts[1:]:
        assert f"cid:{part.content_id}" in smil
    photo = next(p for p in msg.mms.parts if p.content_id.startswith("photo"))
    with Image.open(io.BytesIO(photo.data)) as im:
        assert im.format == "JPEG"


def test_a_resource_that_is_not_an_image_is_refused(shared_data):
    xml = (shared_data / "cap/samples" / IPAWS).read_bytes()
    parsed = cap.parse(xml).alert
    assert parsed is not None
    fake = base64.b64encode(b"MZ\x90\x00 not an image at all" * 10).decode()
    original = parsed.infos[0].resources[0].deref_uri or ""
    doc = xml.replace(original.encode(), fake.encode())
    alert = _alert_unsigned(doc)
    assert resource_photos(alert, "en-US") == []


def _alert_unsigned(data: bytes) -> Alert:
    result = cap.parse(data, check_signature=False)
    assert result.alert is not None, result.issues
    row = alert_row(result, agency_id=None, via="test", area_resolver=None)
    row.id = 2
    return row
