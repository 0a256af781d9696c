"""Inbound MM7 endpoint: acknowledge first, sinks after, per-link auth, dedupe helper.

Endpoint tests run against both front ends: the route alone and the ``Mm7Inbound`` ASGI
middleware in front of it (what ``create_app`` serves).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from alerts.app import create_app
from alerts.dispatch.connectors.base import Address
from alerts.dispatch.connectors.mm7 import Mm7Config, Mm7Connector, mm7_client
from alerts.dispatch.connectors.mm7_inbound import DeliveredMessage, DeliveryReport, ReadReply
from alerts.dispatch.connectors.mm7_read import (
    parse_soap,
    parse_status,
)
from alerts.dispatch.connectors.mm7_status import DeliveryState
from alerts.dispatch.connectors.mm7_xml import (
    REL5_NS,
    ReportFacts,
    delivery_report_req_xml,
)
from alerts.dispatch.mm7_api import (
    DedupingSink,
    DeliveryReportDeduper,
    InboundLink,
    Mm7Inbound,
    Mm7Sinks,
    create_mm7_router,
)
from alerts.mmsc import SimulatorConfig, create_simulator_app
from alerts.mmsc.config import ReportPlan
from alerts.settings import DEFAULT_SECRET, Settings
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401
from tests.mmsc.support import make_request, serve, wait_for

AUTH = ("mmsc", "dr-secret")


class Recorder:
    def __init__(self, delay: float = 0.0) -> None:
        self.items: list = []
        self.delay = delay

    async def handle(self, item) -> None:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.items.append(item)


def _report_xml(tid="dr-1", status="Retrieved", ns=None, version="6.8.0", number="+15551230001"):
    facts = ReportFacts("MSG-1", Address(number), Address("112"), datetime.now(UTC), status)
    kwargs = {"ns": ns, "version": version} if ns else {"ns": _REL6, "version": version}
    return delivery_report_req_xml(kwargs["ns"], kwargs["version"], tid, facts)


_REL6 = "http://www.3gpp.org/ftp/Specs/archive/23_series/23.140/schema/REL-6-MM7-1-4"

READ_REPLY = b"""<?xml version="1.0"?>
<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">
<env:Header>
<mm7:TransactionID xmlns:mm7="%s" env:mustUnderstand="1">rr-9</mm7:TransactionID>
</env:Header>
<env:Body><ReadReplyReq xmlns="%s"><MM7Version>6.8.0</MM7Version><MessageID>MSG-1</MessageID>
<Recipient><Number>+15551230001</Number></Recipient><Sender><ShortCode>112</ShortCode></Sender>
<TimeStamp>2026-11-28T16:00:00Z</TimeStamp><MMStatus>Read</MMStatus></ReadReplyReq></env:Body>
</env:Envelope>""" % (_REL6.encode(), _REL6.encode())


FRONTS = ("route", "front")


def _app(sinks: Mm7Sinks, front: str = "front", max_body_bytes: int = 2_000_000) -> FastAPI:
    app = FastAPI()
    links = {"operator-a": InboundLink(username=AUTH[0], password=AUTH[1])}
    app.include_router(create_mm7_router(links, sinks, max_body_bytes=max_body_bytes))
    if front == "front":
        app.add_middleware(Mm7Inbound, links=links, sinks=sinks, max_body_bytes=max_body_bytes)

    @app.get("/other")
    def other() -> dict[str, str]:
        return {"served": "by the app"}

    return app


@pytest.fixture
def recorders():
    return Recorder(), Recorder(), Recorder()


@pytest.fixture(params=FRONTS)
def client(request, recorders):
    reports, deliver, reads = recorders
    with TestClient(_app(Mm7Sinks(reports, deliver, reads), request.param)) as c:
        yield c


def _post(client, body: bytes, auth=AUTH, link="operator-a", content_type="text/xml"):
    return client.post(
        f"/mm7/{link}", content=body, auth=auth, headers={"content-type": content_type}
    )


def test_delivery_report_is_acknowledged_echoing_transaction_id(client, recorders):
    response = _post(client, _report_xml(tid="dr-77"))
    assert response.status_code == 200
    message = parse_soap(response.content)
    assert (message.name, message.transaction_id) == ("DeliveryReportRsp", "dr-77")
    assert parse_status(message).code == 1000
    (report,) = recorders[0].items
    assert isinstance(report, DeliveryReport)
    assert (report.message_id, report.recipient.value, report.state) == (
        "MSG-1", "+15551230001", DeliveryState.DELIVERED,
    )  # fmt: skip
    assert report.link == "operator-a"


def test_response_speaks_the_reports_dialect(client):
    response = _post(client, _report_xml(ns=REL5_NS, version="5.3.0"))
    assert REL5_NS.encode() in response.content
    assert b">5.3.0<" in response.content


@pytest.mark.parametrize(
    ("auth", "link"),
    [(("mmsc", "wrong"), "operator-a"), (None, "operator-a"), (AUTH, "operator-b")],
)
def test_auth_failures(client, recorders, auth, link):
    response = _post(client, _report_xml(), auth=auth, link=link)
    assert response.status_code == 401
    assert "basic" in response.headers["www-authenticate"].lower()
    assert recorders[0].items == []


def test_read_reply_and_deliver(client, recorders, shared_data):
    assert _post(client, READ_REPLY).status_code == 200
    (reply,) = recorders[2].items
    assert isinstance(reply, ReadReply)
    assert reply.mm_status == "Read"
    raw = (shared_data / "mm7/samples/instantcom-mm7/deliver-req3.txt").read_bytes()
    response = _post(client, raw, content_type="multipart/related")
    assert parse_soap(response.content).name == "DeliverRsp"
    (delivered,) = recorders[1].items
    assert isinstance(delivered, DeliveredMessage)
    assert delivered.subject == "Bomb"


def test_subscriber_reply_text_reaches_the_sink(client, recorders):
    body = (
        b"--b\r\nContent-Type: text/xml\r\nContent-ID: <s>\r\n\r\n"
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Header>'
        b'<TransactionID xmlns="' + _REL6.encode() + b'">mo-1</TransactionID></e:Header><e:Body>'
        b'<DeliverReq xmlns="' + _REL6.encode() + b'"><MM7Version>6.8.0</MM7Version>'
        b'<Sender><Number>+15551230001</Number></Sender><Content href="cid:c"/></DeliverReq>'
        b"</e:Body></e:Envelope>\r\n--b\r\nContent-Type: text/plain\r\nContent-ID: <c>\r\n\r\n"
        b"SAFE\r\n--b--\r\n"
    )
    response = _post(client, body, content_type='multipart/related; boundary="b"; start="<s>"')
    assert response.status_code == 200
    assert recorders[1].items[0].text == "SAFE"


@pytest.mark.parametrize(
    "body", [b"not xml", b"<a/>", b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><x/>']
)
def test_malformed_requests_get_a_fault(client, recorders, body):
    response = _post(client, body)
    assert response.status_code == 500
    assert parse_status(parse_soap(response.content)).code == 2007
    assert recorders[0].items == []


def test_unsupported_operation_gets_4003(client):
    body = _report_xml().replace(b"DeliveryReportReq", b"SubmitReq")
    response = _post(client, body)
    message = parse_soap(response.content)
    assert response.status_code == 500
    assert parse_status(message).code == 4003
    assert b"VASPErrorRsp" in response.content


def _exchanges(front: str) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Status, headers and body of the same requests to one front end (DeliveryReports only)."""
    ok = _report_xml(tid="dr-5")
    requests = [
        (ok, AUTH, "operator-a"),
        (_report_xml(ns=REL5_NS, version="5.3.0"), AUTH, "operator-a"),
        (ok, ("mmsc", "wrong"), "operator-a"),
        (ok, None, "operator-a"),
        (ok, AUTH, "operator-b"),
        (b"not xml", AUTH, "operator-a"),
        (ok.replace(b"DeliveryReportReq", b"SubmitReq"), AUTH, "operator-a"),
        (READ_REPLY, AUTH, "operator-a"),  # no read-reply sink: 4003
        (ok + b" " * 3000, AUTH, "operator-a"),  # over the limit: 413
    ]
    with TestClient(_app(Mm7Sinks(Recorder()), front, max_body_bytes=3000)) as c:
        return [
            (r.status_code, r.headers.multi_items(), r.content)
            for r in (_post(c, body, auth=auth, link=link) for body, auth, link in requests)
        ]


