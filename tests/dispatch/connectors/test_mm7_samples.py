"""Real MM7 messages from the shared samples parse with our lenient reader."""

from __future__ import annotations

import re

import pytest

from alerts.dispatch.connectors.base import AddressKind, Classification
from alerts.dispatch.connectors.mm7 import read_response
from alerts.dispatch.connectors.mm7_inbound import (
    DeliveredMessage,
    DeliveryReport,
    parse_inbound,
)
from alerts.dispatch.connectors.mm7_mime import split_mm7_http
from alerts.dispatch.connectors.mm7_read import (
    parse_soap,
)
from alerts.dispatch.connectors.mm7_status import DeliveryState


def _http(raw: bytes) -> tuple[bytes, str | None]:
    """Split a captured HTTP message into body and Content-Type (None if there are no headers)."""
    if not raw.startswith((b"POST", b"HTTP/")):
        return raw, None
    sep = b"\r\n\r\n" if b"\r\n\r\n" in raw[:2000] else b"\n\n"
    head, body = raw.split(sep, 1)
    match = re.search(rb"Content-Type:(.*(?:\n[ \t]+.*)*)", head, re.IGNORECASE)
    return body, match.group(1).decode().strip() if match else None


def _blocks(path) -> list[bytes]:
    return [b.encode() for b in re.findall(r"```(?:xml|text)\n(.*?)```", path.read_text(), re.S)]


@pytest.fixture(scope="module")
def samples(shared_data):
    return shared_data / "mm7" / "samples"


@pytest.mark.parametrize("name", ["deliver-req1.txt", "deliver-req2.txt", "deliver-req-post.txt"])
def test_instantcom_text_deliver_reqs(samples, name):
    body, content_type = _http((samples / "instantcom-mm7" / name).read_bytes())
    message = parse_inbound(body, content_type)
    assert isinstance(message, DeliveredMessage)
    assert message.transaction_id == "vas00324-dlvr"
    assert message.sender is not None
    assert message.sender.kind is AddressKind.RFC2822
    assert message.subject == "Weather Forecast"
    assert message.text.startswith(("Los Angeles", "Science news"))


def test_deliver_req_with_base64_smil_and_gif(samples):
    body, ct = _http((samples / "instantcom-mm7" / "deliver-req3.txt").read_bytes())
    message = parse_inbound(body, ct)
    assert isinstance(message, DeliveredMessage)
    assert message.sender is not None
    assert message.sender.value == "+3859100010010"
    assert [r.value for r in message.recipients] == ["88888"]
    smil, gif = message.parts
    assert smil.media_type == "application/smil"
    assert smil.data.startswith(b"<smil>")
    assert gif.media_type == "image/gif"
    assert gif.data.startswith(b"GIF89a")
    assert gif.location == "Bomb.gif"


def test_deliver_req_with_jpeg_base64(samples):
    message = parse_inbound(*_http((samples / "instantcom-mm7" / "deliver-req4.txt").read_bytes()))
    assert isinstance(message, DeliveredMessage)
    media = {p.media_type: p for p in message.parts}
    assert media["image/jpeg"].data[:3] == b"\xff\xd8\xff"
    assert media["application/smil"].data.lstrip().startswith(b"<smil")


def test_deliver_req_with_raw_binary_and_bare_content_ids(samples):
    raw = (samples / "instantcom-mm7" / "deliver-req5.txt").read_bytes()
    message = parse_inbound(*_http(raw))
    assert isinstance(message, DeliveredMessage)
    assert message.recipients[0].kind is AddressKind.SHORT_CODE
    jpeg = next(p for p in message.parts if p.media_type == "image/jpeg")
    # the fixture's JPEG went through a UTF-8 round trip upstream; we must keep its bytes as-is
    start = raw.index(b"Content-Location: DCIM_11.jpg\r\n\r\n") + 33
    assert jpeg.content_id == "DCIM_11"
    assert b"JFIF" in jpeg.data[:20]
    assert raw[start : start + len(jpeg.data)] == jpeg.data


@pytest.mark.parametrize(
    ("name", "code", "classification"),
    [
        ("fault.xml", 4002, Classification.LINK_MISCONFIGURED),
        ("fault_02.xml", 2002, Classification.PERMANENT),
        ("submit-rsp.xml", 1000, Classification.SUCCESS),
    ],
)
def test_instantcom_responses(samples, name, code, classification):
    body = (samples / "instantcom-mm7" / name).read_bytes()
    for http_status in (200, 500):
        _, status, got = read_response(http_status, "text/xml", body)
        assert (status.code, got) == (code, classification)
    assert parse_soap(body).transaction_id


def test_sinch_submit_examples(samples):
    blocks = _blocks(samples / "sinch-docs" / "mm7-service-mm7_submit.md")
    names = []
    for raw in blocks:
        body, ct = _http(raw)
        message = parse_soap(split_mm7_http(body, ct).soap)
        names.append(message.name)
        if message.name == "SubmitReq":
            assert message.transaction_id in ("1000001", "555e29f8879be")
    assert names.count("SubmitReq") == 2
    assert "Fault" in names
    full = next(b for b in blocks if b.startswith(b"POST"))
    http = split_mm7_http(*_http(full))
    part = http.find("cid:generic_content_id")
    assert part is not None
    assert {c.media_type for c in part.children} == {
        "text/plain",
        "application/smil",
    }
    _, status, cls = read_response(200, "application/xml", _http(blocks[-1])[0])
    assert (status.code, status.message_id, cls) == (
        1000,
        "369500617770864640",
        Classification.SUCCESS,
    )


def test_sinch_delivery_report_examples(samples):
    reports = []
    for raw in _blocks(samples / "sinch-docs" / "mm7-service-mm7_deliveryreport.md"):
        body, ct = _http(raw)
        if parse_soap(split_mm7_http(body, ct).soap).name == "DeliveryReportReq":
            reports.append(parse_inbound(body, ct))
    assert len(reports) == 2
    for report in reports:
        assert isinstance(report, DeliveryReport)
        assert report.message_id == "369500617770864640"
        assert report.recipient.value == "16175550123"
        assert report.state is DeliveryState.DELIVERED
        assert report.transaction_id == "10000001"


def test_sinch_deliver_example_with_broken_prefixes(samples):
    raws = _blocks(samples / "sinch-docs" / "mm7-service-mm7_deliver.md")
    full = next(b for b in raws if b.startswith(b"POST"))
    message = parse_inbound(*_http(full))
    assert isinstance(message, DeliveredMessage)
    assert message.sender is not None
    assert message.sender.value == "1617423433"
    assert "Test MO message!" in message.text
