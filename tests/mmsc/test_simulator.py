"""The MMSC simulator's own checks, pages and counters (in-process, through TestClient)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.dispatch.connectors.base import Address, AddressKind
from alerts.dispatch.connectors.mm7_mime import build_content_part, build_related
from alerts.dispatch.connectors.mm7_read import (
    parse_soap,
    parse_status,
)
from alerts.dispatch.connectors.mm7_xml import (
    Mm7Identity,
    ReportFacts,
    delivery_report_req_xml,
    submit_req_xml,
)
from alerts.mmsc import SimulatorConfig, create_simulator_app
from alerts.mmsc.app import mask_number
from alerts.mmsc.config import Faults, ReportPlan
from alerts.mmsc.schema import Mm7Schema
from renderers.mms import MmsContent, MmsPart
from tests.mmsc.support import make_content, make_request, png_bytes

ME = Mm7Identity(vaspid="alertcast", sender=Address("112", AddressKind.SHORT_CODE))


def body_for(numbers=("+15551230001",), content: MmsContent | None = None, href="cid:mm7-content",
             soap_edit=None):  # fmt: skip
    soap = submit_req_xml(ME, make_request(list(numbers)), href)
    if soap_edit:
        soap = soap_edit(soap)
    return build_related(soap, build_content_part(content or make_content(), "binary"))


@pytest.fixture
def client():
    with TestClient(create_simulator_app(SimulatorConfig(seed=1))) as c:
        yield c


def post(client, body):
    response = client.post("/mm7", content=body.body, headers={"content-type": body.content_type})
    message = parse_soap(response.content)
    return response, message, parse_status(message)


def test_accepts_a_valid_submit(client):
    response, message, status = post(client, body_for())
    assert response.status_code == 200
    assert message.name == "SubmitRsp"
    assert status.code == 1000
    assert status.message_id
    assert message.transaction_id == "batch-1"
    assert Mm7Schema().errors(response.content) == []


def _smil(src: str) -> MmsContent:
    smil = f'<smil><body><par><img src="{src}"/></par></body></smil>'.encode()
    return MmsContent(
        (
            MmsPart("application/smil", "smil", smil),
            MmsPart("image/png", "map", png_bytes(), "map.png"),
        )
    )


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"href": "cid:nothing-here"}, 2007),
        ({"content": _smil("cid:missing")}, 2007),
        ({"content": _smil("missing.png")}, 2007),
        ({"soap_edit": lambda s: s.replace(b">High<", b">Urgent<")}, 4004),
        ({"soap_edit": lambda s: s.replace(b">6.8.0<", b">5.3.0<")}, 4002),
        ({"soap_edit": lambda s: s.replace(b"SubmitReq", b"DeliverReq")}, 4003),
        ({"soap_edit": lambda s: s.replace(b"<mm7:Subject>", b"<mm7:Subject>")[:-40]}, 2007),
        ({"numbers": [f"+1555123{i:04d}" for i in range(101)]}, 3003),
    ],
)
def test_rejections(client, kwargs, code):
    response, message, status = post(client, body_for(**kwargs))
    assert response.status_code == 500
    assert message.name == "Fault"
    assert status.code == code
    assert b"RSErrorRsp" in response.content


def test_smil_references_by_location_are_accepted(client):
    _, _, status = post(client, body_for(content=_smil("map.png")))
    assert status.code == 1000


def test_content_must_be_smil_presentation(client):
    content = MmsContent((MmsPart("text/plain", "t", b"hello"),))
    _, _, status = post(client, body_for(content=content))
    assert status.code == 2007


def test_garbage_and_empty_bodies(client):
    for raw in (b"", b"garbage", b"<x/>"):
        response = client.post("/mm7", content=raw, headers={"content-type": "text/xml"})
        assert response.status_code == 500
        assert parse_status(parse_soap(response.content)).code == 2007


def test_delivery_report_we_emit_is_schema_valid():
    from datetime import UTC, datetime

    facts = ReportFacts("m1", Address("+15551230001"), Address("112", AddressKind.SHORT_CODE),
                        datetime.now(UTC), "Retrieved", "Retrieved")  # fmt: skip
    xml = delivery_report_req_xml(ME.namespace, ME.version, "dr-1", facts)
    assert Mm7Schema().errors(xml) == []


def test_json_api_page_and_stats(client):
    _, _, status = post(client, body_for(numbers=("+15551230001", "+15551230002")))
    listing = client.get("/api/messages").json()
    assert listing["count"] == 1
    assert listing["recipients"] == 2
    (summary,) = listing["messages"]
    assert summary["message_id"] == status.message_id
    assert summary["text"].startswith("Evacuate zone A")
    image = client.get(f"/api/messages/{status.message_id}/parts/{summary['image_part']}")
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG")
    assert client.get("/api/messages/nope").status_code == 404
    page = client.get("/")
    assert page.status_code == 200
    assert "Evacuate zone A" in page.text
    # relative, so the page also works mounted under /mmsc-sim/ in the embedded service
    assert f'src="api/messages/{status.message_id}/parts/1"' in page.text
    assert "+15551230001" not in page.text
    assert "+155***001" in page.text
    stats = client.get("/api/stats").json()
    assert stats["requests"] == 1
    assert stats["accepted"] == 1
    assert stats["peak_rps"] >= 1
    assert client.post("/api/reset").json() == {"status": "reset"}
    assert client.get("/api/messages").json()["count"] == 0


def test_store_is_bounded():
    with TestClient(create_simulator_app(SimulatorConfig(store_limit=3))) as client:
        ids = [post(client, body_for())[2].message_id for _ in range(5)]
        listing = client.get("/api/messages").json()
        assert listing["count"] == 5
        assert listing["stored"] == 3
        assert [m["message_id"] for m in listing["messages"]] == ids[::-1][:3]


def test_peak_rate_counts_every_request_in_its_second():
    with TestClient(create_simulator_app(SimulatorConfig(faults=Faults(throttle_rps=3)))) as client:
        codes = [post(client, body_for())[2].code for _ in range(8)]
        stats = client.get("/api/stats").json()
    assert codes.count(4006) >= 5 - 3  # at most 3 per second get through
    assert stats["peak_rps"] >= 3
    assert stats["throttled"] == codes.count(4006)


def test_report_loss_is_counted():
    config = SimulatorConfig(vasp_url="http://127.0.0.1:9/mm7", reports=ReportPlan(loss_rate=1.0))
    with TestClient(create_simulator_app(config)) as client:
        post(client, body_for(numbers=("+15551230001", "+15551230002")))
        assert client.get("/api/stats").json()["dr_lost"] == 2


def test_outcomes_must_be_known():
    with pytest.raises(ValueError, match="unknown MMStatus"):
        ReportPlan(outcomes={"Delivered": 1.0})
    with pytest.raises(ValueError, match="less than or equal to 2"):
        ReportPlan(delay_s=5)


@pytest.mark.parametrize(("raw", "shown"), [("+15551230001", "+155***001"), ("112", "***")])
def test_mask_number(raw, shown):
    assert mask_number(raw) == shown


def test_chunked_requests_are_refused(client):
    body = body_for()

    def chunks():
        yield body.body[:100]
        yield body.body[100:]

    response = client.post("/mm7", content=chunks(), headers={"content-type": body.content_type})
    status = parse_status(parse_soap(response.content))
    assert status.code == 2007
    assert "chunked" in (status.details or "")


def test_slow_reports_are_delayed():
    import random

    from alerts.mmsc.reports import ReportSender
    from alerts.mmsc.store import Stats

    sender = ReportSender(Stats(), random.Random(3))
    slow = ReportPlan(delay_s=0.5, jitter_s=0.0, slow_rate=1.0, slow_delay_s=4.0)
    fast = ReportPlan(delay_s=0.5, jitter_s=0.2)
    assert sender._delay(slow) == 4.5
    assert all(0.5 <= sender._delay(fast) <= 0.7 for _ in range(50))
