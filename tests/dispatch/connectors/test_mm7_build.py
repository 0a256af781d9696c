"""SubmitReq / CancelReq / ReplaceReq as we build them: schema-valid, byte-exact MIME."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import httpx
import pytest
from lxml import etree
from pydantic import ValidationError

from alerts.dispatch.connectors.base import (
    Address,
    AddressKind,
    Priority,
    RecipientField,
    priority_for,
)
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector
from alerts.dispatch.connectors.mm7_mime import (
    build_content_part,
    build_related,
    flatten,
    split_mm7_http,
)
from alerts.dispatch.connectors.mm7_read import (
    parse_soap,
)
from alerts.dispatch.connectors.mm7_xml import (
    REL5_NS,
    REL6_NS,
    Mm7Identity,
    cancel_req_xml,
    replace_req_xml,
    submit_req_xml,
)
from alerts.mmsc.schema import Mm7Schema
from renderers.mms import MmsContent, MmsPart
from tests.mmsc.support import make_content, make_request, png_bytes

NOW = datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
ME = Mm7Identity(
    vaspid="alertcast",
    vasid="alerts",
    sender=Address("112", AddressKind.SHORT_CODE),
    service_code="EMERG",
)


@pytest.fixture(scope="module")
def schema(repo_root):
    return Mm7Schema(repo_root / "data" / "mm7")


def _config(**kw) -> Mm7Config:
    return Mm7Config(url="http://127.0.0.1:9/mm7", vaspid="alertcast", sender_address="112", **kw)


def test_submit_req_is_schema_valid_and_carries_every_field(schema):
    request = make_request(
        ["+15551230001"], expiry=datetime(2026, 11, 28, 18, 0, tzinfo=UTC), timestamp=NOW
    )
    soap = submit_req_xml(ME, request, "cid:mm7-content")
    assert schema.errors(soap) == []
    msg = parse_soap(soap)
    ns = {"m": REL6_NS, "env": "http://schemas.xmlsoap.org/soap/envelope/"}
    root = etree.fromstring(soap)
    tid = root.find("env:Header/m:TransactionID", ns)
    assert tid.text == "batch-1"
    assert tid.get("{http://schemas.xmlsoap.org/soap/envelope/}mustUnderstand") == "1"
    req = msg.element
    assert [etree.QName(c).localname for c in req] == [
        "MM7Version", "SenderIdentification", "Recipients", "ServiceCode", "TimeStamp",
        "ExpiryDate", "DeliveryReport", "Priority", "Subject", "Content",
    ]  # fmt: skip
    assert req.findtext("m:MM7Version", namespaces=ns) == "6.8.0"
    assert req.findtext("m:Recipients/m:To/m:Number", namespaces=ns) == "+15551230001"
    assert req.findtext("m:ExpiryDate", namespaces=ns) == "2026-11-28T18:00:00Z"
    assert req.findtext("m:DeliveryReport", namespaces=ns) == "true"
    assert req.findtext("m:Priority", namespaces=ns) == "High"
    sid = req.find("m:SenderIdentification", ns)
    assert sid.findtext("m:VASPID", namespaces=ns) == "alertcast"
    assert sid.findtext("m:SenderAddress/m:ShortCode", namespaces=ns) == "112"
    content = req.find("m:Content", ns)
    assert content.get("href") == "cid:mm7-content"
    assert content.get("allowAdaptations") == "true"


def test_recipient_kinds_and_fields_validate(schema):
    recipients = (
        Address("+15551230001"),
        Address("ops@example.org", AddressKind.RFC2822, RecipientField.CC),
        Address("4242", AddressKind.SHORT_CODE, RecipientField.BCC),
        Address("+15551230002", field=RecipientField.BCC),
    )
    request = make_request([], timestamp=NOW)
    request = type(request)(**{**_fields(request), "recipients": recipients})
    soap = submit_req_xml(ME, request, "cid:mm7-content")
    assert schema.errors(soap) == []
    text = soap.decode()
    assert "<mm7:Cc><mm7:RFC2822Address>ops@example.org</mm7:RFC2822Address></mm7:Cc>" in text
    assert "<mm7:Bcc><mm7:ShortCode>4242</mm7:ShortCode><mm7:Number>+15551230002" in text


def _fields(request):
    return {f: getattr(request, f) for f in request.__slots__}


def test_rel5_dialect_validates_by_namespace_mapping(schema):
    me = Mm7Identity(namespace=REL5_NS, version="5.3.0", vaspid="alertcast")
    soap = submit_req_xml(me, make_request(["+15551230001"]), "cid:mm7-content")
    assert REL5_NS.encode() in soap
    assert b"<mm7:MM7Version>5.3.0<" in soap
    assert schema.errors(soap, REL5_NS) == []


def test_schema_rejects_what_a_strict_mmsc_would(schema):
    soap = submit_req_xml(ME, make_request(["+15551230001"]), "cid:x")
    assert schema.errors(soap.replace(b">High<", b">Urgent<"))
    assert schema.errors(soap.replace(b"+15551230001", b"call-me"))
    # element order matters (Sinch's example puts DeliveryReport first: readable, not valid)
    report = b"<mm7:DeliveryReport>true</mm7:DeliveryReport>"
    moved = soap.replace(report, b"").replace(b"<mm7:Content ", report + b"<mm7:Content ")
    assert schema.errors(moved)
    assert schema.errors(soap.replace(report, b"")) == []  # optional, so absent is fine
    assert schema.errors(soap.replace(b"<mm7:Recipients>", b"<mm7:Recipient>", 1))


def test_cancel_and_replace_are_schema_valid(schema):
    assert schema.errors(cancel_req_xml(ME, "t-1", "MSG1")) == []
    assert schema.errors(replace_req_xml(ME, "t-2", "MSG1", "cid:mm7-content")) == []


def test_multipart_body_is_byte_exact():
    content = MmsContent(
        (
            MmsPart(
                "application/smil", "s", b'<smil><body><par><img src="cid:i"/></par></body></smil>'
            ),
            MmsPart("image/png", "i", b"\x89PNG\r\n\x00\xff", "i.png"),
            MmsPart('text/plain; charset="utf-8"', "t", "Pas de panique é".encode()),
        )
    )
    part = build_content_part(content, "binary", boundary="IN")
    body = build_related(b"<soap/>", part, boundary="OUT")
    expected = (
        b'--OUT\r\nContent-Type: text/xml; charset="utf-8"\r\nContent-ID: <mm7-soap>\r\n\r\n'
        b"<soap/>\r\n"
        b'--OUT\r\nContent-Type: multipart/related; type="application/smil"; start="<s>"; '
        b'boundary="IN"\r\nContent-ID: <mm7-content>\r\n\r\n'
        b"--IN\r\nContent-Type: application/smil\r\nContent-ID: <s>\r\n\r\n"
        b'<smil><body><par><img src="cid:i"/></par></body></smil>\r\n'
        b"--IN\r\nContent-Type: image/png\r\nContent-ID: <i>\r\nContent-Location: i.png\r\n"
        b"Content-Transfer-Encoding: binary\r\n\r\n\x89PNG\r\n\x00\xff\r\n"
        b'--IN\r\nContent-Type: text/plain; charset="utf-8"\r\nContent-ID: <t>\r\n'
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + "Pas de panique é".encode() + b"\r\n"
        b"--IN--\r\n\r\n--OUT--\r\n"
    )
    assert body.body == expected
    assert body.content_type == (
        'multipart/related; boundary="OUT"; type="text/xml"; start="<mm7-soap>"'
    )


@pytest.mark.parametrize("encoding", ["binary", "base64"])
def test_built_body_parses_back_to_the_same_parts(encoding):
    png = png_bytes((120, 90))
    content = make_content(image=png)
    body = build_related(b"<soap/>", build_content_part(content, encoding))
    http = split_mm7_http(body.body, body.content_type)
    assert http.soap == b"<soap/>"
    outer = http.find("cid:mm7-content")
    assert outer is not None
    assert outer.params["type"] == "application/smil"
    leaves = flatten(outer)
    assert [p.content_id for p in leaves] == ["smil", "map", "text"]
    assert [p.data for p in leaves] == [p.data for p in content.parts]
    if encoding == "base64":
        assert base64.encodebytes(png).replace(b"\n", b"\r\n") in body.body


def test_connector_posts_exactly_what_it_builds_with_content_length():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=_SUBMIT_RSP, headers={"content-type": "text/xml"})

    async def go():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            connector = Mm7Connector(_config(username="u", password="p"), client)
            return connector, await connector.submit(make_request(["+15551230001"], timestamp=NOW))

    import asyncio

    connector, result = asyncio.run(go())
    assert result.ok
    assert result.message_id == "369500617770864640"
    assert result.status_code == 1000
    (request,) = seen
    assert request.headers["SOAPAction"] == '""'
    assert request.headers["Content-Length"] == str(len(request.content))
    assert "transfer-encoding" not in request.headers
    assert request.headers["Authorization"] == "Basic dTpw"
    boundary = request.headers["Content-Type"].split('boundary="', 1)[1].split('"', 1)[0]
    rebuilt = connector.build_submit(make_request(["+15551230001"], timestamp=NOW), boundary)
    inner_old = split_mm7_http(request.content, request.headers["Content-Type"])
    inner_new = split_mm7_http(rebuilt.body, rebuilt.content_type)
    assert inner_old.soap == inner_new.soap
    assert flatten(inner_old.attachments[0]) == flatten(inner_new.attachments[0])


_SUBMIT_RSP = b"""<?xml version="1.0"?>
<soap-env:Envelope xmlns:soap-env="http://schemas.xmlsoap.org/soap/envelope/"
 xmlns="http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4">
