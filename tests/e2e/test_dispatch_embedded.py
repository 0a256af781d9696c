"""The embedded default end to end: CAP in over HTTP, MM7 out to the built-in simulator,
delivery reports back, every targeted subscriber delivered exactly once."""

from __future__ import annotations

import json
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import shape

from alerts.db import make_engine
from alerts.flows import ingest_source
from alerts.settings import Settings
from alerts.subscribers import importer
from tests.alerts.conftest import make_agency
from tests.alerts.test_feeds import _handler, _Site
from tests.capdocs import cancel_of, evacuation
from tests.dbfixtures import database_url, pg_database, sqlite_template  # noqa: F401
from tests.e2e.server import free_port, running

CAP = {"Content-Type": "application/cap+xml"}


def _zone(shared_data: Path, zone: str):
    data = json.loads((shared_data / "geo/nyc_hurricane_evacuation_zones.geojson").read_text())
    return shapely.make_valid(
        shapely.union_all(
            [shape(f["geometry"]) for f in data["features"] if str(f["properties"]["zone"]) == zone]
        )
    )


def _populate(
    settings: Settings, shared_data: Path, tmp_path: Path, n_inside: int, n_out: int
) -> set[int]:
    zone1 = _zone(shared_data, "1")
    shapely.prepare(zone1)
    rng = np.random.default_rng(11)
    pts: list[tuple[float, float]] = []
    minx, miny, maxx, maxy = zone1.bounds
    while len(pts) < n_inside:
        x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
        if zone1.covers(shapely.Point(x, y)):
            pts.append((x, y))
    pts += list(zip(rng.uniform(-74.25, -73.7, n_out), rng.uniform(40.5, 40.9, n_out), strict=True))
    rows = [
        {
            "phone": f"+1212555{i:04d}",
            "language": ["en", "es", "zh"][i % 3],
            "lon": f"{x}",
            "lat": f"{y}",
            "test_audience": "1" if i % 10 == 0 else "0",
        }
        for i, (x, y) in enumerate(pts)
    ]
    path = tmp_path / "s.csv"
    path.write_text(importer.csv_text(rows))
    engine = make_engine(settings)
    assert importer.import_file(engine, path).ok
    engine.dispose()
    return {i + 1 for i, (x, y) in enumerate(pts) if zone1.covers(shapely.Point(x, y))}


def _settings(database_url: str, port: int) -> Settings:  # noqa: F811
    return Settings(
        env="test",
        database_url=database_url,
        public_base_url=f"http://127.0.0.1:{port}",
        in_process_worker=True,
        embedded_mmsc=True,
        sim_report_delay_s=0.05,
    )