def test_both_front_ends_answer_byte_for_byte_alike():
    route, front = _exchanges("route"), _exchanges("front")
    assert [status for status, _, _ in front] == [200, 200, 401, 401, 401, 500, 500, 500, 413]
    assert front == route


@pytest.mark.parametrize("front", FRONTS)
@pytest.mark.parametrize("streamed", [False, True])
def test_a_body_over_the_limit_is_refused(front, streamed):
    sink = Recorder()
    big = _report_xml() + b" " * 3000
    with TestClient(_app(Mm7Sinks(sink), front, max_body_bytes=3000)) as c:
        content = iter([big[:1000], big[1000:]]) if streamed else big  # chunked: no length
        response = c.post(
            "/mm7/operator-a", content=content, auth=AUTH, headers={"content-type": "text/xml"}
        )
    assert (response.status_code, response.content) == (413, b"too large\n")
    assert sink.items == []


def test_other_methods_and_paths_reach_the_app(client, recorders):
    assert client.get("/mm7/operator-a").status_code == 405
    assert _post(client, _report_xml(), link="operator-a/more").status_code == 404
    assert client.get("/other").json() == {"served": "by the app"}
    assert recorders[0].items == []


def test_the_served_app_writes_a_report_to_its_delivery(database_url: str) -> None:  # noqa: F811
    raw = sa.create_engine(database_url)  # without the app's pragmas: no foreign keys to fill
    with raw.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO delivery (alert_id, subscriber_id, content_id, recipient, kind,"
                " state, priority, attempts, next_attempt_at, message_id, created_at)"
                " VALUES (1, 1, 1, '+15551230001', 'alert', 'submitted', 0, 1, :t, 'MSG-1', :t)"
            ),
            {"t": datetime.now(UTC)},
        )
    settings = Settings(
        env="test", database_url=database_url, in_process_worker=False, embedded_mmsc=False
    )
    app = create_app(settings)
    assert app.user_middleware[0].cls is Mm7Inbound  # outermost of the app's own middleware

    def state() -> str:
        with raw.connect() as conn:
            return str(conn.execute(sa.text("SELECT state FROM delivery")).scalar_one())

    try:
        with TestClient(app) as c:
            auth = ("mmsc", DEFAULT_SECRET)
            assert (
                _post(c, _report_xml(), auth=("mmsc", "wrong"), link="default").status_code == 401
            )
            assert c.get("/mm7/default").status_code == 405
            number = "15551230001"  # as Sinch writes it back: no "+"
            assert (
                _post(c, _report_xml(number=number), auth=auth, link="default").status_code == 200
            )
            assert wait_for(lambda: state() == "delivered", timeout=10)
    finally:
        raw.dispose()


