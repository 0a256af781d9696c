"""The CAP feed poller against real feed files served on loopback (ETag, dead letters, EDXL-DE)."""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
import sqlalchemy as sa

from alerts import cap
from alerts.access import service as access
from alerts.access.models import AgencyCreate
from alerts.cap import feeds as cap_feeds
from alerts.db import make_engine, session_scope
from alerts.intake import feeds
from alerts.settings import Settings

USGS_CAP_URL = "http://earthquake.usgs.gov/earthquakes/catalogs/cap/us2010apcd"


class _Site:
    """Files served from memory with ETag / If-None-Match, counting requests per path."""

    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.hits: dict[str, int] = {}
        self.status: dict[str, int] = {}


def _handler(site: _Site) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            site.hits[self.path] = site.hits.get(self.path, 0) + 1
            if self.path in site.status:
                self.send_error(site.status[self.path])
                return
            body = site.files.get(self.path)
            if body is None:
                self.send_error(404)
                return
            etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
            if self.headers.get("If-None-Match") == etag:
                self.send_response(304)
                self.send_header("ETag", etag)
                self.end_headers()
                return
            self.send_response(200)
            self.send_header("ETag", etag)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    return Handler


@pytest.fixture
def site() -> Iterator[tuple[_Site, str]]:
    data = _Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(data))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield data, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _agency(settings: Settings, senders: list[str]):
    engine = make_engine(settings)
    with session_scope(engine) as s:
        agency = access.create_agency(session=s, data=AgencyCreate(name="Feeds", senders=senders))
    engine.dispose()
    return agency


def _register(settings: Settings, agency, url: str) -> int:
    engine = make_engine(settings)
    with session_scope(engine) as s:
        feed = feeds.register_feed(
            session=s, agency=agency, url=url, interval_s=120, settings=settings
        )
        assert feed.id is not None
        fid = feed.id
    engine.dispose()
    return fid


def _poll(settings: Settings, feed_id: int) -> feeds.PollReport:
    async def go() -> feeds.PollReport:
        engine = make_engine(settings)
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                return await feeds.poll_feed(
                    engine=engine, client=client, feed_id=feed_id, settings=settings
                )
        finally:
            engine.dispose()

    return asyncio.run(go())


def _entries(settings: Settings, feed_id: int) -> list[tuple[str, str]]:
    engine = make_engine(settings)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("SELECT outcome, reasons FROM feed_entry WHERE feed_id = :f"), {"f": feed_id}
        )
        out = [(r[0], str(r[1])) for r in rows]
    engine.dispose()
    return out


def test_atom_index_feed_fetches_linked_cap_and_dead_letters_failures(settings, shared_data, site):
    data, base = site
    feed = (shared_data / "cap/feeds/usgs_earthquake_index.atom").read_bytes()
    data.files["/usgs.atom"] = feed.replace(
        USGS_CAP_URL.encode(), f"{base}/cap/us2010apcd".encode()
    )
    data.files["/cap/us2010apcd"] = (
        shared_data / "cap/samples/usgs_earthquake_circle_cap11.xml"
    ).read_bytes()
    nws = (shared_data / "cap/feeds/nws_cap11_index_atom_feed.atom").read_bytes()
    data.files["/nws.atom"] = nws.replace(
        b"http://www.weather.gov/alerts-beta/", f"{base}/nws/".encode()
    )
    usgs_sender = "http://earthquake.usgs.gov/research/monitoring/anss/neic/"
    agency = _agency(settings, [usgs_sender])
    usgs_feed = _register(settings, agency, f"{base}/usgs.atom")
    report = _poll(settings, usgs_feed)
    assert (report.accepted, report.rejected, report.http_status) == (1, 0, 200)
    again = _poll(settings, usgs_feed)
    assert again.unchanged and again.http_status == 304
    assert data.hits["/cap/us2010apcd"] == 1
    nws_feed = _register(settings, agency, f"{base}/nws.atom")
    report = _poll(settings, nws_feed)
    assert report.rejected == 2 and report.accepted == 0
    dead = _entries(settings, nws_feed)
    assert all(
        outcome == "rejected" and "FEED-FETCH-FAILED" in reasons for outcome, reasons in dead
    )