<soap-env:Header>
<TransactionID soap-env:mustUnderstand="1">batch-1</TransactionID></soap-env:Header>
<soap-env:Body><SubmitRsp><MM7Version>6.8.0</MM7Version><Status><StatusCode>1000</StatusCode>
<StatusText>Success</StatusText></Status><MessageID>369500617770864640</MessageID></SubmitRsp>
</soap-env:Body></soap-env:Envelope>"""


def test_namespace_version_mismatch_is_refused():
    with pytest.raises(ValidationError, match="does not match"):
        _config(namespace=REL6_NS, mm7_version="5.3.0")
    with pytest.raises(ValidationError):
        _config(namespace=REL5_NS, mm7_version="6.8.0")
    assert _config(namespace=REL5_NS, mm7_version="5.3.0").mm7_version == "5.3.0"


def test_password_is_secret():
    config = _config(username="u", password="hunter2")
    assert "hunter2" not in repr(config)
    assert "hunter2" not in str(config.model_dump())


@pytest.mark.parametrize(
    ("severity", "urgency", "expected"),
    [
        ("Extreme", "Expected", Priority.HIGH),
        ("Severe", "Immediate", Priority.HIGH),
        ("severe", "expected", Priority.NORMAL),
        (None, None, Priority.NORMAL),
    ],
)
def test_priority_for(severity, urgency, expected):
    assert priority_for(severity, urgency) is expected