def test_deduper_is_keyed_on_message_recipient_status():
    async def go():
        inner = Recorder()
        sink = DedupingSink(inner, DeliveryReportDeduper(max_entries=2))
        from alerts.dispatch.connectors.mm7_inbound import parse_inbound

        bodies = [
            _report_xml(),
            _report_xml(tid="dr-2"),
            _report_xml(status="Deferred"),
            _report_xml(status="retrieved"),
            _report_xml(number="+15551230002"),
        ]
        for xml in bodies:
            await sink.handle(parse_inbound(xml, "text/xml"))
        return inner, sink

    inner, sink = asyncio.run(go())
    assert [(r.recipient.value, r.mm_status) for r in inner.items] == [
        ("+15551230001", "Retrieved"), ("+15551230001", "Deferred"), ("+15551230002", "Retrieved"),
    ]  # fmt: skip
    assert sink.duplicates == 2


def test_acknowledges_before_a_slow_sink_finishes():
    slow = Recorder(delay=1.0)
    with serve(_app(Mm7Sinks(slow))) as base:
        started = time.monotonic()
        response = httpx.post(
            f"{base}/mm7/operator-a", content=_report_xml(), auth=AUTH,
            headers={"content-type": "text/xml"},
        )  # fmt: skip
        elapsed = time.monotonic() - started
        assert response.status_code == 200
        assert elapsed < 0.5
        assert wait_for(lambda: len(slow.items) == 1, timeout=5)


def test_full_loop_submit_then_reports_deduplicated():
    """Connector -> simulator -> DeliveryReportReq (with duplicates) -> our endpoint -> sink."""
    reports = Recorder()
    sink = DedupingSink(reports)
    with serve(_app(Mm7Sinks(sink))) as vasp:
        plan = ReportPlan(
            delay_s=0.1, jitter_s=0.1, duplicate_rate=1.0,
            outcomes={"Retrieved": 1.0, "Expired": 1.0, "Deferred": 1.0},
        )  # fmt: skip
        sim_config = SimulatorConfig(
            vasp_url=f"{vasp}/mm7/operator-a", vasp_username=AUTH[0], vasp_password=AUTH[1],
            reports=plan, seed=7,
        )  # fmt: skip
        app = create_simulator_app(sim_config)
        with serve(app) as mmsc:
            numbers = [f"+1555123{i:04d}" for i in range(5)]

            async def go():
                config = Mm7Config(url=f"{mmsc}/mm7", max_recipients=5)
                async with mm7_client(config) as c:
                    return await Mm7Connector(config, c).submit(make_request(numbers))

            result = asyncio.run(go())
            assert result.ok
            simulator = app.state.simulator
            assert wait_for(lambda: simulator.stats.counters["dr_sent"] == 10, timeout=10)
            assert wait_for(lambda: len(reports.items) == 5 and sink.duplicates == 5, timeout=5)
    assert {r.recipient.value for r in reports.items} == set(numbers)
    assert {r.message_id for r in reports.items} == {result.message_id}
    by_number = {r.recipient.value: r.mm_status for r in reports.items}
    assert by_number == simulator.store.get(result.message_id).reports