def test_rejected_cap_is_dead_lettered_with_rules(settings, shared_data, site):
    data, base = site
    entry = cap_atom_feed(base, "/bad.xml")
    data.files["/feed.atom"] = entry
    data.files["/bad.xml"] = (shared_data / "cap/samples/invalid_missing_scope.xml").read_bytes()
    agency = _agency(settings, ["x@example.gov"])
    fid = _register(settings, agency, f"{base}/feed.atom")
    report = _poll(settings, fid)
    assert report.rejected == 1
    ((outcome, reasons),) = _entries(settings, fid)
    assert outcome == "rejected" and "XSD-INVALID" in reasons


def cap_atom_feed(base: str, path: str) -> bytes:
    from datetime import UTC, datetime

    from alerts.cap import atom

    entry = atom.AtomEntry(
        cap_url=f"{base}{path}", title="t", updated=datetime.now(UTC), author="a"
    )
    return atom.build_feed([entry], feed_url=f"{base}/feed.atom", title="test")


def test_edxl_de_feed_ingests_every_embedded_alert(settings, shared_data, site):
    data, base = site
    body = (shared_data / "cap/feeds/au_bushfire_edxl_de_cap12.edxlde").read_bytes()
    data.files["/edxl"] = body
    items = list(cap_feeds.parse_feed(body))
    senders = sorted({cap.parse(i.cap_xml or b"").alert.sender for i in items})  # type: ignore[union-attr]
    agency = _agency(settings, senders)
    fid = _register(settings, agency, f"{base}/edxl")
    report = _poll(settings, fid)
    assert report.accepted + report.duplicates == len(items)
    assert report.accepted >= 1


def test_failing_feed_backs_off(settings, site):
    data, base = site
    data.status["/down.atom"] = 503
    agency = _agency(settings, ["x@example.gov"])
    fid = _register(settings, agency, f"{base}/down.atom")
    report = _poll(settings, fid)
    assert report.http_status == 503 and report.error
    engine = make_engine(settings)
    with engine.connect() as conn:
        failures, next_at, polled = conn.execute(
            sa.text(
                "SELECT consecutive_failures, next_poll_at, last_polled_at FROM feed WHERE id = :f"
            ),
            {"f": fid},
        ).one()
    engine.dispose()
    assert failures == 1
    assert str(next_at) > str(polled)


def test_feed_registration_over_api(client, settings):
    from tests.alerts.conftest import make_agency

    agency = make_agency(settings, "API feeds", ["x@example.gov"])
    r = client.post(
        "/api/v1/feeds",
        json={"url": "http://127.0.0.1:9/feed.atom", "interval_s": 5},
        headers=agency.headers,
    )
    assert r.status_code == 201, r.text
    listed = client.get("/api/v1/feeds", headers=agency.headers).json()
    assert [f["url"] for f in listed] == ["http://127.0.0.1:9/feed.atom"]
    assert (
        client.get(f"/api/v1/feeds/{listed[0]['id']}/entries", headers=agency.headers).json() == []
    )


def test_atom_feed_of_active_alerts_is_valid_atom(client, settings):
    from lxml import etree

    from tests.alerts.conftest import make_agency
    from tests.capdocs import evacuation

    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    r = client.post(
        "/api/v1/alerts",
        content=evacuation(),
        headers={"Content-Type": "application/cap+xml", **agency.headers},
    )
    assert r.status_code == 201
    feed = client.get("/feeds/alerts.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    root = etree.fromstring(feed.content)
    ns = {"a": "http://www.w3.org/2005/Atom"}
    entries = root.findall("a:entry", ns)
    assert len(entries) == 1
    link = entries[0].find("a:link", ns).get("href")
    assert link.endswith(f"/api/v1/alerts/{r.json()['id']}.xml")
    assert root.find("a:id", ns) is not None and root.find("a:updated", ns) is not None
