"""Update re-targets (new area gets the update, the old area's people hear they are no longer
affected) and the live event stream reports the funnel until nothing is pending."""

from __future__ import annotations

import json
import time

import httpx

from alerts.db import make_engine
from alerts.subscribers import importer
from tests.alerts.conftest import make_agency
from tests.capdocs import evacuation
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401
from tests.e2e.server import free_port, running
from tests.e2e.test_dispatch_embedded import _settings

CAP = {"Content-Type": "application/cap+xml"}
BOX_A = "40.70,-74.02 40.72,-74.02 40.72,-74.00 40.70,-74.00 40.70,-74.02"  # lat,lon (CAP order)
BOX_B = "40.74,-73.99 40.76,-73.99 40.76,-73.97 40.74,-73.97 40.74,-73.99"


def _people(settings, tmp_path) -> None:
    rows = [
        {"phone": f"+1212555{i:04d}", "language": "en", "lon": "-74.01", "lat": "40.71"}
        for i in range(8)
    ]
    rows += [
        {"phone": f"+1212556{i:04d}", "language": "es", "lon": "-73.98", "lat": "40.75"}
        for i in range(5)
    ]
    path = tmp_path / "p.csv"
    path.write_text(importer.csv_text(rows))
    engine = make_engine(settings)
    assert importer.import_file(engine, path).ok
    engine.dispose()


def _until(client: httpx.Client, alert_id: int, done, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        page = client.get(f"/api/v1/alerts/{alert_id}/deliveries", params={"limit": 100}).json()
        if done(page["summary"]) or time.monotonic() > deadline:
            return page
        time.sleep(0.1)


def _delivered(n: int):
    return lambda s: s["plan_state"] == "done" and s["by_state"].get("delivered", 0) == n


def test_update_moves_the_area_and_tells_the_old_area(database_url, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port)
    _people(settings, tmp_path)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        first = evacuation(zones=(), polygon=BOX_A)
        alert_id = client.post(
            "/api/v1/alerts", content=first, headers={**CAP, **agency.headers}
        ).json()["id"]
        _until(client, alert_id, _delivered(8))
        ident = first.split(b"<identifier>")[1].split(b"<")[0].decode()
        sent = first.split(b"<sent>")[1].split(b"<")[0].decode()
        update = evacuation(
            zones=(),
            polygon=BOX_B,
            msg_type="Update",
            references=f"nycem@nyc.gov,{ident},{sent}",
            identifier=f"{ident}-U",
        )
        r = client.post("/api/v1/alerts", content=update, headers={**CAP, **agency.headers})
        assert r.status_code == 201, r.text
        page = _until(client, r.json()["id"], _delivered(13))
        kinds: dict[str, int] = {}
        for row in page["items"]:
            kinds[row["kind"]] = kinds.get(row["kind"], 0) + 1
        assert kinds == {"update": 5, "not_affected": 8}
        old = client.get(f"/api/v1/alerts/{alert_id}").json()
        assert old["state"] == "superseded"


def test_event_stream_reports_until_settled(database_url, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port)
    _people(settings, tmp_path)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        doc = evacuation(zones=(), polygon=BOX_A)
        alert_id = client.post(
            "/api/v1/alerts", content=doc, headers={**CAP, **agency.headers}
        ).json()["id"]
        events: list[tuple[str, dict]] = []
        with client.stream(
            "GET", f"/api/v1/alerts/{alert_id}/events", params={"interval_s": 0.2}, timeout=60
        ) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            name = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    events.append((name, json.loads(line[6:])))
                    if name == "end" or len(events) > 500:
                        break
        assert events[-1] == ("end", {"plan_state": "done"})
        summaries = [data for kind, data in events if kind == "summary"]
        assert summaries[-1]["by_state"] == {"delivered": 8}