def _wait(client: httpx.Client, alert_id: int, done, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        summary = client.get(f"/api/v1/alerts/{alert_id}/deliveries", params={"limit": 1}).json()[
            "summary"
        ]
        if done(summary) or time.monotonic() > deadline:
            return summary
        time.sleep(0.1)


def test_alert_reaches_every_subscriber_in_the_zone(database_url, shared_data, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port)
    expected = _populate(settings, shared_data, tmp_path, 60, 60)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        r = client.post("/api/v1/alerts", content=evacuation(), headers={**CAP, **agency.headers})
        assert r.status_code == 201, r.text
        alert_id = r.json()["id"]
        summary = _wait(
            client,
            alert_id,
            lambda s: (
                s["by_state"].get("delivered", 0) >= len(expected) and s["plan_state"] == "done"
            ),
        )
        assert summary["targeted"] == len(expected)
        stats = client.get("/mmsc-sim/api/stats").json()
        assert summary["by_state"] == {"delivered": len(expected)}, json.dumps(
            {k: v for k, v in stats.items() if k != "per_second"}
        )
        assert set(summary["by_language"]) == {"en", "es", "zh"}
        sim = client.get("/mmsc-sim/api/stats").json()
        assert sim["recipients"] == len(expected)
        rows = client.get(f"/api/v1/alerts/{alert_id}/deliveries", params={"limit": 1000}).json()[
            "items"
        ]
        assert all(row["recipient"].startswith("+1") and "*" in row["recipient"] for row in rows)
        metrics = client.get("/metrics").text
        assert 'alertcast_deliveries{state="delivered"}' in metrics


def test_exercise_goes_only_to_test_audience(database_url, shared_data, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port)
    expected = _populate(settings, shared_data, tmp_path, 60, 0)
    test_audience = {i for i in expected if (i - 1) % 10 == 0}
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        r = client.post(
            "/api/v1/alerts",
            content=evacuation(status="Exercise"),
            headers={**CAP, **agency.headers},
        )
        alert_id = r.json()["id"]
        summary = _wait(
            client,
            alert_id,
            lambda s: (
                s["plan_state"] == "done"
                and s["by_state"].get("delivered", 0) >= len(test_audience)
            ),
        )
        assert summary["targeted"] == len(test_audience)
        assert summary["by_state"] == {"delivered": len(test_audience)}


def test_cancel_stops_pending_and_notifies_reached(database_url, shared_data, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port).model_copy(update={"mmsc_rate_limit": 20.0})
    expected = _populate(settings, shared_data, tmp_path, 120, 0)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        original = evacuation()
        alert_id = client.post(
            "/api/v1/alerts", content=original, headers={**CAP, **agency.headers}
        ).json()["id"]
        _wait(
            client,
            alert_id,
            lambda s: s["by_state"].get("submitted", 0) + s["by_state"].get("delivered", 0) >= 10,
        )
        cancelled = client.post(
            "/api/v1/alerts", content=cancel_of(original), headers={**CAP, **agency.headers}
        )
        assert cancelled.status_code == 201, cancelled.text
        first = client.get(f"/api/v1/alerts/{alert_id}/deliveries", params={"limit": 1}).json()[
            "summary"
        ]
        before = client.get("/mmsc-sim/api/stats").json()["recipients"]
        assert first["plan_state"] == "cancelled"
        assert first["by_state"].get("cancelled", 0) > 0
        assert not first["by_state"].get("submitting")
        assert not first["by_state"].get("queued")
        reached = first["by_state"].get("submitted", 0) + first["by_state"].get("delivered", 0)
        assert 0 < reached < len(expected)
        cancel_id = cancelled.json()["id"]
        notice = _wait(client, cancel_id, lambda s: s["plan_state"] == "done")
        assert notice["targeted"] == reached
        after = client.get("/mmsc-sim/api/stats").json()["recipients"]
        assert after - before == reached  # after the cancel was acknowledged: only the notices


def test_count_far_above_the_senders_preview_blocks_dispatch(database_url, shared_data, tmp_path):  # noqa: F811
    port = free_port()
    settings = _settings(database_url, port)
    expected = _populate(settings, shared_data, tmp_path, 40, 0)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        bad = client.post(
            "/api/v1/alerts",
            content=evacuation(),
            headers={**CAP, **agency.headers, "X-Expected-Recipients": "many"},
        )
        assert bad.status_code == 400
        r = client.post(
            "/api/v1/alerts",
            content=evacuation(),
            headers={**CAP, **agency.headers, "X-Expected-Recipients": "3"},
        )
        assert r.status_code == 201
        summary = _wait(client, r.json()["id"], lambda s: s["plan_state"] is not None)
        assert summary["plan_state"] == "blocked"
        assert summary["blocked_rule"] == "TARGET-COUNT-ABOVE-PREVIEW"
        assert str(len(expected)) in summary["blocked_reason"]
        assert summary["by_state"] == {}
        assert client.get("/mmsc-sim/api/stats").json().get("recipients", 0) == 0


def test_feed_alert_is_resolved_planned_and_delivered(database_url, shared_data, tmp_path):  # noqa: F811
    """A CAP alert arriving through an agency's registered feed goes out like a posted one."""
    port = free_port()
    settings = _settings(database_url, port)
    expected = _populate(settings, shared_data, tmp_path, 30, 30)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    site = _Site()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    feed_base = f"http://127.0.0.1:{server.server_address[1]}"
    site.files["/cap/evac.xml"] = evacuation()
    site.files["/alerts.atom"] = (
        '<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:test:feed</id><title>NYCEM</title>'
        "<updated>2026-11-30T12:00:00Z</updated><entry><id>urn:test:evac</id>"
        "<title>Evacuate</title><updated>2026-11-30T12:00:00Z</updated>"
        f'<link rel="alternate" type="application/cap+xml" href="{feed_base}/cap/evac.xml"/>'
        "</entry></feed>"
    ).encode()
    try:
        with (
            running(settings, port) as base,
            httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
        ):
            r = client.post("/api/v1/feeds", json={"url": f"{feed_base}/alerts.atom"})
            assert r.status_code == 201, r.text
            feed_id = r.json()["id"]
            alert_id = None
            deadline = time.monotonic() + 30
            while alert_id is None and time.monotonic() < deadline:
                entries = client.get(f"/api/v1/feeds/{feed_id}/entries").json()
                assert isinstance(entries, list), entries
                alert_id = next((e["alert_id"] for e in entries if e["alert_id"]), None)
                time.sleep(0.2)
            assert alert_id is not None, entries
            engine = make_engine(settings)
            with engine.connect() as conn:
                via = conn.execute(sa.text("SELECT via FROM alert WHERE id = :a"), {"a": alert_id})
                assert via.scalar_one() == "feed"
            engine.dispose()
            summary = _wait(
                client,
                alert_id,
                lambda s: (
                    s["plan_state"] == "done" and sum(s["by_state"].values()) >= len(expected)
                ),
            )
            assert summary["targeted"] == len(expected)
            assert summary["by_state"] == {"delivered": len(expected)}
            assert client.get("/mmsc-sim/api/stats").json()["recipients"] == len(expected)
    finally:
        server.shutdown()
        server.server_close()


def test_cli_ingested_alert_is_sent_by_the_running_service(database_url, shared_data, tmp_path):  # noqa: F811
    """``alertcast ingest FILE`` stores the alert with its area; the running service sends it."""
    port = free_port()
    settings = _settings(database_url, port)
    expected = _populate(settings, shared_data, tmp_path, 30, 30)
    agency = make_agency(settings, "NYCEM", ["nycem@nyc.gov"])
    path = tmp_path / "evac.xml"
    path.write_bytes(evacuation())
    with (
        running(settings, port) as base,
        httpx.Client(base_url=base, timeout=30, headers=agency.headers) as client,
    ):
        outcome = ingest_source(source=str(path), agency_ref="NYCEM", settings=settings)
        assert outcome.created and outcome.alert.id is not None
        summary = _wait(
            client,
            outcome.alert.id,
            lambda s: s["plan_state"] == "done" and sum(s["by_state"].values()) >= len(expected),
        )
        assert summary["targeted"] == len(expected)
        assert summary["by_state"] == {"delivered": len(expected)}
